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
no update is lost). A waiter that cannot get the lock for :data:`SETTLE` seconds while
``turn`` stays even and unchanged concludes that a thread took the lock and never
entered its block: it replaces the lock with a new one, held by itself, and logs a
WARNING. A holder inside its block is never robbed, however long it stays there; one
held up for :data:`SETTLE` seconds between taking the lock and entering its block (by a
debugger stopped on that line, say) is taken to be gone.
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

    Attributes:
        lock: The lock in use; a lock taken back is replaced. Read it once per use.
        turn: Bumped by each holder on entering its ``try`` block and again on
            leaving it: odd while a holder is inside.
        what: The ``what`` argument.
    """

    __slots__ = ("_log", "_replacing", "lock", "turn", "what")

    def __init__(self, what: str, log: logging.Logger) -> None:
        self.lock = threading.Lock()
        self.turn = 0
        self.what = what
        self._log = log
        self._replacing = threading.Lock()

    @overload
    def take(self, lock: threading.Lock) -> threading.Lock: ...

    @overload
    def take(self, lock: threading.Lock, give_up: threading.Event) -> threading.Lock | None: ...

    def take(
        self, lock: threading.Lock, give_up: threading.Event | None = None
    ) -> threading.Lock | None:
        """Wait for the lock, once ``lock.acquire(False)`` failed; take it back if left held.

        Args:
            lock: The lock the caller read from :attr:`lock` and could not take.
            give_up: Ends the wait when set; ``None`` waits for as long as it takes.

        Returns:
            The lock the caller now holds: ``lock``, the lock that replaced it meanwhile,
            or a new one replacing a lock left held (then logged). ``None`` if
            ``give_up`` was set first.
        """
        seen, since = self.turn, time.monotonic()
        while True:
            if lock.acquire(True, _SLICE):
                if lock is self.lock:
                    return lock
                lock.release()  # replaced meanwhile: wait for the lock in use
            elif lock is self.lock:
                turn = self.turn
                if turn != seen:
                    seen, since = turn, time.monotonic()  # a holder went in or out
                elif turn % 2 == 0 and time.monotonic() - since >= SETTLE:
                    fresh = self._replace(lock, turn)
                    if fresh is not None:
                        return fresh
            if give_up is not None and give_up.is_set():
                return None
            if lock is not self.lock:
                lock = self.lock
                seen, since = self.turn, time.monotonic()

    def _replace(self, lock: threading.Lock, turn: int) -> threading.Lock | None:
        """Replace ``lock``, left held, with a new lock held by the caller.

        Returns:
            The new lock; ``None`` if another waiter replaced ``lock`` first or a holder
            went in meanwhile.
        """
        with self._replacing:
            if self.lock is not lock or self.turn != turn:
                return None
            fresh = threading.Lock()
            fresh.acquire()
            self.lock = fresh
        self._log.warning(
            "%s was left held by a thread interrupted (KeyboardInterrupt) between taking "
            "it and the block that frees it; no holder went in for %g s: going on with "
            "a new lock",
            self.what,
            SETTLE,
        )
        return fresh
