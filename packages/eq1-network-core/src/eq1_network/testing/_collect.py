"""Thread-safe collectors used by the contract suites to wait on events, never on sleeps."""

from __future__ import annotations

import threading
import time

from eq1_network.interfaces.protocol import ReqResProtocol

__all__ = ["MessageCollector", "read_exactly"]


class MessageCollector:
    """A subscription callback that records ``(topic, payload)`` and lets tests wait for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        """Record one message."""
        with self._cond:
            self.messages.append((topic, payload))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float) -> list[tuple[str, bytes]]:
        """Wait until at least ``count`` messages arrived.

        Args:
            count: How many messages to wait for.
            timeout: Longest wait in seconds.

        Returns:
            A copy of the messages received so far.

        Raises:
            AssertionError: If fewer arrived within the timeout.
        """
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.messages) >= count, timeout)
            got = list(self.messages)
        if not ok:
            raise AssertionError(f"expected {count} messages within {timeout} s, got {got!r}")
        return got

    def payloads(self) -> list[bytes]:
        """Return the payloads received so far."""
        with self._cond:
            return [p for _, p in self.messages]


def read_exactly(protocol: ReqResProtocol, size: int, timeout: float) -> bytes:
    """Read from a request/response protocol until ``size`` bytes arrived.

    Args:
        protocol: A connected protocol.
        size: Number of bytes expected.
        timeout: Longest wait in seconds.

    Returns:
        The bytes read (more than ``size`` if the peer sent more).

    Raises:
        AssertionError: If fewer bytes arrived within the timeout.
    """
    deadline = time.monotonic() + timeout
    chunks = bytearray()
    while len(chunks) < size:
        ok, data = protocol.read()
        if ok and data:
            chunks += data
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"expected {size} bytes within {timeout} s, got {len(chunks)}")
        protocol.wait_readable(min(remaining, 0.5))
    return bytes(chunks)
