"""The independent Modbus peers really speak Modbus: checked with raw bytes only.

Nothing here uses the package's own codec: requests are written out byte by byte,
CRC-16 and LRC are computed by the small reference functions below, and the answers
are compared with the data pattern of ``modbus_peers``. These tests also pin down the
peer quirks other tests rely on (see the ``modbus_peers`` module docstring).
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest
import serial
from modbus_peers import (
    IDENTITY,
    ModbusPeer,
    PeerFactory,
    coils,
    discrete_inputs,
    holding_registers,
    input_registers,
    mbpoll_argv,
    parse_mbpoll,
    run_mbpoll,
)

from eq1_network.testing import port_accepts, recv_exactly

pytestmark = pytest.mark.timeout(120)

ANSWER_TIMEOUT = 5.0
"""Seconds a test waits for one answer; generous, for busy machines."""


# --- reference checksums and frames (independent of the package's codec) ---------------


def crc16(data: bytes) -> bytes:
    """CRC-16/MODBUS of ``data``, low byte first as sent on the line."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def lrc(data: bytes) -> int:
    """LRC of the binary content of a Modbus ASCII frame."""
    return (-sum(data)) & 0xFF


def mbap(transaction_id: int, unit: int, pdu: bytes) -> bytes:
    """A Modbus TCP request: MBAP header (protocol 0, length) + unit + PDU."""
    return struct.pack(">HHHB", transaction_id, 0, len(pdu) + 1, unit) + pdu


def rtu(unit: int, pdu: bytes) -> bytes:
    """An RTU frame: unit + PDU + CRC."""
    body = bytes([unit]) + pdu
    return body + crc16(body)


def ascii_frame(unit: int, pdu: bytes) -> bytes:
    """An ASCII frame: ``:`` + hex(unit + PDU + LRC) + CRLF."""
    body = bytes([unit]) + pdu
    return b":" + (body + bytes([lrc(body)])).hex().upper().encode() + b"\r\n"


def read_pdu(function: int, address: int, count: int) -> bytes:
    """A read request PDU (FC 01..04)."""
    return struct.pack(">BHH", function, address, count)


def registers_answer(function: int, values: list[int]) -> bytes:
    """The response PDU of FC 03/04 carrying ``values``."""
    return bytes([function, 2 * len(values)]) + struct.pack(f">{len(values)}H", *values)


def bits_answer(function: int, bits: list[bool]) -> bytes:
    """The response PDU of FC 01/02 carrying ``bits`` (LSB first, zero padded)."""
    packed = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            packed[i // 8] |= 1 << (i % 8)
    return bytes([function, len(packed)]) + bytes(packed)


def expected_read(unit: int, function: int, address: int, count: int) -> bytes:
    """The response PDU the pattern predicts for a read of ``unit``."""
    if function == 1:
        return bits_answer(1, coils(unit, address, count))
    if function == 2:
        return bits_answer(2, discrete_inputs(unit, address, count))
    if function == 3:
        return registers_answer(3, holding_registers(unit, address, count))
    return registers_answer(4, input_registers(unit, address, count))


# --- raw exchanges -------------------------------------------------------------------


def read_mbap(sock: socket.socket) -> tuple[int, int, bytes]:
    """Read one MBAP answer; return ``(transaction_id, unit, pdu)``."""
    tid, protocol, length = struct.unpack(">HHH", recv_exactly(sock, 6, ANSWER_TIMEOUT))
    assert protocol == 0
    rest = recv_exactly(sock, length, ANSWER_TIMEOUT)
    return tid, rest[0], rest[1:]


def tcp_exchange(peer: ModbusPeer, unit: int, pdu: bytes, tid: int = 1) -> tuple[int, bytes]:
    """Send one request on a new connection; return ``(unit, pdu)`` of the answer."""
    with socket.create_connection(peer.address, timeout=ANSWER_TIMEOUT) as sock:
        sock.sendall(mbap(tid, unit, pdu))
        got_tid, got_unit, answer = read_mbap(sock)
    assert got_tid == tid
    return got_unit, answer


def open_port(device: Path | None) -> serial.Serial:
    """Open the client's pty end, 8N1, with a read timeout."""
    assert device is not None
    return serial.Serial(str(device), baudrate=19200, timeout=ANSWER_TIMEOUT)


def read_rtu(port: serial.Serial, size: int) -> bytes:
    """Read an RTU answer of ``size`` bytes and check its CRC; return unit + PDU."""
    frame = port.read(size)
    assert len(frame) == size, f"got {frame.hex(' ')!r}, expected {size} bytes"
    assert crc16(frame[:-2]) == frame[-2:], f"bad CRC in {frame.hex(' ')}"
    return frame[:-2]


# --- Modbus TCP ----------------------------------------------------------------------

TCP_PEERS = ["libmodbus_tcp", "pymodbus_tcp"]


@pytest.mark.parametrize("peer_name", TCP_PEERS)
def test_tcp_fc03_spec_request(peer_name: str, request: pytest.FixtureRequest) -> None:
    peer: ModbusPeer = request.getfixturevalue(peer_name)
    with socket.create_connection(peer.address, timeout=ANSWER_TIMEOUT) as sock:
        sock.sendall(bytes.fromhex("00 01 00 00 00 06 01 03 00 00 00 0A"))
        answer = recv_exactly(sock, 29, ANSWER_TIMEOUT)
    expected = "00 01 00 00 00 17 01 03 14" + "".join(f" 00 {i:02x}" for i in range(10))
    assert answer == bytes.fromhex(expected)


@pytest.mark.parametrize("peer_name", TCP_PEERS)
@pytest.mark.parametrize(("function", "address", "count"), [(1, 3, 19), (2, 0, 10), (4, 90, 10)])
def test_tcp_reads_follow_the_pattern(
    peer_name: str, function: int, address: int, count: int, request: pytest.FixtureRequest
) -> None:
    peer: ModbusPeer = request.getfixturevalue(peer_name)
    unit, answer = tcp_exchange(peer, 1, read_pdu(function, address, count))
    assert unit == 1
    assert answer == expected_read(1, function, address, count)


@pytest.mark.parametrize("peer_name", TCP_PEERS)
@pytest.mark.parametrize(("address", "count"), [(100, 1), (95, 10)])
def test_tcp_out_of_range_is_illegal_data_address(
    peer_name: str, address: int, count: int, request: pytest.FixtureRequest
) -> None:
    peer: ModbusPeer = request.getfixturevalue(peer_name)
    assert tcp_exchange(peer, 1, read_pdu(3, address, count)) == (1, bytes([0x83, 0x02]))


@pytest.mark.parametrize("peer_name", TCP_PEERS)
def test_tcp_write_then_read_back(peer_name: str, request: pytest.FixtureRequest) -> None:
    peer: ModbusPeer = request.getfixturevalue(peer_name)
    write = struct.pack(">BHHB2H", 0x10, 20, 2, 4, 0xBEEF, 0x1234)
    assert tcp_exchange(peer, 1, write) == (1, write[:5])
    assert tcp_exchange(peer, 1, read_pdu(3, 19, 4)) == (
        1,
        registers_answer(3, [19, 0xBEEF, 0x1234, 22]),
    )


def test_pymodbus_tcp_units_hold_their_own_data(pymodbus_tcp: ModbusPeer) -> None:
    assert pymodbus_tcp.units == (1, 2)
    assert tcp_exchange(pymodbus_tcp, 2, read_pdu(3, 0, 3)) == (
        2,
        registers_answer(3, [10000, 10001, 10002]),
    )
    assert tcp_exchange(pymodbus_tcp, 2, read_pdu(1, 0, 4)) == (2, bits_answer(1, coils(2, 0, 4)))


def test_pymodbus_tcp_unknown_unit_and_function(pymodbus_tcp: ModbusPeer) -> None:
    """pymodbus 3.16 answers a unit it lacks with exception 04 (SERVER DEVICE FAILURE),
    and an unknown function code with ``80 01`` (function byte 0x80, not fc | 0x80)."""
    assert tcp_exchange(pymodbus_tcp, 9, read_pdu(3, 0, 1)) == (9, bytes([0x83, 0x04]))
    assert tcp_exchange(pymodbus_tcp, 1, bytes([0x41, 0x00])) == (1, bytes([0x80, 0x01]))


def test_pymodbus_tcp_identification_and_server_id(pymodbus_tcp: ModbusPeer) -> None:
    unit, answer = tcp_exchange(pymodbus_tcp, 1, bytes.fromhex("2B 0E 01 00"))
    assert unit == 1
    assert answer[:4] == bytes.fromhex("2B 0E 01 83")  # basic, conformity 0x83
    more_follows, next_id, count = answer[4], answer[5], answer[6]
    assert (more_follows, next_id, count) == (0, 0, 3)
    objects, pos = {}, 7
    for _ in range(count):
        object_id, length = answer[pos], answer[pos + 1]
        objects[object_id] = answer[pos + 2 : pos + 2 + length].decode()
        pos += 2 + length
    names = list(IDENTITY.values())
    assert objects == {0: names[0], 1: names[1], 2: names[2]}
    unit, answer = tcp_exchange(pymodbus_tcp, 1, bytes([0x11]))
    assert answer[0] == 0x11
    assert IDENTITY["VendorName"].encode() in answer


def test_libmodbus_tcp_ignores_the_unit_id(libmodbus_tcp: ModbusPeer) -> None:
    """libmodbus's TCP server answers any unit id (echoed back) with its own data."""
    for unit in (0, 7, 255):
        assert tcp_exchange(libmodbus_tcp, unit, read_pdu(3, 0, 2)) == (
            unit,
            registers_answer(3, [0, 1]),
        )


def test_libmodbus_tcp_function_support(libmodbus_tcp: ModbusPeer) -> None:
    """libmodbus 3.1.6: 2B, 08 and unknown codes -> exception 01; FC 11 -> its own id bytes."""
    assert tcp_exchange(libmodbus_tcp, 1, bytes.fromhex("2B 0E 01 00")) == (1, b"\xab\x01")
    assert tcp_exchange(libmodbus_tcp, 1, bytes([0x41, 0x00])) == (1, b"\xc1\x01")
    assert tcp_exchange(libmodbus_tcp, 1, bytes.fromhex("08 0000 1234")) == (1, b"\x88\x01")
    assert tcp_exchange(libmodbus_tcp, 1, bytes([0x11]))[1][:2] == b"\x11\x0a"


def test_pymodbus_tcp_answers_one_request_per_segment(pymodbus_tcp: ModbusPeer) -> None:
    """Two requests in one TCP segment: pymodbus 3.16 answers the first and drops the
    second (its request handler keeps one decoded PDU per ``data_received``); the next
    request, sent on its own, is answered normally. A client must not pipeline
    requests to it."""
    with socket.create_connection(pymodbus_tcp.address, timeout=ANSWER_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(mbap(1, 1, read_pdu(3, 5, 1)) + mbap(2, 1, read_pdu(3, 7, 1)))
        assert read_mbap(sock) == (1, 1, registers_answer(3, [5]))
        sock.sendall(mbap(3, 1, read_pdu(3, 2, 1)))
        assert read_mbap(sock) == (3, 1, registers_answer(3, [2]))


def test_libmodbus_tcp_answers_pipelined_requests_in_order(libmodbus_tcp: ModbusPeer) -> None:
    """libmodbus reads one MBAP frame at a time: several requests in one segment are
    all answered, in order (what a client with several outstanding requests needs)."""
    requests = b"".join(mbap(tid, 1, read_pdu(3, tid, 1)) for tid in range(1, 9))
    with socket.create_connection(libmodbus_tcp.address, timeout=ANSWER_TIMEOUT) as sock:
        sock.sendall(requests)
        answers = [read_mbap(sock) for _ in range(8)]
    assert answers == [(tid, 1, registers_answer(3, [tid])) for tid in range(1, 9)]


def test_libmodbus_tcp_serves_the_next_client_after_the_first_leaves(
    libmodbus_tcp: ModbusPeer,
) -> None:
    """One connection at a time: a second client's request is answered once the first
    client has closed its connection."""
    first = socket.create_connection(libmodbus_tcp.address, timeout=ANSWER_TIMEOUT)
    with socket.create_connection(libmodbus_tcp.address, timeout=ANSWER_TIMEOUT) as second:
        with first:
            first.sendall(mbap(1, 1, read_pdu(3, 1, 1)))
            assert read_mbap(first) == (1, 1, registers_answer(3, [1]))
            second.sendall(mbap(2, 1, read_pdu(3, 2, 1)))
        assert read_mbap(second) == (2, 1, registers_answer(3, [2]))


def test_pymodbus_rtu_over_tcp(pymodbus_rtu_over_tcp: ModbusPeer) -> None:
    with socket.create_connection(pymodbus_rtu_over_tcp.address, timeout=ANSWER_TIMEOUT) as sock:
        sock.sendall(bytes.fromhex("01 03 00 00 00 0A C5 CD"))
        frame = recv_exactly(sock, 25, ANSWER_TIMEOUT)
    assert crc16(frame[:-2]) == frame[-2:]
    assert frame[:-2] == b"\x01" + expected_read(1, 3, 0, 10)


# --- RTU and ASCII over pty pairs -----------------------------------------------------

SERIAL_PEERS = ["libmodbus_rtu", "pymodbus_rtu"]


@pytest.mark.parametrize("peer_name", SERIAL_PEERS)
def test_rtu_fc03_spec_frame(peer_name: str, request: pytest.FixtureRequest) -> None:
    peer: ModbusPeer = request.getfixturevalue(peer_name)
    with open_port(peer.device) as port:
        port.write(bytes.fromhex("01 03 00 00 00 0A C5 CD"))
        assert read_rtu(port, 25) == b"\x01" + expected_read(1, 3, 0, 10)


@pytest.mark.parametrize("peer_name", SERIAL_PEERS)
def test_rtu_reads_and_exception(peer_name: str, request: pytest.FixtureRequest) -> None:
    peer: ModbusPeer = request.getfixturevalue(peer_name)
    with open_port(peer.device) as port:
        for function, address, count in [(1, 0, 16), (2, 5, 9), (4, 0, 3)]:
            expected = b"\x01" + expected_read(1, function, address, count)
            port.write(rtu(1, read_pdu(function, address, count)))
            assert read_rtu(port, len(expected) + 2) == expected
        port.write(rtu(1, read_pdu(3, 100, 1)))
        assert read_rtu(port, 5) == bytes([0x01, 0x83, 0x02])


def poll_rtu(port: serial.Serial, request: bytes, size: int, tries: int = 10) -> bytes:
    """Send ``request`` until an answer arrives (at most ``tries`` times, 1 s each).

    Both serial peers may lose a request that directly follows another one (pymodbus
    drops all but the first frame of a read chunk; libmodbus flushes after a request
    for another unit), so a test that sends two frames back to back repeats the second.

    Returns:
        The first answer (``size`` bytes, or fewer if the line went quiet).
    """
    port.timeout = 1.0
    for _ in range(tries):
        port.write(request)
        frame = port.read(size)
        if frame:
            return bytes(frame)
    raise AssertionError(f"no answer to {request.hex(' ')} after {tries} tries")


def test_pymodbus_rtu_second_unit_and_silent_unknown_unit(pymodbus_rtu: ModbusPeer) -> None:
    """On the bus, pymodbus serves units 1 and 2; unit 9 gets no answer (the fixture's
    unit filter), so the first bytes on the line are unit 2's answer."""
    with open_port(pymodbus_rtu.device) as port:
        port.write(rtu(9, read_pdu(3, 0, 2)))
        frame = poll_rtu(port, rtu(2, read_pdu(3, 0, 2)), 9)
    assert frame == rtu(2, registers_answer(3, [10000, 10001]))


def test_pymodbus_rtu_answers_one_request_per_chunk(pymodbus_rtu: ModbusPeer) -> None:
    """Two frames that reach pymodbus's serial server in one read: it answers the first
    and drops the second, as on TCP. The next request is answered normally."""
    with open_port(pymodbus_rtu.device) as port:
        port.write(rtu(1, read_pdu(3, 1, 1)) + rtu(1, read_pdu(3, 2, 1)))
        assert read_rtu(port, 7) == b"\x01" + registers_answer(3, [1])
        port.write(rtu(1, read_pdu(3, 3, 1)))
        assert read_rtu(port, 7) == b"\x01" + registers_answer(3, [3])


def test_pymodbus_rtu_broadcast_write(pymodbus_rtu: ModbusPeer) -> None:
    """A write to unit 0 reaches every unit and is not answered.

    pymodbus reads a broadcast and the request after it as one chunk when they reach
    it together, and then may lose either; the pair is repeated (bounded) until the
    written value shows. Whatever comes back is unit 1's answer, never one from unit 0.
    A slow answer can come after its request was repeated, so unit 1's answers to the
    repeats may still arrive before unit 2's (all are 7 bytes: the frames stay aligned).
    """
    with open_port(pymodbus_rtu.device) as port:
        for _ in range(10):
            port.write(rtu(0, struct.pack(">BHH", 6, 30, 4242)))
            first = poll_rtu(port, rtu(1, read_pdu(3, 30, 1)), 7)
            assert first[:2] == b"\x01\x03", first.hex(" ")
            if first == rtu(1, registers_answer(3, [4242])):
                break
        assert first == rtu(1, registers_answer(3, [4242]))
        port.timeout = ANSWER_TIMEOUT
        port.write(rtu(2, read_pdu(3, 30, 1)))
        answer = read_rtu(port, 7)
        for _ in range(10):  # a late answer of unit 1 to a repeated request
            if answer[0] != 1:
                break
            assert answer[1:2] == b"\x03", answer.hex(" ")
            answer = read_rtu(port, 7)
        assert answer == b"\x02" + registers_answer(3, [4242])


def test_libmodbus_rtu_ignores_other_units(libmodbus_rtu: ModbusPeer) -> None:
    """libmodbus ignores a request for another unit; after it, it may swallow the next
    frame sent within about 0.5 s, so the unit 1 request is repeated (bounded) until
    answered. The first answer on the line is unit 1's: unit 2 got none."""
    with open_port(libmodbus_rtu.device) as port:
        port.write(rtu(2, read_pdu(3, 0, 2)))
        frame = poll_rtu(port, rtu(1, read_pdu(3, 0, 2)), 9)
    assert frame == rtu(1, registers_answer(3, [0, 1]))


def test_ascii_spec_frame_and_exception(pymodbus_ascii: ModbusPeer) -> None:
    assert ascii_frame(1, read_pdu(3, 0, 10)) == b":01030000000AF2\r\n"
    with open_port(pymodbus_ascii.device) as port:
        port.write(b":01030000000AF2\r\n")
        line = port.read_until(b"\r\n")
        assert line.startswith(b":") and line.endswith(b"\r\n"), line
        body = bytes.fromhex(line[1:-2].decode())
        assert lrc(body[:-1]) == body[-1]
        assert body[:-1] == b"\x01" + expected_read(1, 3, 0, 10)
        port.write(ascii_frame(2, read_pdu(3, 100, 1)))
        assert port.read_until(b"\r\n") == ascii_frame(2, bytes([0x83, 0x02]))


# --- mbpoll ----------------------------------------------------------------------------


def test_mbpoll_reads_and_writes_libmodbus_tcp(mbpoll_exe: str, libmodbus_tcp: ModbusPeer) -> None:
    host, port = libmodbus_tcp.address
    done = run_mbpoll(mbpoll_argv(mbpoll_exe, host, port=port, address=3, count=4))
    assert done.returncode == 0, done.stdout + done.stderr
    assert parse_mbpoll(done.stdout) == {3: 3, 4: 4, 5: 5, 6: 6}
    done = run_mbpoll(mbpoll_argv(mbpoll_exe, host, port=port, address=40, values=[777, 778]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert tcp_exchange(libmodbus_tcp, 1, read_pdu(3, 40, 2)) == (
        1,
        registers_answer(3, [777, 778]),
    )
    done = run_mbpoll(mbpoll_argv(mbpoll_exe, host, port=port, table="coils", count=4))
    assert parse_mbpoll(done.stdout) == {0: 1, 1: 0, 2: 1, 3: 0}


def test_mbpoll_reads_pymodbus_tcp_unit_2(mbpoll_exe: str, pymodbus_tcp: ModbusPeer) -> None:
    host, port = pymodbus_tcp.address
    argv = mbpoll_argv(mbpoll_exe, host, port=port, unit=2, table="input", count=2)
    done = run_mbpoll(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert parse_mbpoll(done.stdout) == {0: 11000, 1: 11001}


def test_mbpoll_reads_libmodbus_rtu(mbpoll_exe: str, libmodbus_rtu: ModbusPeer) -> None:
    assert libmodbus_rtu.device is not None
    argv = mbpoll_argv(mbpoll_exe, libmodbus_rtu.device, rtu=True, table="discrete", count=6)
    done = run_mbpoll(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert parse_mbpoll(done.stdout) == {0: 1, 1: 0, 2: 0, 3: 1, 4: 0, 5: 0}


def test_mbpoll_argv() -> None:
    argv = mbpoll_argv("mbpoll", "/dev/ttyX", rtu=True, unit=3, address=7, count=2)
    assert argv[:2] == ["mbpoll", "-1"] and "-0" in argv
    assert argv[argv.index("-P") + 1] == "none"
    assert argv[-1] == "/dev/ttyX"
    write = mbpoll_argv("mbpoll", "127.0.0.1", port=1502, table="coils", values=[1, 0])
    assert write[-4:] == ["127.0.0.1", "--", "1", "0"] and "-c" not in write


# --- the fixtures themselves ------------------------------------------------------------


def test_factory_stops_its_peers_by_pid(tmp_path: Path, libmodbus_server_exe: Path) -> None:
    factory = PeerFactory(tmp_path, libmodbus_server_exe)
    tcp = factory.libmodbus_tcp(unit=3)
    serial_peer = factory.pymodbus_serial("rtu", units=(4,))
    assert tcp_exchange(tcp, 3, read_pdu(4, 0, 1)) == (3, registers_answer(4, [21000]))
    assert serial_peer.device is not None and serial_peer.device.exists()
    factory.close()
    assert tcp.process.poll() is not None
    assert serial_peer.process.poll() is not None
    assert not port_accepts(tcp.address[1])
    assert not serial_peer.device.exists()
