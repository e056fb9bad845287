"""``Message``: a typed message whose value is still encoded.

:class:`Message` is the low-level form of a typed message: the header fields and
the value bytes. Fragments decode to messages (their value is a piece of another
message), the :class:`~eq1_network.packets.Reassembler` merges them back into one,
and :meth:`TypedReceivedData.from_message <eq1_network.packets.TypedReceivedData.from_message>`
decodes the value. It is both a :class:`~eq1_network.data.SendData` and a
:class:`~eq1_network.data.ReceivedData`, so ``DataPackage(structure, Message, Message)``
moves messages without decoding their values.
"""

from __future__ import annotations

import math
import reprlib
import time
from typing import Any

from eq1_network.common.exceptions import ProtocolTypeError, ProtocolValidationError
from eq1_network.data import ReceivedData, SendData
from eq1_network.packets.framing import as_bytes
from eq1_network.packets.header import (
    check_timestamp_us,
    check_u64,
    encode_identifier,
    pack_header,
    parse_header,
)
from eq1_network.packets.kinds import DataFormat, MessageFlags, MessageType

__all__ = [
    "Message",
    "check_data_format",
    "check_flags",
    "check_message_type",
    "timestamp_to_us",
]

_FRAGMENT = MessageFlags.FRAGMENT


def check_message_type(value: object) -> MessageType:
    """Validate a message type.

    Args:
        value: A :class:`MessageType` member.

    Returns:
        ``value``.

    Raises:
        ProtocolTypeError: If ``value`` is not a :class:`MessageType`.
    """
    if not isinstance(value, MessageType):
        raise ProtocolTypeError(
            f"message_type must be a MessageType member, got {type(value).__name__}"
        )
    return value


def check_data_format(value: object) -> DataFormat:
    """Validate a data format.

    Args:
        value: A :class:`DataFormat` member.

    Returns:
        ``value``.

    Raises:
        ProtocolTypeError: If ``value`` is not a :class:`DataFormat`.
    """
    if not isinstance(value, DataFormat):
        raise ProtocolTypeError(
            f"data_format must be a DataFormat member, got {type(value).__name__}"
        )
    return value


def check_flags(value: object) -> MessageFlags:
    """Validate header flags.

    Args:
        value: :class:`MessageFlags` or an ``int`` in 0..255.

    Returns:
        The flags as :class:`MessageFlags`.

    Raises:
        ProtocolTypeError: If ``value`` is not an int.
        ProtocolValidationError: If it does not fit in one byte.
    """
    if isinstance(value, MessageFlags):
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolTypeError(f"flags must be MessageFlags, got {type(value).__name__}")
    if not 0 <= value <= 0xFF:
        raise ProtocolValidationError(f"flags must fit in one byte (0..255), got {value}")
    return MessageFlags(value)


def timestamp_to_us(timestamp: object) -> int:
    """Convert a timestamp in seconds to whole microseconds.

    Args:
        timestamp: Seconds since the Unix epoch (``int`` or ``float``, as from
            :func:`time.time`), or ``None`` for now.

    Returns:
        Microseconds since the epoch, rounded to the nearest microsecond.

    Raises:
        ProtocolTypeError: If ``timestamp`` is not a number.
        ProtocolValidationError: If it is not finite or does not fit the header.
    """
    if timestamp is None:
        return time.time_ns() // 1000
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        raise ProtocolTypeError(
            f"timestamp must be seconds as int or float, got {type(timestamp).__name__}"
        )
    if isinstance(timestamp, float) and not math.isfinite(timestamp):
        raise ProtocolValidationError(f"timestamp must be finite, got {timestamp}")
    try:
        return check_timestamp_us(round(timestamp * 1_000_000))
    except ProtocolValidationError:
        raise ProtocolValidationError(
            f"timestamp {timestamp!r} s is out of the header's range"
        ) from None


class Message(SendData, ReceivedData):
    """A typed message with its value still encoded.

    Args:
        body: The encoded value (or, for a fragment, the fragment bytes).
        message_type: What the message is for.
        data_format: How ``body`` is encoded.
        flags: Header flags.
        sequence: Sequence number, ``0`` when not assigned.
        reply_to: Sequence number this message answers, ``0`` for none.
        timestamp_us: Microseconds since the Unix epoch; ``None`` for now.
        source: Sender identifier (at most 255 bytes in UTF-8).
        destination: Receiver identifier (at most 255 bytes in UTF-8).

    Raises:
        ProtocolTypeError: If an argument has the wrong type.
        ProtocolValidationError: If an argument is out of range.
    """

    __slots__ = (
        "body",
        "data_format",
        "destination",
        "flags",
        "message_type",
        "reply_to",
        "sequence",
        "source",
        "timestamp_us",
    )

    def __init__(  # noqa: PLR0913 - keyword-only, one per header field
        self,
        body: bytes,
        *,
        message_type: MessageType,
        data_format: DataFormat,
        flags: MessageFlags = MessageFlags.NONE,
        sequence: int = 0,
        reply_to: int = 0,
        timestamp_us: int | None = None,
        source: str = "",
        destination: str = "",
    ) -> None:
        self.body = as_bytes(body, "body")
        self.message_type = check_message_type(message_type)
        self.data_format = check_data_format(data_format)
        self.flags = check_flags(flags)
        self.sequence = check_u64(sequence, "sequence")
        self.reply_to = check_u64(reply_to, "reply_to")
        self.timestamp_us = (
            time.time_ns() // 1000 if timestamp_us is None else check_timestamp_us(timestamp_us)
        )
        encode_identifier(source, "source")
        encode_identifier(destination, "destination")
        self.source = source
        self.destination = destination

    @property
    def timestamp(self) -> float:
        """Seconds since the Unix epoch, as :func:`time.time` gives them."""
        return self.timestamp_us / 1_000_000

    @property
    def is_fragment(self) -> bool:
        """Whether the FRAGMENT flag is set."""
        return bool(self.flags & _FRAGMENT)

    def header_bytes(self, flags: MessageFlags | None = None) -> bytes:
        """Encode the header of this message.

        Args:
            flags: Flags to write instead of :attr:`flags`.

        Returns:
            The header bytes.
        """
        return pack_header(
            self.message_type,
            self.data_format,
            self.flags if flags is None else flags,
            self.sequence,
            self.reply_to,
            self.timestamp_us,
            encode_identifier(self.source, "source"),
            encode_identifier(self.destination, "destination"),
        )

    def to_bytes(self) -> bytes:
        """Encode the header and the value bytes.

        Returns:
            The typed message payload (goes inside one frame).
        """
        return self.header_bytes() + self.body

    @classmethod
    def from_bytes(cls, data: bytes) -> Message:
        """Decode the header of a typed message payload and keep the value encoded.

        Args:
            data: One typed message payload (fragments included).

        Returns:
            The message.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like.
            MalformedPacketError: If the header is invalid.
        """
        if type(data) is not bytes:
            data = as_bytes(data, "data")
        mtype, dformat, flags, seq, reply, stamp, source, destination, offset = parse_header(data)
        message = cls.__new__(cls)
        message.body = data[offset:]
        message.message_type = mtype
        message.data_format = dformat
        message.flags = flags
        message.sequence = seq
        message.reply_to = reply
        message.timestamp_us = stamp
        message.source = source
        message.destination = destination
        return message

    def replace(self, **changes: Any) -> Message:
        """Return a copy with some fields changed (validated like the constructor).

        Args:
            **changes: Constructor arguments to change.

        Returns:
            The new message.

        Raises:
            ProtocolTypeError: If a changed argument has the wrong type.
            ProtocolValidationError: If a changed argument is out of range.
        """
        fields: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        body = fields.pop("body")
        return type(self)(body, **fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Message({reprlib.repr(self.body)}, message_type={self.message_type.name}, "
            f"data_format={self.data_format.name}, flags={int(self.flags):#04x}, "
            f"sequence={self.sequence}, reply_to={self.reply_to}, "
            f"timestamp_us={self.timestamp_us}, source={self.source!r}, "
            f"destination={self.destination!r})"
        )
