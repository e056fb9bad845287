"""The sending side of a :class:`TCPServer`: replies, ``send_to``, ``broadcast`` and callback mode.

Sends are made by the calling thread (by the loop's thread for the replies of
``on_data``), directly on the client's stream; concurrent sends to one client never
interleave. A client that accepts no data within ``write_timeout`` makes the send
fail, and is dropped when a message was cut short.
"""

from __future__ import annotations

import logging

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolTimeoutError,
    ProtocolTypeError,
)
from eq1_network.common.logging import get_logger
from eq1_network.protocols.ethernet._peer import Connection, Peer, peer_id
from eq1_network.protocols.ethernet._server_base import ServerBase
from eq1_network.protocols.ethernet._server_loop import ServerLoop
from eq1_network.protocols.ethernet._stream import SendTimeoutError

__all__ = ["ServerSend"]

logger = get_logger("eq1_network.protocols.ethernet.tcp_server")


class ServerSend(ServerBase):
    """Writing to the clients of a TCP server."""

    def _send_raw(self, data: bytes) -> int:
        """Reply to the client whose data ``read`` (or :meth:`receive`) returned last.

        ``send()`` raises :class:`~eq1_network.common.exceptions.ProtocolConnectionError`
        if no data has been read yet or that client has left, and
        :class:`~eq1_network.common.exceptions.ProtocolTimeoutError` if the client
        accepted no data within ``write_timeout``.
        """
        loop = self._loop
        if loop is None:  # disconnect() ran since send() looked
            raise self._not_listening("send()")
        conn = self._last_conn
        if conn is None:
            raise ProtocolConnectionError(
                f"send() on {self!r}: no client to reply to, because read() has not "
                "returned data yet; use send_to(peer, data) to address a client"
            )
        return self._send_conn(loop, conn, data)

    def send_to(self, peer: Peer | int, data: bytes) -> int:
        """Send all of ``data`` to one client; concurrent sends never interleave.

        Args:
            peer: The client, or its :attr:`Peer.id`.
            data: The bytes.

        Returns:
            ``len(data)``.

        Raises:
            ProtocolTypeError: If ``peer`` or ``data`` has the wrong type.
            ProtocolNotConnectedError: If the server is not listening.
            ProtocolConnectionError: If that client is not connected (any more).
            ProtocolTimeoutError: If the client accepted no data within
                ``write_timeout``; if part of the message was sent, the client is
                dropped because it can no longer find message boundaries.
        """
        payload = _as_bytes(data)
        loop = self._running_loop("send_to()")
        conn = loop.connection(peer_id(peer))
        if conn is None:
            raise ProtocolConnectionError(
                f"send_to(): client {peer} is not connected to {self.where} "
                "(it left or was dropped)"
            )
        return self._send_conn(loop, conn, payload)

    def broadcast(self, data: bytes) -> int:
        """Send ``data`` to every connected client.

        A client that fails is logged (and dropped if its stream was cut) and does
        not stop the others. Clients are served one after the other, so a client that
        accepts nothing delays the rest by up to ``write_timeout``.

        Args:
            data: The bytes.

        Returns:
            The number of clients that received all of ``data``.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like.
            ProtocolNotConnectedError: If the server is not listening.
        """
        payload = _as_bytes(data)
        loop = self._running_loop("broadcast()")
        delivered = 0
        for conn in loop.connections():
            try:
                self.send_to(conn.peer, payload)
            except (ProtocolConnectionError, ProtocolTimeoutError) as exc:
                logger.warning("broadcast to %s failed: %s", conn.peer, exc)
            else:
                delivered += 1
        return delivered

    # -- internals -------------------------------------------------------------------

    def _send_conn(self, loop: ServerLoop, conn: Connection, payload: bytes) -> int:
        if not conn.open:
            raise ProtocolConnectionError(
                f"client {conn.peer} is not connected to {self.where} (it left or was dropped)"
            )
        try:
            conn.stream.send_all(payload, self.write_timeout)
        except SendTimeoutError as exc:
            raise self._send_timed_out(loop, conn, exc) from None
        except OSError as exc:
            loop.drop(conn, f"send failed: {exc}")
            raise ProtocolConnectionError(
                f"connection to client {conn.peer} lost during send: {exc}"
            ) from exc
        return len(payload)

    def _send_timed_out(
        self, loop: ServerLoop, conn: Connection, exc: SendTimeoutError
    ) -> ProtocolTimeoutError:
        if exc.sent == 0:
            return ProtocolTimeoutError(
                f"send to client {conn.peer}: nothing could be sent within "
                f"{self.write_timeout:g} s (write_timeout); the connection is intact"
            )
        loop.drop(
            conn, f"send timed out after {exc.sent} of {exc.total} bytes", level=logging.WARNING
        )
        return ProtocolTimeoutError(
            f"send to client {conn.peer}: only {exc.sent} of {exc.total} bytes sent within "
            f"{self.write_timeout:g} s (write_timeout); the client was dropped because it "
            "can no longer find message boundaries"
        )

    def _answer(self, conn: Connection, data: bytes) -> bool:
        """Callback mode: hand a chunk to ``on_data`` and send its reply (loop's thread)."""
        callback = self.on_data
        assert callback is not None
        try:
            reply = callback(conn.peer, data)
        except Exception:
            logger.exception("on_data callback %r raised for client %s", callback, conn.peer)
            return False
        if reply is None or not conn.open:
            return False
        if type(reply) is not bytes:
            if not isinstance(reply, (bytearray, memoryview)):
                logger.error(
                    "on_data callback %r returned %s for client %s; expected bytes or None "
                    "(nothing was sent)",
                    callback,
                    type(reply).__name__,
                    conn.peer,
                )
                return False
            reply = bytes(reply)
        if not reply:
            return False
        try:
            conn.stream.send_all(reply, self.write_timeout)
        except SendTimeoutError as exc:
            reason = f"reply not accepted within {self.write_timeout:g} s ({exc})"
        except OSError as exc:
            reason = f"reply failed: {exc}"
        else:
            return False
        loop = self._loop
        if loop is not None:
            loop.drop(conn, f"dropped by the server: {reason}", level=logging.WARNING)
        return False


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise ProtocolTypeError(f"send() needs bytes, got {type(data).__name__}; encode text first")
