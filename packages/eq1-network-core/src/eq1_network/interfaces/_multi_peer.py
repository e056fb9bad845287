"""The optional capability of a request/response protocol that serves many peers."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["MultiPeerProtocol", "serves_many_peers"]


@runtime_checkable
class MultiPeerProtocol(Protocol):
    """Optional capability of a request/response protocol that serves many peers at once.

    A server transport (``tcp-server``, for example) implements these methods besides
    :class:`~eq1_network.interfaces.protocol.ReqResProtocol`'s;
    :class:`~eq1_network.NetworkHandler` then keeps one
    byte stream per peer, replies to the peer that asked, and drops a misbehaving peer
    alone. A peer is any hashable object whose ``str()`` names it; the same peer is
    the same object (or an equal one) for as long as it is connected. ``send(data)``
    writes to the peer whose data :meth:`receive` returned last.
    """

    def peers(self) -> list[Any]:
        """List the connected peers.

        Returns:
            The peers.
        """
        ...

    def receive(self, timeout: float | None = 0.0) -> Any:
        """Return the next chunk of bytes with the peer that sent it, or ``None``.

        Args:
            timeout: Seconds to wait; ``0`` does not wait.

        Returns:
            An object with ``peer`` and ``data`` attributes, or ``None`` if nothing
            arrived in time.
        """
        ...

    def send_to(self, peer: Any, data: bytes) -> int:
        """Send all of ``data`` to one peer.

        Args:
            peer: The peer.
            data: The bytes.

        Returns:
            ``len(data)``.

        Raises:
            ProtocolConnectionError: If that peer is not connected.
            ProtocolTimeoutError: If the peer accepted no data in time.
        """
        ...

    def disconnect_peer(self, peer: Any) -> bool:
        """Close the connection of one peer.

        Args:
            peer: The peer.

        Returns:
            ``True`` if the peer was connected.
        """
        ...


def serves_many_peers(protocol: object) -> bool:
    """Tell whether a protocol implements :class:`MultiPeerProtocol`.

    Args:
        protocol: Any protocol.

    Returns:
        ``True`` if it has the per-peer methods.
    """
    return isinstance(protocol, MultiPeerProtocol)
