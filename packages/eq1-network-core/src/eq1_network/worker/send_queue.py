"""A bounded FIFO that producers fill one item at a time and the send worker drains in batches.

The common path takes no lock: ``collections.deque`` appends and pops are atomic, so a
producer only touches the condition variable when the consumer sleeps (or the queue is
full), and the consumer only when producers wait for room. The bound may be exceeded by
at most one item per concurrent producer.

The condition's lock is taken with ``with`` on the lock itself, not on the condition:
``Condition.__enter__`` is Python code, so an interrupt (``KeyboardInterrupt``) could
land there after the lock was taken and before the block that frees it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

from eq1_network.common.exceptions import ProtocolNotConnectedError, QueueFullError

__all__ = ["BatchQueue"]

_T = TypeVar("_T")


class BatchQueue(Generic[_T]):
    """Thread-safe bounded queue with batch draining and an explicit close.

    Args:
        maxsize: Most items held at once.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[_T] = deque()
        self._mutex = threading.RLock()
        self._cond = threading.Condition(self._mutex)
        self._closed = False
        self._consumer_waiting = False
        self._poked = False
        self._producers_waiting = 0

    def put(self, item: _T, timeout: float | None) -> int:
        """Append an item, waiting up to ``timeout`` seconds for room.

        Args:
            item: The item.
            timeout: ``0`` refuses at once when full; ``None`` waits without limit.

        Returns:
            The number of items queued just after this one was appended.

        Raises:
            QueueFullError: If there is no room within the timeout.
            ProtocolNotConnectedError: If the queue was closed.
        """
        if self._closed:
            raise ProtocolNotConnectedError("the handler is stopped; nothing more is accepted")
        if len(self._items) >= self.maxsize:
            self._wait_room(timeout)
        items = self._items
        items.append(item)
        depth = len(items)
        if self._consumer_waiting:
            with self._mutex:
                if self._consumer_waiting:
                    # One wake-up is enough: until the consumer runs, the next producers
                    # need not take the lock again (it looks at the queue when it wakes).
                    self._consumer_waiting = False
                    self._cond.notify_all()
        return depth

    def _wait_room(self, timeout: float | None) -> None:
        with self._mutex:
            if timeout != 0:
                deadline = None if timeout is None else time.monotonic() + timeout
                self._producers_waiting += 1
                try:
                    while len(self._items) >= self.maxsize and not self._closed:
                        remaining = None if deadline is None else deadline - time.monotonic()
                        if remaining is not None and remaining <= 0:
                            break
                        self._cond.wait(remaining)
                finally:
                    self._producers_waiting -= 1
            if self._closed:
                raise ProtocolNotConnectedError("the handler is stopped; nothing more is accepted")
            if len(self._items) >= self.maxsize:
                raise QueueFullError(
                    f"send queue full ({self.maxsize} messages)"
                    + ("" if timeout == 0 else f" for {timeout:g} s")
                    + "; the peer is slower than the producer or the link is down"
                )

    def get_batch(self, max_items: int, timeout: float | None) -> list[_T]:
        """Remove and return up to ``max_items`` items, waiting up to ``timeout`` for the first.

        Args:
            max_items: Most items to return.
            timeout: Longest wait for the first item.

        Returns:
            The items, oldest first; empty if none arrived in time.
        """
        items = self._items
        if not items and (timeout == 0 or not self.wait_items(timeout)):
            return []
        popleft = items.popleft
        batch = [popleft() for _ in range(min(max_items, len(items)))]
        if batch and self._producers_waiting:
            with self._mutex:
                self._cond.notify_all()
        return batch

    def wait_items(self, timeout: float | None) -> bool:
        """Wait until an item is queued, the queue is closed or :meth:`poke` is called.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if an item is queued.
        """
        items = self._items
        if not items:
            with self._mutex:
                deadline = None if timeout is None else time.monotonic() + timeout
                try:
                    while True:
                        # Armed again before every wait, and before looking at the queue: a
                        # producer that wakes this thread disarms it, and one whose item
                        # was taken by another thread meanwhile must still wake it.
                        self._consumer_waiting = True
                        if items or self._closed or self._poked:
                            break
                        remaining = None if deadline is None else deadline - time.monotonic()
                        if remaining is not None and remaining <= 0:
                            break
                        self._cond.wait(remaining)
                finally:
                    self._consumer_waiting = False
                    self._poked = False
        return bool(items)

    def poke(self) -> None:
        """Wake a consumer waiting in :meth:`wait_items`, which then returns at once."""
        with self._mutex:
            self._poked = True
            self._cond.notify_all()

    def close(self) -> None:
        """Refuse further items; what is queued can still be taken."""
        with self._mutex:
            self._closed = True
            self._cond.notify_all()

    def drain(self) -> list[_T]:
        """Remove and return everything still queued.

        Returns:
            The remaining items, oldest first.
        """
        with self._mutex:
            rest = list(self._items)
            self._items.clear()
            self._cond.notify_all()
            return rest

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __len__(self) -> int:
        return len(self._items)
