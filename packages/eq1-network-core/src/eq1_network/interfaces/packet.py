"""The packet structure interface (F-04, F-10)."""

from __future__ import annotations

import abc

__all__ = ["PacketStructureInterface"]


class PacketStructureInterface(abc.ABC):
    """Turns payload bytes into packets and back.

    Implementations may define the four methods as ``classmethod`` s (as the
    requirements document's ``$`` example does) or as instance methods.
    """

    @abc.abstractmethod
    def to_packet(self, data: bytes) -> bytes:
        """Wrap payload bytes into a packet.

        Args:
            data: The payload.

        Returns:
            The complete packet.
        """

    @abc.abstractmethod
    def from_packet(self, packet: bytes) -> bytes:
        """Extract the payload from one complete packet.

        Args:
            packet: One complete packet.

        Returns:
            The payload.

        Raises:
            ValueError: If the packet is not valid.
        """

    @abc.abstractmethod
    def is_valid(self, packet: bytes) -> bool:
        """Tell whether ``packet`` is one complete, valid packet.

        Args:
            packet: Candidate packet.

        Returns:
            ``True`` if valid. Never raises.
        """

    @abc.abstractmethod
    def split_packet(self, packet: bytes) -> list[bytes]:
        """Split a buffer of concatenated packets into single packets.

        Args:
            packet: A buffer holding one or more packets.

        Returns:
            The packets, in order.
        """
