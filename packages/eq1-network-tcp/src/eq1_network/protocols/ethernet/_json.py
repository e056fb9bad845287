"""JSON messages of the TCP transports: per-client decoding and the sender of each message.

The framing and the decoding of one stream live in :mod:`eq1_network.packets.json_stream`
(re-exported here).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import NamedTuple

from eq1_network.common.exceptions import MalformedPacketError, PacketError
from eq1_network.packets.json_stream import (
    JsonDecoder,
    JsonStructure,
    JsonValue,
    decode_payload,
    encode_frame,
)
from eq1_network.protocols.ethernet._peer import Connection, Peer

__all__ = [
    "JsonDecoder",
    "JsonMessage",
    "JsonStructure",
    "JsonValue",
    "PeerJsonDecoders",
    "decode_payload",
    "encode_frame",
]


class JsonMessage(NamedTuple):
    """A JSON message received by a :class:`TCPServer`, with its sender.

    Attributes:
        peer: The client that sent it.
        value: The decoded ``dict`` or ``list``.
    """

    peer: Peer
    value: JsonValue


class PeerJsonDecoders:
    """The JSON decoding state of every client of a server, in arrival order.

    Args:
        structure: The framing.
    """

    def __init__(self, structure: JsonStructure) -> None:
        self.structure = structure
        self._lock = threading.Lock()
        self._decoders: dict[int, tuple[Connection, JsonDecoder]] = {}
        self._broken: dict[int, Connection] = {}
        self._ready: deque[tuple[Connection, bytes | PacketError]] = deque()

    def feed(self, conn: Connection, data: bytes) -> bool:
        """Add bytes received from a client.

        Args:
            conn: The client's connection.
            data: The bytes.

        Returns:
            ``False`` if that client's frame stream broke (now or earlier) and it must
            be dropped; its later bytes are ignored.
        """
        with self._lock:
            peer_id = conn.peer.id
            if peer_id in self._broken:
                return False
            entry = self._decoders.get(peer_id)
            if entry is None:
                entry = self._decoders[peer_id] = (conn, JsonDecoder(self.structure))
            decoder = entry[1]
            healthy = decoder.feed(data)
            self._ready.extend((conn, item) for item in decoder.drain())
            if not healthy:
                self._broken[peer_id] = conn
                del self._decoders[peer_id]
            return healthy

    def settle(self) -> bool:
        """Forget clients that left; call it only when no received bytes are pending.

        A client that left inside a frame yields an error for that frame.

        Returns:
            ``True`` if something was queued for :meth:`pop`.
        """
        with self._lock:
            before = len(self._ready)
            for peer_id, (conn, decoder) in list(self._decoders.items()):
                if not conn.open:
                    del self._decoders[peer_id]
                    decoder.feed_eof(f"client {conn.peer}")
                    self._ready.extend((conn, item) for item in decoder.drain())
            self._broken = {p: c for p, c in self._broken.items() if c.open}
            return len(self._ready) > before

    def pop(self) -> tuple[Connection, JsonValue] | None:
        """Return the next message of any client, with the client's connection.

        Returns:
            ``(connection, value)``, or ``None`` if none is ready.

        Raises:
            MalformedPacketError: If the next frame is not a JSON message, or a
                client's frame stream broke (the message names the client).
            PacketSizeError: If a client announced a frame larger than the limit.
        """
        with self._lock:
            if not self._ready:
                return None
            conn, item = self._ready.popleft()
        if isinstance(item, PacketError):
            raise type(item)(f"client {conn.peer}: {item}") from item
        try:
            return conn, decode_payload(item)
        except MalformedPacketError as exc:
            raise MalformedPacketError(f"client {conn.peer}: {exc}") from exc

    def clear(self) -> None:
        """Forget everything (the server stopped)."""
        with self._lock:
            self._decoders.clear()
            self._broken.clear()
            self._ready.clear()
