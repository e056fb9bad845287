"""Locks that a thread interrupted at the wrong moment cannot leave held for good.

CPython raises ``KeyboardInterrupt`` (Ctrl-C, or "interrupt kernel" in a notebook)
between bytecodes, so also right after a call such as ``lock.acquire()`` returned and
before the ``try`` whose ``finally`` releases the lock: the lock is then held by nobody,
for good. A ``with lock:`` block cannot be cut there, but a wait in it cannot time out
either. A :class:`Guard` lets a thread waiting for a lock left held that way notice it
and go on with a new lock.

Every holder of a guarded lock follows one pattern; on the common path (the lock is
free) it costs two increments of an attribute and one test::

    lock = guard.lock
    lock = lock if lock.acquire(False) else guard.take(lock)  # busy, or left held
    try:
        guard.turn += 1
        ...  # the guarded work
    finally:
        guard.turn += 1
        lock.release()

(A holder that does not wait returns at once when ``acquire(False)`` fails.)

``turn`` is odd while a holder is inside its ``try`` block (only holders change it, so
no update is lost). A waiter that sees the lock held for the guard's settle time
(:data:`SETTLE` unless given) while ``turn`` stays even and unchanged concludes that a
thread took the lock and never entered its block: it replaces the lock with a new one,
held by itself, and logs a WARNING. The guard remembers since when it saw the lock so,
so waiters with short timeouts, one after the other, add up to the settle time. A
holder inside its block is never robbed, however long it stays there; one held up for
the settle time between taking the lock and entering its block (by a debugger stopped
on that line, say) is taken to be gone.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    import logging

__all__ = ["SETTLE", "Guard"]

SETTLE = 1.0
"""Seconds a waiter sees no holder inside and nobody entering before it takes a lock back."""
_SLICE = 0.05
"""Longest single wait of :meth:`Guard.take` between two looks at the guard."""


class Guard:
    """A lock, and the count of its holders' entries and exits (see the module notes).

    Args:
        what: What the lock is, for the WARNING logged when it is taken back.
        log: The logger of the module that owns the lock.
        settle: Seconds the lock must stay held with no holder inside and nobody
            entering before a waiter takes it back; ``None`` uses :data:`SETTLE`.

    Attributes:
        lock: The lock in use; a lock taken back is replaced. Read it once per use.
        turn: Bumped by each holder on entering its ``try`` block and again on
            leaving it: odd while a holder is inside.
        what: The ``what`` argument.
        recovered: Locks taken back so far.
    """

    __slots__ = ("_log", "_replacing", "_settle", "_watch", "lock", "recovered", "turn", "what")

    def __init__(self, what: str, log: logging.Logger, *, settle: float | None = None) -> None:
        self.lock = threading.Lock()
        self.turn = 0
        self.what = what
        self.recovered = 0
        self._log = log
        self._settle = settle
        self._replacing = threading.Lock()
        self._watch: tuple[threading.Lock, int, float] | None = None

    @overload
    def take(self, lock: threading.Lock) -> threading.Lock: ...

    @overload
    def take(
        self,
        lock: threading.Lock,
        give_up: threading.Event | None = None,
        timeout: float | None = None,
    ) -> threading.Lock | None: ...

    def take(
        self,
        lock: threading.Lock,
        give_up: threading.Event | None = None,
        timeout: float | None = None,
    ) -> threading.Lock | None:
        """Wait for the lock, once ``lock.acquire(False)`` failed; take it back if left held.

        Args:
            lock: The lock the caller read from :attr:`lock` and could not take.
            give_up: Ends the wait when set; ``None`` waits for as long as it takes.
            timeout: Longest wait in seconds; ``None`` for no limit.

        Returns:
            The lock the caller now holds: ``lock``, the lock that replaced it meanwhile,
            or a new one replacing a lock left held (then logged). ``None`` if
            ``give_up`` was set or ``timeout`` passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _SLICE if deadline is None else min(_SLICE, deadline - time.monotonic())
            if lock.acquire(True, max(wait, 0.0)):
                if lock is self.lock:
                    return lock
                lock.release()  # replaced meanwhile: wait for the lock in use
            elif lock is self.lock:
                fresh = self._take_back(lock)
                if fresh is not None:
                    return fresh
            if give_up is not None and give_up.is_set():
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return None
            lock = self.lock

    def _take_back(self, lock: threading.Lock) -> threading.Lock | None:
        """Replace ``lock``, found held, if it counts as left; return the new lock, held."""
        turn = self.turn
        if turn % 2:
            return None  # a holder is inside
        now = time.monotonic()
        watch = self._watch
        if watch is None or watch[0] is not lock or watch[1] != turn:
            self._watch = (lock, turn, now)  # first seen so: the settle time starts
            return None
        settle = SETTLE if self._settle is None else self._settle
        if now - watch[2] < settle:
            return None
        with self._replacing:
            if self.lock is not lock or self.turn != turn:
                return None
            fresh = threading.Lock()
            fresh.acquire()
            self.lock = fresh
            self.recovered += 1
        self._log.warning(
            "%s was left held by a thread interrupted (KeyboardInterrupt) between taking "
            "it and the block that frees it; no holder went in for %g s: going on with "
            "a new lock",
            self.what,
            settle,
        )
        return fresh
