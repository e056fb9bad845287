"""Typed received classes: one :class:`~eq1_network.data.ReceivedData` per data format.

``TextReceivedData.from_bytes(payload)`` accepts only TEXT messages;
``TypedReceivedData.from_bytes(payload)`` accepts every format and returns an
instance of the matching subclass. Fragments are refused with
:class:`~eq1_network.common.exceptions.FragmentError`: decode them with
:meth:`Message.from_bytes <eq1_network.packets.Message.from_bytes>` and merge them
with a :class:`~eq1_network.packets.Reassembler` first.
"""

from __future__ import annotations

import reprlib
from typing import Any, ClassVar, Generic, TypeVar, cast

from eq1_network.common.exceptions import FragmentError, MalformedPacketError
from eq1_network.data import ReceivedData
from eq1_network.packets.framing import as_bytes
from eq1_network.packets.header import decode_plain, parse_header
from eq1_network.packets.kinds import DataFormat, MessageFlags, MessageType
from eq1_network.packets.message import Message
from eq1_network.packets.values import decode_binary, decode_int, decode_json, decode_text

__all__ = [
    "BinaryReceivedData",
    "IntReceivedData",
    "JsonReceivedData",
    "TextReceivedData",
    "TypedReceivedData",
    "received_class_for",
]

_V = TypeVar("_V")
_R = TypeVar("_R", bound="TypedReceivedData[Any]")
_FRAGMENT = int(MessageFlags.FRAGMENT)  # a plain int: IntFlag arithmetic is slow
_NO_FLAGS = MessageFlags.NONE


def _dispatch(cls: type[TypedReceivedData[Any]]) -> tuple[type[TypedReceivedData[Any]] | None, ...]:
    """Map every format value to the class that decodes it when ``cls.from_bytes`` is used.

    A class with a ``data_format`` decodes only that format itself; a class without one
    (:class:`TypedReceivedData`) hands each format to the built-in class for it.
    """
    own = getattr(cls, "data_format", None)
    table: list[type[TypedReceivedData[Any]] | None] = [None] * 256
    if own is not None:
        table[own] = cls
    else:
        for data_format, builtin in _BY_FORMAT.items():
            table[data_format] = builtin
    return tuple(table)


class TypedReceivedData(ReceivedData, Generic[_V]):
    """A received typed message with its decoded value.

    Created by :meth:`from_bytes` / :meth:`from_message`; the constructor is for tests
    and for callers that build messages by hand and does not validate.

    Args:
        value: The decoded value.
        message_type: What the message is for.
        source: Sender identifier.
        destination: Receiver identifier.
        sequence: Sender's sequence number (``0`` if it assigned none).
        reply_to: Sequence number this message answers, ``0`` for none.
        timestamp_us: Sender's timestamp in microseconds since the Unix epoch.
        flags: Header flags.

    Attributes:
        value: The decoded value.
        message_type: What the message is for.
        source: Sender identifier.
        destination: Receiver identifier.
        sequence: Sender's sequence number.
        reply_to: Sequence number this message answers, ``0`` for none.
        timestamp_us: Sender's timestamp in microseconds.
        flags: Header flags.
    """

    data_format: ClassVar[DataFormat]

    __slots__ = (
        "destination",
        "flags",
        "message_type",
        "reply_to",
        "sequence",
        "source",
        "timestamp_us",
        "value",
    )

    def __init__(
        self,
        value: _V,
        message_type: MessageType = MessageType.DATA,
        source: str = "",
        destination: str = "",
        sequence: int = 0,
        reply_to: int = 0,
        timestamp_us: int = 0,
        flags: MessageFlags = _NO_FLAGS,
    ) -> None:
        self.value = value
        self.message_type = message_type
        self.source = source
        self.destination = destination
        self.sequence = sequence
        self.reply_to = reply_to
        self.timestamp_us = timestamp_us
        self.flags = flags

    @property
    def timestamp(self) -> float:
        """Sender's timestamp in seconds since the Unix epoch."""
        return self.timestamp_us / 1_000_000

    @staticmethod
    def _decode_value(body: bytes) -> Any:
        raise NotImplementedError  # pragma: no cover - every concrete subclass overrides it

    _by_format: ClassVar[tuple[type[TypedReceivedData[Any]] | None, ...]] = ()
    """The class that decodes each format value (index) for this class; see _dispatch."""

    _plain_init: ClassVar[bool] = True
    """Whether the class keeps this ``__init__``: the decoder then sets the fields itself."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_format = _dispatch(cls)
        cls._plain_init = cls.__init__ is TypedReceivedData.__init__

    @classmethod
    def _target(cls: type[_R], data_format: DataFormat) -> type[_R]:
        target = cls._by_format[data_format]
        if target is None:
            raise MalformedPacketError(
                f"{cls.__name__} expects a {cls.data_format.name} message, got "
                f"{data_format.name}; decode with TypedReceivedData (ANY_PACKAGE) to accept "
                "every format"
            )
        return cast("type[_R]", target)

    @classmethod
    def from_bytes(cls: type[_R], data: bytes) -> _R:
        """Decode a typed message payload.

        Args:
            data: One complete (not fragmented) typed message.

        Returns:
            An instance of ``cls``, or of the subclass for the message's format when
            called on :class:`TypedReceivedData` itself.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like.
            MalformedPacketError: If the header or the value is invalid, or the format
                is not the one of ``cls``.
            FragmentError: If the message is a fragment.
        """
        if data.__class__ is not bytes:
            data = as_bytes(data, "data")
        received = decode_plain(data, cls._by_format)
        if received is None:
            return cls._from_bytes_checked(data)  # raises the precise error
        return received  # type: ignore[no-any-return]

    @classmethod
    def _from_bytes_checked(cls: type[_R], data: bytes) -> _R:
        """Decode with full checks and precise errors (the slow path of from_bytes)."""
        mtype, dformat, flags, seq, reply, stamp, source, destination, offset = parse_header(data)
        if flags & _FRAGMENT:
            raise _fragment_error(seq, source)
        target = cls._target(dformat)
        value = target._decode_value(data[offset:])
        return target(value, mtype, source, destination, seq, reply, stamp, flags)

    @classmethod
    def from_message(cls: type[_R], message: Message) -> _R:
        """Decode the value of a :class:`Message` (for example a reassembled one).

        Args:
            message: A complete message.

        Returns:
            An instance of ``cls`` or of the subclass for the message's format.

        Raises:
            MalformedPacketError: If the value is invalid or the format does not match.
            FragmentError: If the message is a fragment.
        """
        if message.flags & _FRAGMENT:
            raise _fragment_error(message.sequence, message.source)
        target = cls._target(message.data_format)
        return target(
            target._decode_value(message.body),
            message.message_type,
            message.source,
            message.destination,
            message.sequence,
            message.reply_to,
            message.timestamp_us,
            message.flags,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TypedReceivedData):
            return NotImplemented
        return type(self) is type(other) and all(
            getattr(self, name) == getattr(other, name) for name in TypedReceivedData.__slots__
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({reprlib.repr(self.value)}, "
            f"message_type={self.message_type.name}, source={self.source!r}, "
            f"destination={self.destination!r}, sequence={self.sequence}, "
            f"reply_to={self.reply_to}, timestamp_us={self.timestamp_us})"
        )


def _fragment_error(sequence: int, source: str) -> FragmentError:
    return FragmentError(
        f"message {sequence} from {source!r} is a fragment: decode it with "
        "Message.from_bytes and merge it with a Reassembler first"
    )


class TextReceivedData(TypedReceivedData[str]):
    """A received TEXT message; ``value`` is a ``str``."""

    __slots__ = ()
    data_format = DataFormat.TEXT
    _decode_value = staticmethod(decode_text)


class BinaryReceivedData(TypedReceivedData[bytes]):
    """A received BINARY message; ``value`` is ``bytes``."""

    __slots__ = ()
    data_format = DataFormat.BINARY
    _decode_value = staticmethod(decode_binary)


class IntReceivedData(TypedReceivedData[int]):
    """A received INT message; ``value`` is an ``int`` in the signed 64-bit range."""

    __slots__ = ()
    data_format = DataFormat.INT
    _decode_value = staticmethod(decode_int)


class JsonReceivedData(TypedReceivedData[Any]):
    """A received JSON message; ``value`` is a ``dict`` or a ``list``."""

    __slots__ = ()
    data_format = DataFormat.JSON
    _decode_value = staticmethod(decode_json)


_BY_FORMAT: dict[DataFormat, type[TypedReceivedData[Any]]] = {
    DataFormat.TEXT: TextReceivedData,
    DataFormat.BINARY: BinaryReceivedData,
    DataFormat.INT: IntReceivedData,
    DataFormat.JSON: JsonReceivedData,
}


TypedReceivedData._by_format = _dispatch(TypedReceivedData)


def received_class_for(data_format: DataFormat) -> type[TypedReceivedData[Any]]:
    """Return the built-in received class of a data format.

    Args:
        data_format: The format.

    Returns:
        The matching :class:`TypedReceivedData` subclass.
    """
    return _BY_FORMAT[data_format]
