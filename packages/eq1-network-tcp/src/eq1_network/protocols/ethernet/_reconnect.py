"""A background thread that retries a connection with exponential backoff and jitter."""

from __future__ import annotations

import threading
from collections.abc import Callable

from eq1_network.common.backoff import backoff_delays
from eq1_network.common.logging import get_logger
from eq1_network.protocols.ethernet._config import ReconnectPolicy

__all__ = ["Reconnector"]

logger = get_logger(__name__)


class Reconnector:
    """Calls ``attempt()`` after each backoff delay until it returns ``True``.

    ``attempt`` returns ``True`` when the connection is back (or no longer wanted)
    and ``False`` to try again; an exception counts as a failed attempt and is
    logged. When the policy's attempts run out, ``on_give_up(attempts)`` is called.

    Args:
        name: Thread name.
        policy: Delays and attempt limit.
        attempt: One connection attempt.
        on_give_up: Called with the number of attempts made when the policy gives up.
    """

    def __init__(
        self,
        name: str,
        policy: ReconnectPolicy,
        attempt: Callable[[], bool],
        on_give_up: Callable[[int], None],
    ) -> None:
        self._policy = policy
        self._attempt = attempt
        self._on_give_up = on_give_up
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop; an attempt in progress finishes first."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end, unless called from the thread itself.

        Args:
            timeout: Longest wait in seconds.
        """
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        """Tell whether the thread is still retrying.

        Returns:
            ``True`` while running.
        """
        return self._thread.is_alive()

    def _run(self) -> None:
        attempts = 0
        policy = self._policy
        delays = backoff_delays(
            policy.initial_delay,
            policy.max_delay,
            multiplier=policy.multiplier,
            jitter=policy.jitter,
            max_attempts=policy.max_attempts,
        )
        for delay in delays:
            if self._stop.wait(delay):
                return
            attempts += 1
            try:
                if self._attempt():
                    return
            except Exception:
                logger.exception("reconnection attempt %d raised", attempts)
        if not self._stop.is_set():
            self._on_give_up(attempts)
