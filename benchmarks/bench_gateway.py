"""The gateway end to end against a hand-written pymodbus + paho script, in one run.

Both systems poll the same Modbus TCP server (the library's simulator in a process of
its own, 1,000 holding registers) and publish to the same mosquitto (a private one on
127.0.0.1 with ``max_queued_messages 0``), each in its own process; this process
subscribes and measures.

- Throughput: 1,000 uint16 points in contiguous blocks (8 reads of up to 125
  registers), ``on_change`` off, polling as fast as it can, at MQTT QoS 0 and QoS 1:
  messages delivered per second over a fixed window, counted by ``mosquitto_sub`` (a
  Python subscriber would be the bottleneck).
- Latency: one register polled every 10 ms and published on change; this process
  writes a new value and times its arrival on the topic (median and p99 over the
  changes).

The script uses pymodbus's ``ModbusTcpClient`` and paho's ``Client`` with their
defaults, as a script written by hand would. Every loop is bounded by time or count.

Usage: ``python benchmarks/bench_gateway.py [--window S] [--rounds R] [--changes N]``
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from eq1_network.protocols.modbus import ModbusProtocol
from eq1_network.testing import PeerProcess, free_port

HOST = "127.0.0.1"
REGISTERS = 1000

SERVER = """
import sys, threading
from eq1_network.protocols.modbus import ModbusDevice, ModbusTCPServer
device = ModbusDevice(holding_registers=list(range({n})))
with ModbusTCPServer("127.0.0.1", 0, units={{1: device}}) as server:
    print("READY", server.address[1], flush=True)
    sys.stdin.read()
"""

SCRIPT = """
import signal, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.client import ModbusTcpClient

modbus_port, broker_port, qos, count, period, on_change = map(float, sys.argv[1:7])
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
broker = mqtt.Client(CallbackAPIVersion.VERSION2)
broker.connect("127.0.0.1", int(broker_port))
broker.loop_start()
plc = ModbusTcpClient("127.0.0.1", port=int(modbus_port))
plc.connect()
last = {}
while True:
    started = time.monotonic()
    for first in range(0, int(count), 125):
        answer = plc.read_holding_registers(first, count=min(125, int(count) - first), device_id=1)
        for offset, value in enumerate(answer.registers):
            address = first + offset
            if on_change and last.get(address) == value:
                continue
            last[address] = value
            broker.publish(f"bench/{address}", str(value), qos=int(qos))
    time.sleep(max(0.0, started + period - time.monotonic()))
"""


def gateway_yaml(modbus_port: int, broker_port: int, qos: int, count: int, poll: str) -> str:
    on_change = "true" if count == 1 else "false"
    points = "".join(
        f"      - {{name: r{a}, table: holding, address: {a}, topic: bench/{a}, "
        f"on_change: {on_change}}}\n"
        for a in range(count)
    )
    return (
        "version: 1\nconnections:\n"
        f"  plc: {{url: 'modbus://{HOST}:{modbus_port}?max_outstanding=8&timeout=2'}}\n"
        f"  broker: {{url: 'mqtt://{HOST}:{broker_port}', queue: 100000}}\n"
        f"bridges:\n  - from: plc\n    to: broker\n    poll: {poll}\n    qos: {qos}\n"
        f"    points:\n{points}"
    )


class Subscriber:
    """Counts messages on bench/# and remembers when each payload of bench/0 arrived."""

    def __init__(self, port: int, qos: int) -> None:
        self.count = 0
        self.arrivals: dict[bytes, float] = {}
        self.seen = threading.Condition()
        ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("bench/#", qos=qos)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(HOST, port)
        self.client.loop_start()
        if not ready.wait(10):
            raise SystemExit("the subscriber was not acknowledged")

    def _on_message(self, client: object, userdata: object, msg: paho.MQTTMessage) -> None:
        self.count += 1
        if msg.topic == "bench/0":
            with self.seen:
                self.arrivals[bytes(msg.payload)] = time.perf_counter()
                self.seen.notify_all()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def lane_command(kind: str, folder: Path, args: tuple[int, int, int, int, str]) -> list[str]:
    modbus_port, broker_port, qos, count, poll = args
    if kind == "gateway":
        config = folder / f"gw-{qos}-{count}.yaml"
        config.write_text(gateway_yaml(modbus_port, broker_port, qos, count, poll))
        return [sys.executable, "-m", "eq1_network", "gateway", "--config", str(config)]
    script = folder / "script.py"
    script.write_text(SCRIPT)
    seconds = str(float(poll.rstrip("ms")) / 1000)
    on_change = "1" if count == 1 else "0"
    return [sys.executable, str(script), str(modbus_port), str(broker_port), str(qos),
            str(count), seconds, on_change]  # fmt: skip


class Counter:
    """Counts messages on bench/# with ``mosquitto_sub`` (C), one payload per line."""

    def __init__(self, port: int, qos: int) -> None:
        self.count = 0
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", HOST, "-p", str(port), "-q", str(qos), "-t", "bench/#"],
            stdout=subprocess.PIPE,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        time.sleep(0.5)  # its subscription

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(65536):
            self.count += chunk.count(b"\n")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def throughput(kind: str, folder: Path, ports: tuple[int, int], qos: int, window: float) -> float:
    subscriber = Counter(ports[1], qos)
    proc = subprocess.Popen(
        lane_command(kind, folder, (*ports, qos, REGISTERS, "1ms")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while subscriber.count < REGISTERS and time.monotonic() < deadline:
            time.sleep(0.05)
        first, started = subscriber.count, time.monotonic()
        time.sleep(window)
        return (subscriber.count - first) / (time.monotonic() - started)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        subscriber.close()


def latency(kind: str, folder: Path, ports: tuple[int, int], changes: int) -> list[float]:
    subscriber = Subscriber(ports[1], 1)
    proc = subprocess.Popen(
        lane_command(kind, folder, (*ports, 1, 1, "10ms")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples = []
    try:
        with ModbusProtocol(HOST, ports[0], timeout=2.0) as plc:
            plc.write_register(0, 0)
            with subscriber.seen:  # the lane is up: it published the first value
                subscriber.seen.wait_for(lambda: b"0" in subscriber.arrivals, 30.0)
            for step in range(1, changes + 1):
                value = 10_000 + step + (0 if kind == "gateway" else 20_000)
                plc.write_register(0, value)
                written = time.perf_counter()
                key = str(value).encode()
                with subscriber.seen:
                    subscriber.seen.wait_for(lambda k=key: k in subscriber.arrivals, 5.0)
                if key in subscriber.arrivals:
                    samples.append(subscriber.arrivals[key] - written)
                time.sleep(0.013)  # not in step with the 10 ms poll period
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        subscriber.close()
    return samples


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=5.0, help="seconds measured per lane")
    parser.add_argument("--changes", type=int, default=200, help="register changes timed")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per lane")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="eq1-bench-gw-"))
    os.chmod(folder, 0o755)
    broker_port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {broker_port} {HOST}\nallow_anonymous true\nmax_queued_messages 0\n"
    )
    os.chmod(config, 0o644)
    broker = PeerProcess(["mosquitto", "-c", str(config)], log=folder / "mosquitto.log").start()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(n=REGISTERS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        broker.wait_listening(broker_port, HOST, 20)
        assert server.stdout is not None
        modbus_port = int(server.stdout.readline().split()[1])
        ports = (modbus_port, broker_port)
        print(
            f"{REGISTERS} registers, {args.window:.0f} s per lane, median of {args.rounds} "
            "rounds, mosquitto with unlimited queues"
        )
        for qos in (0, 1):
            runs: dict[str, list[float]] = {"script": [], "gateway": []}
            for _ in range(args.rounds):  # lanes alternate; the median of the rounds counts
                for kind, results in runs.items():
                    results.append(throughput(kind, folder, ports, qos, args.window))
            rates = {k: statistics.median(v) for k, v in runs.items()}
            print(
                f"QoS {qos}: gateway {rates['gateway']:9.0f} points/s   "
                f"pymodbus+paho script {rates['script']:9.0f} points/s   "
                f"ratio {rates['gateway'] / max(rates['script'], 1):.2f}x"
            )
        for kind in ("script", "gateway"):
            samples = latency(kind, folder, ports, args.changes)
            if not samples:
                print(f"latency {kind}: no change arrived")
                continue
            print(
                f"latency {kind:8s}: median {statistics.median(samples) * 1000:6.2f} ms  "
                f"p99 {p99(samples) * 1000:6.2f} ms  ({len(samples)}/{args.changes} changes, "
                "10 ms poll)"
            )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
        broker.stop(signal.SIGTERM, 10)


if __name__ == "__main__":
    main()
