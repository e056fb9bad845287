"""Numbers, strings and coil bits to and from Modbus registers: pure functions, no I/O.

A Modbus register holds 16 bits. Values wider than one register are spread over
consecutive registers, and devices disagree on the order. ``order`` names the four
bytes of a 32-bit value ``A B C D`` (``A`` most significant) as they appear in the
registers, first register first, high byte of each register first:

=========  ===============================  =====================================
``order``  32-bit value 0x41424344          meaning
=========  ===============================  =====================================
``ABCD``   ``[0x4142, 0x4344]``             big-endian (the Modbus convention)
``CDAB``   ``[0x4344, 0x4142]``             word swap: low word first
``BADC``   ``[0x4241, 0x4443]``             byte swap inside each register
``DCBA``   ``[0x4443, 0x4241]``             little-endian
=========  ===============================  =====================================

Two independent rules make up an order, and they apply to every width: the word
order (``ABCD``/``BADC`` most significant register first, ``CDAB``/``DCBA`` least
significant register first, so a 64-bit value in ``CDAB`` has its four registers
reversed) and the byte order inside a register (``ABCD``/``CDAB`` high byte
first, ``BADC``/``DCBA`` low byte first). A 16-bit value is one register, so only
the byte order matters for it.

Coils and discrete inputs travel packed eight to a byte, the first coil in the
least significant bit of the first byte (:func:`pack_bits`, :func:`unpack_bits`).

Every bad argument raises :class:`~eq1_network.common.exceptions.ProtocolArgumentError`
(a value of the wrong Python type raises
:class:`~eq1_network.common.exceptions.ProtocolTypeError`) whose message names the
parameter, the rule it broke and how to fix it.
"""

from __future__ import annotations

import numbers
import operator
import struct
from collections.abc import Sequence
from typing import Final, Literal, TypeVar, get_args, overload

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolTypeError

__all__ = [
    "BYTE_ORDERS",
    "VALUE_TYPES",
    "ByteOrder",
    "FloatType",
    "IntType",
    "ValueType",
    "decode",
    "decode_many",
    "decode_string",
    "encode",
    "encode_many",
    "encode_string",
    "pack_bits",
    "register_count",
    "unpack_bits",
]

IntType = Literal["int16", "uint16", "int32", "uint32", "int64", "uint64"]
"""The name of an integer register type: :func:`decode` returns an ``int``."""

FloatType = Literal["float32", "float64"]
"""The name of an IEEE 754 register type: :func:`decode` returns a ``float``."""

ValueType = Literal[IntType, FloatType]
"""The name of any numeric register type."""

ByteOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
"""The byte and word order of a value in registers (see the module docstring)."""

VALUE_TYPES: Final[tuple[ValueType, ...]] = get_args(ValueType)
"""Every accepted ``type`` name."""

BYTE_ORDERS: Final[tuple[ByteOrder, ...]] = get_args(ByteOrder)
"""Every accepted ``order`` name; ``ABCD`` is the default everywhere."""

# type name -> (struct code, registers per value)
_FORMATS: Final[dict[str, tuple[str, int]]] = {
    name: (code, struct.calcsize(code) // 2)
    for name, code in zip(VALUE_TYPES, "hHiIqQfd", strict=True)
}
# order -> (least significant register first, low byte first inside a register)
_ORDERS: Final[dict[str, tuple[bool, bool]]] = {
    "ABCD": (False, False),
    "CDAB": (True, False),
    "BADC": (False, True),
    "DCBA": (True, True),
}
_T = TypeVar("_T")
_FLOAT_MAX: Final[dict[str, float]] = {"f": 3.4028234663852886e38, "d": 1.7976931348623157e308}


def register_count(type: ValueType) -> int:
    """Return how many registers one value of ``type`` occupies: 1, 2 or 4.

    Raises:
        ProtocolArgumentError: ``type`` is not one of :data:`VALUE_TYPES`.
    """
    return _format(type)[1]


def encode(value: float, type: ValueType, order: ByteOrder = "ABCD") -> list[int]:
    """Encode one number as :func:`register_count` registers.

    Args:
        value: An ``int`` for the integer types; an ``int`` or ``float`` for the
            float types (NaN and infinities included).
        type: One of :data:`VALUE_TYPES`.
        order: One of :data:`BYTE_ORDERS`.

    Returns:
        Register values, each 0..65535, first register first.

    Raises:
        ProtocolArgumentError: ``type`` or ``order`` is unknown, or ``value`` does not
            fit ``type``.
        ProtocolTypeError: ``value`` is not a number of the kind ``type`` holds.
    """
    return _encode([value], type, order, "value")


def encode_many(values: Sequence[float], type: ValueType, order: ByteOrder = "ABCD") -> list[int]:
    """Encode numbers of one type as consecutive registers, each value in ``order``.

    Raises:
        ProtocolArgumentError: As :func:`encode`; the message names the index.
        ProtocolTypeError: As :func:`encode`.
    """
    return _encode(values, type, order, "values[{}]")


@overload
def decode(registers: Sequence[int], type: IntType, order: ByteOrder = ...) -> int: ...
@overload
def decode(registers: Sequence[int], type: FloatType, order: ByteOrder = ...) -> float: ...
@overload
def decode(registers: Sequence[int], type: ValueType, order: ByteOrder = ...) -> int | float: ...
def decode(registers: Sequence[int], type: ValueType, order: ByteOrder = "ABCD") -> int | float:
    """Decode one number from exactly :func:`register_count` registers.

    Args:
        registers: Register values, each 0..65535, first register first.
        type: One of :data:`VALUE_TYPES`.
        order: One of :data:`BYTE_ORDERS`.

    Returns:
        An ``int`` for the integer types, a ``float`` for the float types (a float32
        widened exactly, so 123.456 reads back as 123.45600128173828).

    Raises:
        ProtocolArgumentError: ``type`` or ``order`` is unknown, a register is out of
            range, or the number of registers is not the one ``type`` needs.
    """
    count = register_count(type)
    if len(registers) != count:
        raise ProtocolArgumentError(
            f"registers: {type} needs {count} register{'s' * (count > 1)}, got "
            f"{len(registers)}; pass exactly {count}, or use decode_many() for several values"
        )
    return decode_many(registers, type, order)[0]


@overload
def decode_many(registers: Sequence[int], type: IntType, order: ByteOrder = ...) -> list[int]: ...
@overload
def decode_many(
    registers: Sequence[int], type: FloatType, order: ByteOrder = ...
) -> list[float]: ...
@overload
def decode_many(
    registers: Sequence[int], type: ValueType, order: ByteOrder = ...
) -> list[int] | list[float]: ...
def decode_many(
    registers: Sequence[int], type: ValueType, order: ByteOrder = "ABCD"
) -> list[int] | list[float]:
    """Decode consecutive numbers of one type, each value in ``order``.

    Returns:
        ``len(registers) // register_count(type)`` numbers (none for no registers).

    Raises:
        ProtocolArgumentError: As :func:`decode`, or the registers do not divide into
            whole values.
    """
    code, count = _format(type)
    word_swap, byte_swap = _order(order)
    if len(registers) % count:
        raise ProtocolArgumentError(
            f"registers: {len(registers)} registers are not a whole number of {type} "
            f"values ({count} registers each); pass a multiple of {count}"
        )
    ordered = _swap_words(registers, count) if word_swap else registers
    raw = _pack_registers(ordered, byte_swap, registers)
    return list(struct.unpack(f">{len(registers) // count}{code}", raw))


def encode_string(
    text: str, registers: int | None = None, *, encoding: str = "ascii", order: ByteOrder = "ABCD"
) -> list[int]:
    """Encode text two bytes per register, padded with NUL bytes.

    The encoded text is one value for ``order``: ``ABCD`` puts the first byte in
    the high byte of the first register, ``BADC`` in its low byte; ``CDAB`` and
    ``DCBA`` also reverse the registers.

    Args:
        text: The text to encode.
        registers: How many registers to fill, or ``None`` for just enough.
        encoding: A Python codec name.
        order: One of :data:`BYTE_ORDERS`.

    Returns:
        The register values.

    Raises:
        ProtocolArgumentError: ``encoding`` is unknown or cannot encode ``text``,
            ``text`` does not fit ``registers``, or ``order`` is unknown.
        ProtocolTypeError: ``text`` is not a ``str``.
    """
    word_swap, byte_swap = _order(order)
    raw = _encode_text(text, encoding)
    needed = (len(raw) + 1) // 2
    size = needed if registers is None else registers
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ProtocolArgumentError(f"registers={registers!r} is not a count; pass an int >= 0")
    if needed > size:
        raise ProtocolArgumentError(
            f"text: {len(raw)} bytes of {encoding} do not fit registers={size} "
            f"({2 * size} bytes); pass registers>={needed} or a shorter text"
        )
    padded = raw.ljust(2 * size, b"\0")
    regs = list(struct.unpack(f"{'<' if byte_swap else '>'}{size}H", padded))
    return regs[::-1] if word_swap else regs


def decode_string(
    registers: Sequence[int],
    *,
    encoding: str = "ascii",
    order: ByteOrder = "ABCD",
    errors: str = "strict",
) -> str:
    """Decode text stored as :func:`encode_string` stores it, without trailing NULs.

    Args:
        registers: Register values, each 0..65535.
        encoding: A Python codec name.
        order: One of :data:`BYTE_ORDERS`.
        errors: As in :meth:`bytes.decode`; ``"replace"`` never raises.

    Raises:
        ProtocolArgumentError: A register is out of range, ``order`` or ``encoding``
            is unknown, or the bytes are not valid ``encoding``.
    """
    word_swap, byte_swap = _order(order)
    ordered = list(registers)[::-1] if word_swap else registers
    raw = _pack_registers(ordered, byte_swap, registers).rstrip(b"\0")
    try:
        return raw.decode(encoding, errors)
    except LookupError:
        raise _bad_encoding(encoding) from None
    except UnicodeDecodeError as exc:
        raise ProtocolArgumentError(
            f"registers: byte {exc.start} is not valid {encoding} ({exc.reason}); "
            f"pass the device's encoding, or errors='replace'"
        ) from None


def pack_bits(bits: Sequence[bool | int]) -> bytes:
    """Pack coil states eight to a byte, the first in the least significant bit.

    The last byte is padded with zero bits, as function codes 0x01, 0x02 and 0x0F
    carry them; ``ceil(len(bits) / 8)`` bytes are returned.

    Raises:
        ProtocolArgumentError: An element is not ``True``/``False`` or 1/0.
    """
    packed = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit not in (0, 1):
            raise ProtocolArgumentError(
                f"bits[{index}]={bit!r} is not a bit; pass True/False or 1/0"
            )
        if bit:
            packed[index >> 3] |= 1 << (index & 7)
    return bytes(packed)


def unpack_bits(data: bytes, count: int) -> list[bool]:
    """Return the first ``count`` coil states of ``data``, packed as :func:`pack_bits` does.

    Raises:
        ProtocolArgumentError: ``count`` is negative or more than ``8 * len(data)``.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ProtocolArgumentError(f"count={count!r} is not a bit count; pass an int >= 0")
    if count > 8 * len(data):
        raise ProtocolArgumentError(
            f"count={count} needs {(count + 7) // 8} bytes, data has {len(data)}; "
            f"pass count<={8 * len(data)}"
        )
    return [bool(data[index >> 3] >> (index & 7) & 1) for index in range(count)]


def _format(type_name: str) -> tuple[str, int]:
    return _lookup(_FORMATS, "type", type_name)


def _order(order: str) -> tuple[bool, bool]:
    return _lookup(_ORDERS, "order", order)


def _lookup(table: dict[str, _T], parameter: str, name: str) -> _T:
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ProtocolArgumentError(
            f"{parameter}={name!r} is not one of {', '.join(table)}"
        ) from None


def _pack_value(value: float, type_name: str, code: str, label: str) -> bytes:
    if code in "fd":
        if type(value) is not float and (
            isinstance(value, bool) or not isinstance(value, numbers.Real)
        ):
            raise ProtocolTypeError(f"{label}={value!r} is not a number; {type_name} takes a float")
        try:
            return struct.pack(">" + code, float(value))
        except OverflowError:
            raise ProtocolArgumentError(
                f"{label}={value!r} does not fit {type_name} (magnitude at most "
                f"{_FLOAT_MAX[code]!r}); pass a smaller value or use float64"
            ) from None
    if type(value) is not int and (
        isinstance(value, bool) or not isinstance(value, numbers.Integral)
    ):
        raise ProtocolTypeError(
            f"{label}={value!r} is not an int; {type_name} takes an int (round floats first)"
        )
    try:
        return struct.pack(">" + code, int(value))
    except struct.error:
        bits = 8 * struct.calcsize(code)
        low, high = (
            (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if code.islower() else (0, (1 << bits) - 1)
        )
        raise ProtocolArgumentError(
            f"{label}={value!r} does not fit {type_name} ({low}..{high}); "
            f"pass a value in range or use a wider type"
        ) from None


def _encode(values: Sequence[float], type_name: str, order: str, label: str) -> list[int]:
    code, count = _format(type_name)
    word_swap, byte_swap = _order(order)
    raw = b"".join(
        _pack_value(value, type_name, code, label.format(index))
        for index, value in enumerate(values)
    )
    registers = list(struct.unpack(f"{'<' if byte_swap else '>'}{len(raw) // 2}H", raw))
    return _swap_words(registers, count) if word_swap else registers


def _swap_words(registers: Sequence[int], count: int) -> list[int]:
    """Reverse the registers inside each group of ``count``."""
    if count == 1:
        return list(registers)
    return [
        r
        for start in range(0, len(registers), count)
        for r in registers[start : start + count][::-1]
    ]


def _pack_registers(ordered: Sequence[int], byte_swap: bool, original: Sequence[int]) -> bytes:
    """Pack registers as 16-bit words; name the first bad one of ``original`` if any."""
    try:
        return struct.pack(f"{'<' if byte_swap else '>'}{len(ordered)}H", *ordered)
    except struct.error:
        pass
    for index, register in enumerate(original):
        if not _is_register(register):
            raise ProtocolArgumentError(
                f"registers[{index}]={register!r} is not a register value (an int "
                f"0..65535); pass unsigned 16-bit values as read from the device"
            ) from None
    raise AssertionError("unreachable: struct refused valid registers")  # pragma: no cover


def _is_register(register: int) -> bool:
    try:
        return 0 <= operator.index(register) <= 0xFFFF
    except TypeError:
        return False


def _encode_text(text: str, encoding: str) -> bytes:
    if not isinstance(text, str):
        raise ProtocolTypeError(f"text={text!r} is not a str; decode bytes first")
    try:
        return text.encode(encoding)
    except LookupError:
        raise _bad_encoding(encoding) from None
    except UnicodeEncodeError as exc:
        raise ProtocolArgumentError(
            f"text: character {exc.start} ({text[exc.start]!r}) cannot be encoded in "
            f"{encoding}; pass an encoding that has it, e.g. encoding='utf-8'"
        ) from None


def _bad_encoding(encoding: str) -> ProtocolArgumentError:
    return ProtocolArgumentError(
        f"encoding={encoding!r} is not a known codec; pass e.g. 'ascii', 'latin-1' or 'utf-8'"
    )
