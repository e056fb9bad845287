"""Register values: known vectors, round trips, agreement with pymodbus, every error path."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.pdu.utils import pack_bitstring, unpack_bitstring

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolTypeError
from eq1_network.protocols.modbus.values import (
    BYTE_ORDERS,
    VALUE_TYPES,
    ByteOrder,
    ValueType,
    decode,
    decode_many,
    decode_string,
    encode,
    encode_many,
    encode_string,
    pack_bits,
    register_count,
    unpack_bits,
)

STRUCT_CODES = dict(zip(VALUE_TYPES, "hHiIqQfd", strict=True))
INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
register_lists = st.lists(st.integers(0, 0xFFFF), max_size=24)
texts = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), max_size=20)


def swap_bytes(registers: list[int]) -> list[int]:
    return [((r & 0xFF) << 8) | (r >> 8) for r in registers]


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@st.composite
def typed_values(draw: st.DrawFn, type_: ValueType) -> float:
    if type_ in INT_RANGES:
        low, high = INT_RANGES[type_]
        return draw(st.integers(low, high))
    return draw(st.floats(width=32 if type_ == "float32" else 64))


# -- known vectors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("ABCD", [0x42F6, 0xE979]),
        ("CDAB", [0xE979, 0x42F6]),
        ("BADC", [0xF642, 0x79E9]),
        ("DCBA", [0x79E9, 0xF642]),
    ],
)
def test_float32_123_456_in_every_order(order: ByteOrder, expected: list[int]) -> None:
    assert encode(123.456, "float32", order) == expected
    assert decode(expected, "float32", order) == pytest.approx(123.456, rel=1e-7)


@pytest.mark.parametrize(
    ("order", "expected32", "expected64"),
    [
        ("ABCD", [0x4142, 0x4344], [0x0102, 0x0304, 0x0506, 0x0708]),
        ("CDAB", [0x4344, 0x4142], [0x0708, 0x0506, 0x0304, 0x0102]),
        ("BADC", [0x4241, 0x4443], [0x0201, 0x0403, 0x0605, 0x0807]),
        ("DCBA", [0x4443, 0x4241], [0x0807, 0x0605, 0x0403, 0x0201]),
    ],
)
def test_documented_order_table(
    order: ByteOrder, expected32: list[int], expected64: list[int]
) -> None:
    assert encode(0x41424344, "uint32", order) == expected32
    assert encode(0x0102030405060708, "uint64", order) == expected64
    assert decode(expected32, "int32", order) == 0x41424344
    assert decode(expected64, "int64", order) == 0x0102030405060708


def test_sixteen_bit_values_swap_bytes_only() -> None:
    assert encode(-2, "int16") == encode(-2, "int16", "CDAB") == [0xFFFE]
    assert encode(-2, "int16", "BADC") == encode(-2, "int16", "DCBA") == [0xFEFF]
    assert encode(0x1234, "uint16", "DCBA") == [0x3412]
    assert decode([0x8000], "int16") == -32768
    assert decode([0x8000], "uint16") == 32768


def test_float64_and_signed_vectors() -> None:
    assert encode(1.0, "float64") == [0x3FF0, 0, 0, 0]
    assert encode(-1.0, "float64", "DCBA") == [0, 0, 0, 0xF0BF]
    assert encode(-1, "int32") == [0xFFFF, 0xFFFF]
    assert encode(-(2**63), "int64", "CDAB") == [0, 0, 0, 0x8000]
    assert decode([0xFFFF] * 4, "uint64") == 2**64 - 1
    assert encode(3, "float32") == encode(3.0, "float32") == [0x4040, 0]


def test_register_counts() -> None:
    counts = {t: register_count(t) for t in VALUE_TYPES}
    assert counts == {
        "int16": 1,
        "uint16": 1,
        "int32": 2,
        "uint32": 2,
        "int64": 4,
        "uint64": 4,
        "float32": 2,
        "float64": 4,
    }
    assert BYTE_ORDERS == ("ABCD", "CDAB", "BADC", "DCBA")


@pytest.mark.parametrize("type_", ["float32", "float64"])
@pytest.mark.parametrize("order", BYTE_ORDERS)
def test_nan_and_infinities_round_trip(type_: ValueType, order: ByteOrder) -> None:
    assert math.isnan(decode(encode(math.nan, type_, order), type_, order))
    for value in (math.inf, -math.inf, -0.0):
        back = decode(encode(value, type_, order), type_, order)
        assert back == value and math.copysign(1, back) == math.copysign(1, value)
    assert encode(math.inf, "float32") == [0x7F80, 0]
    assert encode(-math.inf, "float32") == [0xFF80, 0]


def test_decode_many_and_encode_many() -> None:
    registers = encode_many([1.5, -2.25, 0.0], "float32", "CDAB")
    assert registers == encode(1.5, "float32", "CDAB") + encode(-2.25, "float32", "CDAB") + [0, 0]
    assert decode_many(registers, "float32", "CDAB") == [1.5, -2.25, 0.0]
    assert decode_many([], "uint64") == []
    assert encode_many([], "int16") == []
    assert decode_many([1, 2, 0xFFFF], "int16", "BADC") == [256, 512, -1]


def test_strings() -> None:
    assert encode_string("HELLO") == [0x4845, 0x4C4C, 0x4F00]
    assert encode_string("HELLO", 4) == [0x4845, 0x4C4C, 0x4F00, 0]
    assert encode_string("HELLO", order="BADC") == [0x4548, 0x4C4C, 0x004F]
    assert encode_string("HELLO", order="CDAB") == [0x4F00, 0x4C4C, 0x4845]
    assert encode_string("HELLO", order="DCBA") == [0x004F, 0x4C4C, 0x4548]
    assert encode_string("") == [] and encode_string("", 2) == [0, 0]
    assert decode_string([0x4845, 0x4C4C, 0x4F00, 0]) == "HELLO"
    assert decode_string([0x4548, 0x4C4C, 0x004F], order="BADC") == "HELLO"
    assert decode_string([0x4F00, 0x4C4C, 0x4845], order="CDAB") == "HELLO"
    assert decode_string(encode_string("Größe", 5, encoding="utf-8"), encoding="utf-8") == "Größe"
    assert decode_string([0xFF41], errors="replace") == "\ufffdA"
    assert decode_string([0x4100, 0x4200]) == "A\0B", "only trailing NULs are stripped"


def test_bits_spec_examples() -> None:
    # FC0F example of the specification: coils 20..29 = 1011 0011 10 -> CD 01.
    assert pack_bits([True, False, True, True, False, False, True, True, True, False]) == (
        b"\xcd\x01"
    )
    assert pack_bits([1, 0, 1, 1, 0, 0, 1, 1, 1, 0]) == b"\xcd\x01"
    assert unpack_bits(b"\xcd\x01", 10) == [bool(b) for b in (1, 0, 1, 1, 0, 0, 1, 1, 1, 0)]
    # FC01 example: coils 20..38 answered as CD 6B 05; bits past the count are ignored.
    coils = unpack_bits(bytes.fromhex("CD6B05"), 19)
    assert coils[:8] == [True, False, True, True, False, False, True, True]
    assert coils[16:] == [True, False, True]
    assert pack_bits(coils) == bytes.fromhex("CD6B05")
    assert unpack_bits(b"\xff", 3) == [True] * 3
    assert pack_bits([]) == b"" and unpack_bits(b"", 0) == []


# -- round trips --------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.data(), st.sampled_from(VALUE_TYPES), st.sampled_from(BYTE_ORDERS))
def test_value_round_trip(data: st.DataObject, type_: ValueType, order: ByteOrder) -> None:
    values = data.draw(st.lists(typed_values(type_), max_size=6))
    registers = encode_many(values, type_, order)
    assert len(registers) == len(values) * register_count(type_)
    assert all(0 <= r <= 0xFFFF for r in registers)
    back = decode_many(registers, type_, order)
    assert len(back) == len(values) and all(map(same, back, values))
    if values:
        assert same(decode(encode(values[0], type_, order), type_, order), values[0])


@settings(deadline=None)
@given(st.data(), st.sampled_from(VALUE_TYPES), st.sampled_from(BYTE_ORDERS))
def test_register_round_trip(data: st.DataObject, type_: ValueType, order: ByteOrder) -> None:
    count = register_count(type_)
    registers = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=count, max_size=count))
    value = decode(registers, type_, order)
    if not (isinstance(value, float) and math.isnan(value)):
        assert encode(value, type_, order) == registers


@settings(deadline=None)
@given(st.sampled_from(VALUE_TYPES), register_lists)
def test_orders_match_struct_endianness(type_: ValueType, registers: list[int]) -> None:
    """ABCD reads the register bytes big-endian, DCBA little-endian; B/D swap bytes first."""
    count = register_count(type_)
    registers = registers[: len(registers) // count * count]
    code = STRUCT_CODES[type_]
    raw = struct.pack(f">{len(registers)}H", *registers)
    n = len(registers) // count
    big, little = struct.unpack(f">{n}{code}", raw), struct.unpack(f"<{n}{code}", raw)
    assert_same_list(decode_many(registers, type_, "ABCD"), big)
    assert_same_list(decode_many(registers, type_, "DCBA"), little)
    assert_same_list(decode_many(swap_bytes(registers), type_, "BADC"), big)
    assert_same_list(decode_many(swap_bytes(registers), type_, "CDAB"), little)


def assert_same_list(ours: Sequence[float], reference: Any) -> None:
    assert len(ours) == len(reference) and all(map(same, ours, reference))


@settings(deadline=None)
@given(
    texts,
    st.integers(0, 4),
    st.sampled_from(BYTE_ORDERS),
)
def test_string_round_trip(text: str, spare: int, order: ByteOrder) -> None:
    size = (len(text.encode("utf-8")) + 1) // 2 + spare
    registers = encode_string(text, size, encoding="utf-8", order=order)
    assert len(registers) == size
    assert decode_string(registers, encoding="utf-8", order=order) == text


@given(st.lists(st.booleans(), max_size=80))
def test_bits_round_trip(bits: list[bool]) -> None:
    packed = pack_bits(bits)
    assert len(packed) == (len(bits) + 7) // 8
    assert unpack_bits(packed, len(bits)) == bits


# -- agreement with pymodbus --------------------------------------------------------------------


def pymodbus_order(order: ByteOrder) -> tuple[Any, bool]:
    """pymodbus has word order only: ABCD = big, CDAB = little; B/D-first orders add a byte swap."""
    return ("big" if order in ("ABCD", "BADC") else "little"), order in ("BADC", "DCBA")


@settings(deadline=None)
@given(st.data(), st.sampled_from(VALUE_TYPES), st.sampled_from(BYTE_ORDERS))
def test_agrees_with_pymodbus_convert(
    data: st.DataObject, type_: ValueType, order: ByteOrder
) -> None:
    values = data.draw(st.lists(typed_values(type_), min_size=1, max_size=5))
    datatype = ModbusClientMixin.DATATYPE[type_.upper()]
    word_order, byte_swapped = pymodbus_order(order)
    reference = ModbusClientMixin.convert_to_registers(list(values), datatype, word_order)
    if byte_swapped:
        reference = swap_bytes(reference)
    assert encode_many(values, type_, order) == reference
    assert encode(values[0], type_, order) == reference[: register_count(type_)]
    registers = swap_bytes(reference) if byte_swapped else reference
    decoded = ModbusClientMixin.convert_from_registers(registers, datatype, word_order)
    decoded_list = decoded if isinstance(decoded, list) else [decoded]
    assert_same_list(decode_many(reference, type_, order), decoded_list)


@settings(deadline=None)
@given(
    texts,
    st.sampled_from(["ABCD", "CDAB"]),
)
def test_strings_agree_with_pymodbus(text: str, order: ByteOrder) -> None:
    word_order, _ = pymodbus_order(order)
    reference = ModbusClientMixin.convert_to_registers(
        text, ModbusClientMixin.DATATYPE.STRING, word_order
    )
    ours = encode_string(text, encoding="utf-8", order=order)
    assert ours == reference
    assert decode_string(ours, encoding="utf-8", order=order) == (
        ModbusClientMixin.convert_from_registers(
            ours, ModbusClientMixin.DATATYPE.STRING, word_order
        )
    )


@given(st.lists(st.booleans(), max_size=80))
def test_bits_agree_with_pymodbus(bits: list[bool]) -> None:
    assert pack_bits(bits) == pack_bitstring(bits)
    packed = pack_bits(bits)
    assert unpack_bits(packed, 8 * len(packed)) == unpack_bitstring(packed)


# -- errors -------------------------------------------------------------------------------------


def raises(exc_type: type[Exception], *fragments: str) -> Any:
    """Expect ``exc_type`` with a message containing every fragment (parameter first)."""
    return pytest.raises(exc_type, match=".*".join(map(re.escape, fragments)))


@pytest.mark.parametrize(
    ("type_", "value", "fragment"),
    [
        ("uint16", 70000, "value=70000 does not fit uint16 (0..65535)"),
        ("uint16", -1, "value=-1 does not fit uint16 (0..65535)"),
        ("int16", 32768, "value=32768 does not fit int16 (-32768..32767)"),
        ("uint32", 2**32, "does not fit uint32 (0..4294967295)"),
        ("int32", -(2**31) - 1, "does not fit int32"),
        ("uint64", 2**64, "does not fit uint64 (0..18446744073709551615)"),
        ("int64", 2**63, "does not fit int64"),
        ("float32", 1e40, "value=1e+40 does not fit float32"),
        ("float64", 10**400, "does not fit float64"),
    ],
)
def test_out_of_range_values(type_: ValueType, value: float, fragment: str) -> None:
    for order in BYTE_ORDERS:
        with raises(ProtocolArgumentError, fragment, "pass"):
            encode(value, type_, order)


def test_wrong_python_types() -> None:
    with raises(ProtocolTypeError, "value=1.5 is not an int", "int16"):
        encode(1.5, "int16")
    with raises(ProtocolTypeError, "value=True is not an int"):
        encode(True, "uint16")
    with raises(ProtocolTypeError, "value='1.0' is not a number", "float32"):
        encode("1.0", "float32")  # type: ignore[arg-type]
    with raises(ProtocolTypeError, "text=b'AB' is not a str"):
        encode_string(b"AB")  # type: ignore[arg-type]


def test_encode_many_names_the_index() -> None:
    with raises(ProtocolArgumentError, "values[2]=70000 does not fit uint16"):
        encode_many([1, 2, 70000], "uint16")
    with raises(ProtocolTypeError, "values[1]=None is not a number"):
        encode_many([1.0, None], "float64")  # type: ignore[list-item]


def test_unknown_type_and_order() -> None:
    with raises(ProtocolArgumentError, "order='XYZW' is not one of ABCD, CDAB, BADC, DCBA"):
        encode(1, "int16", "XYZW")  # type: ignore[arg-type]
    with raises(ProtocolArgumentError, "order='abcd' is not one of"):
        decode([1], "int16", "abcd")  # type: ignore[call-overload]
    for call in (
        lambda: encode(1, "float16"),  # type: ignore[arg-type]
        lambda: decode([1], "float16"),  # type: ignore[call-overload]
        lambda: decode_many([1], "float16"),  # type: ignore[call-overload]
        lambda: register_count("float16"),  # type: ignore[arg-type]
    ):
        with raises(ProtocolArgumentError, "type='float16' is not one of int16, uint16, int32"):
            call()
    with raises(ProtocolArgumentError, "order='X' is not one of"):
        encode_string("A", order="X")  # type: ignore[arg-type]
    with raises(ProtocolArgumentError, "order=None is not one of"):
        decode_string([1], order=None)  # type: ignore[arg-type]


def test_wrong_register_counts() -> None:
    with raises(
        ProtocolArgumentError, "registers: float32 needs 2 registers, got 1", "decode_many"
    ):
        decode([0x42F6], "float32")
    with raises(ProtocolArgumentError, "registers: int16 needs 1 register, got 2"):
        decode([1, 2], "int16")
    with raises(ProtocolArgumentError, "registers: 5 registers are not a whole number of float64"):
        decode_many([0] * 5, "float64")


@pytest.mark.parametrize("bad", [70000, -1, 1.5, "1", None])
def test_register_values_out_of_range(bad: Any) -> None:
    with raises(ProtocolArgumentError, f"registers[1]={bad!r} is not a register value", "0..65535"):
        decode([0, bad], "float32", "CDAB")
    with raises(ProtocolArgumentError, f"registers[3]={bad!r}"):
        decode_many([0, 0, 0, bad], "int16", "DCBA")
    with raises(ProtocolArgumentError, f"registers[0]={bad!r}"):
        decode_string([bad, 0], order="CDAB")


def test_string_errors() -> None:
    with raises(
        ProtocolArgumentError, "text: 5 bytes of ascii do not fit registers=2", "registers>=3"
    ):
        encode_string("HELLO", 2)
    with raises(ProtocolArgumentError, "registers=-1 is not a count"):
        encode_string("HI", -1)
    with raises(ProtocolArgumentError, "encoding='klingon' is not a known codec"):
        encode_string("HI", encoding="klingon")
    with raises(ProtocolArgumentError, "encoding='klingon' is not a known codec"):
        decode_string([0x4142], encoding="klingon")
    with raises(ProtocolArgumentError, "text: character 1 ('é') cannot be encoded in ascii"):
        encode_string("Té")
    with raises(ProtocolArgumentError, "text: character 2 ('\\ud800') cannot be encoded in utf-8"):
        encode_string("ab\ud800", encoding="utf-8")
    with raises(ProtocolArgumentError, "registers: byte 0 is not valid ascii", "errors='replace'"):
        decode_string([0xFF41])


def test_bit_errors() -> None:
    with raises(ProtocolArgumentError, "bits[1]=2 is not a bit", "True/False"):
        pack_bits([1, 2])
    with raises(ProtocolArgumentError, "bits[0]='1' is not a bit"):
        pack_bits(["1"])  # type: ignore[list-item]
    with raises(ProtocolArgumentError, "count=17 needs 3 bytes, data has 2", "count<=16"):
        unpack_bits(b"\x00\x00", 17)
    with raises(ProtocolArgumentError, "count=-1 is not a bit count"):
        unpack_bits(b"\x00", -1)
