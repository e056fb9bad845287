"""The observability layer: tap, recorder and replay, statistics, exporters."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import eq1_network
from eq1_network import (
    BINARY_PACKAGE,
    BinarySendData,
    NetworkConfig,
    NetworkHandler,
    ProtocolConnectionError,
    ProtocolTimeoutError,
    hookimpl,
)
from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolUsageError
from eq1_network.observe import (
    Recorder,
    Stats,
    StatsSnapshot,
    Tap,
    TapEvent,
    percentile,
    preview,
    read_recording,
    replay,
    report,
    select_events,
)
from eq1_network.plugins.registry import ProtocolManager
from eq1_network.protocols.loopback.reqres import LoopbackProtocol
from eq1_network.testing import EchoServer, free_port, wait_until

pytestmark = pytest.mark.timeout(120)


def test_tap_sees_sends_and_reads_of_a_tcp_client_once() -> None:
    events: list[TapEvent] = []
    with EchoServer() as server:
        host, port = server.address
        url = f"tcp://{host}:{port}?timeout=5"
        proto = Tap(events.append).install(eq1_network.from_url(url), url=url)
        with proto:
            proto.send(b"ping\n")
            assert proto.read_until(b"\n") == b"ping\n"
            proto.send(b"a")
            assert proto.read_within(5.0) == b"a"
    kinds = [(e.kind, e.direction, e.data) for e in events]
    assert kinds == [
        ("connect", "", b""),
        ("send", "out", b"ping\n"),
        ("read", "in", b"ping\n"),
        ("send", "out", b"a"),
        ("read", "in", b"a"),
        ("disconnect", "", b""),
    ]
    assert {e.endpoint for e in events} == {url}
    assert all(e.wall > 1e9 and e.monotonic > 0 for e in events)


def test_tap_hides_the_password_and_uninstall_restores_the_class_methods() -> None:
    proto = LoopbackProtocol()
    tap = Tap(endpoint=None)
    tap.install(proto, url="loop://user:secret@x")
    assert "secret" not in tap.endpoint and "***" in tap.endpoint
    assert "_send_raw" in vars(proto)
    with pytest.raises(ProtocolUsageError, match="already installed"):
        tap.install(proto)
    tap.uninstall()
    assert "_send_raw" not in vars(proto) and "connect" not in vars(proto)
    with pytest.raises(ProtocolUsageError, match="ReqResProtocol or PubSubProtocol"):
        Tap().install(object())  # type: ignore[arg-type]


def test_tap_reports_errors_and_a_failing_listener_does_not_break_the_protocol() -> None:
    events: list[TapEvent] = []

    def broken(event: TapEvent) -> None:
        raise RuntimeError("listener bug")

    url = f"tcp://127.0.0.1:{free_port()}?timeout=1"
    proto = Tap(broken, events.append).install(eq1_network.from_url(url), url=url)
    with pytest.raises(ProtocolConnectionError):
        proto.connect()
    assert [e.kind for e in events] == ["error"]
    assert "ProtocolConnectionError" in (events[0].error or "")


def test_tap_on_publish_subscribe_keeps_unsubscribe_working() -> None:
    events: list[TapEvent] = []
    bus = Tap(events.append).install(eq1_network.from_url("memory://"))
    got: list[tuple[str, bytes]] = []

    def callback(topic: str, payload: bytes) -> None:
        got.append((topic, payload))

    with bus:
        bus.subscribe("a/#", callback)
        bus.publish("a/b", b"one", qos=1).wait(5)
        bus.unsubscribe("a/#", callback)
        bus.publish("a/b", b"two")
    assert got == [("a/b", b"one")]
    data = [(e.kind, e.topic, e.data) for e in events if e.data]
    assert sorted(data) == sorted(
        [("message", "a/b", b"one"), ("publish", "a/b", b"one"), ("publish", "a/b", b"two")]
    )
    assert [e.qos for e in events if e.kind == "publish"] == [1, 0]


def test_tap_on_a_tcp_server_reports_each_peer() -> None:
    events: list[TapEvent] = []
    port = free_port()
    server = Tap(events.append).install(eq1_network.from_url(f"tcp-listen://127.0.0.1:{port}"))
    with server:
        with eq1_network.from_url(f"tcp://127.0.0.1:{port}?timeout=5") as client:
            client.send(b"hello")
            item = None
            deadline = time.monotonic() + 10
            while item is None and time.monotonic() < deadline:
                item = server.receive(timeout=0.5)
            assert item is not None
            server.send_to(item.peer, b"back")
            assert client.read_exactly(4) == b"back"
    peers = {e.peer for e in events if e.data}
    assert len(peers) == 1 and None not in peers
    assert [(e.kind, e.data) for e in events if e.data] == [("read", b"hello"), ("send", b"back")]


def test_network_handler_runs_on_a_tapped_protocol() -> None:
    stats = Stats()
    with EchoServer() as server:
        host, port = server.address
        proto = Tap(stats).install(eq1_network.from_url(f"tcp://{host}:{port}?timeout=5"))
        config = NetworkConfig(protocol=proto, package=BINARY_PACKAGE, receive_queue=True)
        with NetworkHandler(config) as handler:
            for i in range(20):
                handler.send_data(BinarySendData(bytes([i]) * 100))
            got = [handler.receive(timeout=10).value for _ in range(20)]
    assert got == [bytes([i]) * 100 for i in range(20)]
    snap = stats.snapshot()
    assert snap.bytes_out == snap.bytes_in > 2000
    assert snap.connects == 1 and snap.errors == 0


def test_stats_counts_round_trips_timeouts_and_queues() -> None:
    stats = Stats()
    proto = Tap(stats).install(LoopbackProtocol(), url="loop://")
    stats.protocol = proto
    with proto:
        for _ in range(10):
            proto.send(b"abc")
            assert proto.read_within(1.0) == b"abc"
        with pytest.raises(ProtocolTimeoutError):
            proto.read_until(b"\n", timeout=0.05)
    stats.record_timeout()
    snap = stats.snapshot()
    assert (snap.messages_out, snap.messages_in, snap.bytes_out, snap.bytes_in) == (10, 10, 30, 30)
    assert snap.round_trips == 10 and snap.timeouts == 1
    assert snap.latency_p50 is not None and snap.latency_p50 <= snap.latency_p99 <= snap.latency_max
    assert snap.endpoint == "loop://" and snap.reconnects == 0
    assert json.loads(json.dumps(snap.as_dict()))["round_trips"] == 10

    class Queued:
        queued = 7
        backlog = True  # not a depth

    assert Stats(protocol=Queued()).snapshot().queues == {"queued": 7}


class _CountsOnly(Stats):
    """Statistics that fail if a whole event reaches them for an event without an error."""

    def __call__(self, event: TapEvent) -> None:
        assert event.error is not None, f"a whole event came for {event.kind}"
        super().__call__(event)


def test_counting_listeners_get_fields_and_others_get_whole_events() -> None:
    counted = _CountsOnly()
    proto = Tap(counted).install(LoopbackProtocol(), url="loop://counted")
    with proto:
        for _ in range(5):
            proto.send(b"abcd")
            assert proto.read_within(1.0) == b"abcd"
    snap = counted.snapshot()
    assert (snap.messages_out, snap.messages_in, snap.bytes_out, snap.bytes_in) == (5, 5, 20, 20)
    assert snap.round_trips == 5 and snap.connects == 1 and snap.endpoint == "loop://counted"

    events: list[TapEvent] = []
    stats = Stats()
    tap = Tap(stats)
    proto = tap.install(LoopbackProtocol(), url="loop://mixed")
    listener = events.append
    tap.add_listener(listener)  # a listener that needs whole events: all get them
    with proto:
        proto.send(b"xy")
        assert proto.read_within(1.0) == b"xy"
    assert [e.kind for e in events if e.data] == ["send", "read"]
    assert (stats.snapshot().messages_out, stats.snapshot().bytes_in) == (1, 2)
    tap.remove_listener(listener)
    events.clear()
    with proto:
        proto.send(b"z")
        assert proto.read_within(1.0) == b"z"
    assert events == [] and stats.snapshot().messages_out == 2


def test_a_counting_listener_that_fails_is_logged_and_the_protocol_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Stats):
        def tap_count(self, *args: Any) -> None:
            raise RuntimeError("counter bug")

    proto = Tap(Broken()).install(LoopbackProtocol(), url="loop://broken")
    with proto:
        proto.send(b"ok")
        assert proto.read_within(1.0) == b"ok"
    assert "counter bug" in caplog.text


def test_percentile_by_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0


def test_report_reaches_an_exporter_plugin() -> None:
    received: list[list[StatsSnapshot]] = []

    class Exporter:
        @hookimpl
        def eq1_network_report_stats(self, snapshots: list[StatsSnapshot]) -> None:
            received.append(snapshots)

    pm = ProtocolManager.registry.plugin_manager()
    exporter = Exporter()
    pm.register(exporter, name="test-exporter")
    try:
        report([Stats("loop://").snapshot()])
    finally:
        pm.unregister(exporter)
    assert len(received) == 1 and received[0][0].endpoint == "loop://"


def test_prometheus_metrics_endpoint() -> None:
    from eq1_network.observe.prometheus import serve_metrics

    stats = Stats()
    proto = Tap(stats).install(LoopbackProtocol(), url="loop://")
    with proto:
        proto.send(b"12345")
        proto.read_within(1.0)
    server, _thread = serve_metrics(lambda: [stats], port=0)
    try:
        port = server.server_port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
    assert 'eq1_network_bytes_out_total{endpoint="loop://"} 5.0' in text
    assert 'eq1_network_round_trip_seconds{endpoint="loop://",quantile="0.5"}' in text


def test_recorder_writes_header_events_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = Recorder(path, endpoints=["loop://"], max_bytes=2000, backups=2)
    proto = Tap(recorder).install(LoopbackProtocol(), url="loop://")
    with proto:
        for i in range(60):
            proto.send(bytes([i]) * 40)
            proto.read_within(1.0)
    recorder.close()
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert rotated == ["rec.jsonl", "rec.jsonl.1", "rec.jsonl.2"]
    for name in rotated:
        header, events = read_recording(tmp_path / name)
        assert header["endpoints"] == ["loop://"] and header["version"] == 1
        assert (tmp_path / name).stat().st_size < 2000 + 400
    oldest_first = [tmp_path / "rec.jsonl.2", tmp_path / "rec.jsonl.1", path]
    events = [e for name in oldest_first for e in read_recording(name)[1]]
    last = events[-1]
    assert (last.kind, last.direction, last.data) == ("disconnect", "", b"")
    sends = [e for e in events if e.kind == "send"]  # the newest, wherever rotation fell
    assert sends[-1].data == bytes([59]) * 40
    assert [e.t for e in events] == sorted(e.t for e in events)
    line = json.loads(path.read_text().splitlines()[1])
    assert {"t", "wall", "kind", "dir", "endpoint", "len", "data", "preview"} <= set(line)


def test_preview_and_bad_recordings(tmp_path: Path) -> None:
    assert preview(b"OK\r\n\x00") == "OK\\r\\n\\x00"
    assert preview(b"x" * 100, 4) == "xxxx..."
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "eq1-network-recording"}\nnot json\n')
    with pytest.raises(ProtocolArgumentError, match="line 2"):
        read_recording(bad)
    bad.write_text("")
    with pytest.raises(ProtocolArgumentError, match="empty"):
        read_recording(bad)
    with pytest.raises(ProtocolArgumentError):
        Recorder(tmp_path / "x", max_bytes=0)


def test_replay_keeps_the_pace_scales_it_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with Recorder(path, data_only=True) as recorder:
        proto = Tap(recorder).install(LoopbackProtocol())
        with proto:
            for i in range(3):
                proto.send(b"m%d" % i)
                time.sleep(0.15)  # the pace that replay must keep
    _, events = read_recording(path)
    chosen = select_events(events)
    assert [e.data for e in chosen] == [b"m0", b"m1", b"m2"]
    assert select_events(events, "in") == []
    with pytest.raises(ProtocolArgumentError):
        select_events(events, "sideways")
    target = LoopbackProtocol()
    with target:
        started = time.monotonic()
        assert replay(chosen, target, speed=1.0) == 3
        paced = time.monotonic() - started
        started = time.monotonic()
        assert replay(chosen, target, speed=None, loops=2) == 6
        fast = time.monotonic() - started
        received = b""
        while len(received) < 18:
            chunk = target.read_within(1.0)
            assert chunk is not None
            received += chunk
    assert received == b"m0m1m2" * 3
    assert paced >= 0.25 and fast < paced
    stop = threading.Event()
    stop.set()
    with LoopbackProtocol() as other:
        assert replay(chosen, other, loops=0, stop=stop.is_set) == 0
    with pytest.raises(ProtocolArgumentError):
        replay(chosen, target, speed=0)


def test_replay_onto_publish_subscribe_needs_a_topic(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with Recorder(path) as recorder:
        proto = Tap(recorder).install(LoopbackProtocol())
        with proto:
            proto.send(b"reading=1")
    _, events = read_recording(path)
    got: list[tuple[str, bytes]] = []
    bus: Any = eq1_network.from_url("memory://")
    with bus:
        bus.subscribe("plant/#", lambda t, p: got.append((t, p)))
        with pytest.raises(ProtocolArgumentError, match="--topic"):
            replay(select_events(events), bus, speed=None)
        replay(select_events(events), bus, speed=None, topic="plant/line1")
        wait_until(lambda: got, 5, what="the replayed message")
    assert got == [("plant/line1", b"reading=1")]
