"""Long fault tests: a silent unit on a shared RTU bus, a broker and a device restarted."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from gateway_peers import Broker, Watcher

from eq1_network.gateway import Gateway, parse_config
from eq1_network.gateway.modbus import UnitPoll
from eq1_network.protocols.modbus import ModbusDevice, ModbusRTUServer, ModbusTCPServer
from eq1_network.testing import pty_pair, wait_until

pytestmark = pytest.mark.timeout(180)

WINDOW = 6.0


def rtu_yaml(tty: Path, broker: Broker, units: tuple[int, ...]) -> str:
    bridges = "".join(
        f"  - from: bus\n    to: broker\n    unit: {unit}\n    poll: 100ms\n    timeout: 200ms\n"
        f"    backoff: 1s\n    backoff_max: 8s\n    points:\n"
        f"      - {{name: v, table: holding, address: 0, topic: rtu{unit}/v, on_change: true}}\n"
        for unit in units
    )
    return (
        "version: 1\nconnections:\n"
        f"  bus: {{url: 'modbus+rtu://{tty}?baudrate=115200&timeout=0.2'}}\n"
        f"  broker: {{url: '{broker.url}'}}\nbridges:\n{bridges}"
    )


def poll_rate(poll: UnitPoll) -> float:
    """Polls per second of one unit over WINDOW seconds, after a warm-up second."""
    time.sleep(1.0)  # warm-up: the silent unit's first probes
    first, started = poll.counters["polls"], time.monotonic()
    time.sleep(WINDOW)
    return (poll.counters["polls"] - first) / (time.monotonic() - started)


def test_a_silent_unit_does_not_slow_a_live_one_on_the_same_bus(
    tmp_path: Path, broker: Broker
) -> None:
    device = ModbusDevice(holding_registers=[7] * 4)
    with pty_pair(tmp_path) as pair:
        bus, server_side = pair.links
        with ModbusRTUServer(str(server_side), 115200, units={1: device}):
            alone = Gateway(parse_config(rtu_yaml(bus, broker, (1,))))
            alone.start()
            try:
                baseline = poll_rate(next(iter(alone.workers.values())).polls[0])
            finally:
                alone.stop()
            shared = Gateway(parse_config(rtu_yaml(bus, broker, (1, 2))))
            shared.start()
            try:
                live, silent = next(iter(shared.workers.values())).polls
                rate = poll_rate(live)
            finally:
                shared.stop()
    assert baseline > 5.0, f"baseline {baseline:.1f} polls/s for a 100 ms period"
    assert abs(rate - baseline) <= 0.2 * baseline, f"live unit {rate:.2f}/s vs {baseline:.2f}/s"
    assert silent.counters["timeouts"] >= 2
    assert silent.points[0].quality == "bad"
    assert live.points[0].quality == "good"


def test_broker_killed_and_restarted(own_broker: Broker) -> None:
    prefix = f"b{uuid.uuid4().hex[:8]}"
    device = ModbusDevice(holding_registers=[1] * 4)
    watcher = Watcher(own_broker.port)
    with ModbusTCPServer("127.0.0.1", 0, units={1: device}) as plc:
        host, port = plc.address
        gateway = Gateway(
            parse_config(
                "version: 1\nconnections:\n"
                f"  plc: {{url: 'modbus://{host}:{port}'}}\n"
                f"  broker: {{url: '{own_broker.url}', queue: 50}}\n"
                "bridges:\n  - from: plc\n    to: broker\n    poll: 50ms\n    qos: 1\n"
                f"    points:\n      - {{name: v, table: holding, address: 0, topic: {prefix}/v}}\n"
            )
        )
        gateway.start()
        try:
            watcher.wait_for(f"{prefix}/v", 5)
            link = gateway.brokers["broker"]
            poll = next(iter(gateway.workers.values())).polls[0]
            own_broker.kill()
            wait_until(lambda: not link.mqtt.is_connected(), 15, what="the loss noticed")
            device.holding_registers[0] = 555
            polls = poll.counters["polls"]
            wait_until(lambda: poll.counters["polls"] >= polls + 60, 30, what="polling to go on")
            wait_until(lambda: link.counters["dropped"] > 0, 30, what="a full outbox dropping")
            assert link.queued <= 50
            own_broker.start()
            wait_until(lambda: b"555" in watcher.on(f"{prefix}/v"), 60, what="publishing resumed")
            wait_until(lambda: link.queued < 5, 30, what="the outbox drained")
        finally:
            gateway.stop()
            watcher.close()
    posted = poll.points[0].publishes
    counted = link.counters["published"] + link.counters["dropped"] + link.queued
    assert posted == counted, (posted, link.counters)


def test_device_killed_and_restarted(broker: Broker, watcher: Watcher) -> None:
    prefix = f"d{uuid.uuid4().hex[:8]}"
    device = ModbusDevice(holding_registers=[21] * 4)
    plc = ModbusTCPServer("127.0.0.1", 0, units={1: device})
    plc.start()
    host, port = plc.address
    gateway = Gateway(
        parse_config(
            "version: 1\nconnections:\n"
            f"  plc: {{url: 'modbus://{host}:{port}?timeout=0.3'}}\n"
            f"  broker: {{url: '{broker.url}'}}\n"
            "bridges:\n  - from: plc\n    to: broker\n    poll: 100ms\n    format: json\n"
            f"    backoff: 200ms\n    backoff_max: 1s\n    availability_topic: {prefix}/status\n"
            f"    points:\n      - {{name: v, table: holding, address: 0, topic: {prefix}/v, "
            "on_change: true}\n"
        )
    )
    gateway.start()
    topic = f"{prefix}/v"

    def qualities() -> list[str]:
        return [json.loads(m)["quality"] for m in watcher.on(topic)]

    try:
        wait_until(lambda: qualities() == ["good"], 15, what="a good reading")
        plc.stop()
        wait_until(lambda: qualities() == ["good", "bad"], 20, what="quality bad")
        device.holding_registers[0] = 22
        plc = ModbusTCPServer("127.0.0.1", port, units={1: device})
        plc.start()
        wait_until(lambda: qualities() == ["good", "bad", "good"], 30, what="quality good again")
        assert json.loads(watcher.on(topic)[-1])["value"] == 22
        statuses = [b"online", b"offline", b"online"]
        wait_until(lambda: watcher.on(f"{prefix}/status") == statuses, 15, what="availability")
    finally:
        gateway.stop()
        plc.stop()
