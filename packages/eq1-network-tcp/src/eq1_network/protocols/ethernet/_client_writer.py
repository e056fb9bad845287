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
from eq1_network.protocols.ethernet._stream import SendTimeoutError

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
        try:
            stream.send_all(data, self.write_timeout)
        except SendTimeoutError as exc:
            raise self._send_timed_out(stream, exc) from None
        except OSError as exc:
            self._lost(stream, f"{type(exc).__name__}: {exc}")
            raise ProtocolConnectionError(
                f"connection to {self.where} lost during send(): {exc}"
            ) from exc
        return len(data)

    # -- internals -------------------------------------------------------------

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
