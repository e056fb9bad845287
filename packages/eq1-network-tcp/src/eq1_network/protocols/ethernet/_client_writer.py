"""The write side of a :class:`TCPClient`: ``send()`` and its timeout.

Whole messages are written by the calling thread; concurrent sends never interleave
their bytes (:meth:`SocketStream.send_all`). A send after an idle spell first looks
for a close by the peer, so that it fails instead of writing into a dead connection.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolTimeoutError
from eq1_network.protocols.ethernet._client_link import ClientLink
from eq1_network.protocols.ethernet._stream import ReceiveError, SendTimeoutError

if TYPE_CHECKING:
    from eq1_network.protocols.ethernet._stream import SocketStream

__all__ = ["ClientWriter"]

_PROBE_AFTER_IDLE = 0.5
"""``send()`` first checks for a close by the peer when nobody read for this long."""


class ClientWriter(ClientLink):
    """Writing to the server."""

    def _send_raw(self, data: bytes) -> int:
        """Write all of ``data``; concurrent calls never interleave their bytes.

        ``send()`` raises :class:`~eq1_network.common.exceptions.ProtocolTimeoutError`
        if the bytes could not be handed over within ``write_timeout``; when part of
        the message had been sent, the connection is closed, because the peer can no
        longer find where messages start.
        """
        if time.monotonic() - self._last_look > _PROBE_AFTER_IDLE:
            self._probe()
        stream = self._stream
        if stream is None:
            raise self._unusable("send()")
        self._write_all(stream, data)
        return len(data)

    def exchange(self, data: bytes, timeout: float) -> bytes | None:
        """Send ``data``, then wait up to ``timeout`` seconds for bytes back.

        The outcome of ``send(data)`` followed by ``read_within(timeout)``. On a plain
        connection on Linux that was looked at recently, with nothing buffered and no
        other thread reading, the request is written and the answer awaited inside
        ``recv`` in one step; otherwise (or in a subclass that overrides ``send``,
        ``read_within`` or their hooks) the two calls are made.

        Args:
            data: The request.
            timeout: Longest wait for the first bytes back, in seconds.

        Returns:
            The bytes that arrived, or ``None`` if none arrived in time.

        Raises:
            ProtocolNotConnectedError: If the client is not connected.
            ProtocolConnectionError: If the link broke during the send.
            ProtocolTimeoutError: If the write deadline passed.
        """
        stream = self._stream
        lock = self._read_lock
        now = time.monotonic()
        if (
            stream is None
            or not stream.kernel_waits
            or not self._exchange_in_one_step
            or type(data) is not bytes
            or self._pushback
            or now - self._last_look > _PROBE_AFTER_IDLE  # send() looks first
            or not lock.acquire(False)
        ):
            return super().exchange(data, timeout)
        try:
            fast = not self._rx and self._stream is stream
            if fast:
                self._last_look = now
                try:
                    received = stream.exchange(data, self.write_timeout, self._chunk, timeout)
                except ReceiveError as exc:
                    self._lost(stream, exc.reason)
                    received = b""
                except SendTimeoutError as exc:
                    raise self._send_timed_out(stream, exc) from None
                except OSError as exc:
                    raise self._send_broke(stream, exc) from exc
                else:
                    if received == b"":
                        self._lost(stream, "closed by the peer")
        finally:
            lock.release()
        if not fast:  # bytes kept by an earlier look come first, as read_within() returns them
            return super().exchange(data, timeout)
        if received is None or received:
            return received
        if self._closing:  # disconnect() was called: no reconnection to wait for
            return None
        # The connection was lost during the wait: wait for a reconnection in what is left.
        return self.read_within(max(self._last_look + timeout - time.monotonic(), 0.0))

    # -- internals -------------------------------------------------------------

    def _write_all(self, stream: SocketStream, data: bytes) -> None:
        """Write all of ``data`` to ``stream``, mapping a failure to the library's error."""
        try:
            stream.send_all(data, self.write_timeout)
        except SendTimeoutError as exc:
            raise self._send_timed_out(stream, exc) from None
        except OSError as exc:
            raise self._send_broke(stream, exc) from exc

    def _send_broke(self, stream: SocketStream, exc: OSError) -> ProtocolConnectionError:
        self._lost(stream, f"{type(exc).__name__}: {exc}")
        return ProtocolConnectionError(f"connection to {self.where} lost during send(): {exc}")

    def _send_timed_out(self, stream: SocketStream, exc: SendTimeoutError) -> ProtocolTimeoutError:
        if exc.sent == 0:
            return ProtocolTimeoutError(
                f"send() to {self.where}: nothing could be sent within "
                f"{self.write_timeout:g} s (write_timeout); the connection is intact"
            )
        self._lost(stream, f"send() timed out after {exc.sent} of {exc.total} bytes")
        return ProtocolTimeoutError(
            f"send() to {self.where}: only {exc.sent} of {exc.total} bytes sent within "
            f"{self.write_timeout:g} s (write_timeout); the connection was closed because "
            "the peer can no longer find message boundaries"
        )
