"""The server's inbox: received chunks of every client, in arrival order, with back-pressure."""

from __future__ import annotations

import threading
import time
from collections import deque

from eq1_network.protocols.ethernet._peer import Connection

__all__ = ["MERGE_LIMIT", "Inbox"]

MERGE_LIMIT = 1024 * 1024
"""Most bytes one :meth:`Inbox.pop` joins from consecutive chunks of the same client."""


class Inbox:
    """A thread-safe FIFO of ``(connection, bytes)``.

    Each connection may hold at most ``max_pending`` unread bytes: :meth:`push`
    answers ``True`` when reading from that connection must pause, and :meth:`pop`
    answers ``True`` once it may resume (at half the limit), so a client that sends
    faster than the application reads is slowed down by TCP flow control instead of
    filling memory.

    Args:
        max_pending: Unread bytes per connection before reading from it pauses.

    Attributes:
        lock: The lock guarding the inbox; the server loop guards its ownership
            state with it too.
        cond: Notified when chunks arrive; the server loop also notifies it when it
            hands the loop over, so that one wait covers both events.
        items: The chunks, oldest first. Change it only through the methods; its
            truth value may be read without the lock as a hint.
    """

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.waiters = 0
        self.items: deque[tuple[Connection, bytes]] = deque()

    def push(self, conn: Connection, data: bytes) -> bool:
        """Append a chunk and wake waiting readers.

        Args:
            conn: The connection it came from.
            data: The bytes.

        Returns:
            ``True`` if the caller must stop reading from ``conn`` for now.
        """
        lock = self.lock
        lock.acquire()  # explicit acquire/release: cheaper than ``with`` on this hot path
        try:
            self.items.append((conn, data))
            conn.pending += len(data)
            if self.waiters:
                self.cond.notify_all()
            if conn.pending >= self.max_pending and not conn.paused:
                conn.paused = True
                return True
            return False
        finally:
            lock.release()

    def pop(self) -> tuple[Connection, bytes, bool] | None:
        """Remove the oldest chunk, joined with directly following chunks of the same client.

        Returns:
            ``(connection, data, resume)`` where ``resume`` tells that reading from a
            paused connection may resume, or ``None`` if nothing is waiting.
        """
        items = self.items
        if not items:  # an unlocked look; a chunk pushed meanwhile goes to the next call
            return None
        lock = self.lock
        lock.acquire()
        try:
            if not items:
                return None
            conn, data = items.popleft()
            if items and items[0][0] is conn:
                parts = [data]
                size = len(data)
                while items and items[0][0] is conn and size < MERGE_LIMIT:
                    more = items.popleft()[1]
                    parts.append(more)
                    size += len(more)
                data = b"".join(parts)
            conn.pending -= len(data)
            resume = conn.paused and conn.pending <= self.max_pending // 2
            if resume:
                conn.paused = False
            return conn, data, resume
        finally:
            lock.release()

    def wait_locked(self, timeout: float | None) -> None:
        """Wait on :attr:`cond` for a notification; the caller holds :attr:`lock`.

        Args:
            timeout: Longest wait in seconds.
        """
        self.waiters += 1
        try:
            self.cond.wait(timeout)
        finally:
            self.waiters -= 1

    def wait(self, timeout: float) -> bool:
        """Wait until a chunk is waiting.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if a chunk is waiting.
        """
        deadline = time.monotonic() + timeout
        with self.lock:
            while not self.items:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.wait_locked(remaining)
            return True

    def clear(self) -> None:
        """Drop every chunk."""
        with self.lock:
            for conn, data in self.items:
                conn.pending -= len(data)
            self.items.clear()

    def __len__(self) -> int:
        with self.lock:
            return len(self.items)
