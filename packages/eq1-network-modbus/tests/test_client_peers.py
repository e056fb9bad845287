"""Our Modbus clients against two independent servers: libmodbus 3.1.6 and pymodbus 3.16.

Each test starts its peer (127.0.0.1 free port or a fresh pty pair) through the
fixtures of ``conftest.py``; the expected values come from the data pattern both
peers share (``modbus_peers``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import modbus_peers as expect
import pytest
from modbus_peers import ModbusPeer, PeerFactory, client_for

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolTimeoutError
from eq1_network.protocols.modbus import (
    ModbusClient,
    ModbusExceptionError,
    ModbusProtocol,
)
from eq1_network.testing import DEFAULT_TIMEOUT

TIMEOUT = DEFAULT_TIMEOUT
ClientFactory = Callable[..., ModbusClient]


PEERS = [
    "libmodbus_tcp",
    "libmodbus_rtu",
    "pymodbus_tcp",
    "pymodbus_rtu_over_tcp",
    "pymodbus_rtu",
    "pymodbus_ascii",
]


@pytest.fixture(params=PEERS)
def peer(request: pytest.FixtureRequest) -> ModbusPeer:
    """Each independent server in turn."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
def client(peer: ModbusPeer) -> Iterator[ModbusClient]:
    """A connected client for :func:`peer`."""
    proto = client_for(peer)
    with proto:
        yield proto


def test_reads_match_the_peer_tables(client: ModbusClient) -> None:
    assert client.read_coils(3, 19) == expect.coils(1, 3, 19)
    assert client.read_discrete_inputs(0, 17) == expect.discrete_inputs(1, 0, 17)
    assert client.read_holding_registers(0, 10) == expect.holding_registers(1, 0, 10)
    assert client.read_input_registers(90, 10) == expect.input_registers(1, 90, 10)


def test_writes_are_read_back(client: ModbusClient) -> None:
    client.write_register(5, 0xBEEF)
    client.write_registers(20, [1, 2, 3, 65535])
    client.write_coil(7, True)
    client.write_coils(30, [True, False, True, True, False, False, True, True, True])
    assert client.read_holding_registers(4, 2) == [expect.holding_registers(1, 4, 1)[0], 0xBEEF]
    assert client.read_holding_registers(20, 4) == [1, 2, 3, 65535]
    assert client.read_coils(7) == [True]
    assert client.read_coils(30, 9) == [True, False, True, True, False, False, True, True, True]


def test_typed_values(client: ModbusClient) -> None:
    client.write_float32(40, 123.456, order="CDAB")
    assert client.read_float32(40, order="CDAB") == pytest.approx(123.456, rel=1e-6)
    client.write_value(44, -2, "int32")
    assert client.read_value(44, "int32") == -2
    assert client.read_holding_registers(44, 2) == [0xFFFF, 0xFFFE]


def test_mask_write_and_read_write(client: ModbusClient) -> None:
    client.write_register(50, 0x12)
    client.mask_write_register(50, 0xF2, 0x25)
    assert client.read_holding_registers(50) == [(0x12 & 0xF2) | (0x25 & ~0xF2 & 0xFFFF)]
    assert client.read_write_registers(60, 3, 60, [7, 8, 9]) == [7, 8, 9]


def test_exception_response_names_the_rule(client: ModbusClient) -> None:
    with pytest.raises(ModbusExceptionError) as info:
        client.read_holding_registers(expect.TABLE_SIZE, 2)
    assert info.value.exception_code == 2
    assert info.value.function_code == 0x03
    assert info.value.unit == 1
    assert "ILLEGAL DATA ADDRESS" in str(info.value)
    # The link is fine afterwards.
    assert client.read_holding_registers(1) == expect.holding_registers(1, 1, 1)


def test_bad_arguments_raise_before_sending(client: ModbusClient) -> None:
    with pytest.raises(ProtocolArgumentError, match="count=126"):
        client.read_holding_registers(0, 126)
    with pytest.raises(ProtocolArgumentError, match="count=2001"):
        client.read_coils(0, 2001)
    with pytest.raises(ProtocolArgumentError, match="address=65536"):
        client.read_input_registers(65536)
    with pytest.raises(ProtocolArgumentError, match=r"values\[1\]=70000"):
        client.write_registers(0, [1, 70000])
    with pytest.raises(ProtocolArgumentError, match="broadcast"):
        client.read_coils(0, 1, unit=0)
    assert client.read_holding_registers(2) == expect.holding_registers(1, 2, 1)


def test_report_server_id(client: ModbusClient, peer: ModbusPeer) -> None:
    data = client.report_server_id()
    if peer.name == "libmodbus":
        assert data.endswith(b"LMB3.1.6")
    else:
        assert len(data) >= 1


@pytest.mark.parametrize("peer_name", ["pymodbus_tcp", "pymodbus_rtu", "pymodbus_ascii"])
def test_second_unit_and_device_identification(
    request: pytest.FixtureRequest, peer_name: str
) -> None:
    peer: ModbusPeer = request.getfixturevalue(peer_name)
    with client_for(peer) as client:
        assert client.read_holding_registers(0, 3, unit=2) == expect.holding_registers(2, 0, 3)
        assert client.read_coils(0, 4, unit=2) == expect.coils(2, 0, 4)
        objects = client.read_device_identification(2)
        assert objects[0] == expect.IDENTITY["VendorName"].encode()
        assert objects[1] == expect.IDENTITY["ProductCode"].encode()
        assert objects[2] == expect.IDENTITY["MajorMinorRevision"].encode()
        assert objects[4] == expect.IDENTITY["ProductName"].encode()


@pytest.mark.parametrize("framer", ["rtu", "ascii"])
def test_silent_unit_on_a_shared_bus_times_out_and_the_bus_lives_on(
    modbus_peers: PeerFactory, framer: str
) -> None:
    peer = modbus_peers.pymodbus_serial(framer, units=(1, 2))
    with client_for(peer, timeout=0.5, retries=0) as client:
        with pytest.raises(ProtocolTimeoutError, match="unit 9 did not answer"):
            client.read_holding_registers(0, 1, unit=9)
        assert client.is_connected()
        assert client.read_holding_registers(0, 2, unit=2) == expect.holding_registers(2, 0, 2)
        assert client.read_holding_registers(0, 2, unit=1) == expect.holding_registers(1, 0, 2)


@pytest.mark.parametrize("framer", ["rtu", "ascii"])
def test_broadcast_write_reaches_every_unit(modbus_peers: PeerFactory, framer: str) -> None:
    """pymodbus reads a request and a broadcast sent back to back as one chunk and
    answers only the first: the client's turnaround delay (its default) keeps them apart."""
    peer = modbus_peers.pymodbus_serial(framer, units=(1, 2))
    with client_for(peer) as client:
        client.write_register(70, 4242, unit=0)
        for unit in (1, 2):
            got = expect_eventually(lambda u=unit: client.read_holding_registers(70, unit=u))
            assert got == [4242]


def expect_eventually(read: Callable[[], list[int]]) -> list[int]:
    """Poll ``read`` until it returns the written value or the deadline passes."""
    from eq1_network.testing import wait_until

    box: list[list[int]] = []

    def done() -> bool:
        box[:] = [read()]
        return box[0] == [4242]

    wait_until(done, TIMEOUT, "the broadcast write to show")
    return box[0]


def test_rtu_against_libmodbus_all_functions(libmodbus_rtu: ModbusPeer) -> None:
    with client_for(libmodbus_rtu) as client:
        client.write_registers(10, list(range(100, 120)))
        assert client.read_holding_registers(10, 20) == list(range(100, 120))
        assert client.read_coils(0, 100) == expect.coils(1, 0, 100)


def test_several_outstanding_requests_are_matched_by_transaction_id(
    libmodbus_tcp: ModbusPeer,
) -> None:
    with client_for(libmodbus_tcp, max_outstanding=8) as client:
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def worker(offset: int) -> None:
            try:
                barrier.wait(TIMEOUT)
                for round_ in range(50):
                    address = (offset * 7 + round_) % 90
                    got = client.read_holding_registers(address, 10)
                    assert got == expect.holding_registers(1, address, 10)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT * 4)
        assert not errors, errors[:3]
        assert isinstance(client, ModbusProtocol)
        assert client.stale_answers == 0


def test_requirements_example_raw_face(libmodbus_tcp: ModbusPeer) -> None:
    """The requirements' example: ``send(b"PING")`` then ``read()`` (a vendor PDU)."""
    host, port = libmodbus_tcp.address
    modbus = ModbusProtocol(host, port, timeout=TIMEOUT)
    modbus.connect()
    try:
        assert modbus.send(b"PING") == 4
        answer = modbus.read_within(TIMEOUT)
        # 'P' (0x50) is no public function: the server refuses it.
        assert answer == bytes([0x50 | 0x80, 0x01])
        assert modbus.read() == (False, None)
        assert modbus.send(bytes.fromhex("03 0000 0002")) == 5
        assert modbus.read_within(TIMEOUT) == bytes.fromhex("03 04 0000 0001")
    finally:
        modbus.disconnect()


def test_pipelined_requests_come_back_in_order(libmodbus_tcp: ModbusPeer) -> None:
    from eq1_network.protocols.modbus import pdu

    with client_for(libmodbus_tcp, max_outstanding=8) as client:
        requests = [pdu.read_holding_registers(i, 5) for i in range(20)]
        answers = client.execute_many(requests)
        assert answers == [expect.holding_registers(1, i, 5) for i in range(20)]
        with pytest.raises(ModbusExceptionError, match="ILLEGAL DATA ADDRESS"):
            client.execute_many([pdu.read_coils(0, 2), pdu.read_coils(expect.TABLE_SIZE, 2)])
        assert client.execute_many([pdu.read_coils(0, 2)]) == [expect.coils(1, 0, 2)]


@pytest.mark.parametrize("peer_name", ["pymodbus_tcp", "pymodbus_rtu", "pymodbus_ascii"])
def test_serial_line_functions_on_pymodbus(request: pytest.FixtureRequest, peer_name: str) -> None:
    """Read exception status (07) and diagnostics (08): echo and a counter."""
    peer: ModbusPeer = request.getfixturevalue(peer_name)
    with client_for(peer) as client:
        assert 0 <= client.read_exception_status() <= 0xFF
        assert client.diagnostics(0x00, b"\x12\x34") == b"\x12\x34"
        counter = client.diagnostics(0x0B)  # bus message count
        assert len(counter) == 2
