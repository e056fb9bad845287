"""Our Modbus clients against misbehaving peers: late answers, gateways that do not
echo the transaction id, lost requests, local echo, noise and foreign answers.

The peers here are scripted on purpose (a real device cannot be told to misbehave
on cue): a TCP gateway on 127.0.0.1 and a serial device on one end of a socat pty
pair. Each waits on events the test sets, never on fixed sleeps.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from modbus_test_links import ScriptLink

from eq1_network.common.exceptions import ProtocolTimeoutError
from eq1_network.protocols.modbus import ModbusProtocol, ModbusRTUProtocol
from eq1_network.protocols.modbus._transaction import BusEngine
from eq1_network.protocols.modbus.framers import RTUFramer
from eq1_network.testing import DEFAULT_TIMEOUT, SocatProcess, pty_pair, wait_until

TIMEOUT = DEFAULT_TIMEOUT
Answer = Callable[[int, int, bytes], "list[bytes]"]


class ScriptedGateway:
    """A one-connection Modbus TCP peer whose answers a test scripts.

    ``script(n, tid, pdu)`` returns the frames to send for the ``n``-th request
    (0-based); it may block on an event of the test.
    """

    def __init__(self, script: Callable[[int, int, int, bytes], list[bytes]]) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="scripted-gateway", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._listener.settimeout(TIMEOUT)
        conn, _ = self._listener.accept()
        conn.settimeout(TIMEOUT)
        buf = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 7 and len(buf) >= 6 + struct.unpack(">H", buf[4:6])[0]:
                    size = 6 + struct.unpack(">H", buf[4:6])[0]
                    frame, buf = buf[:size], buf[size:]
                    tid, _, _, unit = struct.unpack(">HHHB", frame[:7])
                    self.requests.append(frame)
                    for answer in self.script(len(self.requests) - 1, tid, unit, frame[7:]):
                        conn.sendall(answer)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(TIMEOUT)


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def registers(*values: int) -> bytes:
    return bytes((0x03, 2 * len(values))) + struct.pack(f">{len(values)}H", *values)


@pytest.fixture
def gateways() -> Iterator[Callable[..., ScriptedGateway]]:
    made: list[ScriptedGateway] = []

    def make(script: Callable[[int, int, int, bytes], list[bytes]]) -> ScriptedGateway:
        made.append(ScriptedGateway(script))
        return made[-1]

    yield make
    for gateway in made:
        gateway.close()


def test_a_late_answer_is_never_taken_for_the_next_request(
    gateways: Callable[..., ScriptedGateway],
) -> None:
    late = threading.Event()

    def script(n: int, tid: int, unit: int, pdu: bytes) -> list[bytes]:
        if n == 0:
            assert late.wait(TIMEOUT)
            return [mbap(tid, unit, registers(111))]  # the answer to a timed-out request
        return [mbap(tid, unit, registers(222))]

    gateway = gateways(script)
    with ModbusProtocol("127.0.0.1", gateway.port, timeout=0.3, retries=0) as client:
        with pytest.raises(ProtocolTimeoutError, match="no answer to transaction"):
            client.read_holding_registers(0)
        late.set()
        client.timeout = TIMEOUT
        assert client.read_holding_registers(0) == [222]
        assert client.stale_answers == 1


@pytest.mark.parametrize("echoed", ["zero", "plus-one"])
def test_lenient_ids_accept_gateways_that_do_not_echo_the_id(
    gateways: Callable[..., ScriptedGateway], echoed: str
) -> None:
    def script(n: int, tid: int, unit: int, pdu: bytes) -> list[bytes]:
        answer_id = 0 if echoed == "zero" else (tid + 1) & 0xFFFF
        return [mbap(answer_id, unit, registers(n))]

    gateway = gateways(script)
    lenient = ModbusProtocol("127.0.0.1", gateway.port, timeout=TIMEOUT, transaction_ids="lenient")
    with lenient:
        assert lenient.read_holding_registers(0) == [0]
        assert lenient.read_holding_registers(0) == [1]


def test_strict_ids_refuse_an_answer_with_another_id(
    gateways: Callable[..., ScriptedGateway],
) -> None:
    gateway = gateways(lambda n, tid, unit, pdu: [mbap(0, unit, registers(5))])
    with ModbusProtocol("127.0.0.1", gateway.port, timeout=0.3, retries=0) as client:
        with pytest.raises(ProtocolTimeoutError):
            client.read_holding_registers(0)
        assert client.stale_answers == 1


def test_reads_are_retried_and_writes_are_not(gateways: Callable[..., ScriptedGateway]) -> None:
    def script(n: int, tid: int, unit: int, pdu: bytes) -> list[bytes]:
        if n in (0, 2):  # the first read and the first write are "lost"
            return []
        return [mbap(tid, unit, registers(7) if pdu[0] == 3 else pdu)]

    gateway = gateways(script)
    with ModbusProtocol("127.0.0.1", gateway.port, timeout=0.3, retries=1) as client:
        assert client.read_holding_registers(0) == [7]
        with pytest.raises(ProtocolTimeoutError):
            client.write_register(1, 1)
        assert [frame[7] for frame in gateway.requests] == [3, 3, 6]
        client.retry_writes = True
        client.write_register(1, 1)  # request 3 is answered
        assert [frame[7] for frame in gateway.requests] == [3, 3, 6, 6]


def test_concurrent_callers_get_their_own_answers_out_of_order(
    gateways: Callable[..., ScriptedGateway],
) -> None:
    """With ``max_outstanding``, answers are matched by id even when they come reversed."""
    held: list[tuple[int, int, bytes]] = []
    both = threading.Event()

    def script(n: int, tid: int, unit: int, pdu: bytes) -> list[bytes]:
        held.append((tid, unit, pdu))
        if len(held) < 2:
            return []
        both.set()
        return [mbap(t, u, registers(p[2])) for t, u, p in reversed(held)]

    gateway = gateways(script)
    results: dict[int, list[int]] = {}
    with ModbusProtocol("127.0.0.1", gateway.port, timeout=TIMEOUT, max_outstanding=2) as client:
        threads = [
            threading.Thread(
                target=lambda a=address: results.__setitem__(a, client.read_holding_registers(a))
            )
            for address in (1, 2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
    assert both.is_set()
    assert results == {1: [1], 2: [2]}


# -- serial line ---------------------------------------------------------------------


@pytest.fixture
def line(tmp_path: Path) -> Iterator[tuple[serial.Serial, Path]]:
    """A pty pair: the device's end opened with pyserial, and the client's end path."""
    pair: SocatProcess = pty_pair(tmp_path, ("device", "client")).start()
    device = serial.Serial(str(pair.links[0]), 19200, timeout=TIMEOUT)
    try:
        yield device, pair.links[1]
    finally:
        device.close()
        pair.stop()


def rtu(unit: int, pdu: bytes) -> bytes:
    return RTUFramer(side="client").encode(unit, pdu)


def read_request(device: serial.Serial) -> bytes:
    """Read one 8-byte RTU request (functions 01-06) from the device end."""
    request = device.read(8)
    assert len(request) == 8, f"no request within {TIMEOUT} s"
    return request


def run_device(device: serial.Serial, answer: Callable[[bytes], bytes]) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: device.write(answer(read_request(device))), daemon=True
    )
    thread.start()
    return thread


def test_noise_and_foreign_answers_are_dropped(line: tuple[serial.Serial, Path]) -> None:
    device, client_end = line
    thread = run_device(
        device,
        lambda request: (
            b"\x00\xff\x13"
            + rtu(2, registers(9))  # another unit
            + rtu(1, bytes((0x04, 2, 0, 9)))  # another function
            + rtu(1, registers(42))
        ),
    )
    with ModbusRTUProtocol(str(client_end), timeout=TIMEOUT) as client:
        assert client.read_holding_registers(0) == [42]
        assert client.dropped >= 3
    thread.join(TIMEOUT)


def test_local_echo_of_a_two_wire_adapter_is_skipped(line: tuple[serial.Serial, Path]) -> None:
    device, client_end = line
    thread = run_device(device, lambda request: request + rtu(1, registers(77)))
    with ModbusRTUProtocol(str(client_end), timeout=TIMEOUT, echo=True) as client:
        assert client.read_holding_registers(0) == [77]
        assert client.dropped == 0
    thread.join(TIMEOUT)


def test_a_silence_discards_a_partial_frame() -> None:
    answer = rtu(1, registers(5))
    link = ScriptLink([answer[:3], None, answer])
    framer = RTUFramer(side="client")
    engine = BusEngine(link, framer, silence=0.0)
    assert engine.execute(1, bytes.fromhex("0300000001"), TIMEOUT) == registers(5)
    assert framer.dropped == 3


def test_without_silence_the_partial_frame_is_found_by_crc() -> None:
    answer = rtu(1, registers(5))
    link = ScriptLink([answer[:3], None, answer[3:]])
    engine = BusEngine(link, RTUFramer(side="client"))
    assert engine.execute(1, bytes.fromhex("0300000001"), TIMEOUT) == registers(5)


def test_a_silent_unit_does_not_close_the_port(line: tuple[serial.Serial, Path]) -> None:
    device, client_end = line
    with ModbusRTUProtocol(str(client_end), timeout=0.3, retries=1) as client:
        with pytest.raises(ProtocolTimeoutError, match="unit 5 did not answer"):
            client.read_holding_registers(0, unit=5)
        wait_until(lambda: device.in_waiting >= 16, TIMEOUT, "both attempts to reach the line")
        device.reset_input_buffer()
        thread = run_device(device, lambda request: rtu(1, registers(1)))
        client.timeout = TIMEOUT
        assert client.is_connected()
        assert client.read_holding_registers(0) == [1]
        thread.join(TIMEOUT)
