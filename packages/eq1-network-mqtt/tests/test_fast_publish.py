"""PUBLISH written, and PUBLISH and acknowledgements read, by the fast client against paho."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from eq1_network.common.exceptions import ProtocolConnectionError
from eq1_network.protocols.mqtt._adapter import PahoAdapter, PublishStatus
from eq1_network.protocols.mqtt._adapter_parts import PublicClient
from eq1_network.protocols.mqtt._paho_fast import BufferedSocket, FastClient, QoS0Write
from eq1_network.protocols.mqtt._publish_codec import (
    PublishEncoder,
    ack_packet,
    remaining_length,
    scan_acks,
    scan_publishes,
)
from eq1_network.protocols.mqtt.config import BrokerConfig, ClientConfig

# -- encoding ------------------------------------------------------------------------


def paho_packet(topic: str, payload: bytes, retain: bool, protocol: int) -> bytes:
    """The QoS 0 PUBLISH paho itself queues."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="x", protocol=protocol)
    client.on_socket_register_write = lambda *args: None  # queue only, never write
    client._sock = mock.Mock()
    info = client.publish(topic, payload, 0, retain)
    assert info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
    return bytes(client._out_packet[-1]["packet"])


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5])
@pytest.mark.parametrize("size", [0, 1, 60, 123, 124, 200, 16_380, 16_390, 2_097_200])
@pytest.mark.parametrize("retain", [False, True])
def test_qos0_packets_are_byte_for_byte_paho_s(protocol: int, size: int, retain: bool) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    encoder = PublishEncoder(v5=protocol == paho.MQTTv5)
    for topic in ("a/b", "ünï/cødé", "t" * 300):
        expected = paho_packet(topic, payload, retain, protocol)
        assert encoder.qos0(topic, payload, retain) == expected
        assert encoder.qos0(topic, payload, retain) == expected  # from the topic memory


def paho_message(
    topic: str, payload: bytes, qos: int, retain: bool, protocol: int = paho.MQTTv311
) -> tuple[bytes, paho.MQTTMessage]:
    """The QoS 1/2 PUBLISH paho itself queues, and the message it records."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="x", protocol=protocol)
    client.on_socket_register_write = lambda *args: None  # queue only, never write
    client.max_inflight_messages_set(0)
    client._sock = mock.Mock()
    info = client.publish(topic, payload, qos, retain)
    assert info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
    return bytes(client._out_packet[-1]["packet"]), client._out_messages[info.mid]


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5])
@pytest.mark.parametrize("size", [0, 1, 60, 121, 122, 200, 16_380, 2_097_200])
@pytest.mark.parametrize("qos", [1, 2])
@pytest.mark.parametrize("retain", [False, True])
def test_qos1_and_qos2_packets_are_byte_for_byte_paho_s(
    protocol: int, size: int, qos: int, retain: bool
) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    encoder = PublishEncoder(v5=protocol == paho.MQTTv5)
    for topic in ("a/b", "ünï/cødé", "t" * 300):
        expected, message = paho_message(topic, payload, qos, retain, protocol)
        for _ in range(2):  # the second from the topic memory
            assert encoder.acknowledged(topic, payload, qos, retain, message.mid) == expected
    properties = b"\x00" if protocol == paho.MQTTv5 else b""
    assert encoder.acknowledged("a", b"", 1, False, 0xABCD).endswith(b"\xab\xcd" + properties)


def test_the_topic_memory_is_bounded() -> None:
    encoder = PublishEncoder(v5=False, cache_size=4)
    for index in range(10):
        assert encoder.qos0(f"t/{index}", b"p", False) == paho_packet(
            f"t/{index}", b"p", False, paho.MQTTv311
        )
        assert len(encoder._prefixes) <= 4


@pytest.mark.parametrize(
    ("size", "encoded"),
    [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16_383, b"\xff\x7f"),
     (16_384, b"\x80\x80\x01"), (268_435_455, b"\xff\xff\xff\x7f")],
)  # fmt: skip
def test_remaining_length_matches_the_specification_examples(size: int, encoded: bytes) -> None:
    assert remaining_length(size) == encoded


# -- decoding ------------------------------------------------------------------------


def publish(topic: bytes, payload: bytes, qos: int = 0, mid: int = 0, first: int = 0) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    body += payload
    return bytes((first or 0x30 | qos << 1,)) + remaining_length(len(body)) + body


def scan(data: bytes, pos: int = 0) -> tuple[int, list[tuple[Any, ...]], list[int]]:
    seen: list[tuple[Any, ...]] = []
    acks: list[int] = []
    end = scan_publishes(data, pos, lambda *message: seen.append(message), acks, [])
    return end, seen, acks


def test_qos0_and_qos1_packets_are_taken_in_order() -> None:
    data = (
        publish(b"a", b"one")
        + publish(b"b/c", b"two", qos=1, mid=7)
        + publish(b"d", b"x" * 300, first=0x31)  # retained, two-byte length
        + publish(b"e", b"", qos=1, mid=65535, first=0x3B)  # DUP, retained
    )
    end, seen, acks = scan(data)
    assert end == len(data)
    assert seen == [
        ("a", b"one", 0, False),
        ("b/c", b"two", 1, False),
        ("d", b"x" * 300, 0, True),
        ("e", b"", 1, True),
    ]
    assert acks == [0x40 << 16 | 7, 0x40 << 16 | 65535]


@pytest.mark.parametrize(
    "stopper",
    [
        b"\xd0\x00",  # PINGRESP
        b"\x40\x02\x00\x01",  # PUBACK
        publish(b"q2", b"p", qos=2, mid=0),  # packet id 0
        publish(b"q3", b"p", first=0x36),  # QoS 3 is invalid
        publish(b"dup", b"p", first=0x38),  # DUP on QoS 0 is invalid
        publish(b"", b"p"),  # empty topic
        publish(b"\xff\xfe", b"p"),  # not UTF-8
        publish(b"z", b"p", qos=1, mid=0),  # packet id 0
        b"\x30\x01\x00",  # shorter than its topic length field
        b"\x30\x03\x00\x09a",  # topic longer than the packet
        b"\x30\xff\xff\xff\xff\x01",  # Remaining Length of five bytes
    ],
)
def test_scanning_stops_in_front_of_what_paho_must_handle(stopper: bytes) -> None:
    before = publish(b"ok", b"1")
    end, seen, acks = scan(before + stopper + publish(b"after", b"2"))
    assert end == len(before) and seen == [("ok", b"1", 0, False)] and acks == []


def test_incomplete_packets_stay_unread_at_every_cut() -> None:
    data = publish(b"a/b", b"one", qos=1, mid=3) + publish(b"c", b"y" * 200)
    first = len(publish(b"a/b", b"one", qos=1, mid=3))
    for cut in range(len(data)):
        end, seen, _ = scan(data[:cut])
        assert end == (first if cut >= first else 0), cut
        assert len(seen) == (1 if cut >= first else 0)


def test_qos2_packets_are_held_and_answered_in_order() -> None:
    data = (
        publish(b"a", b"1", qos=1, mid=5)
        + publish(b"b", b"2", qos=2, mid=6, first=0x3D)  # retained, DUP
        + publish(b"c", b"3")
    )
    seen: list[tuple[Any, ...]] = []
    acks: list[int] = []
    held: list[tuple[int, str, bytes, bool, bool]] = []
    assert scan_publishes(data, 0, lambda *m: seen.append(m), acks, held) == len(data)
    assert seen == [("a", b"1", 1, False), ("c", b"3", 0, False)]
    assert held == [(6, "b", b"2", True, True)] and acks == [0x40 << 16 | 5, 0x50 << 16 | 6]


def _ack(first: int) -> Callable[[int], bytes]:
    """Builds one acknowledgement type of MQTT 3.1.1, spelled out here, not by the codec."""
    return lambda mid: bytes((first, 2, mid >> 8, mid & 0xFF))


puback, pubrec, pubrel, pubcomp = _ack(0x40), _ack(0x50), _ack(0x62), _ack(0x70)


@pytest.mark.parametrize(
    "stopper",
    [
        b"\x40\x03\x00\x02\x00",  # PUBACK in its MQTT 5 form: paho's
        b"\x60\x02\x00\x05",  # PUBREL without its reserved flags (malformed): paho's
        b"\xb0\x02\x00\x05",  # UNSUBACK
    ],
)
def test_acknowledgements_are_taken_in_order_up_to_the_first_other_packet(
    stopper: bytes,
) -> None:
    entries: list[int] = []
    data = puback(1) + pubrec(65535) + pubcomp(2) + pubrel(9) + puback(3)
    assert scan_acks(data + stopper + puback(4), 0, entries) == len(data)
    assert entries == [
        0x40 << 16 | 1,
        0x50 << 16 | 65535,
        0x70 << 16 | 2,
        0x62 << 16 | 9,
        0x40 << 16 | 3,
    ]
    for cut in range(1, 4):  # an incomplete packet at the end stays unread
        assert scan_acks(data + pubrec(7)[:cut], 0, []) == len(data)
    assert ack_packet(0x62, 258) == b"\x62\x02\x01\x02"  # a PUBREL


def test_a_failing_handler_is_logged_and_the_rest_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = publish(b"bad", b"1", qos=1, mid=1) + publish(b"good", b"2")
    seen: list[str] = []

    def deliver(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if topic == "bad":
            raise RuntimeError("handler bug")
        seen.append(topic)

    acks: list[int] = []
    with caplog.at_level(logging.ERROR):
        assert scan_publishes(data, 0, deliver, acks, []) == len(data)
    assert seen == ["good"] and acks == [
        0x40 << 16 | 1
    ]  # acknowledged: it was delivered to the handler
    assert "message handler failed" in caplog.text


# -- the adapter in both positions ---------------------------------------------------


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes each call of the fast client's ``take_publishes`` took."""
    counts: list[int] = []
    take = FastClient.take_publishes
    monkeypatch.setattr(FastClient, "take_publishes", lambda self: counts.append(take(self)))
    return counts


def queued(client: Any) -> list[tuple[bytes, int, int, int]]:
    """paho's output queue: each packet with its command, packet id and QoS fields."""
    return [(bytes(p["packet"]), p["command"], p["mid"], p["qos"]) for p in client._out_packet]


def wired(
    fastpath: str, pair: tuple[socket.socket, socket.socket]
) -> tuple[PahoAdapter, mock.Mock, Any, socket.socket]:
    """An adapter on the first socket of ``pair``: it, its listener, its client, the peer."""
    adapter, listener = adapter_on(fastpath, pair[0])
    return adapter, listener, adapter._client, pair[1]


def adapter_on(fastpath: str, ours: socket.socket) -> tuple[PahoAdapter, mock.Mock]:
    listener = mock.Mock()
    adapter = PahoAdapter(BrokerConfig(), ClientConfig(), "cid", listener, fastpath=fastpath)
    client: Any = adapter._client
    client._sock = BufferedSocket(ours) if fastpath == "1" else ours
    return adapter, listener


@pytest.mark.parametrize("fastpath", ["0", "1"])
def test_both_positions_deliver_and_acknowledge_alike(
    fastpath: str, pair: tuple[socket.socket, socket.socket], taken: list[int]
) -> None:
    adapter, listener, client, theirs = wired(fastpath, pair)
    ours_1 = client.publish("t/ours", b"1", qos=1).mid  # in flight, awaiting PUBACK
    ours_2 = client.publish("t/ours", b"2", qos=1).mid
    client._out_packet.clear()
    stream = (
        publish(b"t/0", b"zero")
        + publish(b"t/1", b"one", qos=1, mid=11)
        + puback(ours_1)
        + publish(b"t/2", b"two")
        + puback(ours_2)
        + puback(999)  # for no message of ours: ignored
        + b"\xd0\x00"  # PINGRESP, read by paho
        + publish(b"t/3", b"three", qos=1, mid=12, first=0x33)
        + publish(b"t/4", b"four", qos=2, mid=13)  # QoS 2, read by paho
        + publish(b"t/5", b"five")
    )
    theirs.sendall(stream)
    assert adapter._read(client, client._sock)
    assert listener.on_message.call_args_list == [
        mock.call("t/0", b"zero", (), (0, False, None)),
        mock.call("t/1", b"one", (), (1, False, None)),
        mock.call("t/2", b"two", (), (0, False, None)),
        mock.call("t/3", b"three", (), (1, True, None)),
        mock.call("t/5", b"five", (), (0, False, None)),
    ]  # the QoS 2 message is delivered at PUBREL, by paho, in both positions
    written = b"".join(bytes(packet["packet"]) for packet in client._out_packet)
    assert written == puback(11) + puback(12) + b"\x50\x02\x00\x0d"  # PUBACKs, PUBREC
    acknowledged = [m for c in listener.on_publish_results.call_args_list for m in c.args[0]]
    assert acknowledged == [ours_1, ours_2] and not client._out_messages
    if fastpath == "1":  # paho reads one or more packets per call, the client the rest
        assert 0 < sum(taken) < len(stream)
    adapter.close()


@pytest.mark.parametrize("fastpath", ["0", "1"])
class TestQoS2InBothPositions:
    """QoS 2 flows read by paho (position 0) and by the fast client (1) end alike."""

    def test_pubrec_is_answered_and_pubcomp_completes(
        self, fastpath: str, pair: tuple[socket.socket, socket.socket], taken: list[int]
    ) -> None:
        adapter, listener, client, theirs = wired(fastpath, pair)
        mids = [adapter.publish("t/ours", str(n).encode(), 2, False)[1] for n in range(3)]
        qos1 = adapter.publish("t/ours", b"q1", 1, False)[1]
        client._out_packet.clear()
        before = paho.time_func()
        # PUBREC for the first two and for no message of ours, then paho's packets.
        theirs.sendall(
            pubrec(mids[0]) + publish(b"t/in", b"x") + pubrec(mids[1]) + pubrec(999) + b"\xd0\x00"
        )
        assert adapter._read(client, client._sock)
        assert queued(client) == [(pubrel(m), 0x62, m, 1) for m in mids[:2]]  # what paho queues
        for mid in mids[:2]:
            message = client._out_messages[mid]
            assert message.state == paho.mqtt_ms_wait_for_pubcomp and message.timestamp >= before
        assert client._out_messages[mids[2]].state == paho.mqtt_ms_wait_for_pubrec
        assert not listener.on_publish_results.called
        assert fastpath == "0" or sum(taken) > 0  # the fast client took some packets
        client._out_packet.clear()
        theirs.sendall(pubcomp(mids[1]) + puback(qos1) + pubrec(mids[2]) + pubcomp(mids[0]))
        assert adapter._read(client, client._sock)
        calls = listener.on_publish_results.call_args_list
        results = [(m, c.args[2]) for c in calls for m in c.args[0]]
        assert results == [(mids[1], 2), (qos1, 1), (mids[0], 2)]
        assert [bytes(p["packet"]) for p in client._out_packet] == [pubrel(mids[2])]
        assert list(client._out_messages) == [mids[2]] and client._inflight_messages == 1
        adapter.close()

    def test_messages_are_held_until_pubrel(
        self, fastpath: str, pair: tuple[socket.socket, socket.socket], taken: list[int]
    ) -> None:
        adapter, listener, client, theirs = wired(fastpath, pair)
        theirs.sendall(
            publish(b"t/a", b"A", qos=2, mid=21)
            + publish(b"t/0", b"zero")
            + publish(b"t/b", b"B", qos=2, mid=22, first=0x3D)  # retained, DUP
            + publish(b"t/1", b"one", qos=1, mid=23)
        )
        assert adapter._read(client, client._sock)
        assert listener.on_message.call_args_list == [
            mock.call("t/0", b"zero", (), (0, False, None)),
            mock.call("t/1", b"one", (), (1, False, None)),
        ]  # QoS 2 waits for its PUBREL
        assert queued(client) == [
            (pubrec(21), 0x50, 21, 1),
            (pubrec(22), 0x50, 22, 1),
            (puback(23), 0x40, 23, 1),
        ]
        held = client._in_messages
        assert list(held) == [21, 22] and held[22].dup and held[22].retain
        assert all(m.state == paho.mqtt_ms_wait_for_pubrel and m.qos == 2 for m in held.values())
        listener.on_message.reset_mock()
        client._out_packet.clear()
        theirs.sendall(pubrel(22) + publish(b"t/2", b"two") + pubrel(99) + pubrel(21))
        assert adapter._read(client, client._sock)
        assert listener.on_message.call_args_list == [
            mock.call("t/b", b"B", (), (2, True, None)),
            mock.call("t/2", b"two", (), (0, False, None)),
            mock.call("t/a", b"A", (), (2, False, None)),
        ]
        assert queued(client) == [
            (pubcomp(m), 0x70, m, 1) for m in (22, 99, 21)
        ]  # unknown too, as paho
        assert not client._in_messages
        assert fastpath == "0" or sum(taken) > 0  # the fast client took some packets
        adapter.close()


@pytest.mark.parametrize("options", [{"protocol": paho.MQTTv5}, {"manual_ack": True}])
def test_the_fast_client_stands_aside_for_mqtt5_and_manual_acknowledgement(
    options: dict[str, Any], pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = pair
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="x", **options)
    client.message_listener = mock.Mock()
    client._sock = sock = BufferedSocket(ours)
    theirs.sendall(publish(b"a", b"1") + publish(b"b", b"2"))
    sock.recv(1)  # fill the buffer, as paho's first read does
    assert client.take_publishes() == 0 and sock.buffered() > 0
    client.message_listener.assert_not_called()
    client._sock = None  # the fixture closes the socket


@pytest.mark.parametrize("fastpath", ["0", "1"])
def test_qos0_publish_queues_paho_s_packet(fastpath: str) -> None:
    adapter, _ = adapter_on(fastpath, mock.Mock())
    client: Any = adapter._client
    original = paho.Client.publish
    calls = mock.patch.object(paho.Client, "publish", autospec=True, side_effect=original)
    with calls as paho_publish:
        status, _, report = adapter.publish("t/x", b"payload", 0, True)
    assert status is PublishStatus.SENT and report is not None and not report.done()
    assert bytes(client._out_packet[-1]["packet"]) == paho_packet(
        "t/x", b"payload", True, paho.MQTTv311
    )
    assert paho_publish.called is (fastpath == "0")
    client._sock = None
    status, _, report = adapter.publish("t/x", b"payload", 0, False)
    assert status is PublishStatus.NOT_CONNECTED and report is None
    adapter.close()


@pytest.mark.parametrize("fastpath", ["0", "1"])
@pytest.mark.parametrize("qos", [1, 2])
def test_qos1_and_qos2_publish_record_what_paho_records(fastpath: str, qos: int) -> None:
    adapter, _ = adapter_on(fastpath, mock.Mock())
    client: Any = adapter._client
    original = paho.Client.publish
    calls = mock.patch.object(paho.Client, "publish", autospec=True, side_effect=original)
    with calls as paho_publish:
        status, mid, report = adapter.publish("t/x", b"payload", qos, True)
    assert status is PublishStatus.SENT and report is None
    assert paho_publish.called is (fastpath == "0")
    expected_packet, expected = paho_message("t/x", b"payload", qos, True)
    queued = client._out_packet[-1]
    assert bytes(queued["packet"]) == expected_packet.replace(
        expected.mid.to_bytes(2, "big"), mid.to_bytes(2, "big")
    )
    assert (queued["command"], queued["mid"], queued["qos"]) == (0x30, mid, qos)
    recorded = client._out_messages[mid]
    for name in ("state", "dup", "_topic", "payload", "qos", "retain", "properties"):
        assert getattr(recorded, name) == getattr(expected, name), name
    assert client._inflight_messages == 1
    # paho's acknowledgement routine completes it as its own (PUBACK, or PUBREC + PUBCOMP)
    if qos == 1:
        client._in_packet = {
            "command": 0x40,
            "packet": mid.to_bytes(2, "big"),
            "remaining_length": 2,
        }
        assert client._handle_pubackcomp("PUBACK") == MQTTErrorCode.MQTT_ERR_SUCCESS
    else:
        client._in_packet = {
            "command": 0x50,
            "packet": mid.to_bytes(2, "big"),
            "remaining_length": 2,
        }
        assert client._handle_pubrec() == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert client._out_messages[mid].state == paho.mqtt_ms_wait_for_pubcomp
        client._in_packet = {
            "command": 0x70,
            "packet": mid.to_bytes(2, "big"),
            "remaining_length": 2,
        }
        assert client._handle_pubackcomp("PUBCOMP") == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert mid not in client._out_messages and client._inflight_messages == 0
    client._sock = None
    status, _, _ = adapter.publish("t/x", b"payload", qos, False)
    assert status is PublishStatus.KEPT  # paho keeps it for the next connection
    adapter.close()


def test_a_qos1_message_queued_fast_is_resent_with_dup_after_a_reconnection() -> None:
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="x")
    client.max_inflight_messages_set(0)
    client._sock = mock.Mock()
    mid = client.publish_acknowledged("t", b"p", 1, False)
    assert mid is not None and client._out_messages[mid].state == paho.mqtt_ms_wait_for_puback
    client._sock = None
    client._messages_reconnect_reset_out()  # what paho does on a new connection
    message = client._out_messages[mid]
    assert message.dup and message.state == paho.mqtt_ms_publish


@pytest.mark.parametrize(
    "setup",
    [
        lambda c: setattr(c, "_sock", None),
        lambda c: c.max_inflight_messages_set(20),
        lambda c: c.max_queued_messages_set(5),
        lambda c: setattr(c, "_protocol", paho.MQTTv5),
    ],
    ids=["not connected", "paho window", "paho queue limit", "mqtt5"],
)
def test_the_fast_qos1_path_stands_aside(setup: Any) -> None:
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="x")
    client.max_inflight_messages_set(0)
    client._sock = mock.Mock()
    setup(client)
    assert client.publish_acknowledged("t", b"p", 1, False) is None
    assert not client._out_messages and not client._out_packet
    client._sock = None


def test_a_written_qos0_report_completes_and_a_waiter_wakes() -> None:
    report = QoS0Write()
    assert not report.done() and not report.wait(0.01)
    woke = threading.Event()

    def waiter() -> None:
        if report.wait(30):
            woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    report._set_as_published()  # what paho's writer calls
    thread.join(30)
    assert woke.is_set() and report.done() and report.error() is None


def test_a_qos0_packet_dropped_by_a_reconnection_fails() -> None:
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="x")
    client._sock = mock.Mock()
    report = client.publish_qos0("t", b"p", False)
    assert report is not None
    client._sock = None
    client.connect_async("127.0.0.1", 1883)  # sets the address only
    refused = mock.patch.object(paho.Client, "_create_socket", side_effect=OSError("refused"))
    with refused, pytest.raises(OSError, match="refused"):
        client.reconnect()  # paho marks the queued QoS 0 packets lost first
    assert report.done() and report.wait(0)
    error = report.error()
    assert isinstance(error, ProtocolConnectionError) and "not sent" in str(error)


def test_the_public_client_is_untouched() -> None:
    assert not hasattr(PublicClient, "publish_qos0")
    assert not hasattr(PublicClient, "take_publishes")
