"""``NetworkPacketStructure``: frames with a 4-byte big-endian length prefix.

A frame is a 4-byte big-endian unsigned length ``N`` followed by exactly ``N``
payload bytes, and nothing else, so any length-prefixed peer (Twisted's
``Int32StringReceiver``, a C ``recv`` loop, .NET ``BinaryPrimitives``) can talk to it.
The payload limit is 1,048,576 bytes (1 MiB) inclusive by default; change it per
subclass (``max_payload = ...`` class attribute) or per instance
(``NetworkPacketStructure(max_payload=...)``). Every method works on the class
itself (a structure can be passed as a class) and on an instance.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, ClassVar, Final, TypeAlias

from eq1_network.common.exceptions import (
    FrameTooLargeError,
    MalformedPacketError,
    PayloadTooLargeError,
    ProtocolConfigurationError,
    ProtocolTypeError,
)
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.packet import NEED_MORE_DATA, PacketStructureInterface, hybridmethod

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "LENGTH_PREFIX",
    "LENGTH_PREFIX_SIZE",
    "MAX_LENGTH_FIELD",
    "NetworkPacketStructure",
    "as_bytes",
]

logger = get_logger(__name__)

DEFAULT_MAX_PAYLOAD: Final = 1_048_576
"""Default payload limit in bytes (1 MiB), inclusive."""

LENGTH_PREFIX_SIZE: Final = 4
"""Size of the big-endian length prefix in bytes."""

MAX_LENGTH_FIELD: Final = 0xFFFF_FFFF
"""Largest value the 4-byte length prefix can hold."""

LENGTH_PREFIX: Final = struct.Struct(">I")
"""The frame's length prefix: a big-endian u32."""

_pack_length = LENGTH_PREFIX.pack
_unpack_length_from = LENGTH_PREFIX.unpack_from

_Framing: TypeAlias = "NetworkPacketStructure | type[NetworkPacketStructure]"


def as_bytes(data: object, name: str) -> bytes:
    """Return bytes-like ``data`` as ``bytes``.

    Args:
        data: The object to convert: ``bytes``, ``bytearray`` or ``memoryview``.
        name: Parameter name used in the error message.

    Returns:
        ``data`` itself if it is ``bytes``, else a ``bytes`` copy.

    Raises:
        ProtocolTypeError: If ``data`` is not bytes-like (``str`` included).
    """
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise ProtocolTypeError(
        f"{name} must be bytes, bytearray or memoryview, got {type(data).__name__}"
    )


def check_max_payload(value: Any, name: str = "max_payload") -> int:
    """Validate a payload limit.

    Args:
        value: The limit to check.
        name: Parameter name used in the error message.

    Returns:
        ``value``.

    Raises:
        ProtocolTypeError: If ``value`` is not an ``int`` (``bool`` is refused).
        ProtocolConfigurationError: If it is below 0 or above the 4-byte length field.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolTypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_LENGTH_FIELD:
        raise ProtocolConfigurationError(
            f"{name} must be between 0 and {MAX_LENGTH_FIELD} bytes, got {value}"
        )
    return value


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"payload of {size} bytes exceeds max_payload of {limit} bytes; "
        "send less per message or raise max_payload"
    )


def _frame_too_large(size: int, limit: int) -> FrameTooLargeError:
    return FrameTooLargeError(
        f"length header announces {size} payload bytes, more than max_payload of {limit} bytes"
    )


class NetworkPacketStructure(PacketStructureInterface):
    """Length-prefixed framing: ``[u32 big-endian length][payload]``.

    Use it on the class (``NetworkPacketStructure.to_packet(b"abc")``) with the
    class-level limit, or on an instance with its own limit. A subclass may change the
    limit with a ``max_payload`` class attribute.

    Args:
        max_payload: Largest payload in bytes (inclusive); ``None`` keeps the class
            default (1,048,576 bytes unless a subclass changes it).

    Raises:
        ProtocolTypeError: If ``max_payload`` is not an int.
        ProtocolConfigurationError: If ``max_payload`` is negative or above 2**32 - 1.

    Attributes:
        max_payload: The payload limit in bytes, inclusive.
    """

    HEADER_SIZE: ClassVar[int] = LENGTH_PREFIX_SIZE
    max_payload: int = DEFAULT_MAX_PAYLOAD

    def __init__(self, max_payload: int | None = None) -> None:
        if max_payload is not None:
            self.max_payload = check_max_payload(max_payload)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_max_payload(cls.max_payload, f"{cls.__name__}.max_payload")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_payload={self.max_payload})"

    @hybridmethod
    def to_packet(self: _Framing, data: bytes) -> bytes:
        """Frame ``data``: prepend its length as 4 big-endian bytes.

        Args:
            data: The payload (bytes-like).

        Returns:
            The frame.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like.
            PayloadTooLargeError: If ``data`` is longer than ``max_payload``.
        """
        if type(data) is not bytes:
            data = as_bytes(data, "data")
        size = len(data)
        if size > self.max_payload:
            raise _too_large(size, self.max_payload)
        return _pack_length(size) + data

    @hybridmethod
    def join_packets(self: _Framing, payloads: Iterable[bytes]) -> bytes:
        """Frame every payload and concatenate the frames into one buffer.

        Equivalent to ``b"".join(map(to_packet, payloads))`` but faster; a sender
        uses it to write many queued messages with one system call.

        Args:
            payloads: The payloads, in order.

        Returns:
            The concatenated frames.

        Raises:
            ProtocolTypeError: If a payload is not bytes-like.
            PayloadTooLargeError: If a payload is longer than ``max_payload``.
        """
        limit = self.max_payload
        parts: list[bytes] = []
        append = parts.append
        for data in payloads:
            if type(data) is not bytes:
                data = as_bytes(data, "payload")
            size = len(data)
            if size > limit:
                raise _too_large(size, limit)
            append(_pack_length(size))
            append(data)
        return b"".join(parts)

    @hybridmethod
    def from_packet(self: _Framing, packet: bytes) -> bytes:
        """Return the payload of one complete frame.

        Args:
            packet: Exactly one frame.

        Returns:
            The payload.

        Raises:
            ProtocolTypeError: If ``packet`` is not bytes-like.
            MalformedPacketError: If the frame is shorter than its header or its length
                field does not match the bytes that follow.
            FrameTooLargeError: If the length field exceeds ``max_payload``.
        """
        if type(packet) is not bytes:
            packet = as_bytes(packet, "packet")
        size = len(packet)
        if size < LENGTH_PREFIX_SIZE:
            raise MalformedPacketError(
                f"packet of {size} bytes is shorter than the 4-byte length header"
            )
        (length,) = _unpack_length_from(packet)
        if length > self.max_payload:
            raise _frame_too_large(length, self.max_payload)
        if length != size - LENGTH_PREFIX_SIZE:
            raise MalformedPacketError(
                f"length header announces {length} payload bytes but the packet "
                f"carries {size - LENGTH_PREFIX_SIZE}"
            )
        return packet[LENGTH_PREFIX_SIZE:]

    @hybridmethod
    def is_valid(self: _Framing, packet: bytes) -> bool:
        """Tell whether ``packet`` is exactly one frame within the limit.

        Args:
            packet: Candidate frame.

        Returns:
            ``True`` if valid. Never raises.
        """
        if not isinstance(packet, (bytes, bytearray, memoryview)):
            return False
        if isinstance(packet, memoryview):
            packet = packet.tobytes()
        size = len(packet)
        if size < LENGTH_PREFIX_SIZE:
            return False
        length: int = _unpack_length_from(packet)[0]
        return length <= self.max_payload and length == size - LENGTH_PREFIX_SIZE

    @hybridmethod
    def split_packet(self: _Framing, packet: bytes) -> list[bytes]:
        """Split a buffer of whole concatenated frames into single frames.

        Use :class:`~eq1_network.packets.PacketStream` for data that may end inside
        a frame.

        Args:
            packet: Zero or more complete frames.

        Returns:
            The frames, in order (header included).

        Raises:
            ProtocolTypeError: If ``packet`` is not bytes-like.
            MalformedPacketError: If the buffer ends inside a frame.
            FrameTooLargeError: If a length field exceeds ``max_payload``.
        """
        if type(packet) is not bytes:
            packet = as_bytes(packet, "packet")
        limit = self.max_payload
        frames: list[bytes] = []
        size = len(packet)
        pos = 0
        while pos < size:
            if size - pos < LENGTH_PREFIX_SIZE:
                raise MalformedPacketError(
                    f"buffer ends with {size - pos} bytes at offset {pos}, "
                    "a truncated length header"
                )
            (length,) = _unpack_length_from(packet, pos)
            if length > limit:
                raise _frame_too_large(length, limit)
            end = pos + LENGTH_PREFIX_SIZE + length
            if end > size:
                raise MalformedPacketError(
                    f"frame at offset {pos} announces {length} payload bytes but only "
                    f"{size - pos - LENGTH_PREFIX_SIZE} follow"
                )
            frames.append(packet[pos:end])
            pos = end
        return frames

    @hybridmethod
    def find_packet_end(
        self: _Framing,
        buffer: bytes | bytearray,
        start: int = 0,
    ) -> int:
        """Find where the frame starting at ``buffer[start]`` ends.

        Args:
            buffer: Bytes received so far.
            start: Offset of the frame's length header.

        Returns:
            The offset just past the frame, or ``-1`` if more bytes are needed.

        Raises:
            FrameTooLargeError: If the length header exceeds ``max_payload``.
        """
        if len(buffer) - start < LENGTH_PREFIX_SIZE:
            return NEED_MORE_DATA
        (length,) = _unpack_length_from(buffer, start)
        if length > self.max_payload:
            raise _frame_too_large(length, self.max_payload)
        end = start + LENGTH_PREFIX_SIZE + length
        return end if end <= len(buffer) else NEED_MORE_DATA
