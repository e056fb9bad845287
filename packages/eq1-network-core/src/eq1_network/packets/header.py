"""The versioned binary header of typed messages (``docs/wire-format.md``).

Version 1 layout, all integers big-endian::

    offset size field
         0    1 version            = 1
         1    1 message_type       MessageType value
         2    1 data_format        DataFormat value
         3    1 flags              MessageFlags bits
         4    2 header_length      32 + source_length + destination_length (+ extensions)
         6    1 source_length      bytes of UTF-8, 0..255
         7    1 destination_length bytes of UTF-8, 0..255
         8    8 sequence           u64, 0 = not assigned
        16    8 reply_to           u64, 0 = none
        24    8 timestamp_us       i64, microseconds since 1970-01-01T00:00:00Z
        32    . source, destination, then extension bytes up to header_length
    header_length ... value bytes
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Generator, Sequence
from typing import Any, Final

from eq1_network.common.exceptions import (
    MalformedPacketError,
    ProtocolError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.packets.framing import LENGTH_PREFIX_SIZE
from eq1_network.packets.kinds import DataFormat, MessageFlags, MessageType

__all__ = [
    "DATA_FORMAT_BY_VALUE",
    "FIXED_HEADER",
    "FIXED_HEADER_SIZE",
    "FLAGS_OFFSET",
    "HEADER_VERSION",
    "MAX_IDENTIFIER_BYTES",
    "MAX_U64",
    "MESSAGE_TYPE_BY_VALUE",
    "ParsedHeader",
    "check_timestamp_us",
    "check_u64",
    "decode_frames",
    "decode_plain",
    "encode_identifier",
    "flags_from_byte",
    "pack_header",
    "parse_header",
]

HEADER_VERSION: Final = 1
FLAGS_OFFSET: Final = 3
"""Offset of the flags byte: receivers test ``payload[FLAGS_OFFSET]`` (with
``payload[0] == HEADER_VERSION``) to route fragments and control messages before decoding."""
FIXED_HEADER: Final = struct.Struct(">BBBBHBBQQq")
FIXED_HEADER_SIZE: Final = FIXED_HEADER.size
MAX_IDENTIFIER_BYTES: Final = 255
MAX_U64: Final = 2**64 - 1
MIN_I64: Final = -(2**63)
MAX_I64: Final = 2**63 - 1

_pack_fixed = FIXED_HEADER.pack
_unpack_fixed = FIXED_HEADER.unpack_from
_FRAME_HEAD: Final = struct.Struct(">I" + FIXED_HEADER.format[1:])
"""Length prefix and fixed header, unpacked together by :func:`decode_frames`."""
_FRAME_HEAD_SIZE: Final = LENGTH_PREFIX_SIZE + FIXED_HEADER_SIZE
_unpack_frame_head = _FRAME_HEAD.unpack_from
_FRAGMENT: Final = int(MessageFlags.FRAGMENT)  # a plain int: IntFlag arithmetic is slow
_NO_FLAGS: Final = MessageFlags.NONE
_new = object.__new__


MESSAGE_TYPE_BY_VALUE: Final[tuple[MessageType | None, ...]] = tuple(
    MessageType(i) if i in MessageType._value2member_map_ else None for i in range(256)
)
DATA_FORMAT_BY_VALUE: Final[tuple[DataFormat | None, ...]] = tuple(
    DataFormat(i) if i in DataFormat._value2member_map_ else None for i in range(256)
)
flags_from_byte: Final[Callable[[int], MessageFlags]] = functools.lru_cache(maxsize=256)(
    MessageFlags
)
"""``MessageFlags(value)`` for a header byte, cached (building IntFlag values is slow)."""

ParsedHeader = tuple[MessageType, DataFormat, MessageFlags, int, int, int, str, str, int]
"""``(message_type, data_format, flags, sequence, reply_to, timestamp_us, source,
destination, value_offset)``."""


def check_u64(value: object, name: str) -> int:
    """Validate an unsigned 64-bit header field.

    Args:
        value: The value.
        name: Parameter name used in the error message.

    Returns:
        ``value``.

    Raises:
        ProtocolTypeError: If it is not an int (``bool`` is refused).
        ProtocolValidationError: If it is outside 0..2**64-1.
    """
    if type(value) is not int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtocolTypeError(f"{name} must be an int, got {type(value).__name__}")
        value = int(value)
    if not 0 <= value <= MAX_U64:
        raise ProtocolValidationError(f"{name} must be between 0 and 2**64-1, got {value}")
    return value


def check_timestamp_us(value: object) -> int:
    """Validate a timestamp in microseconds.

    Args:
        value: The value.

    Returns:
        ``value``.

    Raises:
        ProtocolTypeError: If it is not an int.
        ProtocolValidationError: If it does not fit a signed 64-bit integer.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolTypeError(f"timestamp_us must be an int, got {type(value).__name__}")
    if not MIN_I64 <= value <= MAX_I64:
        raise ProtocolValidationError(f"timestamp_us must fit a signed 64-bit int, got {value}")
    return int(value)


def encode_identifier(value: object, name: str) -> bytes:
    """Encode a source or destination identifier.

    Args:
        value: A ``str`` of at most 255 bytes in UTF-8.
        name: Parameter name used in the error message.

    Returns:
        The UTF-8 bytes.

    Raises:
        ProtocolTypeError: If ``value`` is not a ``str``.
        ProtocolValidationError: If it cannot be encoded or is longer than 255 bytes.
    """
    if not isinstance(value, str):
        raise ProtocolTypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        return b""
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolValidationError(f"{name} is not encodable as UTF-8: {exc}") from exc
    if len(encoded) > MAX_IDENTIFIER_BYTES:
        raise ProtocolValidationError(
            f"{name} must be at most {MAX_IDENTIFIER_BYTES} bytes in UTF-8, got {len(encoded)}"
        )
    return encoded


def pack_header(
    message_type: int,
    data_format: int,
    flags: int,
    sequence: int,
    reply_to: int,
    timestamp_us: int,
    source: bytes,
    destination: bytes,
) -> bytes:
    """Build a version 1 header from validated fields.

    Args:
        message_type: A :class:`MessageType` value.
        data_format: A :class:`DataFormat` value.
        flags: :class:`MessageFlags` bits.
        sequence: u64 sequence number.
        reply_to: u64 sequence number this message answers, 0 for none.
        timestamp_us: Microseconds since the Unix epoch.
        source: Encoded source identifier (0..255 bytes).
        destination: Encoded destination identifier (0..255 bytes).

    Returns:
        The header bytes (``32 + len(source) + len(destination)`` bytes).
    """
    src_len = len(source)
    dst_len = len(destination)
    fixed = _pack_fixed(
        HEADER_VERSION,
        message_type,
        data_format,
        flags,
        FIXED_HEADER_SIZE + src_len + dst_len,
        src_len,
        dst_len,
        sequence,
        reply_to,
        timestamp_us,
    )
    if src_len or dst_len:
        return fixed + source + destination
    return fixed


def _identifier_error(exc: UnicodeDecodeError, name: str) -> MalformedPacketError:
    return MalformedPacketError(f"{name} identifier is not valid UTF-8: {exc}")


def _kind_error(mtype: int, dformat: int) -> MalformedPacketError:
    if MESSAGE_TYPE_BY_VALUE[mtype] is None:
        return MalformedPacketError(f"unknown message type {mtype}")
    return MalformedPacketError(f"unknown data format {dformat}")


def parse_header(payload: bytes) -> ParsedHeader:
    """Parse and check the header at the start of a typed message payload.

    Args:
        payload: A complete typed message (header and value).

    Returns:
        The fields and the offset of the value bytes (:data:`ParsedHeader`).

    Raises:
        MalformedPacketError: If the header is truncated, of an unknown version, names
            an unknown message type or data format, has inconsistent lengths or
            identifiers that are not UTF-8.
    """
    try:
        version, mtype, dformat, flags, header_len, src_len, dst_len, seq, reply, stamp = (
            _unpack_fixed(payload)
        )
    except struct.error:
        raise MalformedPacketError(
            f"message of {len(payload)} bytes is shorter than the {FIXED_HEADER_SIZE}-byte header"
        ) from None
    if version != HEADER_VERSION:
        raise MalformedPacketError(
            f"unsupported message header version {version} (this library reads version "
            f"{HEADER_VERSION})"
        )
    message_type = MESSAGE_TYPE_BY_VALUE[mtype]
    data_format = DATA_FORMAT_BY_VALUE[dformat]
    if message_type is None or data_format is None:
        raise _kind_error(mtype, dformat)
    src_end = FIXED_HEADER_SIZE + src_len
    ids_end = src_end + dst_len
    if header_len < ids_end or header_len > len(payload):
        raise MalformedPacketError(
            f"header_length {header_len} is inconsistent: identifiers end at {ids_end} "
            f"and the message has {len(payload)} bytes"
        )
    source = destination = ""
    if src_len:
        try:
            source = payload[FIXED_HEADER_SIZE:src_end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _identifier_error(exc, "source") from exc
    if dst_len:
        try:
            destination = payload[src_end:ids_end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _identifier_error(exc, "destination") from exc
    return (
        message_type,
        data_format,
        flags_from_byte(flags),
        seq,
        reply,
        stamp,
        source,
        destination,
        header_len,
    )


# -- the fast path -------------------------------------------------------------
#
# ``TypedReceivedData.from_bytes`` and ``TypedStreamReader.feed`` decode through the
# functions below. They read the same layout as parse_header but never raise for a bad
# header: they return None (or hand the payload on), and the caller takes the checked
# path, which raises the precise error. tests/packets/test_packets_codec.py proves that
# both paths give the same message for any bytes.
#
# ``by_format`` is a received class's table of the class that decodes each format
# value (``TypedReceivedData._by_format``); a target class has ``_decode_value`` and
# ``_plain_init``. Both decoders are written out inline: they run once per message.


def _identifiers(data: bytes, start: int, src_len: int, dst_len: int) -> tuple[str, str]:
    """Decode the source and destination that begin at ``data[start]``.

    Raises:
        UnicodeDecodeError: If one is not UTF-8.
    """
    middle = start + src_len
    source = data[start:middle].decode("utf-8") if src_len else ""
    destination = data[middle : middle + dst_len].decode("utf-8") if dst_len else ""
    return source, destination


def decode_plain(data: bytes, by_format: Sequence[Any]) -> Any:
    """Decode a whole typed message payload without the checks' precise errors.

    Args:
        data: One typed message payload (``bytes``).
        by_format: The received class's format table.

    Returns:
        The received message, or ``None`` for anything :func:`parse_header` would
        refuse, for a fragment and for a format ``by_format`` has no class for.

    Raises:
        MalformedPacketError: If the header is valid and the value is not.
    """
    try:
        version, mtype, dformat, flags, header_len, src_len, dst_len, seq, reply, stamp = (
            _unpack_fixed(data)
        )
    except struct.error:
        return None
    message_type = MESSAGE_TYPE_BY_VALUE[mtype]
    target = by_format[dformat]
    src_end = FIXED_HEADER_SIZE + src_len
    ids_end = src_end + dst_len
    if (
        version != HEADER_VERSION
        or message_type is None
        or target is None
        or flags & _FRAGMENT
        or header_len < ids_end
        or header_len > len(data)
    ):
        return None
    source = destination = ""
    if src_len or dst_len:
        try:
            source, destination = _identifiers(data, FIXED_HEADER_SIZE, src_len, dst_len)
        except UnicodeDecodeError:
            return None
    value = target._decode_value(data[header_len:])
    flag_set = _NO_FLAGS if flags == 0 else flags_from_byte(flags)
    if not target._plain_init:
        return target(value, message_type, source, destination, seq, reply, stamp, flag_set)
    # What TypedReceivedData.__init__ does, without the call. It fills the eight slots
    # of TypedReceivedData: value, message_type, source, destination, sequence,
    # reply_to, timestamp_us and flags. decode_frames fills them the same way, inline
    # (a call per message costs more than the decoding): a slot added to
    # TypedReceivedData must be filled in both. test_packets_codec.py compares every
    # slot with what the checked decoder builds.
    received = _new(target)
    received.value = value
    received.message_type = message_type
    received.source = source
    received.destination = destination
    received.sequence = seq
    received.reply_to = reply
    received.timestamp_us = stamp
    received.flags = flag_set
    return received


def decode_frames(
    data: bytes, pos: int, by_format: Sequence[Any], limit: int, other: Callable[[bytes], object]
) -> Generator[Any, None, int]:
    """Decode the whole length-prefixed frames of ``data`` from ``pos`` on.

    Messages without flags, of a class in ``by_format``, are decoded here; every other
    payload (flags, anything :func:`decode_plain` would not take, an invalid value) is
    passed to ``other`` at its place in the stream.

    Args:
        data: A chunk of a length-prefixed stream.
        pos: Where a frame starts in ``data``.
        by_format: The format table (classes with their own ``__init__`` left out).
        limit: Largest payload taken; a larger one is left to the caller.
        other: Called with each payload this function does not decode.

    Yields:
        The decoded messages, in stream order.

    Returns:
        The offset of the first byte not consumed: a frame cut by the end of ``data``,
        a frame over ``limit``, or ``len(data)``.
    """
    size = len(data)
    while size - pos >= _FRAME_HEAD_SIZE:
        length, version, mtype, dformat, flags, hlen, src_len, dst_len, seq, reply, stamp = (
            _unpack_frame_head(data, pos)
        )
        start = pos + LENGTH_PREFIX_SIZE
        end = start + length
        if end > size or length > limit:
            break  # cut by the end of the chunk, or too large: the stream decides
        target, message_type = by_format[dformat], MESSAGE_TYPE_BY_VALUE[mtype]
        body, pos = start + hlen, end
        if flags or version != HEADER_VERSION or target is None or message_type is None:
            other(data[start:end])  # a fragment, a control message or rare flags; no class
            continue
        if body < start + FIXED_HEADER_SIZE + src_len + dst_len or body > end:
            other(data[start:end])
            continue
        try:
            source = destination = ""
            if src_len or dst_len:
                ids = start + FIXED_HEADER_SIZE
                source, destination = _identifiers(data, ids, src_len, dst_len)
            value = target._decode_value(data[body:end])
        except (ProtocolError, ValueError, TypeError):
            other(data[start:end])  # the slow path reports what is invalid
            continue
        received = _new(target)  # the eight slots, as in decode_plain
        received.value = value
        received.message_type = message_type
        received.source = source
        received.destination = destination
        received.sequence = seq
        received.reply_to = reply
        received.timestamp_us = stamp
        received.flags = _NO_FLAGS
        yield received
    return pos
