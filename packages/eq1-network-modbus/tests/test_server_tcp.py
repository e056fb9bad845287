"""ModbusTCPServer against independent clients: the pymodbus 3.16 client, mbpoll, raw sockets."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from modbus_peers import mbpoll_argv, parse_mbpoll, run_mbpoll
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolTypeError,
    ProtocolUsageError,
)
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.modbus.device import Faults, ModbusDevice, RequestRefusedError
from eq1_network.protocols.modbus.server import ModbusTCPServer
from eq1_network.testing import DEFAULT_TIMEOUT, recv_exactly, wait_until

HOST = "127.0.0.1"


def make_device(unit: int = 1) -> ModbusDevice:
    """A device whose holding register ``i`` holds ``1000 * unit + i``."""
    return ModbusDevice(
        coils=[i % 3 == 0 for i in range(40)],
        discrete_inputs=[i % 2 == 1 for i in range(40)],
        holding_registers=[1000 * unit + i for i in range(40)],
        input_registers=[2000 * unit + i for i in range(40)],
        identification={4: f"unit {unit}"},
        server_id=f"U{unit}",
    )


@pytest.fixture
def units() -> dict[int, ModbusDevice]:
    return {1: make_device(1), 2: make_device(2)}


@pytest.fixture
def server(units: dict[int, ModbusDevice]) -> Iterator[ModbusTCPServer]:
    with ModbusTCPServer(HOST, 0, units=units) as running:
        yield running


@pytest.fixture
def client(server: ModbusTCPServer) -> Iterator[ModbusTcpClient]:
    pymodbus = ModbusTcpClient(HOST, port=server.address[1], timeout=DEFAULT_TIMEOUT, retries=0)
    assert pymodbus.connect()
    yield pymodbus
    pymodbus.close()


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def read_mbap(sock: socket.socket) -> tuple[int, int, bytes]:
    """One answer from a raw socket: (transaction id, unit, pdu)."""
    tid, protocol, length, unit = struct.unpack(">HHHB", recv_exactly(sock, 7))
    assert protocol == 0
    return tid, unit, recv_exactly(sock, length - 1)


@pytest.fixture
def raw(server: ModbusTCPServer) -> Iterator[socket.socket]:
    sock = socket.create_connection(server.address, timeout=DEFAULT_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    yield sock
    sock.close()


# -- every function code through pymodbus ------------------------------------------------


def test_pymodbus_reads_every_table_of_two_units(client: ModbusTcpClient) -> None:
    for unit in (1, 2):
        assert client.read_holding_registers(3, count=4, device_id=unit).registers == [
            1000 * unit + i for i in range(3, 7)
        ]
        assert client.read_input_registers(0, count=2, device_id=unit).registers == [
            2000 * unit,
            2000 * unit + 1,
        ]
    assert client.read_coils(0, count=7, device_id=1).bits[:7] == [i % 3 == 0 for i in range(7)]
    assert client.read_discrete_inputs(1, count=3, device_id=2).bits[:3] == [True, False, True]


def test_pymodbus_writes_reach_the_device(
    client: ModbusTcpClient, units: dict[int, ModbusDevice]
) -> None:
    device = units[2]
    assert not client.write_register(5, 0xBEEF, device_id=2).isError()
    assert not client.write_registers(10, [1, 2, 3], device_id=2).isError()
    assert not client.write_coil(1, True, device_id=2).isError()
    assert not client.write_coils(20, [True, False, True], device_id=2).isError()
    assert not client.mask_write_register(
        address=11, and_mask=0x00F2, or_mask=0x0025, device_id=2
    ).isError()
    assert device.holding_registers[5] == 0xBEEF
    assert device.holding_registers[10:13] == [1, (2 & 0xF2) | (0x25 & ~0xF2), 3]
    assert device.coils[1] is True
    assert device.coils[20:23] == [True, False, True]
    answer = client.readwrite_registers(
        read_address=0, read_count=2, write_address=0, values=[7, 8], device_id=2
    )
    assert answer.registers == [7, 8]
    assert units[1].holding_registers[0] == 1000


def test_pymodbus_other_functions(client: ModbusTcpClient, units: dict[int, ModbusDevice]) -> None:
    units[1].exception_status = 0x5A
    assert client.read_exception_status(device_id=1).status == 0x5A
    assert client.report_device_id(device_id=2).identifier == b"U2"
    assert client.diag_query_data(b"\x12\x34", device_id=1).message == b"\x12\x34"
    assert client.diag_read_bus_message_count(device_id=1).message == 4
    assert client.diag_read_device_message_count(device_id=1).message == 4  # 2 was unit 2
    information = client.read_device_information(read_code=3, device_id=2).information
    assert information[4] == b"unit 2" and information[0] == b"EQ-1 Network"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.read_holding_registers(39, count=2, device_id=1), 2),
        (lambda c: c.read_input_registers(100, count=1, device_id=1), 2),
        (lambda c: c.write_coils(39, [True, True], device_id=1), 2),
        (lambda c: c.read_holding_registers(0, count=3, device_id=9), 0x0B),
    ],
)
def test_pymodbus_sees_exception_responses(
    client: ModbusTcpClient, call: object, code: int
) -> None:
    answer = call(client)  # type: ignore[operator]
    assert answer.isError()
    assert answer.exception_code == code


def test_callback_failure_answers_device_failure_and_the_server_goes_on(
    client: ModbusTcpClient, units: dict[int, ModbusDevice]
) -> None:
    def broken(address: int) -> int:
        raise RuntimeError("boom")

    def veto(address: int, value: int) -> None:
        raise RequestRefusedError(6, "busy")

    units[1].on_read("holding_registers", broken, 0)
    units[1].on_write("holding_registers", veto, 1)
    assert client.read_holding_registers(0, count=1, device_id=1).exception_code == 4
    assert client.write_register(1, 5, device_id=1).exception_code == 6
    assert client.read_holding_registers(2, count=1, device_id=1).registers == [1002]


# -- mbpoll ---------------------------------------------------------------------------


def test_mbpoll_reads_and_writes(
    server: ModbusTCPServer, units: dict[int, ModbusDevice], mbpoll_exe: str
) -> None:
    port = server.address[1]
    result = run_mbpoll(mbpoll_argv(mbpoll_exe, HOST, port=port, unit=2, address=3, count=3))
    assert result.returncode == 0, result.stderr
    assert parse_mbpoll(result.stdout) == {3: 2003, 4: 2004, 5: 2005}
    result = run_mbpoll(
        mbpoll_argv(mbpoll_exe, HOST, port=port, unit=1, address=7, values=(11, 12))
    )
    assert result.returncode == 0, result.stderr
    assert units[1].holding_registers[7:9] == [11, 12]
    result = run_mbpoll(mbpoll_argv(mbpoll_exe, HOST, port=port, table="coils", address=0, count=4))
    assert result.returncode == 0, result.stderr
    assert parse_mbpoll(result.stdout) == {0: 1, 1: 0, 2: 0, 3: 1}
    result = run_mbpoll(
        mbpoll_argv(mbpoll_exe, HOST, port=port, table="input", unit=2, address=0, count=1)
    )
    assert parse_mbpoll(result.stdout) == {0: 4000}


# -- streams and connections -----------------------------------------------------------


def test_requests_in_one_segment_are_all_answered_in_order(raw: socket.socket) -> None:
    burst = b"".join(mbap(100 + n, 1 + n % 2, struct.pack(">BHH", 3, n, 1)) for n in range(10))
    raw.sendall(burst)
    for n in range(10):
        tid, unit, pdu = read_mbap(raw)
        assert (tid, unit) == (100 + n, 1 + n % 2)
        assert pdu == b"\x03\x02" + struct.pack(">H", 1000 * unit + n)


def test_a_request_split_over_segments_is_answered(raw: socket.socket) -> None:
    request = mbap(7, 1, bytes.fromhex("03 0000 0002"))
    for piece in (request[:3], request[3:8], request[8:]):
        raw.sendall(piece)
    assert read_mbap(raw) == (7, 1, bytes.fromhex("03 04 03E8 03E9"))


def test_garbage_is_dropped_and_counted(server: ModbusTCPServer, raw: socket.socket) -> None:
    raw.sendall(b"\xff" * 9 + mbap(8, 1, bytes.fromhex("03 0001 0001")))
    assert read_mbap(raw) == (8, 1, bytes.fromhex("03 02 03E9"))
    assert server.stats.dropped_bytes == 9 and server.dropped == 9
    assert server.units[1].counters.bus_errors == 1


def test_unknown_unit_can_be_ignored() -> None:
    with ModbusTCPServer(HOST, 0, units={1: make_device()}, unknown_unit="ignore") as server:
        with socket.create_connection(server.address, timeout=DEFAULT_TIMEOUT) as sock:
            sock.sendall(mbap(1, 5, bytes.fromhex("03 0000 0001")))
            sock.sendall(mbap(2, 1, bytes.fromhex("03 0000 0001")))
            assert read_mbap(sock)[0] == 2
        assert server.stats.unknown_unit == 1


def test_broadcast_writes_every_unit_and_is_not_answered(
    server: ModbusTCPServer, units: dict[int, ModbusDevice], raw: socket.socket
) -> None:
    raw.sendall(mbap(1, 0, bytes.fromhex("06 0000 0063")))
    raw.sendall(mbap(2, 0, bytes.fromhex("03 0000 0001")))
    raw.sendall(mbap(3, 2, bytes.fromhex("03 0000 0001")))
    assert read_mbap(raw) == (3, 2, bytes.fromhex("03 02 0063"))
    assert units[1].holding_registers[0] == 0x63
    assert server.stats.broadcasts == 2


def test_one_device_answers_every_unit_id() -> None:
    device = make_device(3)
    with ModbusTCPServer(HOST, 0, units=device) as server:
        with socket.create_connection(server.address, timeout=DEFAULT_TIMEOUT) as sock:
            for unit in (0, 1, 255):
                sock.sendall(mbap(unit, unit, bytes.fromhex("03 0000 0001")))
                assert read_mbap(sock) == (unit, unit, bytes.fromhex("03 02 0BB8"))


def test_several_clients_at_once(server: ModbusTCPServer) -> None:
    errors: list[BaseException] = []
    rounds = 200

    def work(unit: int, offset: int) -> None:
        client = ModbusTcpClient(HOST, port=server.address[1], timeout=DEFAULT_TIMEOUT)
        try:
            assert client.connect()
            for n in range(rounds):
                address = (offset + n) % 30
                got = client.read_holding_registers(address, count=3, device_id=unit).registers
                assert got == [1000 * unit + address + i for i in range(3)]
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(1 + n % 2, n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEFAULT_TIMEOUT * 4)
    assert not errors, errors
    assert server.stats.requests == 8 * rounds


def test_a_client_that_leaves_mid_frame_does_not_disturb_others(
    server: ModbusTCPServer, client: ModbusTcpClient
) -> None:
    with socket.create_connection(server.address, timeout=DEFAULT_TIMEOUT) as sock:
        sock.sendall(mbap(1, 1, b"\x03\x00"))
    wait_until(lambda: server.clients == 1, what="the half-frame client to be dropped")
    assert client.read_holding_registers(0, count=1, device_id=1).registers == [1000]


# -- faults ---------------------------------------------------------------------------


def test_fault_exception_and_recovery(
    client: ModbusTcpClient, units: dict[int, ModbusDevice]
) -> None:
    units[1].faults = Faults(exception=6)
    assert client.read_holding_registers(0, count=1, device_id=1).exception_code == 6
    assert client.read_holding_registers(0, count=1, device_id=2).registers == [2000]
    units[1].faults = Faults()
    assert client.read_holding_registers(0, count=1, device_id=1).registers == [1000]


def test_fault_silence_and_delay_make_a_client_time_out(
    server: ModbusTCPServer, units: dict[int, ModbusDevice]
) -> None:
    quick = ModbusTcpClient(HOST, port=server.address[1], timeout=0.3, retries=0)
    assert quick.connect()
    try:
        for faults in (Faults(silent=True), Faults(delay=5.0)):
            units[1].faults = faults
            with pytest.raises(ModbusIOException):
                quick.read_holding_registers(0, count=1, device_id=1)
            units[1].faults = Faults()
    finally:
        quick.close()


def test_fault_garbage_and_chunks_reach_the_wire(
    units: dict[int, ModbusDevice], raw: socket.socket
) -> None:
    units[1].faults = Faults(garbage=b"\x00\xff", chunk_size=3, chunk_delay=0.01)
    raw.sendall(mbap(9, 1, bytes.fromhex("03 0000 0001")))
    expected = b"\x00\xff" + mbap(9, 1, bytes.fromhex("03 02 03E8"))
    assert recv_exactly(raw, len(expected)) == expected


def test_chunked_answers_are_read_by_pymodbus(
    client: ModbusTcpClient, units: dict[int, ModbusDevice]
) -> None:
    units[1].faults = Faults(chunk_size=2, chunk_delay=0.01)
    assert client.read_holding_registers(0, count=5, device_id=1).registers == [
        1000 + i for i in range(5)
    ]


# -- RTU framing over TCP ------------------------------------------------------------------


def test_rtu_frames_over_tcp_with_pymodbus() -> None:
    device = make_device(4)
    with ModbusTCPServer(HOST, 0, units={4: device}, framer="rtu") as server:
        client = ModbusTcpClient(
            HOST, port=server.address[1], framer=FramerType.RTU, timeout=DEFAULT_TIMEOUT
        )
        assert client.connect()
        try:
            assert client.read_holding_registers(1, count=2, device_id=4).registers == [
                4001,
                4002,
            ]
            device.faults = Faults(bad_crc=True)
            with pytest.raises(ModbusIOException):
                ModbusTcpClient(
                    HOST, port=server.address[1], framer=FramerType.RTU, timeout=0.3, retries=0
                ).read_holding_registers(1, count=1, device_id=4)
        finally:
            client.close()


# -- life cycle -----------------------------------------------------------------------


def test_start_stop_restart_and_thread() -> None:
    server = ModbusTCPServer(HOST, 0, units=make_device())
    assert server.address[1] == 0 and not server.is_running()
    server.start()
    try:
        port = server.address[1]
        assert port != 0 and server.is_running()
        names = [t.name for t in threading.enumerate()]
        assert f"eq1-modbus-tcp-server-{HOST}:{port}" in names
        server.start()  # no-op while running
    finally:
        server.stop()
    assert not server.is_running()
    assert not any(t.name.startswith("eq1-modbus-tcp-server") for t in threading.enumerate())
    server.stop()
    with server:
        with socket.create_connection((HOST, port), timeout=DEFAULT_TIMEOUT) as sock:
            sock.sendall(mbap(1, 1, bytes.fromhex("03 0000 0001")))
            assert read_mbap(sock)[2] == bytes.fromhex("03 02 03E8")


def test_stop_is_prompt_during_a_long_fault_delay(
    server: ModbusTCPServer, units: dict[int, ModbusDevice], raw: socket.socket
) -> None:
    units[1].faults = Faults(delay=60)
    raw.sendall(mbap(1, 1, bytes.fromhex("03 0000 0001")))
    wait_until(lambda: server.stats.requests == 1, what="the request to arrive")
    server.stop()
    assert not server.is_running()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"units": {}}, ProtocolTypeError),
        ({"units": {256: ModbusDevice()}}, ProtocolArgumentError),
        ({"units": {1: "device"}}, ProtocolTypeError),
        ({"units": ModbusDevice(), "framer": "udp"}, ProtocolArgumentError),
        ({"units": ModbusDevice(), "unknown_unit": "answer"}, ProtocolArgumentError),
    ],
)
def test_arguments_are_checked(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        ModbusTCPServer(HOST, 0, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ModbusTCPServer]:
    with ModbusTCPServer(HOST, 0, units={1: make_device(1)}) as running:
        yield running


@settings(max_examples=30, deadline=None)
@given(
    addresses=st.lists(st.integers(0, 39), min_size=1, max_size=20),
    cuts=st.lists(st.integers(1, 400), max_size=10),
)
def test_any_chunking_of_a_request_stream_is_answered_in_order(
    shared_server: ModbusTCPServer, addresses: list[int], cuts: list[int]
) -> None:
    stream = b"".join(
        mbap(n, 1, struct.pack(">BHH", 3, address, 1)) for n, address in enumerate(addresses)
    )
    with socket.create_connection(shared_server.address, timeout=DEFAULT_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = 0
        for cut in [*sorted(cuts), len(stream)]:
            if cut > start:
                sock.sendall(stream[start:cut])
                start = cut
        for n, address in enumerate(addresses):
            assert read_mbap(sock) == (n, 1, b"\x03\x02" + struct.pack(">H", 1000 + address))


@pytest.mark.parametrize("framing", ["rtu", "ascii"])
def test_serial_framing_over_tcp_raw(framing: str) -> None:
    with ModbusTCPServer(HOST, 0, units={1: make_device(1)}, framer=framing) as server:  # type: ignore[arg-type]
        with socket.create_connection(server.address, timeout=DEFAULT_TIMEOUT) as sock:
            if framing == "ascii":
                sock.sendall(b":010300000001FB\r\n")
                assert recv_exactly(sock, 15) == b":01030203E80F\r\n"
            else:
                sock.sendall(bytes.fromhex("01 03 0000 0001 840A"))
                assert recv_exactly(sock, 7) == bytes.fromhex("01 03 02 03E8 B8FA")


def test_the_server_is_a_registered_reqres_protocol() -> None:
    from eq1_network.plugins.registry import get_protocol

    assert get_protocol("modbus-tcp-server") is ModbusTCPServer
    server = ModbusTCPServer(HOST, 0, units=make_device())
    assert isinstance(server, ReqResProtocol)
    with server:
        assert server.is_connected() and server.address[1] != 0
        assert server.read() == (False, None)
        with pytest.raises(ProtocolUsageError, match="answers requests by itself"):
            server.send(b"\x00")
    assert not server.is_connected()
    assert server.connect() is True
    server.disconnect()
    assert not server.is_running()
