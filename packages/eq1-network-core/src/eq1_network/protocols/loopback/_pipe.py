"""A bounded, thread-safe byte pipe used by the loopback protocol."""

from __future__ import annotations

import threading
import time

from eq1_network.common.exceptions import ProtocolTimeoutError

__all__ = ["BytePipe"]


class BytePipe:
    """A FIFO of bytes with a size bound; writers wait for room, readers never block.

    Args:
        max_bytes: Most bytes held at once.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._cond = threading.Condition()

    def write(self, data: bytes, timeout: float | None) -> None:
        """Append ``data``, waiting for room if the pipe is full.

        Raises:
            ProtocolTimeoutError: If there is still no room after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        view = memoryview(data)
        with self._cond:
            while view:
                room = self.max_bytes - len(self._buffer)
                if room <= 0:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise ProtocolTimeoutError(
                            f"loopback buffer full ({self.max_bytes} bytes) for {timeout:g} s; "
                            f"{len(view)} of {len(data)} bytes not written"
                        )
                    self._cond.wait(remaining)
                    continue
                self._buffer += view[:room]
                view = view[room:]
                self._cond.notify_all()

    def read_all(self) -> bytes:
        """Remove and return everything buffered (possibly ``b""``)."""
        with self._cond:
            if not self._buffer:
                return b""
            data = bytes(self._buffer)
            self._buffer.clear()
            self._cond.notify_all()
            return data

    def wait_data(self, timeout: float | None) -> bool:
        """Wait until data is buffered; return whether there is some."""
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._buffer), timeout)

    def clear(self) -> None:
        """Discard buffered data."""
        with self._cond:
            self._buffer.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._buffer)
