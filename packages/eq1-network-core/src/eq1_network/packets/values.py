"""Encoders and decoders of message values, one pair per :class:`DataFormat`.

========  =================  ==================================================
Format    Python value       Value bytes
========  =================  ==================================================
TEXT      ``str``            UTF-8 (strict: lone surrogates are refused)
BINARY    ``bytes``          the bytes themselves (bytearray/memoryview accepted)
INT       ``int``            8 bytes, big-endian two's complement (-2**63..2**63-1)
JSON      ``dict``/``list``  compact UTF-8 JSON, ``NaN``/``Infinity`` refused
========  =================  ==================================================

Encoders raise :class:`~eq1_network.common.exceptions.ProtocolTypeError` for a value
of the wrong Python type and :class:`~eq1_network.common.exceptions.ProtocolValidationError`
for a value of the right type that cannot be encoded; they never coerce. Decoders
raise :class:`~eq1_network.common.exceptions.MalformedPacketError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from eq1_network.common.exceptions import (
    MalformedPacketError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.packets.kinds import DataFormat

__all__ = [
    "DECODERS",
    "ENCODERS",
    "INT_MAX",
    "INT_MIN",
    "decode_binary",
    "decode_int",
    "decode_json",
    "decode_text",
    "encode_binary",
    "encode_int",
    "encode_json",
    "encode_text",
]

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1
_INT64 = struct.Struct(">q")


def _wrong_type(fmt: str, expected: str, value: object) -> ProtocolTypeError:
    return ProtocolTypeError(f"a {fmt} value must be {expected}, got {type(value).__name__}")


def encode_text(value: object) -> bytes:
    """Encode a TEXT value.

    Args:
        value: A ``str``.

    Returns:
        Its UTF-8 bytes.

    Raises:
        ProtocolTypeError: If ``value`` is not a ``str``.
        ProtocolValidationError: If it holds characters UTF-8 cannot encode.
    """
    if not isinstance(value, str):
        raise _wrong_type("TEXT", "a str", value)
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolValidationError(f"TEXT value is not encodable as UTF-8: {exc}") from exc


def decode_text(body: bytes) -> str:
    """Decode a TEXT value.

    Args:
        body: UTF-8 bytes.

    Returns:
        The string.

    Raises:
        MalformedPacketError: If the bytes are not valid UTF-8.
    """
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPacketError(f"TEXT value is not valid UTF-8: {exc}") from exc


def encode_binary(value: object) -> bytes:
    """Encode a BINARY value.

    Args:
        value: ``bytes``, ``bytearray`` or ``memoryview``.

    Returns:
        The value as ``bytes``.

    Raises:
        ProtocolTypeError: If ``value`` is not bytes-like (``str`` included).
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise _wrong_type("BINARY", "bytes, bytearray or memoryview", value)


def decode_binary(body: bytes) -> bytes:
    """Decode a BINARY value (the bytes themselves).

    Args:
        body: The value bytes.

    Returns:
        ``body``.
    """
    return body


def encode_int(value: object) -> bytes:
    """Encode an INT value.

    Args:
        value: An ``int`` in -2**63..2**63-1 (``bool`` is refused).

    Returns:
        8 bytes, big-endian two's complement.

    Raises:
        ProtocolTypeError: If ``value`` is not an ``int`` or is a ``bool``.
        ProtocolValidationError: If it is outside the signed 64-bit range.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong_type("INT", "an int (not bool)", value)
    if not INT_MIN <= value <= INT_MAX:
        raise ProtocolValidationError(
            f"an INT value must be between -2**63 and 2**63-1, got {value}"
        )
    return _INT64.pack(value)


def decode_int(body: bytes) -> int:
    """Decode an INT value.

    Args:
        body: Exactly 8 bytes.

    Returns:
        The integer.

    Raises:
        MalformedPacketError: If ``body`` is not 8 bytes long.
    """
    if len(body) != _INT64.size:
        raise MalformedPacketError(f"an INT value must be 8 bytes, got {len(body)}")
    value: int = _INT64.unpack(body)[0]
    return value


def encode_json(value: object) -> bytes:
    """Encode a JSON value.

    Keys and values follow :func:`json.dumps`: tuples become arrays and ``int``,
    ``float``, ``bool`` and ``None`` dictionary keys become strings.

    Args:
        value: A ``dict`` or ``list`` of JSON-serialisable data.

    Returns:
        Compact UTF-8 JSON.

    Raises:
        ProtocolTypeError: If ``value`` is not a ``dict`` or ``list``, or holds an
            object JSON cannot represent.
        ProtocolValidationError: If it holds ``NaN`` or an infinity, a circular
            reference, or text UTF-8 cannot encode.
    """
    import json

    if not isinstance(value, (dict, list)):
        raise _wrong_type("JSON", "a dict or a list", value)
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except TypeError as exc:
        raise ProtocolTypeError(f"JSON value cannot be serialised: {exc}") from exc
    except ValueError as exc:
        raise ProtocolValidationError(f"JSON value cannot be serialised: {exc}") from exc
    except RecursionError as exc:
        raise ProtocolValidationError("JSON value is nested too deeply") from exc
    return encode_text(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (RFC 8259)")


def decode_json(body: bytes) -> Any:
    """Decode a JSON value.

    Args:
        body: UTF-8 JSON whose top level is an object or an array.

    Returns:
        A ``dict`` or ``list``.

    Raises:
        MalformedPacketError: If the bytes are not UTF-8 JSON (``NaN`` and
            ``Infinity`` included), or the top level is neither an object nor an array.
    """
    import json

    text = decode_text(body)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise MalformedPacketError(f"JSON value cannot be parsed: {exc}") from exc
    except RecursionError as exc:
        raise MalformedPacketError("JSON value is nested too deeply") from exc
    if not isinstance(value, (dict, list)):
        raise MalformedPacketError(
            f"a JSON value must be an object or an array, got {type(value).__name__}"
        )
    return value


ENCODERS: Final[dict[DataFormat, Callable[[object], bytes]]] = {
    DataFormat.TEXT: encode_text,
    DataFormat.BINARY: encode_binary,
    DataFormat.INT: encode_int,
    DataFormat.JSON: encode_json,
}
"""Value encoder of each format."""

DECODERS: Final[dict[DataFormat, Callable[[bytes], Any]]] = {
    DataFormat.TEXT: decode_text,
    DataFormat.BINARY: decode_binary,
    DataFormat.INT: decode_int,
    DataFormat.JSON: decode_json,
}
"""Value decoder of each format."""
