"""A lock that raises ``KeyboardInterrupt`` at the worst moment, for tests of Ctrl-C.

CPython can raise ``KeyboardInterrupt`` right after ``lock.acquire()`` returned and
before the ``try`` whose ``finally`` frees the lock. A signal cannot be timed to hit
that moment; put an :class:`InterruptingLock` where the code under test keeps its lock
(or its :class:`~eq1_network.common.guard.Guard`'s ``lock``) and it raises exactly
there, once.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable

__all__ = ["InterruptingLock"]


class InterruptingLock:
    """A lock that raises ``KeyboardInterrupt`` once, on the thread that made it.

    Args:
        at: ``"acquire"``: right after taking the lock, holding it, as an interrupt
            right after ``acquire()`` returned. A ``with`` statement on a C lock
            enters its block at once, so ``__enter__`` raises only when called from
            another ``__enter__`` (the Python code of ``Condition.__enter__``).
            ``"release"``: right after a release (the end of a ``with`` block).
        when: Raise only while this returns true.

    Attributes:
        inner: The real lock.
        armed: Whether the interrupt is still to come.
    """

    def __init__(self, at: str = "acquire", when: Callable[[], bool] = lambda: True) -> None:
        self.inner = threading.Lock()
        self.armed = True
        self._thread = threading.get_ident()
        self._at = at
        self._when = when

    def _fire(self, point: str) -> None:
        if self.armed and point == self._at and threading.get_ident() == self._thread:
            if self._when():
                self.armed = False
                raise KeyboardInterrupt

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock as ``threading.Lock.acquire`` does, then maybe raise."""
        taken = self.inner.acquire(blocking, timeout)
        if taken:
            self._fire("acquire")
        return taken

    def release(self) -> None:
        """Free the lock, then maybe raise."""
        self.inner.release()
        self._fire("release")

    def locked(self) -> bool:
        """Whether the lock is held."""
        return self.inner.locked()

    def __enter__(self) -> bool:
        self.inner.acquire()
        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        if caller is not None and caller.f_code.co_name == "__enter__":
            self._fire("acquire")
        return True

    def __exit__(self, *exc: object) -> None:
        self.release()
