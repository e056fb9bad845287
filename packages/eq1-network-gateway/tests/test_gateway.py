"""The gateway against a real mosquitto and the library's Modbus TCP simulator."""

from __future__ import annotations

import json
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_peers import Broker, Watcher

from eq1_network.gateway import Gateway, parse_config
from eq1_network.gateway.metrics import serve_gateway_metrics
from eq1_network.observe import read_recording
from eq1_network.protocols.modbus import ModbusDevice, ModbusTCPServer, values
from eq1_network.testing import wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def running() -> Iterator[list[Gateway]]:
    """Gateways started by a test; all stopped at its end."""
    started: list[Gateway] = []
    yield started
    for gateway in started:
        gateway.stop()


def start(running: list[Gateway], text: str) -> Gateway:
    gateway = Gateway(parse_config(textwrap.dedent(text), "test.yaml"))
    running.append(gateway)
    gateway.start()
    return gateway


def modbus_yaml(plc: ModbusTCPServer, broker: Broker, poll: str, points: str, **extra: str) -> str:
    host, port = plc.address
    options = "".join(f"    {k}: {v}\n" for k, v in extra.items())
    return (
        "version: 1\n"
        "connections:\n"
        f"  plc: {{url: 'modbus://{host}:{port}?unit=1&timeout=1'}}\n"
        f"  broker: {{url: '{broker.url}'}}\n"
        "bridges:\n"
        "  - from: plc\n"
        "    to: broker\n"
        f"    poll: {poll}\n"
        + options
        + "    points:\n"
        + textwrap.indent(textwrap.dedent(points), "      ")
    )


def test_values_reach_their_topics_at_the_poll_rate(
    running: list[Gateway],
    plc: ModbusTCPServer,
    device: ModbusDevice,
    broker: Broker,
    watcher: Watcher,
    prefix: str,
) -> None:
    device.input_registers[0] = 215
    start(
        running,
        modbus_yaml(
            plc, broker, "100ms", f"- {{name: t, table: input, address: 0, topic: {prefix}/t}}\n"
        ),
    )
    watcher.wait_for(f"{prefix}/t", 25)
    assert set(watcher.on(f"{prefix}/t")) == {b"215"}
    times = watcher.times(f"{prefix}/t")[-21:]
    rate = 20 / (times[-1] - times[0])
    assert 5.0 < rate < 15.0, f"{rate:.1f} messages/s for a 100 ms poll"


def test_float32_cdab_and_other_types_decode(
    running: list[Gateway],
    plc: ModbusTCPServer,
    device: ModbusDevice,
    broker: Broker,
    watcher: Watcher,
    prefix: str,
) -> None:
    device.holding_registers[20:22] = values.encode(21.7, "float32", order="CDAB")
    device.holding_registers[22:24] = values.encode(-5, "int32")
    device.holding_registers[24] = values.encode(-2, "int16")[0]
    device.coils[3] = True
    points = f"""\
        - {{name: flow, table: holding, address: 20, type: float32, order: CDAB,
           topic: {prefix}/flow}}
        - {{name: count, table: holding, address: 22, type: int32, topic: {prefix}/count}}
        - {{name: small, table: holding, address: 24, type: int16, topic: {prefix}/small}}
        - {{name: run, table: coil, address: 3, topic: {prefix}/run}}
        - {{name: level, table: holding, address: 25, scale: 0.1, topic: {prefix}/level}}
    """
    device.holding_registers[25] = 123
    gateway = start(running, modbus_yaml(plc, broker, "200ms", points))
    assert watcher.wait_for(f"{prefix}/flow")[0] == b"21.7"
    assert watcher.wait_for(f"{prefix}/count")[0] == b"-5"
    assert watcher.wait_for(f"{prefix}/small")[0] == b"-2"
    assert watcher.wait_for(f"{prefix}/run")[0] == b"true"
    assert float(watcher.wait_for(f"{prefix}/level")[0]) == pytest.approx(12.3)
    worker = next(iter(gateway.workers.values()))
    assert [(b.table, b.address, b.count) for b in worker.polls[0].blocks] == [
        ("coil", 3, 1),
        ("holding", 20, 6),
    ]


def test_set_topic_writes_reach_the_device_and_the_result_says_so(
    running: list[Gateway],
    plc: ModbusTCPServer,
    device: ModbusDevice,
    broker: Broker,
    watcher: Watcher,
    prefix: str,
) -> None:
    points = f"""\
        - {{name: sp, table: holding, address: 10, topic: {prefix}/sp, set_topic: {prefix}/sp/set}}
        - {{name: f, table: holding, address: 30, type: float32, order: CDAB,
           topic: {prefix}/f, set_topic: {prefix}/f/set}}
        - {{name: pump, table: coil, address: 5,
           topic: {prefix}/pump, set_topic: {prefix}/pump/set}}
    """
    start(running, modbus_yaml(plc, broker, "200ms", points))
    watcher.wait_for(f"{prefix}/sp")
    watcher.publish(f"{prefix}/sp/set", "1234")
    result = json.loads(watcher.wait_for(f"{prefix}/sp/set/result")[0])
    assert result == {"ok": True, "point": "sp", "value": 1234}
    assert device.holding_registers[10] == 1234
    wait_until(lambda: b"1234" in watcher.on(f"{prefix}/sp"), 10, what="the new value published")
    watcher.publish(f"{prefix}/f/set", '{"value": 2.5}')
    assert json.loads(watcher.wait_for(f"{prefix}/f/set/result")[0])["ok"] is True
    assert values.decode(device.holding_registers[30:32], "float32", order="CDAB") == 2.5
    watcher.publish(f"{prefix}/pump/set", "on")
    assert json.loads(watcher.wait_for(f"{prefix}/pump/set/result")[0])["ok"] is True
    assert device.coils[5] is True
    watcher.publish(f"{prefix}/sp/set", "12.5")
    watcher.publish(f"{prefix}/sp/set", "70000")
    bad = [json.loads(m) for m in watcher.wait_for(f"{prefix}/sp/set/result", 3)[1:]]
    assert [b["ok"] for b in bad] == [False, False]
    assert "whole number" in bad[0]["error"]
    assert device.holding_registers[10] == 1234


def test_on_change_suppresses_repeats_and_heartbeat_repeats(
    running: list[Gateway],
    plc: ModbusTCPServer,
    device: ModbusDevice,
    broker: Broker,
    watcher: Watcher,
    prefix: str,
) -> None:
    device.holding_registers[0] = 7
    points = f"""\
        - {{name: a, table: holding, address: 0, topic: {prefix}/a, on_change: true}}
        - {{name: b, table: holding, address: 1, topic: {prefix}/b,
           on_change: true, heartbeat: 300ms}}
    """
    gateway = start(running, modbus_yaml(plc, broker, "50ms", points))
    watcher.wait_for(f"{prefix}/a")
    poll = next(iter(gateway.workers.values())).polls[0]
    seen = poll.counters["polls"]
    wait_until(lambda: poll.counters["polls"] >= seen + 20, 20, what="20 more polls")
    assert watcher.on(f"{prefix}/a") == [b"7"]
    device.holding_registers[0] = 8
    assert watcher.wait_for(f"{prefix}/a", 2) == [b"7", b"8"]
    watcher.wait_for(f"{prefix}/b", 3)  # unchanged, repeated by the heartbeat
    assert set(watcher.on(f"{prefix}/b")) == {b"0"}


def test_json_payload_has_value_unit_timestamp_and_quality(
    running: list[Gateway],
    plc: ModbusTCPServer,
    device: ModbusDevice,
    broker: Broker,
    watcher: Watcher,
    prefix: str,
) -> None:
    device.input_registers[4] = 300
    points = (
        "- {name: p, table: input, address: 4, unit: kPa, format: json, retain: true, "
        f"topic: {prefix}/p}}\n"
    )
    start(running, modbus_yaml(plc, broker, "200ms", points, availability_topic=f"{prefix}/online"))
    body = json.loads(watcher.wait_for(f"{prefix}/p")[0])
    assert body["value"] == 300 and body["unit"] == "kPa" and body["quality"] == "good"
    assert body["timestamp"].endswith("Z")
    assert watcher.wait_for(f"{prefix}/online")[0] == b"online"


def test_example_of_the_documentation_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_PASSWORD", "not shown")
    text = (Path(__file__).parent / "example_gateway.yaml").read_text()
    config = parse_config(text)
    assert config.bridges[0].poll == 0.5
    assert config.bridges[0].points is not None and config.bridges[0].points[1].order == "CDAB"


def test_connection_statistics_and_recording(
    tmp_path: Path,
    plc: ModbusTCPServer,
    device: ModbusDevice,
    broker: Broker,
    watcher: Watcher,
    prefix: str,
) -> None:
    device.holding_registers[2] = 99
    points = f"- {{name: v, table: holding, address: 2, topic: {prefix}/v}}\n"
    text = textwrap.dedent(modbus_yaml(plc, broker, "100ms", points))
    recording = tmp_path / "traffic.jsonl"
    gateway = Gateway(parse_config(text, "test.yaml"), record=recording)
    gateway.start()
    try:
        watcher.wait_for(f"{prefix}/v", 3)
        snapshots = {s.endpoint: s for s in (x.snapshot() for x in gateway.connection_stats())}
        host, port = plc.address
        modbus = snapshots[f"modbus://{host}:{port}?unit=1&timeout=1"]
        assert modbus.messages_out >= 3 and modbus.messages_in >= 3
        assert modbus.latency_p50 is not None
        assert snapshots[broker.url].messages_out >= 3
        counters = gateway.stats()
        unit = counters["modbus"]["plc"]["units"][0]
        assert unit["points"]["v"]["reads"] >= 3 and unit["points"]["v"]["value"] == 99
        assert 0 <= unit["points"]["v"]["age"] < 60
        assert counters["brokers"]["broker"]["published"] >= 3
    finally:
        gateway.stop()
    header, events = read_recording(recording)
    assert broker.url in header["endpoints"]
    kinds = {(e.kind, e.topic) for e in events}
    assert ("publish", f"{prefix}/v") in kinds
    assert any(e.kind == "send" and e.data[7:8] == b"\x03" for e in events)  # MBAP + FC 03


def test_gateways_in_a_share_group_split_the_commands(
    running: list[Gateway],
    plc: ModbusTCPServer,
    device: ModbusDevice,
    broker: Broker,
    watcher: Watcher,
    prefix: str,
) -> None:
    host, port = plc.address
    text = (
        "version: 1\nconnections:\n"
        f"  plc: {{url: 'modbus://{host}:{port}'}}\n"
        f"  broker: {{url: '{broker.url}', share_group: {prefix}}}\n"
        "bridges:\n  - from: plc\n    to: broker\n    poll: 1s\n    points:\n"
        f"      - {{name: sp, table: holding, address: 40, topic: {prefix}/sp, "
        f"set_topic: {prefix}/sp/set}}\n"
    )
    gateways = [start(running, text), start(running, text)]
    for gateway in gateways:
        link = gateway.brokers["broker"]
        wait_until(lambda link=link: link.mqtt.is_connected(), 15, what="both gateways connected")
    for value in range(1, 11):
        watcher.publish(f"{prefix}/sp/set", str(value))
    results = watcher.wait_for(f"{prefix}/sp/set/result", 10)
    assert all(json.loads(r)["ok"] for r in results)
    writes = [g.stats()["modbus"]["plc"]["units"][0]["points"]["sp"]["writes"] for g in gateways]
    assert sum(writes) == 10, writes
    assert device.holding_registers[40] in range(1, 11)
    wait_until(lambda: len(watcher.on(f"{prefix}/sp/set/result")) == 10, 5, what="no duplicates")


def test_prometheus_metrics_per_connection_and_per_point(
    running: list[Gateway],
    plc: ModbusTCPServer,
    device: ModbusDevice,
    broker: Broker,
    watcher: Watcher,
    prefix: str,
) -> None:
    points = f"- {{name: v, table: holding, address: 5, topic: {prefix}/v}}\n"
    gateway = start(running, modbus_yaml(plc, broker, "100ms", points))
    watcher.wait_for(f"{prefix}/v", 2)
    server = serve_gateway_metrics(gateway, 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
    labels = '{connection="plc",point="v",unit=""}'
    reads = [line for line in text.splitlines() if line.startswith("eq1_gateway_point_reads_total")]
    assert reads and reads[0].startswith(f"eq1_gateway_point_reads_total{labels}")
    assert float(reads[0].split()[-1]) >= 2
    assert f"eq1_gateway_point_good{labels} 1.0" in text
    assert f"eq1_gateway_point_age_seconds{labels}" in text
    assert 'eq1_gateway_broker_published_total{broker="broker"}' in text
    assert "eq1_network_messages_out_total{endpoint=" in text
