"""A bounded FIFO that producers fill one item at a time and the send worker drains in batches."""

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
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: _T, timeout: float | None) -> None:
        """Append an item, waiting up to ``timeout`` seconds for room.

        Args:
            item: The item.
            timeout: ``0`` refuses at once when full; ``None`` waits without limit.

        Raises:
            QueueFullError: If there is no room within the timeout.
            ProtocolNotConnectedError: If the queue was closed.
        """
        with self._cond:
            if len(self._items) >= self.maxsize and timeout != 0:
                deadline = None if timeout is None else time.monotonic() + timeout
                while len(self._items) >= self.maxsize and not self._closed:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._cond.wait(remaining)
            if self._closed:
                raise ProtocolNotConnectedError("the handler is stopped; nothing more is accepted")
            if len(self._items) >= self.maxsize:
                raise QueueFullError(
                    f"send queue full ({self.maxsize} messages)"
                    + ("" if timeout == 0 else f" for {timeout:g} s")
                    + "; the peer is slower than the producer or the link is down"
                )
            self._items.append(item)
            self._cond.notify_all()

    def get_batch(self, max_items: int, timeout: float | None) -> list[_T]:
        """Remove and return up to ``max_items`` items, waiting up to ``timeout`` for the first.

        Args:
            max_items: Most items to return.
            timeout: Longest wait for the first item.

        Returns:
            The items, oldest first; empty if none arrived in time.
        """
        with self._cond:
            if not self._items:
                self._cond.wait_for(lambda: bool(self._items) or self._closed, timeout)
            count = min(max_items, len(self._items))
            batch = [self._items.popleft() for _ in range(count)]
            if batch:
                self._cond.notify_all()
            return batch

    def wait_empty(self, timeout: float | None) -> bool:
        """Wait until the queue is empty.

        Returns:
            ``True`` if empty.
        """
        with self._cond:
            return self._cond.wait_for(lambda: not self._items, timeout)

    def close(self) -> None:
        """Refuse further items; what is queued can still be taken."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def drain(self) -> list[_T]:
        """Remove and return everything still queued.

        Returns:
            The remaining items, oldest first.
        """
        with self._cond:
            rest = list(self._items)
            self._items.clear()
            self._cond.notify_all()
            return rest

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
