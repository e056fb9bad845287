"""One connected socket (plain or TLS): whole-message sends, draining reads.

Used by the client and by each connection of the server. Every read and write of
the stream is non-blocking; sends wait for writability with :func:`wait_socket` up to
a deadline, reads take what is there and never wait. The one exception is
:meth:`SocketStream.recv_wait`, a read that waits in the kernel (see there).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import sys
import threading
import time

from eq1_network.protocols.ethernet._wait import select_poll, wait_socket

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)

__all__ = ["READ_CHUNK", "ReceiveError", "SendTimeoutError", "SocketStream"]

READ_CHUNK = 64 * 1024
"""Bytes asked of the system per ``recv`` call."""

_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

KERNEL_WAITS = sys.platform.startswith("linux") and hasattr(socket, "MSG_DONTWAIT")
"""Whether plain streams can wait inside ``recv`` (Linux): see :meth:`SocketStream.recv_wait`."""

_TIMEVAL = struct.Struct("@ll")
"""``struct timeval`` of Linux, the value of ``SO_RCVTIMEO``."""
_MIN_WAIT = 1e-6
"""Waits shorter than this (the resolution of ``SO_RCVTIMEO``) only poll."""
_MAX_WAIT = 86400.0
"""Longest wait of one :meth:`SocketStream.recv_wait` call (longer ones, infinity or NaN
included, are cut to this)."""


class SendTimeoutError(Exception):
    """Internal: a send did not complete before its deadline.

    Attributes:
        sent: Bytes written before the deadline (0 means the stream is intact).
        total: Bytes the send was asked to write.
    """

    def __init__(self, sent: int, total: int) -> None:
        super().__init__(f"{sent} of {total} bytes sent")
        self.sent = sent
        self.total = total


class ReceiveError(Exception):
    """Internal: the link failed while :meth:`SocketStream.exchange` waited for bytes.

    Tells a failure of the read apart from one of the write; the ``OSError`` is the
    cause (``__cause__``).

    Attributes:
        reason: What happened, for the connection's lost reason.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SocketStream:
    """A connected socket with thread-safe whole-message sends.

    ``send_all`` holds a send lock for the whole message, so concurrent senders
    never interleave their bytes. A TLS socket also serialises every single
    read and write call (OpenSSL connections are not safe for concurrent use); each
    such call is non-blocking, so that lock is held only for microseconds.

    A stream made with ``kernel_waits=True`` (plain sockets on Linux only) keeps its
    descriptor in blocking mode and makes every call non-blocking with
    ``MSG_DONTWAIT`` instead, so that :meth:`recv_wait` can wait inside ``recv``:
    one system call instead of a readiness wait followed by a read.

    Args:
        sock: A connected socket (a TLS socket must have completed its handshake,
            or will complete it before data flows).
        kernel_waits: Allow :meth:`recv_wait` to wait in the kernel where it can
            (:data:`KERNEL_WAITS`, and not TLS). Otherwise the socket is switched to
            non-blocking mode.

    Attributes:
        flags: Flags to pass to every ``send``/``recv`` call on :attr:`sock`
            (``MSG_DONTWAIT`` in kernel-wait mode, else ``0``).
        kernel_waits: Whether :meth:`recv_wait` waits inside ``recv``.
        quickack: Whether every read that returned data re-arms ``TCP_QUICKACK``
            (Linux), so that the peer's next segments are acknowledged at once
            instead of after the delayed-ACK timer (set by :class:`TCPClient`'s
            ``quickack`` option).
    """

    __slots__ = (
        "_io_lock",
        "_poller",
        "_rcvtimeo",
        "_send_lock",
        "eof",
        "flags",
        "kernel_waits",
        "quickack",
        "sock",
        "tls",
    )

    def __init__(self, sock: socket.socket, *, kernel_waits: bool = False) -> None:
        self.tls = isinstance(sock, ssl.SSLSocket)
        self.kernel_waits = kernel_waits and KERNEL_WAITS and not self.tls
        sock.setblocking(self.kernel_waits)
        self.flags = socket.MSG_DONTWAIT if self.kernel_waits else 0
        self.quickack = False
        self._rcvtimeo = 0.0
        self.sock = sock
        self.eof = False
        self._poller: select.poll | None = None
        self._send_lock = threading.Lock()
        self._io_lock: contextlib.AbstractContextManager[object] = (
            threading.Lock() if self.tls else contextlib.nullcontext()
        )

    def send_all(self, data: bytes, timeout: float) -> None:
        """Write all of ``data`` within ``timeout`` seconds.

        Args:
            data: The bytes.
            timeout: Deadline of the whole call, including waiting for other senders.

        Raises:
            SendTimeoutError: If the deadline passed; ``sent`` tells how much was written.
            OSError: If the link failed.
        """
        lock = self._send_lock
        if lock.acquire(False):
            deadline = None  # computed only if the fast path does not finish
        else:
            deadline = time.monotonic() + timeout
            if not lock.acquire(True, max(timeout, 0.0)):
                raise SendTimeoutError(0, len(data))
        try:
            sent = 0
            if not self.tls:  # fast path: one call usually takes a whole request
                try:
                    sent = self.sock.send(data, self.flags)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return
            if deadline is None:
                deadline = time.monotonic() + timeout
            self._write(memoryview(data), sent, deadline)
        finally:
            lock.release()

    def _write(self, data: memoryview, start: int, deadline: float) -> None:
        total = len(data)
        view = data[start:]
        while view:
            want_read = False
            try:
                with self._io_lock:
                    sent = self.sock.send(view, self.flags)
            except ssl.SSLWantReadError:
                sent, want_read = 0, True
            except _WOULD_BLOCK:
                sent = 0
            if sent:
                view = view[sent:]
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SendTimeoutError(total - len(view), total)
            if want_read:
                wait_socket(self.sock, write=False, timeout=min(remaining, 0.05))
            else:
                wait_socket(self.sock, write=True, timeout=remaining)

    def recv_some(self, limit: int) -> bytes | None:
        """Read what is waiting, up to about ``limit`` bytes, without blocking.

        Args:
            limit: Most bytes to take in this call.

        Returns:
            The bytes read; ``None`` if nothing was waiting; ``b""`` once the peer
            closed its side (after any data that preceded the close was returned).

        Raises:
            OSError: If the link failed (reset, TLS error).
        """
        if self.eof:
            return b""
        if not self.tls:  # fast path: one call usually takes everything waiting
            ask = min(READ_CHUNK, limit)
            try:
                chunk = self.sock.recv(ask, self.flags)
            except BlockingIOError:
                return None
            if not chunk:
                self.eof = True
                return b""
            if self.quickack:
                self.ack_now()
            if len(chunk) < ask or len(chunk) >= limit:
                return chunk
            return self.recv_more(chunk, limit)
        return self.recv_more(b"", limit)

    def recv_more(self, first: bytes, limit: int) -> bytes | None:
        """Continue a read that began with ``first``, up to about ``limit`` bytes in all.

        Args:
            first: What the caller's own ``recv`` returned (may be empty).
            limit: Most bytes to return, ``first`` included.

        Returns:
            As :meth:`recv_some`.

        Raises:
            OSError: If the link failed (reset, TLS error).
        """
        chunks: list[bytes] = [first] if first else []
        total = len(first)
        while total < limit:
            ask = min(READ_CHUNK, limit - total)
            try:
                with self._io_lock:
                    chunk = self.sock.recv(ask, self.flags)
            except _WOULD_BLOCK:
                break
            if not chunk:
                self.eof = True
                break
            chunks.append(chunk)
            total += len(chunk)
            if len(chunk) < ask and not self.tls:
                break  # the kernel buffer is drained; spare the call that would say so
        if not chunks:
            return b"" if self.eof else None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def recv_wait(self, limit: int, timeout: float) -> bytes | None:
        """Read what arrives within ``timeout`` seconds, waiting inside ``recv``.

        Only for streams with :attr:`kernel_waits`. The wait uses ``SO_RCVTIMEO``,
        which is set again only when ``timeout`` differs from the previous call's.
        Closing the stream (from any thread) ends the wait. A wait longer than a day
        ends after a day.

        Args:
            limit: Most bytes to take.
            timeout: Longest wait in seconds.

        Returns:
            The bytes read; ``None`` if nothing arrived in time; ``b""`` once the peer
            closed its side.

        Raises:
            OSError: If the link failed.
        """
        if self.eof:
            return b""
        sock = self.sock
        try:
            if timeout < _MIN_WAIT:
                chunk = sock.recv(limit, self.flags)
            else:
                if not timeout < _MAX_WAIT:
                    timeout = _MAX_WAIT
                if timeout != self._rcvtimeo:
                    seconds = int(timeout)
                    micros = max(int((timeout - seconds) * 1e6), 0 if seconds else 1)
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_RCVTIMEO, _TIMEVAL.pack(seconds, micros)
                    )
                    self._rcvtimeo = timeout
                chunk = sock.recv(limit)
        except BlockingIOError:  # nothing within the timeout
            return None
        if not chunk:
            self.eof = True
        elif self.quickack:
            self.ack_now()
        return chunk

    def exchange(
        self, data: bytes, write_timeout: float, limit: int, timeout: float
    ) -> bytes | None:
        """Write all of ``data``, then read what arrives within ``timeout`` seconds.

        :meth:`send_all` followed by :meth:`recv_wait`, with a failure of the read told
        apart from one of the write: a small request and its answer usually cost one
        ``send`` and one ``recv``. Only for streams with :attr:`kernel_waits`.

        Args:
            data: The bytes to write.
            write_timeout: Deadline of the write, as for :meth:`send_all`.
            limit: Most bytes to take.
            timeout: Longest wait for bytes after the write, in seconds.

        Returns:
            As :meth:`recv_wait`.

        Raises:
            SendTimeoutError: If the write did not complete in time (nothing was read).
            OSError: If the link failed during the write.
            ReceiveError: If the link failed during the read.
        """
        self.send_all(data, write_timeout)
        try:
            return self.recv_wait(limit, timeout)
        except OSError as exc:
            raise ReceiveError(f"{type(exc).__name__}: {exc}") from exc

    def ack_now(self) -> None:
        """Re-arm ``TCP_QUICKACK``: acknowledge the next segments without delay.

        Linux falls back to delayed acknowledgements after a while, so the option
        is set again after each read. Where the option does not exist, nothing
        happens.
        """
        if _QUICKACK is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)

    def wait_readable(self, timeout: float) -> bool:
        """Wait until the socket is readable or ``timeout`` seconds pass.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if a read may return data (or report a close), ``False`` on timeout.
        """
        if self.tls and self.has_buffered():
            return True
        poller = self._poller
        if poller is None:
            poller = self._poller = select_poll(self.sock)
        if poller is not None:
            try:
                return bool(poller.poll(max(timeout, 0.0) * 1000.0))
            except RuntimeError:  # another thread is waiting with the same poller
                pass
        return wait_socket(self.sock, write=False, timeout=timeout)

    def has_buffered(self) -> bool:
        """Tell whether decrypted bytes wait inside the TLS layer (invisible to selectors).

        Returns:
            ``True`` if a read would return data without touching the socket.
        """
        if not self.tls or self.eof:
            return False
        sock = self.sock
        assert isinstance(sock, ssl.SSLSocket)
        try:
            with self._io_lock:
                return sock.pending() > 0
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        """Shut the socket down (waking threads that wait on it) and close it."""
        with self._io_lock, contextlib.suppress(OSError, ValueError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
