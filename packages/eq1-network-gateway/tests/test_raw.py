"""Raw bridges: serial lines to a topic, MQTT messages to a TCP sink; framing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from gateway_peers import Broker, Watcher
from hypothesis import given, settings
from hypothesis import strategies as st

from eq1_network.gateway import Gateway, parse_config
from eq1_network.gateway.raw import Deframer, frame
from eq1_network.protocols.modbus import ModbusDevice, ModbusTCPServer
from eq1_network.testing import pty_pair, recv_exactly, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def prefix() -> str:
    return f"r{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sink() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(15)
    yield server
    server.close()


def run(text: str) -> Gateway:
    gateway = Gateway(parse_config(text, "test.yaml"))
    gateway.start()
    return gateway


def test_serial_lines_arrive_on_their_topic(
    tmp_path: Path, broker: Broker, watcher: Watcher, prefix: str
) -> None:
    with pty_pair(tmp_path) as pair:
        a, b = pair.links
        gateway = run(
            f"version: 1\nbridges:\n  - {{from: 'serial://{a}?baudrate=115200', "
            f"to: '{broker.url}', framing: lines, topic: {prefix}/scan}}\n"
        )
        try:
            raw = gateway.raw[0]
            wait_until(lambda: raw.counters["connects"], 15, what="the serial port open")
            with serial.Serial(str(b), 115200, timeout=1) as peer:
                peer.write(b"ABC-123\r\nDEF")
                peer.flush()
                peer.write(b"-456\n")
            assert watcher.wait_for(f"{prefix}/scan", 2) == [b"ABC-123", b"DEF-456"]
        finally:
            gateway.stop()


def test_mqtt_messages_reach_a_tcp_sink(
    sink: socket.socket, broker: Broker, watcher: Watcher, prefix: str
) -> None:
    port = sink.getsockname()[1]
    gateway = run(
        f"version: 1\nconnections:\n  b: {{url: '{broker.url}'}}\nbridges:\n"
        f"  - {{from: b, to: 'tcp://127.0.0.1:{port}', topic: {prefix}/job}}\n"
        f"  - {{from: b, to: 'tcp://127.0.0.1:{port}', topic: {prefix}/bin, framing: length, "
        "length_bytes: 2}\n"
    )
    try:
        first, _ = sink.accept()
        second, _ = sink.accept()
        wait_until(lambda: gateway.brokers["b"].mqtt.is_connected(), 15, what="the broker")
        watcher.publish(f"{prefix}/job", "PRINT 1")
        watcher.publish(f"{prefix}/bin", b"\x00\x01\x02")
        received = {}
        for conn in (first, second):
            conn.settimeout(10)
            head = conn.recv(1)
            received[head] = head + (
                recv_exactly(conn, 7) if head == b"P" else recv_exactly(conn, 4)
            )
        assert received[b"P"] == b"PRINT 1\n"
        assert received[b"\x00"] == b"\x00\x03\x00\x01\x02"
        first.close()
        second.close()
    finally:
        gateway.stop()


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(st.binary(max_size=40), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=10),
    framing=st.sampled_from(["lines", "length"]),
)
def test_deframer_finds_the_same_frames_however_the_stream_is_cut(
    frames: list[bytes], cuts: list[int], framing: str
) -> None:
    if framing == "lines":
        frames = [f.replace(b"\n", b"").rstrip(b"\r") for f in frames]
    stream = b"".join(frame(f, framing, 2) for f in frames)
    deframer = Deframer(framing, length_bytes=2)
    found: list[bytes] = []
    last = 0
    for cut in [*sorted({min(c, len(stream)) for c in cuts}), len(stream)]:
        found += deframer.feed(stream[last:cut])
        last = cut
    assert found == frames
    assert deframer.dropped == 0


def test_deframer_splits_and_bounds() -> None:
    lines = Deframer("lines", max_frame=8)
    assert lines.feed(b"a\r\nbc") == [b"a"]
    assert lines.feed(b"\n") == [b"bc"]
    assert lines.feed(b"0123456789abc") == []
    assert lines.feed(b"d\nok\n") == [b"ok"]
    assert lines.dropped == 1
    lengths = Deframer("length", length_bytes=1, max_frame=4)
    assert lengths.feed(b"\x02ab\x01") == [b"ab"]
    assert lengths.feed(b"c") == [b"c"]
    assert lengths.feed(b"\x09abcdefghi") == []
    assert lengths.dropped == 1
    assert frame(b"x", "lines") == b"x\n"
    assert frame(b"xy", "length", 2) == b"\x00\x02xy"
    with pytest.raises(ValueError, match="does not fit"):
        frame(bytes(300), "length", 1)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_command_runs_until_a_signal_and_stops_cleanly(
    tmp_path: Path, broker: Broker, watcher: Watcher, prefix: str, stop_signal: int
) -> None:
    device = ModbusDevice(holding_registers=[42] * 10)
    with ModbusTCPServer("127.0.0.1", 0, units={1: device}) as plc:
        host, port = plc.address
        config = tmp_path / "gw.yaml"
        config.write_text(
            "version: 1\nconnections:\n"
            f"  plc: {{url: 'modbus://{host}:{port}'}}\n  broker: {{url: '{broker.url}'}}\n"
            "bridges:\n  - from: plc\n    to: broker\n    poll: 100ms\n    points:\n"
            f"      - {{name: v, table: holding, address: 3, topic: {prefix}/v}}\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "eq1_network", "gateway", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            assert watcher.wait_for(f"{prefix}/v", 3)[0] == b"42"
            proc.send_signal(stop_signal)
            output, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert proc.returncode == 0, output.decode()
        assert b"gateway stopped" in output
        assert b"counters at exit" in output
        # At INFO, each unit's points are counted, not listed one by one.
        assert b'"points": 1' in output and b'"publishes"' not in output
