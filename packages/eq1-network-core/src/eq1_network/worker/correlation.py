"""Requests waiting for their replies, matched by the reply's ``reply_to``."""

from __future__ import annotations

import contextlib
import threading

from eq1_network.data import ReceivedData

__all__ = ["Correlator", "Waiter"]


class Waiter:
    """One pending request: a lock held until the reply (or the stop) releases it.

    A bare lock is the cheapest one-shot signal between two threads; ``set`` may be
    called more than once (a reply racing the handler's stop).

    Attributes:
        result: The reply, or ``None`` while there is none.
    """

    __slots__ = ("_lock", "result")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.result: ReceivedData | None = None

    def set(self) -> None:
        """Wake the requester (once; later calls do nothing)."""
        with contextlib.suppress(RuntimeError):  # released already
            self._lock.release()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; ``True`` once :meth:`set` was called."""
        return self._lock.acquire(True, timeout)


class Correlator:
    """The requests of one handler that wait for a reply, by their sequence number.

    Requesting threads :meth:`register` and :meth:`discard`; the receive worker
    :meth:`claim` s replies and wakes their requesters after each read
    (:meth:`wake_answered`): woken earlier, a requester would only block on the
    interpreter lock that the receive worker still holds.

    Attributes:
        waiting: The pending requests by sequence number; read it only to test
            whether any is pending (a cheap check on the receive path).
    """

    __slots__ = ("_answered", "_lock", "waiting")

    def __init__(self) -> None:
        self.waiting: dict[int, Waiter] = {}
        self._lock = threading.Lock()
        self._answered: list[Waiter] = []  # replies claimed, requesters not yet woken

    def register(self, sequence: int, waiter: Waiter) -> None:
        """Wait for the reply to message ``sequence``."""
        with self._lock:
            self.waiting[sequence] = waiter

    def discard(self, sequence: int) -> None:
        """Stop waiting for the reply to message ``sequence`` (answered or not)."""
        with self._lock:
            self.waiting.pop(sequence, None)

    def claim(self, received: ReceivedData) -> bool:
        """Take ``received`` if it answers a pending request (receive worker only).

        Returns:
            Whether it did; the requester is woken by the next :meth:`wake_answered`.
        """
        reply_to = getattr(received, "reply_to", 0)
        if not reply_to:
            return False
        with self._lock:
            waiter = self.waiting.pop(reply_to, None)
        if waiter is None:
            return False
        waiter.result = received
        self._answered.append(waiter)
        return True

    def wake_answered(self) -> None:
        """Wake the requesters whose replies were claimed (receive worker only)."""
        answered = self._answered
        if answered:
            for waiter in answered:
                waiter.set()
            answered.clear()

    def fail_all(self) -> None:
        """Wake every pending request without a reply (the handler stopped or failed)."""
        with self._lock:
            waiters = list(self.waiting.values())
            self.waiting.clear()
        for waiter in waiters:
            waiter.set()
