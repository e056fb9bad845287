"""Bookkeeping of acknowledgements: publish handles, SUBACK and UNSUBACK waiters.

The network thread reports acknowledgements by packet id; a publishing thread learns the
packet id only when the client library returns, possibly after the acknowledgement was
already processed. Both books therefore keep "early" results until the id is claimed.
Locks here are leaves: nothing else is called while they are held, so the network thread
can take them from inside library callbacks without any risk of deadlock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from eq1_network.common.exceptions import ProtocolError, ProtocolTimeoutError
from eq1_network.protocols.mqtt.reason_codes import Reason

__all__ = ["AckBook", "AckWaiter", "Completion", "MQTTPublishHandle", "PublishTracker"]

_PENDING, _DONE, _FAILED = 0, 1, 2
_EARLY_LIMIT = 70_000


class Completion(Protocol):
    """How the client library reports that a QoS 0 message left (set by the adapter)."""

    def done(self) -> bool:
        """Whether the message was written or dropped."""

    def wait(self, timeout: float | None) -> bool:
        """Wait until :meth:`done`; return it."""

    def error(self) -> ProtocolError | None:
        """Why the message was dropped, once done; ``None`` if it was written."""


class MQTTPublishHandle:
    """The outcome of one :meth:`MQTTProtocol.publish`.

    QoS 0 completes once the message is written to the connection (QoS 0 has no
    acknowledgement; a message dropped with a broken connection fails with
    :class:`ProtocolConnectionError`); QoS 1 once the broker's PUBACK arrived; QoS 2
    once its PUBCOMP arrived. A message that can no longer be delivered (evicted from
    the offline queue, refused by the broker, discarded by ``disconnect()``) fails:
    :meth:`wait` then raises the reason.

    Attributes:
        qos: The QoS level of the message.
    """

    __slots__ = ("_completion", "_error", "_state", "_tracker", "qos")

    def __init__(
        self, tracker: PublishTracker, qos: int, completion: Completion | None = None
    ) -> None:
        self._tracker = tracker
        self.qos = qos
        self._state = _PENDING
        self._error: ProtocolError | None = None
        self._completion = completion

    def __repr__(self) -> str:
        self._absorb()
        state = ("pending", "published", "failed")[self._state]
        return f"MQTTPublishHandle(qos={self.qos}, state={state})"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the delivery outcome.

        Args:
            timeout: Longest wait in seconds; ``None`` waits without a limit.

        Returns:
            ``True`` once delivered as the QoS level promises, ``False`` if the timeout
            passed first.

        Raises:
            ProtocolError: The reason the message will never be delivered, e.g.
                :class:`QueueFullError` (evicted), :class:`ProtocolNotConnectedError`
                (discarded by ``disconnect()``), or the broker's refusal.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._state == _PENDING and self._completion is None:
            self._tracker.wait_for(self, timeout)
        completion = self._completion
        if completion is not None and self._state == _PENDING:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            completion.wait(remaining)
            self._absorb()
        if self._state == _FAILED:
            assert self._error is not None
            raise self._error
        return self._state == _DONE

    def is_published(self) -> bool:
        """Tell whether delivery completed, without waiting.

        Returns:
            ``True`` if delivered.
        """
        self._absorb()
        return self._state == _DONE

    def exception(self) -> ProtocolError | None:
        """Return why the message will not be delivered, or ``None``.

        Returns:
            The failure, or ``None`` while pending or after success.
        """
        self._absorb()
        return self._error

    def _absorb(self) -> None:
        completion = self._completion
        if completion is not None and self._state == _PENDING and completion.done():
            self._settle(completion.error())

    def _settle(self, error: ProtocolError | None) -> bool:
        if self._state != _PENDING:
            return False
        self._error = error
        self._state = _DONE if error is None else _FAILED
        return True


class PublishTracker:
    """Publish handles by packet id, shared by publishing threads and the network thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._by_mid: dict[int, MQTTPublishHandle] = {}
        self._early: dict[int, ProtocolError | None] = {}
        self._abandoned: set[int] = set()
        self._waiters = 0
        self._unacked = 0
        self._held = 0

    def new_handle(self, qos: int) -> MQTTPublishHandle:
        """Create a pending handle.

        Args:
            qos: The message's QoS.

        Returns:
            The handle.
        """
        return MQTTPublishHandle(self, qos)

    def hold(self) -> None:
        """Count a QoS 1/2 message that waits for an in-flight slot before it has an id."""
        with self._lock:
            self._held += 1
            self._unacked += 1

    def track(self, mid: int, handle: MQTTPublishHandle, *, held: bool = False) -> None:
        """Attach a handle to the packet id the client library gave its message.

        Args:
            mid: The packet id.
            handle: The handle.
            held: Whether the message was counted by :meth:`hold` while it waited.
        """
        with self._lock:
            if held:
                self._held -= 1
                self._unacked -= 1
            if self._abandoned:
                self._abandoned.discard(mid)  # the id was issued again
            if mid in self._early:
                self._finish(handle, self._early.pop(mid))
                return
            previous = self._by_mid.get(mid)
            if previous is not None:
                # A QoS 0 id wrapped onto an unacknowledged one: settle the newcomer as sent.
                self._finish(handle, None)
                return
            self._by_mid[mid] = handle
            if handle.qos > 0:
                self._unacked += 1

    def acknowledge(self, mids: Iterable[int], error: ProtocolError | None) -> None:
        """Record the outcome reported for packet ids, in order (network thread).

        Args:
            mids: The packet ids, as their acknowledgements arrived.
            error: ``None`` for success, else the broker's refusal.
        """
        with self._lock:
            by_mid = self._by_mid
            for mid in mids:
                handle = by_mid.pop(mid, None)
                if handle is None:
                    self._unmatched(mid, error)
                    continue
                if handle.qos > 0:
                    self._unacked -= 1
                self._finish(handle, error)

    def _unmatched(self, mid: int, error: ProtocolError | None) -> None:
        """An outcome for no tracked handle: an abandoned flow's, or one ahead of its handle."""
        if mid in self._abandoned:
            self._abandoned.discard(mid)
            return
        if len(self._early) >= _EARLY_LIMIT:
            self._early.clear()
        self._early[mid] = error

    def awaiting(self, *, qos: int) -> list[int]:
        """Packet ids of tracked messages of ``qos`` still awaiting their acknowledgement."""
        with self._lock:
            return sorted(mid for mid, handle in self._by_mid.items() if handle.qos == qos)

    def abandon(self, mids: list[int], error: ProtocolError) -> None:
        """Fail the handles of packet ids whose outcome can no longer be known.

        The next acknowledgement reported for each of these packet ids belongs to the
        abandoned message and is ignored, so it can neither settle a handle nor be kept
        for a later message with the same id.

        Args:
            mids: The packet ids.
            error: The failure to report.
        """
        with self._lock:
            if len(self._abandoned) >= _EARLY_LIMIT:
                self._abandoned.clear()
            for mid in mids:
                self._abandoned.add(mid)
                self._early.pop(mid, None)
                handle = self._by_mid.pop(mid, None)
                if handle is None:
                    continue
                if handle.qos > 0:
                    self._unacked -= 1
                self._finish(handle, error)

    def attach(self, handle: MQTTPublishHandle, completion: Completion) -> None:
        """Hand a QoS 0 handle the library's report of its write.

        Args:
            handle: The handle.
            completion: The library's report.
        """
        with self._lock:
            handle._completion = completion  # noqa: SLF001 - the tracker settles the handles it issues
            if self._waiters:
                self._cond.notify_all()

    def settle(self, handle: MQTTPublishHandle, error: ProtocolError | None) -> None:
        """Complete or fail a handle that is not tracked by packet id.

        Args:
            handle: The handle.
            error: ``None`` for success, else the failure.
        """
        with self._lock:
            self._finish(handle, error)

    def drop_held(self, handles: list[MQTTPublishHandle], error: ProtocolError) -> None:
        """Fail messages counted by :meth:`hold` that will never get a packet id.

        Args:
            handles: Their handles.
            error: The failure to report.
        """
        with self._lock:
            self._held -= len(handles)
            self._unacked -= len(handles)
            for handle in handles:
                self._finish(handle, error)
            if self._waiters:
                self._cond.notify_all()

    def _finish(self, handle: MQTTPublishHandle, error: ProtocolError | None) -> None:
        if handle._settle(error) and self._waiters:  # noqa: SLF001 - as above
            self._cond.notify_all()

    def unacknowledged(self) -> int:
        """Return the number of tracked QoS 1/2 messages awaiting acknowledgement."""
        return self._unacked

    def wait_for(self, handle: MQTTPublishHandle, timeout: float | None) -> bool:
        """Wait until a handle settles.

        Args:
            handle: The handle.
            timeout: Longest wait in seconds, or ``None``.

        Returns:
            ``True`` if it settled.
        """
        return self._wait(
            lambda: handle._state != _PENDING or handle._completion is not None,  # noqa: SLF001
            timeout,
        )

    def wait_room(self, limit: int, timeout: float) -> bool:
        """Wait until fewer than ``limit`` QoS 1/2 messages await acknowledgement.

        Args:
            limit: The bound.
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if there is room.
        """
        if self._unacked < limit:
            return True
        return self._wait(lambda: self._unacked < limit, timeout)

    def wait_drained(self, timeout: float) -> bool:
        """Wait until no tracked message is pending.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if everything settled.
        """
        return self._wait(lambda: not self._by_mid and not self._held, timeout)

    def _wait(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        with self._lock:
            self._waiters += 1
            try:
                return self._cond.wait_for(predicate, timeout)
            finally:
                self._waiters -= 1

    def fail_all(self, error: ProtocolError) -> int:
        """Fail every tracked handle and forget early results.

        Args:
            error: The failure to report.

        Returns:
            How many handles failed.
        """
        with self._lock:
            handles = list(self._by_mid.values())
            self._by_mid.clear()
            self._early.clear()
            self._unacked = self._held
            for handle in handles:
                self._finish(handle, error)
            return len(handles)


class AckWaiter:
    """Waits for the SUBACK or UNSUBACK of one packet id."""

    __slots__ = ("_event", "lost", "reasons")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reasons: list[Reason] = []
        self.lost = False

    @property
    def settled(self) -> bool:
        """Whether the acknowledgement (or the loss) arrived."""
        return self._event.is_set()

    def wait(self, timeout: float, what: str) -> list[Reason] | None:
        """Wait for the acknowledgement.

        Args:
            timeout: Longest wait in seconds.
            what: What is awaited, for the timeout message.

        Returns:
            The reason codes, or ``None`` if the connection dropped first.

        Raises:
            ProtocolTimeoutError: If nothing arrived within ``timeout``.
        """
        if not self._event.wait(timeout):
            raise ProtocolTimeoutError(f"no acknowledgement of {what} within {timeout} s")
        return None if self.lost else self.reasons

    def settle(self, reasons: list[Reason] | None) -> None:
        """Deliver the outcome.

        Args:
            reasons: The reason codes, or ``None`` if the connection dropped.
        """
        if reasons is None:
            self.lost = True
        else:
            self.reasons = reasons
        self._event.set()


AckCallback = Callable[[list[Reason] | None], None]


class AckBook:
    """SUBACK/UNSUBACK results by packet id, with waiters or completion callbacks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, AckCallback] = {}
        self._early: dict[int, list[Reason]] = {}

    def expect(self, mid: int) -> AckWaiter:
        """Return a waiter for the acknowledgement of ``mid``.

        Args:
            mid: The packet id of the SUBSCRIBE or UNSUBSCRIBE.

        Returns:
            The waiter.
        """
        waiter = AckWaiter()
        self.then(mid, waiter.settle)
        return waiter

    def then(self, mid: int, callback: AckCallback) -> None:
        """Call ``callback(reasons)`` when ``mid`` is acknowledged, or with ``None`` if lost.

        The callback runs on the network thread and must only take leaf locks.

        Args:
            mid: The packet id.
            callback: The completion function.
        """
        with self._lock:
            early = self._early.pop(mid, None)
            if early is None:
                self._pending[mid] = callback
                return
        callback(early)

    def resolve(self, mid: int, reasons: list[Reason]) -> None:
        """Record an acknowledgement (network thread).

        Args:
            mid: The packet id.
            reasons: One reason code per topic filter.
        """
        with self._lock:
            callback = self._pending.pop(mid, None)
            if callback is None:
                if len(self._early) >= _EARLY_LIMIT:
                    self._early.clear()
                self._early[mid] = reasons
                return
        callback(reasons)

    def fail_all(self) -> None:
        """Tell every waiter that the connection dropped before its acknowledgement."""
        with self._lock:
            callbacks = list(self._pending.values())
            self._pending.clear()
            self._early.clear()
        for callback in callbacks:
            callback(None)
