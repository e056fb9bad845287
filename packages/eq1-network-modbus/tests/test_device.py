"""ModbusDevice: every function code and every exception path, at the byte level."""

from __future__ import annotations

import struct
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolTypeError
from eq1_network.protocols.modbus.device import Faults, ModbusDevice, RequestRefusedError
from eq1_network.protocols.modbus.values import pack_bits, unpack_bits


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def exc(fc: int, code: int) -> bytes:
    return bytes((fc | 0x80, code))


@pytest.fixture
def device() -> ModbusDevice:
    return ModbusDevice(
        coils=[1, 0, 1, 1, 0, 0, 0, 0, 1, 1],
        discrete_inputs=[0, 1, 1] + [0] * 7,
        holding_registers=[0x1234, 0xABCD, 3, 4, 5, 6, 7, 8, 9, 10],
        input_registers=list(range(100, 110)),
    )


# -- reads ---------------------------------------------------------------------------


def test_read_coils_packs_lsb_first(device: ModbusDevice) -> None:
    assert device.handle(h("01 0000 000A")) == h("01 02 0D 03")


def test_read_discrete_inputs(device: ModbusDevice) -> None:
    assert device.handle(h("02 0001 0002")) == h("02 01 03")


def test_read_holding_registers(device: ModbusDevice) -> None:
    assert device.handle(h("03 0000 0002")) == h("03 04 1234 ABCD")


def test_read_input_registers(device: ModbusDevice) -> None:
    assert device.handle(h("04 0009 0001")) == h("04 02 006D")


@pytest.mark.parametrize("fc", [1, 2, 3, 4])
def test_read_past_the_table_is_illegal_address(device: ModbusDevice, fc: int) -> None:
    assert device.handle(bytes((fc,)) + h("0009 0002")) == exc(fc, 2)
    assert device.handle(bytes((fc,)) + h("FFFF 0001")) == exc(fc, 2)
    assert device.handle(bytes((fc,)) + h("0009 0001")) is not None


@pytest.mark.parametrize(("fc", "limit"), [(1, 2000), (2, 2000), (3, 125), (4, 125)])
def test_read_count_limits_are_illegal_value(fc: int, limit: int) -> None:
    big = ModbusDevice(
        coils=65536, discrete_inputs=65536, holding_registers=65536, input_registers=65536
    )
    assert big.handle(struct.pack(">BHH", fc, 0, 0)) == exc(fc, 3)
    assert big.handle(struct.pack(">BHH", fc, 0, limit + 1)) == exc(fc, 3)
    answer = big.handle(struct.pack(">BHH", fc, 0, limit))
    assert answer is not None and answer[0] == fc


def test_count_is_checked_before_the_address(device: ModbusDevice) -> None:
    assert device.handle(h("03 FFFF 0000")) == exc(3, 3)


@pytest.mark.parametrize("pdu", ["03 0000", "03 0000 0001 00", "01", "07 00", "11 00"])
def test_wrong_request_length_is_illegal_value(device: ModbusDevice, pdu: str) -> None:
    answer = device.handle(h(pdu))
    assert answer == exc(h(pdu)[0], 3)


# -- writes --------------------------------------------------------------------------


def test_write_single_coil_echoes(device: ModbusDevice) -> None:
    assert device.handle(h("05 0001 FF00")) == h("05 0001 FF00")
    assert device.coils[1] is True
    assert device.handle(h("05 0001 0000")) == h("05 0001 0000")
    assert device.coils[1] is False


@pytest.mark.parametrize("value", ["0001", "FFFF", "00FF", "FF01"])
def test_write_coil_value_other_than_ff00_or_0000_is_illegal_value(
    device: ModbusDevice, value: str
) -> None:
    assert device.handle(h("05 0001" + value)) == exc(5, 3)
    assert device.coils[1] is False


def test_write_single_register(device: ModbusDevice) -> None:
    assert device.handle(h("06 0002 FFFF")) == h("06 0002 FFFF")
    assert device.holding_registers[2] == 0xFFFF
    assert device.handle(h("06 000A 0001")) == exc(6, 2)
    assert device.handle(h("05 000A FF00")) == exc(5, 2)


def test_write_multiple_coils(device: ModbusDevice) -> None:
    assert device.handle(h("0F 0000 000A 02 CD 01")) == h("0F 0000 000A")
    assert device.coils[:] == [True, False, True, True, False, False, True, True, True, False]


@pytest.mark.parametrize(
    "pdu",
    [
        "0F 0000 000A 01 CD",  # byte count too small
        "0F 0000 000A 02 CD",  # data shorter than the byte count
        "0F 0000 0000 00",  # no coils
        "0F 0000 07B1 F7" + "00" * 0xF7,  # 1969 coils
    ],
)
def test_write_multiple_coils_bad_counts(device: ModbusDevice, pdu: str) -> None:
    assert device.handle(h(pdu)) == exc(0x0F, 3)


def test_write_multiple_coils_past_the_table(device: ModbusDevice) -> None:
    assert device.handle(h("0F 0009 0002 01 03")) == exc(0x0F, 2)
    assert device.coils[9] is True


def test_write_multiple_registers(device: ModbusDevice) -> None:
    assert device.handle(h("10 0001 0002 04 0102 0304")) == h("10 0001 0002")
    assert device.holding_registers[0:4] == [0x1234, 0x0102, 0x0304, 4]


@pytest.mark.parametrize(
    "pdu",
    [
        "10 0001 0002 03 0102 03",
        "10 0001 0002 04 0102",
        "10 0001 0000 00",
        "10 0000 007C F8" + "00" * 0xF8,  # 124 registers
        "10 00",
    ],
)
def test_write_multiple_registers_bad_counts(device: ModbusDevice, pdu: str) -> None:
    assert device.handle(h(pdu)) == exc(0x10, 3)


def test_write_multiple_registers_past_the_table(device: ModbusDevice) -> None:
    assert device.handle(h("10 0009 0002 04 0001 0002")) == exc(0x10, 2)
    assert device.holding_registers[9] == 10


def test_mask_write_register_follows_the_spec_example(device: ModbusDevice) -> None:
    device.holding_registers[4] = 0x12
    assert device.handle(h("16 0004 00F2 0025")) == h("16 0004 00F2 0025")
    assert device.holding_registers[4] == 0x17
    assert device.handle(h("16 000A 00F2 0025")) == exc(0x16, 2)
    assert device.handle(h("16 0004 00F2")) == exc(0x16, 3)


def test_read_write_registers_writes_first(device: ModbusDevice) -> None:
    answer = device.handle(h("17 0000 0003 0001 0002 04 AAAA BBBB"))
    assert answer == h("17 06 1234 AAAA BBBB")


@pytest.mark.parametrize(
    ("pdu", "code"),
    [
        ("17 0000 0000 0001 0001 02 0000", 3),  # read count 0
        ("17 0000 007E 0001 0001 02 0000", 3),  # read count 126
        ("17 0000 0001 0001 0000 00", 3),  # write count 0
        ("17 0000 0001 0001 007A F4" + "00" * 0xF4, 3),  # write count 122
        ("17 0000 0001 0001 0001 03 0000", 3),  # byte count
        ("17 0009 0002 0001 0001 02 0000", 2),  # read range
        ("17 0000 0001 0009 0002 04 00000000", 2),  # write range
        ("17 0000", 3),
    ],
)
def test_read_write_registers_errors(device: ModbusDevice, pdu: str, code: int) -> None:
    before = device.holding_registers[:]
    assert device.handle(h(pdu)) == exc(0x17, code)
    assert device.holding_registers[:] == before


# -- other functions -----------------------------------------------------------------


def test_read_exception_status() -> None:
    device = ModbusDevice(exception_status=0x6D)
    assert device.handle(h("07")) == h("07 6D")
    device.exception_status = 1
    assert device.handle(h("07")) == h("07 01")


def test_report_server_id() -> None:
    device = ModbusDevice(server_id="PLC-7")
    assert device.handle(h("11")) == b"\x11\x06PLC-7\xff"


@pytest.mark.parametrize("fc", [0x00, 0x09, 0x14, 0x18, 0x41, 0x7F])
def test_unknown_function_is_illegal_function(device: ModbusDevice, fc: int) -> None:
    assert device.handle(bytes((fc, 0, 0))) == exc(fc, 1)


def test_empty_pdu_gets_no_answer(device: ModbusDevice) -> None:
    assert device.handle(b"") is None


# -- diagnostics ---------------------------------------------------------------------


def test_diagnostics_echo_returns_the_request(device: ModbusDevice) -> None:
    assert device.handle(h("08 0000 A537")) == h("08 0000 A537")
    assert device.handle(h("08 0000 0102 0304")) == h("08 0000 0102 0304")


def test_diagnostics_counters_and_clear(device: ModbusDevice) -> None:
    device.handle(h("03 0000 0001"))
    device.handle(h("03 0000 00FF"))  # an exception
    device.count_bus(messages=5, errors=2)
    assert device.handle(h("08 000B 0000")) == h("08 000B 0005")
    assert device.handle(h("08 000C 0000")) == h("08 000C 0002")
    assert device.handle(h("08 000D 0000")) == h("08 000D 0001")
    assert device.handle(h("08 000E 0000")) == h("08 000E 0006")  # itself included
    for sub in range(0x10, 0x13):
        assert device.handle(struct.pack(">BHH", 8, sub, 0)) == struct.pack(">BHH", 8, sub, 0)
    assert device.handle(h("08 000A 0000")) == h("08 000A 0000")
    assert device.handle(h("08 000E 0000")) == h("08 000E 0001")
    assert device.counters.exceptions == 0


def test_diagnostics_no_response_counter_counts_broadcasts(device: ModbusDevice) -> None:
    assert device.handle(h("06 0000 0001"), broadcast=True) is None
    assert device.handle(h("08 000F 0000")) == h("08 000F 0001")


def test_diagnostics_restart_register_and_overrun(device: ModbusDevice) -> None:
    device.handle(h("03 0000 0001"))
    assert device.handle(h("08 0001 FF00")) == h("08 0001 FF00")
    assert device.counters.server_messages == 0
    assert device.handle(h("08 0001 0001")) == exc(8, 3)
    assert device.handle(h("08 0002 0000")) == h("08 0002 0000")
    assert device.handle(h("08 0014 0000")) == h("08 0014 0000")


@pytest.mark.parametrize(
    "pdu", ["08 000B 0001", "08 000A FFFF", "08 000B", "08 00", "08 0002 0001"]
)
def test_diagnostics_bad_data_is_illegal_value(device: ModbusDevice, pdu: str) -> None:
    assert device.handle(h(pdu)) == exc(8, 3)


@pytest.mark.parametrize("sub", [0x03, 0x04, 0x13, 0x15, 0xFFFF])
def test_diagnostics_unknown_sub_function_is_illegal_function(
    device: ModbusDevice, sub: int
) -> None:
    assert device.handle(struct.pack(">BHH", 8, sub, 0)) == exc(8, 1)


# -- device identification ---------------------------------------------------------------


def objects_of(answer: bytes) -> tuple[int, int, dict[int, bytes]]:
    """(more follows, next object id, objects) of a read device identification answer."""
    assert answer[:2] == h("2B 0E")
    more, next_id, count = answer[4], answer[5], answer[6]
    objects: dict[int, bytes] = {}
    pos = 7
    for _ in range(count):
        object_id, length = answer[pos], answer[pos + 1]
        objects[object_id] = answer[pos + 2 : pos + 2 + length]
        pos += 2 + length
    assert pos == len(answer)
    return more, next_id, objects


IDENT = {0: "Vendor", 1: "P-1", 2: "1.0", 3: "http://x", 4: "Prod", 0x80: b"\x01\x02"}


def test_basic_regular_extended_streams() -> None:
    device = ModbusDevice(identification=IDENT)
    basic = device.handle(h("2B 0E 01 00"))
    assert basic is not None and basic[2:4] == h("01 83")
    assert objects_of(basic) == (0, 0, {0: b"Vendor", 1: b"P-1", 2: b"1.0"})
    regular = device.handle(h("2B 0E 02 00"))
    assert regular is not None and objects_of(regular)[2] == {
        0: b"Vendor",
        1: b"P-1",
        2: b"1.0",
        3: b"http://x",
        4: b"Prod",
    }
    extended = device.handle(h("2B 0E 03 03"))
    assert extended is not None
    assert objects_of(extended)[2] == {3: b"http://x", 4: b"Prod", 0x80: b"\x01\x02"}


def test_stream_from_an_unknown_object_restarts_at_zero() -> None:
    device = ModbusDevice(identification=IDENT)
    answer = device.handle(h("2B 0E 01 05"))
    assert answer is not None and set(objects_of(answer)[2]) == {0, 1, 2}


def test_default_identification_and_conformity() -> None:
    answer = ModbusDevice().handle(h("2B 0E 01 00"))
    assert answer is not None and answer[3] == 0x81
    assert set(objects_of(answer)[2]) == {0, 1, 2}


def test_more_follows_until_every_object_was_sent() -> None:
    objects = {i: bytes([i]) * 100 for i in range(0x80, 0x88)}
    device = ModbusDevice(identification=objects)
    seen: dict[int, bytes] = {}
    next_id, rounds = 0, 0
    while True:
        answer = device.handle(bytes((0x2B, 0x0E, 3, next_id)))
        assert answer is not None and len(answer) <= 253
        more, next_id, got = objects_of(answer)
        seen.update(got)
        rounds += 1
        if more == 0:
            break
        assert more == 0xFF and rounds < 10
    assert rounds == 4
    assert {k: v for k, v in seen.items() if k >= 0x80} == objects


def test_individual_access() -> None:
    device = ModbusDevice(identification=IDENT)
    assert device.handle(h("2B 0E 04 80")) == h("2B 0E 04 83 00 00 01 80 02 0102")
    assert device.handle(h("2B 0E 04 05")) == exc(0x2B, 2)


@pytest.mark.parametrize("pdu", ["2B 0E 00 00", "2B 0E 05 00", "2B 0E 01", "2B 0E 01 00 00"])
def test_bad_read_device_id_code_is_illegal_value(pdu: str) -> None:
    assert ModbusDevice().handle(h(pdu)) == exc(0x2B, 3)


@pytest.mark.parametrize("pdu", ["2B 0D 00 00", "2B"])
def test_other_mei_types_are_illegal_function(pdu: str) -> None:
    assert ModbusDevice().handle(h(pdu)) == exc(0x2B, 1)


def test_identification_arguments_are_checked() -> None:
    with pytest.raises(ProtocolArgumentError, match=r"0\.\.255"):
        ModbusDevice(identification={256: "x"})
    with pytest.raises(ProtocolArgumentError, match="at most 244"):
        ModbusDevice(identification={3: "x" * 245})
    with pytest.raises(ProtocolTypeError, match="str or bytes"):
        ModbusDevice(identification={3: 5})  # type: ignore[dict-item]


# -- callbacks ------------------------------------------------------------------------


def test_read_callback_answers_without_storing(device: ModbusDevice) -> None:
    calls: list[int] = []

    def reader(address: int) -> int | None:
        calls.append(address)
        return 999 if address == 1 else None

    device.on_read("holding_registers", reader, range(0, 3))
    assert device.handle(h("03 0000 0004")) == h("03 08 1234 03E7 0003 0004")
    assert calls == [0, 1, 2]
    assert device.holding_registers[1] == 0xABCD
    device.on_read("holding_registers", None, range(0, 3))
    assert device.handle(h("03 0001 0001")) == h("03 02 ABCD")


def test_table_wide_read_callback_for_bits(device: ModbusDevice) -> None:
    device.on_read("discrete_inputs", lambda address: address % 2 == 0)
    assert device.handle(h("02 0000 0004")) == h("02 01 05")


def test_write_callback_sees_each_value_then_values_are_stored(device: ModbusDevice) -> None:
    seen: list[tuple[int, int]] = []
    device.on_write("holding_registers", lambda a, v: seen.append((a, v)))
    device.on_write("coils", lambda a, v: seen.append((a, v)), 3)
    device.handle(h("10 0000 0002 04 0001 0002"))
    device.handle(h("05 0003 0000"))
    device.handle(h("05 0004 FF00"))  # no callback at 4
    assert seen == [(0, 1), (1, 2), (3, False)]
    assert device.coils[4] is True


def test_write_callback_veto_stores_nothing(device: ModbusDevice) -> None:
    def veto(address: int, value: int) -> None:
        if value > 100:
            raise RequestRefusedError(3, "above 100")

    device.on_write("holding_registers", veto, [5, 6])
    assert device.handle(h("10 0004 0003 06 0001 0002 0200")) == exc(0x10, 3)
    assert device.holding_registers[4:7] == [5, 6, 7]
    assert device.handle(h("06 0006 0065")) == exc(6, 3)
    assert device.handle(h("06 0006 0064")) == h("06 0006 0064")
    assert device.handle(h("16 0006 0000 0FFF")) == exc(0x16, 3)


def test_callback_failure_answers_server_device_failure(
    device: ModbusDevice, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(address: int) -> int:
        raise RuntimeError("sensor unplugged")

    device.on_read("input_registers", broken, 0)
    assert device.handle(h("04 0000 0001")) == exc(4, 4)
    assert "sensor unplugged" in caplog.text
    device.on_read("input_registers", lambda a: 70000, 1)
    assert device.handle(h("04 0001 0001")) == exc(4, 4)
    assert device.handle(h("04 0002 0001")) == h("04 02 0066")


def test_callback_arguments_are_checked(device: ModbusDevice) -> None:
    with pytest.raises(ProtocolArgumentError, match="read-only"):
        device.on_write("input_registers", lambda a, v: None)  # type: ignore[arg-type]
    with pytest.raises(ProtocolArgumentError, match="outside"):
        device.on_read("coils", lambda a: None, 10)
    with pytest.raises(ProtocolArgumentError, match="one of"):
        device.on_read("registers", lambda a: None)  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError, match="callable"):
        device.on_read("coils", 5)  # type: ignore[arg-type]
    with pytest.raises(ProtocolArgumentError, match=r"1\.\.255"):
        RequestRefusedError(0)


def test_custom_function_handler(device: ModbusDevice) -> None:
    device.set_function(0x41, lambda pdu: pdu + b"!")
    assert device.handle(h("41 01")) == h("41 01") + b"!"
    device.set_function(0x42, lambda pdu: None)
    assert device.handle(h("42")) is None
    device.set_function(0x41, None)
    assert device.handle(h("41 01")) == exc(0x41, 1)
    with pytest.raises(ProtocolArgumentError):
        device.set_function(0x80, lambda pdu: pdu)


@pytest.mark.parametrize("answer", ["text", b"", b"x" * 254, 5])
def test_custom_handler_returning_no_pdu_answers_device_failure(
    device: ModbusDevice, answer: object, caplog: pytest.LogCaptureFixture
) -> None:
    device.set_function(0x41, lambda pdu: answer)  # type: ignore[arg-type,return-value]
    assert device.handle(h("41")) == exc(0x41, 4)
    assert "expected a PDU" in caplog.text


# -- broadcast and faults ---------------------------------------------------------------


def test_broadcast_executes_writes_only_and_never_answers(device: ModbusDevice) -> None:
    assert device.handle(h("06 0000 0007"), broadcast=True) is None
    assert device.holding_registers[0] == 7
    assert device.handle(h("0F 0000 0002 01 00"), broadcast=True) is None
    assert device.coils[0:2] == [False, False]
    assert device.handle(h("17 0000 0001 0001 0001 02 0009"), broadcast=True) is None
    assert device.holding_registers[1] == 0xABCD
    assert device.handle(h("03 0000 0001"), broadcast=True) is None


def test_faults_exception_and_silence(device: ModbusDevice) -> None:
    device.faults = Faults(exception=6)
    assert device.handle(h("03 0000 0001")) == exc(3, 6)
    device.faults = Faults(silent=True)
    assert device.handle(h("06 0000 0001")) is None
    assert device.holding_registers[0] == 0x1234
    device.faults = Faults()
    assert device.handle(h("03 0000 0001")) == h("03 02 1234")


@pytest.mark.parametrize(
    "kwargs",
    [{"delay": -1}, {"exception": 0}, {"exception": 256}, {"chunk_size": -1}, {"garbage": "x"}],
)
def test_faults_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises((ProtocolArgumentError, ProtocolTypeError)):
        Faults(**kwargs)  # type: ignore[arg-type]


# -- tables ---------------------------------------------------------------------------


def test_tables_from_sizes_and_values() -> None:
    device = ModbusDevice(coils=3, holding_registers=[1, 2])
    assert device.coils[:] == [False, False, False]
    assert len(device.discrete_inputs) == 0
    device.holding_registers[0:2] = [9, 8]
    assert list(device.holding_registers) == [9, 8]
    device.coils[2] = True
    assert device.handle(h("01 0000 0003")) == h("01 01 04")
    assert device.table("coils") is device.coils
    assert "holding_registers=2" in repr(device)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"holding_registers": [70000]}, ProtocolArgumentError),
        ({"holding_registers": [-1]}, ProtocolArgumentError),
        ({"coils": [2]}, ProtocolArgumentError),
        ({"coils": 65537}, ProtocolArgumentError),
        ({"coils": -1}, ProtocolArgumentError),
        ({"coils": "ab"}, ProtocolTypeError),
        ({"coils": 1.5}, ProtocolTypeError),
        ({"exception_status": 256}, ProtocolArgumentError),
        ({"server_id": b"x" * 251}, ProtocolArgumentError),
    ],
)
def test_constructor_arguments_are_checked(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ModbusDevice(**kwargs)  # type: ignore[arg-type]


def test_table_assignment_is_checked() -> None:
    device = ModbusDevice(holding_registers=3, coils=2)
    with pytest.raises(ProtocolArgumentError, match=r"0\.\.65535"):
        device.holding_registers[0] = 65536
    with pytest.raises(ProtocolArgumentError, match="keep the table's size"):
        device.holding_registers[0:2] = [1]
    with pytest.raises(ProtocolArgumentError, match="True/False"):
        device.coils[0] = 5
    with pytest.raises(IndexError):
        device.coils[2] = 1


def test_requests_never_see_half_an_update() -> None:
    device = ModbusDevice(holding_registers=2)
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 200_000:
            n += 1
            with device.lock:
                device.holding_registers[0] = n & 0xFFFF
                device.holding_registers[1] = n & 0xFFFF

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        for _ in range(2000):
            answer = device.handle(h("03 0000 0002"))
            assert answer is not None
            assert answer[2:4] == answer[4:6]
    finally:
        stop.set()
        thread.join(10)


# -- properties -----------------------------------------------------------------------


@given(st.lists(st.booleans(), min_size=1, max_size=2000))
def test_bits_pack_round_trip(bits: list[bool]) -> None:
    assert unpack_bits(pack_bits([int(b) for b in bits]), len(bits)) == [int(b) for b in bits]


@given(
    address=st.integers(0, 99),
    values=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=123),
)
def test_registers_written_are_read_back(address: int, values: list[int]) -> None:
    device = ModbusDevice(holding_registers=100)
    count = len(values)
    request = struct.pack(f">BHHB{count}H", 0x10, address, count, 2 * count, *values)
    answer = device.handle(request)
    if address + count > 100:
        assert answer == exc(0x10, 2)
        return
    assert answer == request[:5]
    read = device.handle(struct.pack(">BHH", 3, address, count))
    assert read == bytes((3, 2 * count)) + struct.pack(f">{count}H", *values)


@given(
    address=st.integers(0, 99),
    bits=st.lists(st.booleans(), min_size=1, max_size=1968),
)
def test_coils_written_are_read_back(address: int, bits: list[bool]) -> None:
    device = ModbusDevice(coils=2100)
    packed = pack_bits([int(b) for b in bits])
    request = struct.pack(">BHHB", 0x0F, address, len(bits), len(packed)) + packed
    assert device.handle(request) == request[:5]
    assert device.coils[address : address + len(bits)] == bits
    read = device.handle(struct.pack(">BHH", 1, address, min(len(bits), 2000)))
    assert read == bytes((1, len(packed))) + packed


@given(st.binary(min_size=1, max_size=253))
def test_any_pdu_gets_a_well_formed_answer(pdu: bytes) -> None:
    device = ModbusDevice(coils=10, discrete_inputs=10, holding_registers=10, input_registers=10)
    answer = device.handle(pdu)
    assert answer is not None and 2 <= len(answer) <= 253
    assert answer[0] in (pdu[0], (pdu[0] | 0x80) & 0xFF)
    if answer[0] & 0x80:
        assert len(answer) == 2 and answer[1] in (1, 2, 3)
