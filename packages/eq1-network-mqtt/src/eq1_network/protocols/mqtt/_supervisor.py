"""The network thread: drives the connection and reconnects it when it drops.

One named daemon thread per :meth:`MQTTProtocol.connect` runs the adapter's loop. It
waits for CONNACK, reports the outcome, serves the connection, and after a loss
reconnects with :class:`~eq1_network.common.backoff.Backoff` delays (full jitter,
capped). The backoff starts again from its first delay only once a connection has
stayed up for ``stable_after`` seconds: a broker that accepts and then drops the
connection at once (a quota, a session it cannot restore) counts as a failed attempt,
so such a loop slows down instead of spinning. It gives up at once on refusals that
retrying cannot cure (authentication, authorisation, configuration; see
``reason_codes``) and after ``ReconnectPolicy.max_attempts`` failures in a row, if that is set.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import Protocol

from eq1_network.common.backoff import Backoff
from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolError,
    ProtocolTimeoutError,
)
from eq1_network.common.logging import get_logger
from eq1_network.protocols.mqtt.reason_codes import Reason, connack_error, is_terminal_connack

__all__ = ["ConnectionSupervisor", "Link", "SupervisorHooks"]

logger = get_logger(__name__)

_LOOP_SLICE = 0.5
STABLE_AFTER = 10.0
"""Seconds a connection must stay up before the reconnect backoff starts over."""


class Link(Protocol):
    """What the supervisor needs from the adapter."""

    def reconnect(self) -> None:
        """Open a new connection and queue CONNECT."""

    def loop(self, timeout: float) -> bool:
        """Run one I/O round; ``False`` once there is no connection."""

    def wake(self) -> None:
        """Interrupt a waiting :meth:`loop`."""

    def close_detail(self) -> str | None:
        """A likely cause of a connection that closed before CONNACK, if known."""


class SupervisorHooks(Protocol):
    """How the supervisor tells the protocol what happened (network thread)."""

    def connected(self, session_present: bool) -> None:
        """CONNACK accepted: restore subscriptions, flush the offline queue, go live."""

    def after_round(self) -> None:
        """Called after every network round (hand over received messages, ...)."""

    def lost(self, reason: Reason | None) -> None:
        """An established connection dropped; reconnection follows."""

    def failed(self, error: ProtocolError) -> None:
        """The supervisor gave up; ``error`` says why."""


class _Outcome(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    CLOSED = "closed"
    TIMEOUT = "timeout"
    STOPPED = "stopped"


class ConnectionSupervisor:
    """Runs the network thread of one connection lifetime.

    Args:
        link: The adapter.
        hooks: The protocol's reactions.
        backoff: Reconnect delays.
        broker: ``host:port``, for messages.
        username: The user name sent, for messages.
        connect_timeout: Seconds allowed for CONNACK after a connection opens.
        max_attempts: Failed reconnects in a row before giving up; ``None`` for no limit.
        name: Thread name.
        stable_after: Seconds a connection must stay up before the backoff resets.
    """

    def __init__(  # noqa: PLR0913 - built in one place, the connection part
        self,
        link: Link,
        hooks: SupervisorHooks,
        backoff: Backoff,
        *,
        broker: str,
        username: str | None,
        connect_timeout: float,
        max_attempts: int | None,
        name: str,
        stable_after: float = STABLE_AFTER,
    ) -> None:
        self._link = link
        self._hooks = hooks
        self._backoff = backoff
        self._broker = broker
        self._username = username
        self._connect_timeout = connect_timeout
        self._max_attempts = max_attempts
        self._stable_after = stable_after
        self._stop = threading.Event()
        self._grace_deadline = 0.0
        self._lock = threading.Lock()
        self._connack: tuple[Reason, bool] | None = None
        self._closed = False
        self._close_reason: Reason | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.reconnects = 0

    # -- events from the adapter (network thread) ------------------------------------

    def on_connack(self, reason: Reason, session_present: bool) -> None:
        """Record a CONNACK.

        Args:
            reason: Accepted or the refusal.
            session_present: The broker's Session Present flag.
        """
        with self._lock:
            self._connack = (reason, session_present)

    def on_closed(self, reason: Reason | None) -> None:
        """Record that the connection ended.

        Args:
            reason: The broker's DISCONNECT reason, if it sent one.
        """
        with self._lock:
            self._closed = True
            self._close_reason = reason

    # -- control ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the network thread; the first connection must already be opening."""
        self._thread.start()

    def request_stop(self, grace: float = 0.0) -> None:
        """Ask the thread to end; no reconnection follows.

        Args:
            grace: Seconds the thread may keep serving the connection so that queued
                packets (DISCONNECT) leave before it ends.
        """
        self._grace_deadline = time.monotonic() + grace
        self._stop.set()
        self._link.wake()

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if it ended (or never started, or is the caller).
        """
        if not self._thread.is_alive() or threading.current_thread() is self._thread:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._supervise()
        except Exception as exc:
            logger.exception("MQTT network thread for %s crashed", self._broker)
            self._hooks.failed(ProtocolConnectionError(f"network thread crashed: {exc!r}"))

    def _supervise(self) -> None:
        first = True
        while not self._stop.is_set():
            outcome, reason, session_present = self._await_connack()
            if outcome is _Outcome.STOPPED:
                return
            if outcome is _Outcome.ACCEPTED:
                first = False
                self._hooks.connected(session_present)
                lasted = self._serve()
                if self._stop.is_set():
                    return
                if lasted >= self._stable_after:
                    self._backoff.reset()
                else:
                    logger.warning(
                        "broker %s closed the connection %.2f s after accepting it; "
                        "counted as a failed attempt (reconnect backoff keeps growing)",
                        self._broker,
                        lasted,
                    )
                self._hooks.lost(self._close_reason)
            else:
                error = self._attempt_error(outcome, reason)
                if first or (reason is not None and is_terminal_connack(reason)):
                    self._hooks.failed(error)
                    return
                logger.warning("MQTT reconnect to %s failed: %s", self._broker, error)
            if not self._reopen():
                return

    def _attempt_error(self, outcome: _Outcome, reason: Reason | None) -> ProtocolError:
        if outcome is _Outcome.REFUSED and reason is not None:
            return connack_error(reason, self._broker, self._username)
        if outcome is _Outcome.TIMEOUT:
            return ProtocolTimeoutError(
                f"broker {self._broker} sent no CONNACK within {self._connect_timeout} s"
            )
        detail = f": {self._close_reason}" if self._close_reason is not None else ""
        cause = self._link.close_detail()
        if cause is not None:
            detail += f"; {cause}"
        return ProtocolConnectionError(
            f"broker {self._broker} closed the connection before CONNACK{detail}"
        )

    def _await_connack(self) -> tuple[_Outcome, Reason | None, bool]:
        deadline = time.monotonic() + self._connect_timeout
        while True:
            if self._stop.is_set():
                return _Outcome.STOPPED, None, False
            alive = self._link.loop(min(_LOOP_SLICE, max(0.0, deadline - time.monotonic())))
            self._hooks.after_round()
            with self._lock:
                connack = self._connack
                self._connack = None
            if connack is not None:
                reason, session_present = connack
                if reason.is_failure:
                    return _Outcome.REFUSED, reason, False
                return _Outcome.ACCEPTED, reason, session_present
            if not alive:
                return _Outcome.CLOSED, None, False
            if time.monotonic() >= deadline:
                return _Outcome.TIMEOUT, None, False

    def _serve(self) -> float:
        """Serve the connection until it drops; return how long it stayed up."""
        after_round = self._hooks.after_round
        started = time.monotonic()
        while self._link.loop(_LOOP_SLICE):
            after_round()
            if self._stop.is_set() and time.monotonic() >= self._grace_deadline:
                break
        return time.monotonic() - started

    def _reopen(self) -> bool:
        """Reconnect with backoff until a connection opens; ``False`` when giving up."""
        while not self._stop.is_set():
            if self._max_attempts is not None and self._backoff.attempt >= self._max_attempts:
                self._hooks.failed(
                    ProtocolConnectionError(
                        f"gave up reconnecting to {self._broker} after "
                        f"{self._backoff.attempt} failed attempts"
                    )
                )
                return False
            delay = self._backoff.next_delay()
            logger.info("reconnecting to %s in %.2f s", self._broker, delay)
            if self._stop.wait(delay):
                return False
            with self._lock:
                self._closed = False
                self._close_reason = None
                self._connack = None
            try:
                self.reconnects += 1
                self._link.reconnect()
                return True
            except ProtocolError as exc:
                logger.warning("reconnect to %s failed: %s", self._broker, exc)
        return False
