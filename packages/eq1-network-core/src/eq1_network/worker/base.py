"""What every worker shares: a thread it owns, and a report when that thread dies.

A worker *owns* a :class:`threading.Thread` rather than being one, so no attribute or
method of a worker can collide with the thread's own (``Thread.__init__`` sets private
attributes such as ``_handle`` that differ between Python versions).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from eq1_network.common.logging import get_logger
from eq1_network.worker.events import NetworkEvent, NetworkEventType

__all__ = ["Worker"]

logger = get_logger(__name__)


class Worker:
    """Runs :meth:`_loop` on a daemon thread of its own; never dies silently.

    If the loop raises, the worker logs the exception, keeps it in :attr:`failure`, calls
    ``on_failure(exception)`` and emits an ERROR event with it; :meth:`_finish` runs in
    every case, after the loop.

    Args:
        name: Thread name.
        emit: Where events go.
        on_failure: Called with the exception that ended the loop, if one did.
    """

    def __init__(
        self,
        name: str,
        emit: Callable[[NetworkEvent], None],
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._emit = emit
        self._on_failure = on_failure
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def name(self) -> str:
        """The thread's name."""
        return self._thread.name

    @property
    def ident(self) -> int | None:
        """The thread's identifier once started, else ``None``."""
        return self._thread.ident

    def start(self) -> None:
        """Start the thread (once)."""
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for the thread to end."""
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        """Tell whether the thread is running."""
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.failure = exc
            logger.exception("%s failed", self.name)
            try:
                if self._on_failure is not None:
                    self._on_failure(exc)
            finally:
                self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))
        finally:
            self._finish()

    def _loop(self) -> None:
        """The worker's body (overridden)."""
        raise NotImplementedError

    def _finish(self) -> None:
        """Runs on the worker's thread after the loop, however it ended (overridden)."""
