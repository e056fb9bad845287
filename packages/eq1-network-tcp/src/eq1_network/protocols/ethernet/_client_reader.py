"""The read side of a :class:`TCPClient`: ``read()``, ``wait_readable()``, ``read_within()``.

Reads never block: the one thread that holds the read lock takes the bytes, and
other threads return at once instead of waiting behind it. On a plain connection on
Linux a single ``recv`` call both waits and reads.
"""

from __future__ import annotations

import time

from eq1_network.protocols.ethernet._client_link import IDLE_WAIT, ClientLink

__all__ = ["ClientReader"]


class ClientReader(ClientLink):
    """Reading what the server sent."""

    def _read_raw(self) -> bytes | None:
        """Take the bytes that have arrived, without blocking (``None`` if none)."""
        lock = self._read_lock
        if not lock.acquire(False):
            # Another thread is reading, or waiting in wait_readable(): it takes
            # what arrives; this call must not block behind it.
            return None
        try:
            if self._rx:
                return self._take_buffered()
            stream = self._stream
            if stream is None:
                return None
            if stream.tls:
                return self._receive(stream, self.max_buffer)
            # Plain TCP, the hot path: one recv call, what _receive does spelt out.
            self._last_look = time.monotonic()
            try:
                received = stream.sock.recv(self._chunk, stream.flags)
            except BlockingIOError:
                return None
            except OSError as exc:
                self._lost(stream, f"{type(exc).__name__}: {exc}")
                return None
            if received:
                return received
            self._lost(stream, "closed by the peer")
            return None
        finally:
            lock.release()

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        """Wait until :meth:`read` may return data, without polling.

        Waits on the socket itself; :meth:`read` then takes the bytes (or notices that
        the server closed the connection). While the client is disconnected it waits
        for a reconnection instead. The wait holds the read lock, so a liveness check
        by another thread (:meth:`is_connected`, or :meth:`send` after an idle spell)
        cannot take the bytes from under it; meanwhile :meth:`read` on other threads
        returns ``(False, None)`` instead of blocking.

        Args:
            timeout: Longest wait in seconds; ``None`` waits a short slice (0.1 s).

        Returns:
            ``True`` if data may be readable now (a hint), ``False`` on timeout.
        """
        limit = IDLE_WAIT if timeout is None else max(timeout, 0.0)
        if self._rx:
            return True
        stream = self._stream
        if stream is None:
            with self._state:
                self._state.wait_for(lambda: self._stream is not None, limit)
            return bool(self._rx)
        lock = self._read_lock
        if not lock.acquire(False):
            return stream.wait_readable(limit)  # another thread reads: wait alongside it
        try:
            if self._rx:  # a liveness check buffered bytes meanwhile
                return True
            if not stream.kernel_waits:
                return stream.wait_readable(limit)
            # One system call both waits and takes the bytes, which read() then returns.
            received = self._wait_in_recv(stream, limit)
            if received is None:
                return False
            self._rx += received  # b"" when the connection was lost: read() tells
            return True
        finally:
            lock.release()

    def _read_within_raw(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds for bytes and return them.

        On a plain connection on Linux a single ``recv`` call both waits and reads;
        elsewhere this is :meth:`wait_readable` followed by :meth:`read`. While the
        client is disconnected it waits for a reconnection.

        Args:
            timeout: Longest wait in seconds (``0`` only looks).

        Returns:
            The bytes that arrived, or ``None`` if none arrived in time.
        """
        stream = self._stream
        if stream is None or not stream.kernel_waits:
            return super()._read_within_raw(timeout)
        lock = self._read_lock
        if not lock.acquire(True, max(timeout, 0.0)):
            return None  # another thread kept reading for the whole time
        try:
            if self._rx:
                return self._take_buffered()
            received = self._wait_in_recv(stream, timeout)
            if received is None or received:
                return received
            started = self._last_look  # when the wait began
        finally:
            lock.release()
        if self._closing:  # disconnect() was called: no reconnection to wait for
            return None
        # The connection was lost: wait for a reconnection within the time left.
        return super()._read_within_raw(max(started + timeout - time.monotonic(), 0.0))

    # -- internals -------------------------------------------------------------

    def _take_buffered(self) -> bytes:
        """Empty the read buffer and return its bytes (read lock held)."""
        data = bytes(self._rx)
        self._rx.clear()
        return data
