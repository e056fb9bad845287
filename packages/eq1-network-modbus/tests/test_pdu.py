"""Request builders and response decoders: spec examples, round trips, argument checks."""

from __future__ import annotations

import pickle
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eq1_network.common.exceptions import (
    MalformedPacketError,
    ProtocolArgumentError,
    ProtocolError,
    ProtocolValidationError,
)
from eq1_network.protocols.modbus import pdu
from eq1_network.protocols.modbus.errors import ModbusExceptionError
from eq1_network.protocols.modbus.pdu import DeviceIdentification, check_exception

SETTINGS = settings(max_examples=200, deadline=None)
H = bytes.fromhex


def _bits(data: bytes, count: int) -> list[bool]:
    """Coils from response bytes, LSB of the first byte first (spec section 6.1)."""
    return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]


def _pack_bits(values: list[bool]) -> bytes:
    out = bytearray((len(values) + 7) // 8)
    for i, value in enumerate(values):
        if value:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


# --- examples of the Modbus application protocol specification V1.1b3 -------------------------


def test_fc01_read_coils_example() -> None:
    request = pdu.read_coils(19, 19)  # coils 20-38
    assert request.pdu == H("01 00 13 00 13")
    assert not request.writes
    values = request.decode(H("01 03 CD 6B 05"))
    assert values == _bits(H("CD 6B 05"), 19)
    assert values[:8] == [True, False, True, True, False, False, True, True]
    assert values[16:] == [True, False, True]


def test_fc02_read_discrete_inputs_example() -> None:
    request = pdu.read_discrete_inputs(196, 22)  # inputs 197-218
    assert request.pdu == H("02 00 C4 00 16")
    assert request.decode(H("02 03 AC DB 35")) == _bits(H("AC DB 35"), 22)


def test_fc03_read_holding_registers_example() -> None:
    request = pdu.read_holding_registers(107, 3)  # registers 108-110
    assert request.pdu == H("03 00 6B 00 03")
    assert request.decode(H("03 06 02 2B 00 00 00 64")) == [555, 0, 100]


def test_fc04_read_input_registers_example() -> None:
    request = pdu.read_input_registers(8, 1)
    assert request.pdu == H("04 00 08 00 01")
    assert request.decode(H("04 02 00 0A")) == [10]


def test_fc05_write_single_coil_example() -> None:
    request = pdu.write_coil(172, True)
    assert request.pdu == H("05 00 AC FF 00")
    assert request.writes
    assert request.decode(H("05 00 AC FF 00")) is None
    assert pdu.write_coil(172, False).pdu == H("05 00 AC 00 00")


def test_fc06_write_single_register_example() -> None:
    request = pdu.write_register(1, 3)
    assert request.pdu == H("06 00 01 00 03")
    assert request.decode(H("06 00 01 00 03")) is None


def test_fc07_read_exception_status_example() -> None:
    request = pdu.read_exception_status()
    assert request.pdu == H("07")
    assert request.decode(H("07 6D")) == 0x6D


def test_fc08_diagnostics_return_query_data_example() -> None:
    request = pdu.diagnostics(0, H("A5 37"))
    assert request.pdu == H("08 00 00 A5 37")
    assert not request.writes
    assert request.decode(H("08 00 00 A5 37")) == H("A5 37")
    with pytest.raises(MalformedPacketError, match="echo"):
        request.decode(H("08 00 00 A5 38"))


def test_fc08_diagnostics_counter() -> None:
    request = pdu.diagnostics(0x0B)  # Return Bus Message Count
    assert request.pdu == H("08 00 0B 00 00")
    assert not request.writes
    assert request.decode(H("08 00 0B 01 2C")) == H("01 2C")
    with pytest.raises(MalformedPacketError, match="sub-function"):
        request.decode(H("08 00 0C 01 2C"))
    assert pdu.diagnostics(0x01).writes  # Restart Communications Option


def test_fc0f_write_multiple_coils_example() -> None:
    values = _bits(H("CD 01"), 10)  # coils 20-29
    request = pdu.write_coils(19, values)
    assert request.pdu == H("0F 00 13 00 0A 02 CD 01")
    assert request.writes
    assert request.decode(H("0F 00 13 00 0A")) is None


def test_fc10_write_multiple_registers_example() -> None:
    request = pdu.write_registers(1, [0x000A, 0x0102])
    assert request.pdu == H("10 00 01 00 02 04 00 0A 01 02")
    assert request.decode(H("10 00 01 00 02")) is None


def test_fc11_report_server_id() -> None:
    request = pdu.report_server_id()
    assert request.pdu == H("11")
    assert request.decode(H("11 03 2A FF 01")) == H("2A FF 01")


def test_fc16_mask_write_register_example() -> None:
    request = pdu.mask_write_register(4, 0x00F2, 0x0025)
    assert request.pdu == H("16 00 04 00 F2 00 25")
    assert request.writes
    assert request.decode(H("16 00 04 00 F2 00 25")) is None


def test_fc17_read_write_multiple_registers_example() -> None:
    request = pdu.read_write_registers(3, 6, 14, [0x00FF, 0x00FF, 0x00FF])
    assert request.pdu == H("17 00 03 00 06 00 0E 00 03 06 00 FF 00 FF 00 FF")
    assert request.writes
    answer = H("17 0C 00 FE 0A CD 00 01 00 03 00 0D 00 FF")
    assert request.decode(answer) == [0x00FE, 0x0ACD, 0x0001, 0x0003, 0x000D, 0x00FF]


def _objects(*items: tuple[int, bytes]) -> bytes:
    return b"".join(bytes((oid, len(value))) + value for oid, value in items)


def test_fc2b_read_device_identification_example() -> None:
    request = pdu.read_device_identification(1, 0)
    assert request.pdu == H("2B 0E 01 00")
    objects = [(0, b"Company identification"), (1, b"Product code XX"), (2, b"V2.11")]
    answer = H("2B 0E 01 01 00 00 03") + _objects(*objects)
    assert request.decode(answer) == DeviceIdentification(0x01, False, 0, dict(objects))


def test_fc2b_more_follows() -> None:
    request = pdu.read_device_identification(2, 0)
    answer = H("2B 0E 02 83 FF 02 02") + _objects((0, b"ACME"), (1, b"X1"))
    assert request.decode(answer) == DeviceIdentification(0x83, True, 2, {0: b"ACME", 1: b"X1"})
    assert pdu.read_device_identification(4, 0x81).pdu == H("2B 0E 04 81")


@pytest.mark.parametrize(
    "answer",
    ["2B 0E 01 01 00 00 01 00 05 41", "2B 0E 01 01 00 00 01 00 01 41 42", "2B 0D 01 01 00 00 00"],
)
def test_fc2b_malformed(answer: str) -> None:
    with pytest.raises(MalformedPacketError):
        pdu.read_device_identification().decode(H(answer))


def test_raw_vendor_function() -> None:
    request = pdu.raw(H("41 01 02"))
    assert request.writes
    assert request.decode(H("41 99")) == H("41 99")
    assert not pdu.raw(H("41"), writes=False).writes
    with pytest.raises(ProtocolArgumentError, match="pdu"):
        pdu.raw(b"")
    with pytest.raises(ProtocolArgumentError, match="pdu"):
        pdu.raw(bytes(254))


# --- exception responses ------------------------------------------------------------------


NAMES = {
    1: "ILLEGAL FUNCTION",
    2: "ILLEGAL DATA ADDRESS",
    3: "ILLEGAL DATA VALUE",
    4: "SERVER DEVICE FAILURE",
    5: "ACKNOWLEDGE",
    6: "SERVER DEVICE BUSY",
    8: "MEMORY PARITY ERROR",
    10: "GATEWAY PATH UNAVAILABLE",
    11: "GATEWAY TARGET FAILED TO RESPOND",
}


def test_exception_response_spec_example() -> None:
    request = pdu.read_coils(1185, 1)  # 01 04A1 0001 -> 81 02
    assert request.pdu == H("01 04 A1 00 01")
    with pytest.raises(ModbusExceptionError, match="ILLEGAL DATA ADDRESS") as caught:
        request.decode(H("81 02"))
    assert caught.value.function_code == 0x01
    assert caught.value.exception_code == 0x02
    assert caught.value.name == "ILLEGAL DATA ADDRESS"
    assert isinstance(caught.value, ProtocolError)


BUILDERS: list[Callable[[], pdu.Request[Any]]] = [
    lambda: pdu.read_coils(0, 1),
    lambda: pdu.read_discrete_inputs(0, 1),
    lambda: pdu.read_holding_registers(0, 1),
    lambda: pdu.read_input_registers(0, 1),
    lambda: pdu.write_coil(0, True),
    lambda: pdu.write_register(0, 1),
    pdu.read_exception_status,
    lambda: pdu.diagnostics(0, b"\x12\x34"),
    lambda: pdu.write_coils(0, [True]),
    lambda: pdu.write_registers(0, [1]),
    pdu.report_server_id,
    lambda: pdu.mask_write_register(0, 1, 2),
    lambda: pdu.read_write_registers(0, 1, 0, [1]),
    pdu.read_device_identification,
    lambda: pdu.raw(b"\x41"),
]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("code", sorted(NAMES))
def test_every_function_decodes_exceptions(
    build: Callable[[], pdu.Request[Any]], code: int
) -> None:
    request = build()
    function = request.function_code
    with pytest.raises(ModbusExceptionError, match=NAMES[code]) as caught:
        request.decode(bytes((function | 0x80, code)))
    assert (caught.value.function_code, caught.value.exception_code) == (function, code)


def test_check_exception() -> None:
    check_exception(H("03 02 00 01"))
    with pytest.raises(ModbusExceptionError) as caught:
        check_exception(H("90 04"), unit=7)
    assert caught.value.unit == 7
    assert "unit 7" in str(caught.value)
    assert "SERVER DEVICE FAILURE" in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.function_code, again.exception_code, again.unit) == (0x10, 4, 7)
    with pytest.raises(ModbusExceptionError, match="UNKNOWN EXCEPTION 0x42"):
        check_exception(H("83 42"))
    with pytest.raises(MalformedPacketError):
        check_exception(b"")
    with pytest.raises(MalformedPacketError, match="exception"):
        check_exception(H("83 02 00"))


# --- malformed responses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "answer", "why"),
    [
        (lambda: pdu.read_coils(0, 9), "01 02 FF", "bytes"),
        (lambda: pdu.read_coils(0, 9), "01 03 FF 01 00", "bytes"),
        (lambda: pdu.read_coils(0, 9), "02 02 FF 01", "function code 0x02"),
        (lambda: pdu.read_holding_registers(0, 2), "03 04 00 01", "bytes"),
        (lambda: pdu.read_holding_registers(0, 2), "03 02 00 01 00 02", "byte count"),
        (lambda: pdu.read_input_registers(0, 1), "03 02 00 01", "function code 0x03"),
        (lambda: pdu.write_coil(5, True), "05 00 05 00 00", "echo"),
        (lambda: pdu.write_register(5, 1), "06 00 05 00 01 00", "bytes"),
        (lambda: pdu.write_coils(5, [True, False]), "0F 00 05 00 03", "echo"),
        (lambda: pdu.write_registers(5, [1, 2]), "10 00 06 00 02", "echo"),
        (lambda: pdu.mask_write_register(5, 1, 2), "16 00 05 00 01 00 03", "echo"),
        (lambda: pdu.read_write_registers(0, 1, 0, [1]), "17 02 00", "bytes"),
        (pdu.read_exception_status, "07", "bytes"),
        (pdu.report_server_id, "11 05 01", "byte count"),
        (lambda: pdu.diagnostics(0x0B), "08", "sub-function"),
    ],
)
def test_malformed_responses(build: Callable[[], pdu.Request[Any]], answer: str, why: str) -> None:
    with pytest.raises(MalformedPacketError, match=why):
        build().decode(H(answer))


# --- round trips: random arguments -> request -> a response built here -> values -------------


def _span(limit: int) -> st.SearchStrategy[tuple[int, int]]:
    return st.integers(1, limit).flatmap(
        lambda count: st.tuples(st.integers(0, 0x10000 - count), st.just(count))
    )


REGISTER = st.integers(0, 0xFFFF)


@pytest.mark.parametrize("function", [1, 2])
@given(span=_span(2000), data=st.data())
@SETTINGS
def test_read_bits_round_trip(function: int, span: tuple[int, int], data: st.DataObject) -> None:
    address, count = span
    build = pdu.read_coils if function == 1 else pdu.read_discrete_inputs
    request = build(address, count)
    assert request.pdu == struct.pack(">BHH", function, address, count)
    values = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
    packed = _pack_bits(values)
    assert request.decode(bytes((function, len(packed))) + packed) == values


@pytest.mark.parametrize("function", [3, 4])
@given(span=_span(125), data=st.data())
@SETTINGS
def test_read_registers_round_trip(
    function: int, span: tuple[int, int], data: st.DataObject
) -> None:
    address, count = span
    build = pdu.read_holding_registers if function == 3 else pdu.read_input_registers
    request = build(address, count)
    assert request.pdu == struct.pack(">BHH", function, address, count)
    values = data.draw(st.lists(REGISTER, min_size=count, max_size=count))
    answer = bytes((function, 2 * count)) + struct.pack(f">{count}H", *values)
    assert request.decode(answer) == values


@given(address=st.integers(0, 0xFFFF), value=st.booleans())
@SETTINGS
def test_write_coil_round_trip(address: int, value: bool) -> None:
    request = pdu.write_coil(address, value)
    assert request.pdu == struct.pack(">BHH", 5, address, 0xFF00 if value else 0)
    assert request.decode(request.pdu) is None


@given(address=st.integers(0, 0xFFFF), value=REGISTER)
@SETTINGS
def test_write_register_round_trip(address: int, value: int) -> None:
    request = pdu.write_register(address, value)
    assert request.pdu == struct.pack(">BHH", 6, address, value)
    assert request.decode(request.pdu) is None


@given(span=_span(1968), data=st.data())
@SETTINGS
def test_write_coils_round_trip(span: tuple[int, int], data: st.DataObject) -> None:
    address, count = span
    values = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
    request = pdu.write_coils(address, values)
    size = (count + 7) // 8
    assert request.pdu[:6] == struct.pack(">BHHB", 0x0F, address, count, size)
    assert _bits(request.pdu[6:], count) == values
    assert len(request.pdu) == 6 + size
    assert request.decode(struct.pack(">BHH", 0x0F, address, count)) is None


@given(span=_span(123), data=st.data())
@SETTINGS
def test_write_registers_round_trip(span: tuple[int, int], data: st.DataObject) -> None:
    address, count = span
    values = data.draw(st.lists(REGISTER, min_size=count, max_size=count))
    request = pdu.write_registers(address, values)
    assert request.pdu == struct.pack(f">BHHB{count}H", 0x10, address, count, 2 * count, *values)
    assert request.decode(struct.pack(">BHH", 0x10, address, count)) is None


@given(address=st.integers(0, 0xFFFF), and_mask=REGISTER, or_mask=REGISTER)
@SETTINGS
def test_mask_write_register_round_trip(address: int, and_mask: int, or_mask: int) -> None:
    request = pdu.mask_write_register(address, and_mask, or_mask)
    assert request.pdu == struct.pack(">BHHH", 0x16, address, and_mask, or_mask)
    assert request.decode(request.pdu) is None


@given(read=_span(125), write=_span(121), data=st.data())
@SETTINGS
def test_read_write_registers_round_trip(
    read: tuple[int, int], write: tuple[int, int], data: st.DataObject
) -> None:
    written = data.draw(st.lists(REGISTER, min_size=write[1], max_size=write[1]))
    request = pdu.read_write_registers(read[0], read[1], write[0], written)
    assert request.pdu == struct.pack(
        f">BHHHHB{write[1]}H", 0x17, *read, write[0], write[1], 2 * write[1], *written
    )
    values = data.draw(st.lists(REGISTER, min_size=read[1], max_size=read[1]))
    answer = bytes((0x17, 2 * read[1])) + struct.pack(f">{read[1]}H", *values)
    assert request.decode(answer) == values


@given(status=st.integers(0, 255))
@SETTINGS
def test_read_exception_status_round_trip(status: int) -> None:
    assert pdu.read_exception_status().decode(bytes((7, status))) == status


@given(sub_function=st.integers(0, 0xFFFF), payload=st.binary(max_size=250))
@SETTINGS
def test_diagnostics_round_trip(sub_function: int, payload: bytes) -> None:
    request = pdu.diagnostics(sub_function, payload)
    assert request.pdu == b"\x08" + struct.pack(">H", sub_function) + payload
    assert request.decode(request.pdu) == payload


@given(payload=st.binary(max_size=251))
@SETTINGS
def test_report_server_id_round_trip(payload: bytes) -> None:
    assert pdu.report_server_id().decode(bytes((0x11, len(payload))) + payload) == payload


@given(
    read_code=st.integers(1, 4),
    object_id=st.integers(0, 255),
    conformity=st.integers(0, 255),
    more=st.booleans(),
    next_object=st.integers(0, 255),
    objects=st.dictionaries(st.integers(0, 255), st.binary(max_size=40), max_size=5),
)
@SETTINGS
def test_read_device_identification_round_trip(
    read_code: int,
    object_id: int,
    conformity: int,
    more: bool,
    next_object: int,
    objects: dict[int, bytes],
) -> None:
    request = pdu.read_device_identification(read_code, object_id)
    assert request.pdu == bytes((0x2B, 0x0E, read_code, object_id))
    answer = bytes((0x2B, 0x0E, read_code, conformity, 0xFF if more else 0, next_object))
    answer += bytes((len(objects),)) + _objects(*objects.items())
    expected = DeviceIdentification(conformity, more, next_object, objects)
    assert request.decode(answer) == expected


@given(payload=st.binary(min_size=1, max_size=253))
@SETTINGS
def test_raw_round_trip(payload: bytes) -> None:
    request = pdu.raw(payload)
    assert request.pdu == payload
    answer = payload[:1] + b"\x01"
    if payload[0] & 0x80:
        return
    assert request.decode(answer) == answer


# --- argument checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: pdu.read_coils(0, 2001), "count"),
        (lambda: pdu.read_coils(0, 0), "count"),
        (lambda: pdu.read_discrete_inputs(0, 2001), "count"),
        (lambda: pdu.read_holding_registers(0, 126), "count"),
        (lambda: pdu.read_input_registers(0, 126), "count"),
        (lambda: pdu.read_holding_registers(-1, 1), "address"),
        (lambda: pdu.read_holding_registers(65536, 1), "address"),
        (lambda: pdu.read_holding_registers(65535, 2), "address"),
        (lambda: pdu.read_coils(64000, 2000), "address"),
        (lambda: pdu.read_holding_registers(1.0, 1), "address"),  # type: ignore[arg-type]
        (lambda: pdu.read_holding_registers(True, 1), "address"),
        (lambda: pdu.write_coil(65536, True), "address"),
        (lambda: pdu.write_coil(1, 2), "value"),  # type: ignore[arg-type]
        (lambda: pdu.write_register(1, 65536), "value"),
        (lambda: pdu.write_register(1, -1), "value"),
        (lambda: pdu.write_register(-1, 1), "address"),
        (lambda: pdu.write_coils(0, [True] * 1969), "values"),
        (lambda: pdu.write_coils(0, []), "values"),
        (lambda: pdu.write_coils(0, [True, 2]), r"values\[1\]"),  # type: ignore[list-item]
        (lambda: pdu.write_coils(65535, [True, True]), "address"),
        (lambda: pdu.write_registers(0, [1] * 124), "values"),
        (lambda: pdu.write_registers(0, []), "values"),
        (lambda: pdu.write_registers(0, [1, 65536]), r"values\[1\]"),
        (lambda: pdu.write_registers(0, [1, -1]), r"values\[1\]"),
        (lambda: pdu.write_registers(65535, [1, 2]), "address"),
        (lambda: pdu.mask_write_register(0, 0x10000, 0), "and_mask"),
        (lambda: pdu.mask_write_register(0, 0, -1), "or_mask"),
        (lambda: pdu.mask_write_register(70000, 0, 0), "address"),
        (lambda: pdu.read_write_registers(0, 126, 0, [1]), "read_count"),
        (lambda: pdu.read_write_registers(65536, 1, 0, [1]), "read_address"),
        (lambda: pdu.read_write_registers(65535, 2, 0, [1]), "read_address"),
        (lambda: pdu.read_write_registers(0, 1, 65536, [1]), "write_address"),
        (lambda: pdu.read_write_registers(0, 1, 65535, [1, 2]), "write_address"),
        (lambda: pdu.read_write_registers(0, 1, 0, [1] * 122), "values"),
        (lambda: pdu.read_write_registers(0, 1, 0, [65536]), r"values\[0\]"),
        (lambda: pdu.diagnostics(0x10000), "sub_function"),
        (lambda: pdu.diagnostics(0, bytes(251)), "data"),
        (lambda: pdu.read_device_identification(5), "read_code"),
        (lambda: pdu.read_device_identification(1, 256), "object_id"),
    ],
)
def test_argument_checks(call: Callable[[], object], name: str) -> None:
    with pytest.raises(ProtocolArgumentError, match=rf"(^|\W){name}(?!\w)") as caught:
        call()
    assert isinstance(caught.value, ProtocolValidationError)


def test_limits_are_inclusive() -> None:
    assert len(pdu.read_coils(63536, 2000).pdu) == 5
    assert pdu.read_holding_registers(65535, 1).pdu == H("03 FF FF 00 01")
    assert pdu.read_input_registers(65411, 125).pdu == H("04 FF 83 00 7D")
    assert len(pdu.write_coils(0, [True] * 1968).pdu) == 6 + 246
    assert len(pdu.write_registers(65413, [0xFFFF] * 123).pdu) == 6 + 246
    assert len(pdu.read_write_registers(0, 125, 65415, [0] * 121).pdu) == 10 + 242
    assert len(pdu.diagnostics(0, bytes(250)).pdu) == 253
