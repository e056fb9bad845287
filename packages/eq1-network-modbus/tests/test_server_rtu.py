"""ModbusRTUServer on a socat pty pair against the pymodbus serial client, mbpoll and raw bytes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from modbus_peers import mbpoll_argv, parse_mbpoll, run_mbpoll
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from eq1_network.common.exceptions import ProtocolArgumentError
from eq1_network.protocols.modbus.device import Faults, ModbusDevice
from eq1_network.protocols.modbus.framers import crc16
from eq1_network.protocols.modbus.server import ModbusRTUServer
from eq1_network.testing import DEFAULT_TIMEOUT, pty_pair, wait_until


def make_device(unit: int) -> ModbusDevice:
    """A device whose holding register ``i`` holds ``1000 * unit + i``."""
    return ModbusDevice(
        coils=[i % 3 == 0 for i in range(40)],
        discrete_inputs=[i % 2 == 1 for i in range(40)],
        holding_registers=[1000 * unit + i for i in range(40)],
        input_registers=[2000 * unit + i for i in range(40)],
        identification={4: f"unit {unit}"},
    )


def rtu(unit: int, pdu_hex: str) -> bytes:
    body = bytes((unit,)) + bytes.fromhex(pdu_hex)
    return body + crc16(body).to_bytes(2, "little")


@pytest.fixture
def units() -> dict[int, ModbusDevice]:
    return {1: make_device(1), 2: make_device(2)}


@pytest.fixture(params=["rtu", "ascii"])
def framer(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(
    units: dict[int, ModbusDevice], pty_pair_ends: tuple[Path, Path]
) -> Iterator[ModbusRTUServer]:
    with ModbusRTUServer(str(pty_pair_ends[0]), 19200, units=units) as running:
        yield running


@pytest.fixture
def line(server: ModbusRTUServer, pty_pair_ends: tuple[Path, Path]) -> Iterator[serial.Serial]:
    """The client's end of the pty pair, raw."""
    port = serial.Serial(str(pty_pair_ends[1]), 19200, timeout=DEFAULT_TIMEOUT)
    yield port
    port.close()


def pymodbus_client(
    device: Path, framer: str, timeout: float = DEFAULT_TIMEOUT
) -> ModbusSerialClient:
    client = ModbusSerialClient(
        str(device),
        framer=FramerType.RTU if framer == "rtu" else FramerType.ASCII,
        baudrate=19200,
        parity="N",
        timeout=timeout,
        retries=0,
    )
    assert client.connect()
    return client


def test_pymodbus_serial_client_every_function(
    framer: str, units: dict[int, ModbusDevice], pty_pair_ends: tuple[Path, Path]
) -> None:
    server_end, client_end = pty_pair_ends
    with ModbusRTUServer(str(server_end), 19200, units=units, framer=framer):  # type: ignore[arg-type]
        client = pymodbus_client(client_end, framer)
        try:
            assert client.read_holding_registers(2, count=3, device_id=2).registers == [
                2002,
                2003,
                2004,
            ]
            assert client.read_input_registers(0, count=1, device_id=1).registers == [2000]
            assert client.read_coils(0, count=4, device_id=1).bits[:4] == [
                True,
                False,
                False,
                True,
            ]
            assert client.read_discrete_inputs(0, count=2, device_id=2).bits[:2] == [False, True]
            assert not client.write_register(1, 77, device_id=1).isError()
            assert not client.write_registers(3, [5, 6], device_id=1).isError()
            assert not client.write_coil(2, True, device_id=1).isError()
            assert not client.write_coils(4, [True, True], device_id=1).isError()
            assert not client.mask_write_register(
                address=5, and_mask=0, or_mask=0xFF, device_id=1
            ).isError()
            assert units[1].holding_registers[1:6] == [77, 1002, 5, 6, 0xFF]
            assert units[1].coils[2:6] == [True, True, True, True]
            answer = client.readwrite_registers(
                read_address=0, read_count=1, write_address=0, values=[9], device_id=2
            )
            assert answer.registers == [9]
            assert client.read_exception_status(device_id=1).status == 0
            assert client.report_device_id(device_id=2).identifier == b"EQ1"
            assert client.diag_query_data(b"\xab\xcd", device_id=2).message == b"\xab\xcd"
            information = client.read_device_information(read_code=2, device_id=1).information
            assert information[4] == b"unit 1"
            assert client.read_holding_registers(39, count=2, device_id=1).exception_code == 2
        finally:
            client.close()


def test_unknown_unit_is_silent_and_broadcast_writes_every_unit(
    framer: str, units: dict[int, ModbusDevice], pty_pair_ends: tuple[Path, Path]
) -> None:
    server_end, client_end = pty_pair_ends
    with ModbusRTUServer(str(server_end), units=units, framer=framer) as server:  # type: ignore[arg-type]
        client = pymodbus_client(client_end, framer, timeout=0.5)
        try:
            with pytest.raises(ModbusIOException):
                client.read_holding_registers(0, count=1, device_id=3)
            client.write_register(0, 0x1234, device_id=0, no_response_expected=True)
            wait_until(
                lambda: all(d.holding_registers[0] == 0x1234 for d in units.values()),
                what="the broadcast write to reach both units",
            )
            assert client.read_holding_registers(0, count=1, device_id=2).registers == [0x1234]
        finally:
            client.close()
        assert server.stats.unknown_unit == 1 and server.stats.broadcasts == 1


def test_mbpoll_rtu_reads_and_writes(
    server: ModbusRTUServer,
    units: dict[int, ModbusDevice],
    pty_pair_ends: tuple[Path, Path],
    mbpoll_exe: str,
) -> None:
    device = str(pty_pair_ends[1])
    result = run_mbpoll(mbpoll_argv(mbpoll_exe, device, rtu=True, unit=2, address=5, count=2))
    assert result.returncode == 0, result.stderr
    assert parse_mbpoll(result.stdout) == {5: 2005, 6: 2006}
    result = run_mbpoll(mbpoll_argv(mbpoll_exe, device, rtu=True, unit=1, address=9, values=(4,)))
    assert result.returncode == 0, result.stderr
    assert units[1].holding_registers[9] == 4
    result = run_mbpoll(
        mbpoll_argv(mbpoll_exe, device, rtu=True, unit=1, table="discrete", count=3)
    )
    assert parse_mbpoll(result.stdout) == {0: 0, 1: 1, 2: 0}


def test_garbage_and_split_frames_are_survived(
    server: ModbusRTUServer, line: serial.Serial
) -> None:
    request = rtu(1, "03 0000 0001")
    line.write(b"\xff\x00\x13" + request[:3])
    line.flush()
    line.write(request[3:])
    expected = rtu(1, "03 02 03E8")
    assert line.read(len(expected)) == expected
    assert server.stats.dropped_bytes == 3
    line.write(rtu(1, "03 0000 0001")[:-1] + b"\x00")  # bad CRC: no answer
    line.write(rtu(2, "03 0001 0001"))
    expected = rtu(2, "03 02 07D1")
    assert line.read(len(expected)) == expected
    assert server.stats.requests == 2


def test_requests_back_to_back_are_all_answered(
    server: ModbusRTUServer, line: serial.Serial
) -> None:
    line.write(b"".join(rtu(1 + n % 2, f"03 {n:04X} 0001") for n in range(6)))
    for n in range(6):
        unit = 1 + n % 2
        expected = rtu(unit, f"03 02 {1000 * unit + n:04X}")
        assert line.read(len(expected)) == expected


def test_fault_bad_crc_garbage_and_chunks(
    server: ModbusRTUServer, units: dict[int, ModbusDevice], line: serial.Serial
) -> None:
    expected = rtu(1, "03 02 03E8")
    units[1].faults = Faults(bad_crc=True)
    line.write(rtu(1, "03 0000 0001"))
    answer = line.read(len(expected))
    assert answer[:-2] == expected[:-2] and answer[-2:] != expected[-2:]
    units[1].faults = Faults(garbage=b"\x55\xaa", chunk_size=2, chunk_delay=0.01)
    line.write(rtu(1, "03 0000 0001"))
    assert line.read(len(expected) + 2) == b"\x55\xaa" + expected


def test_fault_bad_lrc_on_ascii(
    units: dict[int, ModbusDevice], pty_pair_ends: tuple[Path, Path]
) -> None:
    server_end, client_end = pty_pair_ends
    units[1].faults = Faults(bad_crc=True)
    with ModbusRTUServer(str(server_end), units=units, framer="ascii"):
        with serial.Serial(str(client_end), 19200, timeout=DEFAULT_TIMEOUT) as port:
            port.write(b":010300000001FB\r\n")
            answer = port.read_until(b"\r\n")
    assert answer.startswith(b":01030203E8") and answer != b":01030203E80F\r\n"
    assert answer.endswith(b"\r\n") and len(answer) == len(b":01030203E80F\r\n")


def test_chunked_answers_are_read_by_pymodbus(
    units: dict[int, ModbusDevice], pty_pair_ends: tuple[Path, Path]
) -> None:
    server_end, client_end = pty_pair_ends
    units[2].faults = Faults(chunk_size=3, chunk_delay=0.005)
    with ModbusRTUServer(str(server_end), units=units):
        client = pymodbus_client(client_end, "rtu")
        try:
            assert client.read_holding_registers(0, count=4, device_id=2).registers == [
                2000,
                2001,
                2002,
                2003,
            ]
        finally:
            client.close()


def test_frame_silence_drops_a_partial_frame(
    units: dict[int, ModbusDevice], pty_pair_ends: tuple[Path, Path]
) -> None:
    server_end, client_end = pty_pair_ends
    with ModbusRTUServer(str(server_end), units=units, frame_silence=0.05) as server:
        with serial.Serial(str(client_end), 19200, timeout=DEFAULT_TIMEOUT) as port:
            port.write(rtu(1, "10 0000 0002 04 0001 0002")[:6])
            wait_until(lambda: server.stats.dropped_bytes == 6, what="the partial frame to go")
            port.write(rtu(1, "03 0000 0001"))
            expected = rtu(1, "03 02 03E8")
            assert port.read(len(expected)) == expected


def test_one_device_is_unit_1_and_the_thread_is_named(pty_pair_ends: tuple[Path, Path]) -> None:
    server = ModbusRTUServer(str(pty_pair_ends[0]), units=make_device(7))
    assert list(server.units) == [1]
    with server:
        assert server.port == str(pty_pair_ends[0])
        assert any(t.name.startswith("eq1-modbus-rtu-server-") for t in threading.enumerate())
    assert not server.is_running()
    assert not any(t.name.startswith("eq1-modbus-rtu-server-") for t in threading.enumerate())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"units": {0: ModbusDevice()}},
        {"units": {248: ModbusDevice()}},
        {"units": ModbusDevice(), "framer": "mbap"},
        {"units": ModbusDevice(), "frame_silence": 0},
    ],
)
def test_arguments_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ProtocolArgumentError):
        ModbusRTUServer("/dev/null", **kwargs)  # type: ignore[arg-type]


def test_the_line_is_reopened_after_the_device_came_back(tmp_path: Path) -> None:
    pair = pty_pair(tmp_path, ("server", "client")).start()
    try:
        server_end, client_end = pair.links
        with ModbusRTUServer(str(server_end), units=make_device(1)) as server:
            pair.stop()
            pair.start()
            with serial.Serial(str(client_end), 19200, timeout=0.5) as port:
                expected = rtu(1, "03 02 03E8")

                def answered() -> bool:
                    port.write(rtu(1, "03 0000 0001"))
                    return port.read(len(expected)) == expected

                wait_until(answered, what="the server to reopen the line and answer")
            assert server.is_running()
    finally:
        pair.stop()


def test_the_rtu_server_is_registered() -> None:
    from eq1_network.plugins.registry import get_protocol

    assert get_protocol("modbus-rtu-server") is ModbusRTUServer
