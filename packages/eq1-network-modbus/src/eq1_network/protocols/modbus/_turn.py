"""A one-at-a-time lock that outlives a caller interrupted while taking it.

Python can raise ``KeyboardInterrupt`` (Ctrl-C, or a notebook's "interrupt") right
after ``lock.acquire()`` returned and before the ``try`` whose ``finally`` frees the
lock. That lock is then held by nobody, and every later transaction on the connection
would wait for it in vain, even after a reconnection.

A :class:`Turn` lets the next caller take it back. Its holder follows one pattern::

    lock = turn.lock
    if not lock.acquire(False):
        lock = turn.wait(lock, timeout)  # None: still busy after timeout
    try:
        turn.marks += 1  # now inside
        ...
    finally:
        turn.marks += 1  # outside again
        lock.release()

:attr:`Turn.marks` is odd exactly while a holder is inside its block, and changes
whenever a holder comes or goes. A lock held for :data:`SETTLE` seconds while the
marks stay even and unchanged was taken by a caller that never reached its block: a
waiter then replaces it with a fresh lock (logging a warning) and goes on. A holder
inside its block is never robbed, however long it takes.
"""

from __future__ import annotations

import threading
from time import monotonic

from eq1_network.common.logging import get_logger

__all__ = ["SETTLE", "Turn"]

logger = get_logger(__name__)

SETTLE = 0.25
"""Seconds a lock must stay held, with no holder inside its block, to count as left."""


class Turn:
    """The lock of one activity (a transaction, the read role) and its holder marks.

    Args:
        name: What the lock guards, for the log line of a recovery.

    Attributes:
        lock: The current lock. Holders release the lock object they took, which
            may no longer be this one after a recovery.
        marks: Bumped by each holder on entering and on leaving its block.
        recovered: Locks taken back so far.
    """

    __slots__ = ("_name", "_suspect", "_swap", "lock", "marks", "recovered")

    def __init__(self, name: str) -> None:
        self.lock: threading.Lock = threading.Lock()
        self.marks = 0
        self.recovered = 0
        self._name = name
        self._swap = threading.Lock()
        self._suspect: tuple[object, int, float] | None = None

    def wait(self, lock: threading.Lock, timeout: float) -> threading.Lock | None:
        """Take ``lock`` (or its replacement) within ``timeout`` seconds.

        Args:
            lock: The lock the caller found taken.
            timeout: Longest wait in seconds.

        Returns:
            The lock now held by the caller, or ``None`` if the turn stayed busy.
        """
        deadline = monotonic() + timeout
        while True:
            now = monotonic()
            remaining = deadline - now
            marks = self.marks
            if marks & 1:  # a holder is inside its block: wait for it
                wait = remaining
            else:
                wait = min(remaining, self._since(lock, marks, now) + SETTLE - now)
            if lock.acquire(True, max(wait, 0.0)):
                return lock
            if not marks & 1 and self.left(lock, marks):
                lock = self.lock
                continue
            if remaining <= 0 or wait >= remaining:
                return None

    def left(self, lock: threading.Lock, marks: int) -> bool:
        """Replace ``lock`` if it counts as left by an interrupted taker.

        Args:
            lock: A lock found held.
            marks: :attr:`marks` when it was found held (even: nobody inside).

        Returns:
            Whether :attr:`lock` is now another lock than ``lock``.
        """
        now = monotonic()
        if not lock.locked() or self.marks != marks or now - self._since(lock, marks, now) < SETTLE:
            return self.lock is not lock
        with self._swap:
            if self.lock is lock and self.marks == marks:
                self.lock = threading.Lock()
                self._suspect = None
                self.recovered += 1
                logger.warning(
                    "took back the %s lock: it stayed held for %s s by a caller that never "
                    "started (interrupted while taking it)",
                    self._name,
                    SETTLE,
                )
        return self.lock is not lock

    def _since(self, lock: threading.Lock, marks: int, now: float) -> float:
        """When ``lock`` was first seen held with these even ``marks``."""
        suspect = self._suspect
        if suspect is not None and suspect[0] is lock and suspect[1] == marks:
            return suspect[2]
        self._suspect = (lock, marks, now)
        return now
