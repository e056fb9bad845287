"""Message-object callbacks, the message iterator and run_forever(), on a real broker."""

from __future__ import annotations

import _thread
import threading
import time
from typing import Any

import pytest

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolNotConnectedError
from eq1_network.protocols.mqtt import MQTT_V5, MQTTMessage, MQTTProtocol
from eq1_network.protocols.mqtt._messages import takes_message, to_properties
from eq1_network.testing import MessageCollector

TIMEOUT = 20.0


class _Collect:
    """Collects MQTTMessage objects (a one-parameter callable)."""

    def __init__(self) -> None:
        self.messages: list[MQTTMessage] = []
        self.arrived = threading.Event()

    def __call__(self, message: MQTTMessage) -> None:
        self.messages.append(message)
        self.arrived.set()


def _connected(make_client: Any, port: int, **client: Any) -> MQTTProtocol:
    proto: MQTTProtocol = make_client(port, **client)
    proto.connect()
    return proto


def test_callback_forms_are_told_apart() -> None:
    def two(topic: str, payload: bytes) -> None: ...

    def one(message: MQTTMessage) -> None: ...

    assert takes_message(one)
    assert takes_message(lambda m: None)
    assert takes_message(_Collect())
    assert not takes_message(two)
    assert not takes_message(lambda *args: None)
    assert not takes_message(MessageCollector())


def test_properties_of_a_v311_message_are_empty() -> None:
    assert to_properties(None) == {}
    assert MQTTMessage("t", b"x").properties == {}
    assert MQTTMessage("t", b"caf\xc3\xa9").text == "café"


def test_message_object_carries_qos_retain_and_properties(mosquitto: Any, make_client: Any) -> None:
    client = _connected(make_client, mosquitto.port, protocol_version=MQTT_V5)
    topic = "messages/props"
    got = _Collect()
    plain = MessageCollector()
    client.subscribe(topic, got, qos=1)
    client.subscribe(topic, plain, qos=1)
    handle = client.publish(
        topic, b"data", qos=1, message_expiry=300, user_properties=[("unit", "mm")]
    )
    handle.wait(TIMEOUT)
    assert got.arrived.wait(TIMEOUT)
    message = got.messages[0]
    assert (message.topic, message.payload, message.qos, message.retain) == (
        topic,
        b"data",
        1,
        False,
    )
    assert message.properties["user_properties"] == [("unit", "mm")]
    assert 0 < message.properties["message_expiry_interval"] <= 300
    assert plain.wait_for(1, TIMEOUT) == [(topic, b"data")]  # the two-argument form


def test_retained_message_arrives_with_retain_set(mosquitto: Any, make_client: Any) -> None:
    client = _connected(make_client, mosquitto.port)
    topic = "messages/retained"
    client.publish(topic, b"kept", qos=1, retain=True).wait(TIMEOUT)
    try:
        got = _Collect()
        client.subscribe(topic, got, qos=0)
        assert got.arrived.wait(TIMEOUT)
        assert (got.messages[0].payload, got.messages[0].retain) == (b"kept", True)
        assert got.messages[0].qos == 0  # capped by the subscription
        assert got.messages[0].properties == {}  # MQTT 3.1.1
    finally:
        client.publish(topic, b"", qos=1, retain=True).wait(TIMEOUT)


def test_messages_iterator_stops_after_count_and_unsubscribes(
    mosquitto: Any, make_client: Any
) -> None:
    client = _connected(make_client, mosquitto.port)
    publisher = _connected(make_client, mosquitto.port)
    topic = "messages/iter"
    stream = client.messages(topic, qos=1, count=3, timeout=TIMEOUT)
    assert topic in client.subscriptions()  # subscribed before the first next()
    for n in range(3):
        publisher.publish(topic, f"m{n}", qos=1).wait(TIMEOUT)
    received = [(m.topic, m.payload, m.qos) for m in stream]
    assert received == [(topic, b"m0", 1), (topic, b"m1", 1), (topic, b"m2", 1)]
    assert topic not in client.subscriptions()


def test_messages_iterator_ends_after_idle_timeout(mosquitto: Any, make_client: Any) -> None:
    client = _connected(make_client, mosquitto.port)
    assert list(client.messages("messages/quiet", timeout=0.2)) == []
    assert client.subscriptions() == {}


def test_messages_iterator_closed_early_unsubscribes(mosquitto: Any, make_client: Any) -> None:
    client = _connected(make_client, mosquitto.port)
    publisher = _connected(make_client, mosquitto.port)
    stream = client.messages("messages/early/#", timeout=TIMEOUT)
    publisher.publish("messages/early/a", b"1", qos=1).wait(TIMEOUT)
    assert next(stream).payload == b"1"
    stream.close()
    assert client.subscriptions() == {}


def test_messages_rejects_bad_limits(make_client: Any) -> None:
    client = make_client(1)
    with pytest.raises(ProtocolArgumentError, match="count"):
        client.messages("a", count=0)
    with pytest.raises(ProtocolArgumentError, match="timeout"):
        client.messages("a", timeout=-1)


def test_run_forever_returns_when_a_callback_disconnects(mosquitto: Any, make_client: Any) -> None:
    client = _connected(make_client, mosquitto.port)
    publisher = _connected(make_client, mosquitto.port)
    seen: list[bytes] = []

    def on_message(message: MQTTMessage) -> None:
        seen.append(message.payload)
        if message.payload == b"stop":
            client.disconnect()

    client.subscribe("messages/control", on_message, qos=1)
    for payload in (b"go", b"stop"):
        publisher.publish("messages/control", payload, qos=1).wait(TIMEOUT)
    client.run_forever(timeout=TIMEOUT * 3)
    assert seen == [b"go", b"stop"]
    assert not client.is_connected()


def test_run_forever_returns_at_once_when_a_callback_disconnected_first(
    mosquitto: Any, make_client: Any
) -> None:
    client = _connected(make_client, mosquitto.port)
    stopped = threading.Event()

    def on_message(message: MQTTMessage) -> None:
        if message.payload == b"stop":
            client.disconnect()
            stopped.set()

    client.subscribe("messages/stop-first", on_message, qos=1)
    client.publish("messages/stop-first", b"stop", qos=1).wait(TIMEOUT)
    assert stopped.wait(TIMEOUT), "the stop message did not arrive"
    started = time.monotonic()
    client.run_forever(timeout=TIMEOUT * 3)  # the disconnect came first: nothing to wait for
    assert time.monotonic() - started < TIMEOUT
    assert not client.is_connected()
    client.connect()  # a new connection: run_forever() waits again
    client.run_forever(timeout=0.1)
    assert client.is_connected()


def test_run_forever_returns_after_its_timeout(mosquitto: Any, make_client: Any) -> None:
    client = _connected(make_client, mosquitto.port)
    client.run_forever(timeout=0.1)
    assert client.is_connected()


def test_run_forever_on_ctrl_c_disconnects(mosquitto: Any, make_client: Any) -> None:
    client = _connected(make_client, mosquitto.port)
    if threading.current_thread() is not threading.main_thread():
        pytest.fail("this test interrupts the main thread; run pytest in the main thread")
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    try:
        client.run_forever(timeout=TIMEOUT * 3)
    finally:
        timer.cancel()
    assert not client.is_connected()


def test_run_forever_needs_connect(make_client: Any) -> None:
    with pytest.raises(ProtocolNotConnectedError, match="connect"):
        make_client(1).run_forever(timeout=1)
