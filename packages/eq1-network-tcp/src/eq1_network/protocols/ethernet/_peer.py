"""Server-side connections: the public :class:`Peer` identity and its internal state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from eq1_network.common.exceptions import ProtocolTypeError
from eq1_network.protocols.ethernet._stream import SocketStream

__all__ = ["Connection", "Peer", "PeerMessage", "peer_id"]


@dataclass(frozen=True, slots=True)
class Peer:
    """A client connected to a :class:`TCPServer`.

    Identities are never reused during the life of a server object, so a ``Peer``
    kept after its client left can no longer reach anyone (``send_to`` then raises).

    Attributes:
        id: Number unique within the server, in connection order, from 1.
        host: The client's address.
        port: The client's port.
    """

    id: int
    host: str
    port: int

    def __str__(self) -> str:
        return f"#{self.id} {self.host}:{self.port}"


class PeerMessage(NamedTuple):
    """Bytes received by a :class:`TCPServer`, with the client that sent them.

    Attributes:
        peer: The sender.
        data: The bytes (at least one).
    """

    peer: Peer
    data: bytes


class Connection:
    """Internal state of one accepted connection; owned by the server's I/O thread.

    ``pending`` and ``paused`` are guarded by the inbox lock; ``registered``,
    ``handshaking``, ``open`` and ``plain`` are written only by the loop's owner.
    ``plain`` means open and not TLS: one ``recv`` call reads such a client.
    """

    __slots__ = (
        "handshaking",
        "open",
        "paused",
        "peer",
        "pending",
        "plain",
        "registered",
        "stream",
    )

    def __init__(self, peer: Peer, stream: SocketStream, *, handshaking: bool) -> None:
        self.peer = peer
        self.stream = stream
        self.pending = 0
        self.paused = False
        self.registered = False
        self.handshaking = handshaking
        self.open = True
        self.plain = not stream.tls

    def __repr__(self) -> str:
        return f"Connection({self.peer}, open={self.open})"


def peer_id(peer: Peer | int) -> int:
    """Return the id of a client given as a :class:`Peer` or as its id.

    Args:
        peer: The client, or its :attr:`Peer.id`.

    Returns:
        The id.

    Raises:
        ProtocolTypeError: If ``peer`` is neither.
    """
    if isinstance(peer, Peer):
        return peer.id
    if isinstance(peer, int) and not isinstance(peer, bool):
        return peer
    raise ProtocolTypeError(f"peer must be a Peer or an int id, got {type(peer).__name__}")
