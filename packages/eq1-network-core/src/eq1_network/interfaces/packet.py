"""The packet structure interface.

A packet structure turns payload bytes into packets and back. It has four required
methods (:meth:`~PacketStructureInterface.to_packet`,
:meth:`~PacketStructureInterface.from_packet`, :meth:`~PacketStructureInterface.is_valid`,
:meth:`~PacketStructureInterface.split_packet`) and one optional method,
:meth:`~PacketStructureInterface.find_packet_end`, that tells a streaming decoder
(:class:`eq1_network.packets.PacketStream`) where the next packet in a byte stream
ends. The default :meth:`~PacketStructureInterface.find_packet_end` follows the
*delimiter convention*: a structure that defines ``HEAD_PACKET`` and ``TAIL_PACKET``
byte strings (such as ``b"$"`` and ``b"$"`` around ``data``) is streamed
without writing any more code.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from types import MethodType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from eq1_network.common.exceptions import MalformedPacketError, ProtocolConfigurationError

__all__ = ["NEED_MORE_DATA", "PacketStructureInterface", "delimiters_of", "hybridmethod"]

_S = TypeVar("_S")
_P = ParamSpec("_P")
_R_co = TypeVar("_R_co", covariant=True)

NEED_MORE_DATA = -1
"""What :meth:`PacketStructureInterface.find_packet_end` returns for an incomplete packet."""


class _HybridMethod(Generic[_S, _P, _R_co]):
    """Descriptor behind :func:`hybridmethod`."""

    def __init__(self, func: Callable[Concatenate[_S, _P], _R_co]) -> None:
        self.__func__ = func
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__

    def __get__(self, obj: object | None, objtype: type[Any] | None = None) -> Callable[_P, _R_co]:
        return MethodType(self.__func__, objtype if obj is None else obj)


def hybridmethod(func: Callable[Concatenate[_S, _P], _R_co]) -> _HybridMethod[_S, _P, _R_co]:
    """Make a method callable on the class and on an instance.

    Called on the class, the method receives the class as its first argument (like a
    ``classmethod``); called on an instance, it receives the instance. Packet
    structures use it so that ``Structure.to_packet(data)`` works with the class-level
    configuration while ``Structure(option=...).to_packet(data)`` uses the instance's.
    Annotate the first parameter as ``self: C | type[C]`` and read only attributes that
    exist on both.

    Args:
        func: The function to wrap.

    Returns:
        A descriptor that binds ``func`` to the instance or to the class.
    """
    return _HybridMethod(func)


class PacketStructureInterface(abc.ABC):
    """Turns payload bytes into packets and back.

    Implementations may define the four methods as ``classmethod`` s (as the
    requirements document's ``$`` example does), as instance methods, or with
    :func:`hybridmethod` (as :class:`eq1_network.packets.NetworkPacketStructure`
    does).

    Streaming: :class:`eq1_network.packets.PacketStream` finds packet boundaries in a
    byte stream with :meth:`find_packet_end`. Either override it, or define the class
    attributes ``HEAD_PACKET`` (bytes, may be empty) and ``TAIL_PACKET`` (non-empty
    bytes) and keep the default, which treats a packet as ``HEAD_PACKET``, then
    anything up to and including the first ``TAIL_PACKET`` after it.
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

    @hybridmethod
    def find_packet_end(
        self: PacketStructureInterface | type[PacketStructureInterface],
        buffer: bytes | bytearray,
        start: int = 0,
    ) -> int:
        """Find where the packet that begins at ``buffer[start]`` ends.

        Optional: streaming decoders call it; the four methods above do not depend on
        it. This default implements the delimiter convention described on the class.
        Overrides must keep the contract: look only at ``buffer[start:]``, never
        modify ``buffer``, and be callable on whatever object is given to the stream
        (the class or an instance).

        Args:
            buffer: Bytes received so far; the packet starts at ``start``.
            start: Offset of the first byte of the packet.

        Returns:
            The offset just past the packet's last byte (greater than ``start``), or
            ``-1`` when more bytes are needed to tell.

        Raises:
            MalformedPacketError: If the bytes at ``start`` cannot begin a packet.
            ProtocolConfigurationError: If the structure neither overrides this method
                nor defines ``HEAD_PACKET`` and ``TAIL_PACKET``.
        """
        head, tail = delimiters_of(self)
        available = len(buffer) - start
        if available < len(head):
            if buffer[start:] != head[:available]:
                raise MalformedPacketError(
                    f"expected a packet to start with {head!r} at offset {start}, "
                    f"got {bytes(buffer[start:])!r}"
                )
            return NEED_MORE_DATA
        body = start + len(head)
        if head and buffer[start:body] != head:
            raise MalformedPacketError(
                f"expected a packet to start with {head!r} at offset {start}, "
                f"got {bytes(buffer[start:body])!r}"
            )
        end = buffer.find(tail, body)
        return NEED_MORE_DATA if end < 0 else end + len(tail)


def delimiters_of(structure: object) -> tuple[bytes, bytes]:
    """Return the ``HEAD_PACKET`` and ``TAIL_PACKET`` of a delimiter-based structure.

    Args:
        structure: A packet structure class or instance.

    Returns:
        ``(head, tail)``.

    Raises:
        ProtocolConfigurationError: If the attributes are missing, are not bytes, or
            ``TAIL_PACKET`` is empty.
    """
    head = getattr(structure, "HEAD_PACKET", None)
    tail = getattr(structure, "TAIL_PACKET", None)
    if not isinstance(head, bytes) or not isinstance(tail, bytes) or not tail:
        name = structure.__name__ if isinstance(structure, type) else type(structure).__name__
        raise ProtocolConfigurationError(
            f"{name} does not say where a packet ends in a stream: override "
            "find_packet_end(buffer, start), or define HEAD_PACKET (bytes) and "
            "TAIL_PACKET (non-empty bytes)"
        )
    return head, tail
