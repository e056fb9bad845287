"""Typed send classes: one :class:`~eq1_network.data.SendData` per data format.

``TextSendData("hi", message_type=MessageType.DATA, source="cam1", destination="plc")``
validates and encodes its value when it is created, so a bad value raises at the
caller's line, not later in a sender thread. :meth:`TypedSendData.to_bytes` then
only writes the header in front of the encoded value.
"""

from __future__ import annotations

import reprlib
import struct
from collections.abc import Callable
from time import time_ns
from typing import Any, ClassVar, Generic, TypeVar, cast

from eq1_network.common.exceptions import (
    PayloadTooLargeError,
    ProtocolArgumentError,
    ProtocolTypeError,
)
from eq1_network.data import SendData
from eq1_network.packets.framing import DEFAULT_MAX_PAYLOAD
from eq1_network.packets.header import (
    FIXED_HEADER,
    HEADER_VERSION,
    MAX_U64,
    check_u64,
    encode_identifier,
)
from eq1_network.packets.kinds import DataFormat, MessageFlags, MessageType
from eq1_network.packets.message import Message, check_flags, timestamp_to_us
from eq1_network.packets.values import encode_binary, encode_int, encode_json, encode_text

__all__ = [
    "BinarySendData",
    "IntSendData",
    "JsonSendData",
    "SequenceCounter",
    "TextSendData",
    "TypedSendData",
]

_V = TypeVar("_V")
_FIXED_SIZE = FIXED_HEADER.size
_NO_FLAGS = MessageFlags.NONE
_MAX_KNOWN_PAIRS = 4096


class _Identifiers:
    """Everything the header needs about one (source, destination) pair.

    A class with slots rather than a named tuple: its fields are read for every frame,
    and slot reads are the cheaper ones.
    """

    __slots__ = ("dst_len", "header_len", "ids", "pack_frame", "pack_header", "src_len")

    def __init__(self, src: bytes, dst: bytes) -> None:
        fields = FIXED_HEADER.format[1:] + f"{len(src) + len(dst)}s"
        self.src_len = len(src)
        self.dst_len = len(dst)
        self.header_len = _FIXED_SIZE + len(src) + len(dst)
        self.ids = src + dst
        self.pack_header: Callable[..., bytes] = struct.Struct(">" + fields).pack
        self.pack_frame: Callable[..., bytes] = struct.Struct(">I" + fields).pack


_known_pairs: dict[tuple[str, str], _Identifiers] = {}
"""Validated identifier pairs (bounded; cleared when full)."""


def _identifiers(source: object, destination: object) -> _Identifiers:
    """Validate and encode a pair of identifiers, with packers for its header."""
    info = _Identifiers(
        encode_identifier(source, "source"), encode_identifier(destination, "destination")
    )
    if len(_known_pairs) >= _MAX_KNOWN_PAIRS:
        _known_pairs.clear()
    _known_pairs[(cast(str, source), cast(str, destination))] = info
    return info


_NO_IDS = _identifiers("", "")


class TypedSendData(SendData, Generic[_V]):
    """Base of the typed send classes; use a per-format subclass.

    Args:
        value: The value, of the Python type of the subclass's format.
        message_type: What the message is for (default DATA).
        source: Sender identifier, at most 255 bytes in UTF-8 (default empty).
        destination: Receiver identifier, at most 255 bytes in UTF-8 (default empty).
        sequence: Sequence number; ``0`` (the default) lets the
            :class:`~eq1_network.DataPackage` that encodes the message assign the next
            one of its counter. Set it yourself to number messages per connection or
            to resend a message under the same number.
        reply_to: Sequence number of the message this one answers (a RESPONSE to a
            COMMAND, an acknowledgement); ``0`` for none.
        timestamp: Seconds since the Unix epoch (as :func:`time.time` gives them);
            ``None`` (the default) means now. Sent with microsecond precision.
        flags: Header flags (:class:`MessageFlags`), normally left empty; FRAGMENT is
            set by the fragmenter only.

    Raises:
        ProtocolTypeError: If the value or another argument has the wrong type
            (``bool`` is not accepted as an ``int``).
        ProtocolValidationError: If the value or another argument is out of range,
            or an identifier is longer than 255 bytes in UTF-8.
    """

    data_format: ClassVar[DataFormat]

    __slots__ = (
        "_body",
        "_destination",
        "_flags",
        "_ids",
        "_message_type",
        "_reply_to",
        "_sequence",
        "_source",
        "_timestamp_us",
        "_value",
    )

    def __init__(
        self,
        value: _V,
        *,
        message_type: MessageType = MessageType.DATA,
        source: str = "",
        destination: str = "",
        sequence: int = 0,
        reply_to: int = 0,
        timestamp: float | None = None,
        flags: MessageFlags = MessageFlags.NONE,
    ) -> None:
        # Validation is written out inline: this constructor is on the hot path.
        self._body: bytes = self._encode_value(value)
        self._value = value
        if message_type.__class__ is not MessageType:
            raise ProtocolTypeError(
                f"message_type must be a MessageType member, got {type(message_type).__name__}"
            )
        self._message_type = message_type
        ids = None
        if source.__class__ is str and destination.__class__ is str:
            # Most messages name no source or destination: spare the pair lookup.
            ids = (
                _NO_IDS
                if not source and not destination
                else _known_pairs.get((source, destination))
            )
        self._ids = ids or _identifiers(source, destination)
        self._source = source
        self._destination = destination
        if sequence.__class__ is not int or not 0 <= sequence <= MAX_U64:
            sequence = check_u64(sequence, "sequence")
        self._sequence = sequence
        if reply_to.__class__ is not int or not 0 <= reply_to <= MAX_U64:
            reply_to = check_u64(reply_to, "reply_to")
        self._reply_to = reply_to
        self._timestamp_us = time_ns() // 1000 if timestamp is None else timestamp_to_us(timestamp)
        self._flags = 0 if flags is _NO_FLAGS else int(check_flags(flags))

    @staticmethod
    def _encode_value(value: object) -> bytes:
        raise ProtocolTypeError(
            "TypedSendData has no data format: use TextSendData, BinarySendData, "
            "IntSendData or JsonSendData"
        )

    @property
    def value(self) -> _V:
        """The value as given (read-only)."""
        return self._value

    @property
    def body(self) -> bytes:
        """The encoded value bytes."""
        return self._body

    @property
    def message_type(self) -> MessageType:
        """What the message is for."""
        return self._message_type

    @property
    def source(self) -> str:
        """Sender identifier."""
        return self._source

    @property
    def destination(self) -> str:
        """Receiver identifier."""
        return self._destination

    @property
    def sequence(self) -> int:
        """Sequence number; ``0`` until assigned."""
        return self._sequence

    @sequence.setter
    def sequence(self, value: int) -> None:
        self._sequence = check_u64(value, "sequence")

    @property
    def reply_to(self) -> int:
        """Sequence number this message answers; ``0`` for none."""
        return self._reply_to

    @property
    def timestamp(self) -> float:
        """Seconds since the Unix epoch."""
        return self._timestamp_us / 1_000_000

    @property
    def timestamp_us(self) -> int:
        """Microseconds since the Unix epoch, as sent."""
        return self._timestamp_us

    @property
    def flags(self) -> MessageFlags:
        """Header flags."""
        return MessageFlags(self._flags)

    def to_bytes(self) -> bytes:
        """Encode the header and the value.

        Returns:
            The typed message payload, to be framed by a packet structure.
        """
        ids = self._ids
        return (
            ids.pack_header(
                HEADER_VERSION,
                self._message_type,
                self.data_format,
                self._flags,
                ids.header_len,
                ids.src_len,
                ids.dst_len,
                self._sequence,
                self._reply_to,
                self._timestamp_us,
                ids.ids,
            )
            + self._body
        )

    def to_frame(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> bytes:
        """Encode the message as one NetworkPacketStructure frame.

        The same bytes as ``NetworkPacketStructure(max_payload).to_packet(self.to_bytes())``,
        built in one step.

        Args:
            max_payload: Frame payload limit in bytes.

        Returns:
            The frame: 4-byte length, header, value.

        Raises:
            PayloadTooLargeError: If the message is longer than ``max_payload``.
        """
        ids = self._ids
        size = ids.header_len + len(self._body)
        if size > max_payload:
            raise PayloadTooLargeError(
                f"payload of {size} bytes exceeds max_payload of {max_payload} bytes"
            )
        return (
            ids.pack_frame(
                size,
                HEADER_VERSION,
                self._message_type,
                self.data_format,
                self._flags,
                ids.header_len,
                ids.src_len,
                ids.dst_len,
                self._sequence,
                self._reply_to,
                self._timestamp_us,
                ids.ids,
            )
            + self._body
        )

    def to_message(self) -> Message:
        """Return the same message with its value encoded (for fragmentation).

        Returns:
            A :class:`Message` with the same header fields and ``body``.
        """
        return Message(
            self._body,
            message_type=self._message_type,
            data_format=self.data_format,
            flags=MessageFlags(self._flags),
            sequence=self._sequence,
            reply_to=self._reply_to,
            timestamp_us=self._timestamp_us,
            source=self._source,
            destination=self._destination,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({reprlib.repr(self._value)}, "
            f"message_type={self._message_type.name}, source={self._source!r}, "
            f"destination={self._destination!r}, sequence={self._sequence}, "
            f"reply_to={self._reply_to}, timestamp_us={self._timestamp_us})"
        )


class TextSendData(TypedSendData[str]):
    """A TEXT message: a ``str`` sent as UTF-8. See :class:`TypedSendData` for arguments."""

    __slots__ = ()
    data_format = DataFormat.TEXT
    _encode_value = staticmethod(encode_text)


class BinarySendData(TypedSendData[bytes]):
    """A BINARY message: ``bytes`` (``bytearray``/``memoryview`` are copied to bytes).

    See :class:`TypedSendData` for arguments.
    """

    __slots__ = ()
    data_format = DataFormat.BINARY
    _encode_value = staticmethod(encode_binary)


class IntSendData(TypedSendData[int]):
    """An INT message: a signed 64-bit ``int`` (8 bytes, big-endian two's complement).

    ``bool`` is refused (:class:`~eq1_network.common.exceptions.ProtocolTypeError`) and
    values outside -2**63..2**63-1 raise
    :class:`~eq1_network.common.exceptions.ProtocolValidationError`. See
    :class:`TypedSendData` for arguments.
    """

    __slots__ = ()
    data_format = DataFormat.INT
    _encode_value = staticmethod(encode_int)


class JsonSendData(TypedSendData[Any]):
    """A JSON message: a ``dict`` or ``list`` sent as compact UTF-8 JSON.

    The value is serialised when the object is created; later changes to the dict
    or list are not sent. See :class:`TypedSendData` for arguments.
    """

    __slots__ = ()
    data_format = DataFormat.JSON
    _encode_value = staticmethod(encode_json)


class SequenceCounter:
    """The sequence numbers of one sender: 1, 2, 3, ... and back to 1 after 2**64 - 1.

    The one place that numbers typed messages. It holds no lock: its owner serialises
    the calls (:class:`~eq1_network.DataPackage` and
    :class:`~eq1_network.NetworkHandler` number under the lock that also keeps their
    frames in order).
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0

    def take(self) -> int:
        """Take the next number.

        Returns:
            The number.
        """
        last = self._last
        number = self._last = last + 1 if last < MAX_U64 else 1
        return number

    def assign(self, message: TypedSendData[Any], numbered_here: bool = False) -> int:
        """Give ``message`` the next number if its ``sequence`` is 0.

        Args:
            message: A typed message.
            numbered_here: Refuse a message that already has a number (senders that
                must number every message themselves, such as acknowledged mode).

        Returns:
            The message's sequence number.

        Raises:
            ProtocolArgumentError: If ``numbered_here`` and the message has a number.
        """
        sequence = message._sequence
        if sequence == 0:
            last = self._last
            sequence = self._last = last + 1 if last < MAX_U64 else 1
            message._sequence = sequence
        elif numbered_here:
            raise ProtocolArgumentError(
                f"message has sequence {sequence}, but this sender numbers its messages "
                "itself (acknowledged mode): leave sequence at 0"
            )
        return sequence
