"""The built-in in-process pub/sub broker: contract suite and MQTT semantics."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eq1_network import ProtocolNotConnectedError, ProtocolTypeError, PubSubProtocol
from eq1_network.protocols.loopback.memory import MemoryBroker, MemoryPubSub
from eq1_network.testing import MessageCollector, PubSubContract


class TestMemoryContract(PubSubContract):
    @pytest.fixture
    def pubsub_factory(self) -> Callable[[], PubSubProtocol]:
        broker = MemoryBroker()
        return lambda: MemoryPubSub(broker)


def test_default_instances_share_one_broker() -> None:
    a, b = MemoryPubSub(), MemoryPubSub()
    assert a.broker is b.broker is MemoryBroker.default()
    got = MessageCollector()
    with a, b:
        a.subscribe("shared/default", got)
        b.publish("shared/default", b"hi")
    assert got.payloads() == [b"hi"]


def test_shared_subscription_delivers_each_message_to_one_member() -> None:
    broker = MemoryBroker()
    one, two, plain, pub = (MemoryPubSub(broker) for _ in range(4))
    g1, g2, everyone = MessageCollector(), MessageCollector(), MessageCollector()
    for client in (one, two, plain, pub):
        client.connect()
    one.subscribe("$share/workers/jobs/+", g1)
    two.subscribe("$share/workers/jobs/+", g2)
    plain.subscribe("jobs/#", everyone)
    for i in range(10):
        pub.publish(f"jobs/{i}", str(i))
    assert len(g1.payloads()) + len(g2.payloads()) == 10
    assert g1.payloads() and g2.payloads()
    assert len(everyone.payloads()) == 10


def test_retained_message_is_cleared_by_empty_payload() -> None:
    broker = MemoryBroker()
    pub = MemoryPubSub(broker)
    pub.connect()
    pub.publish("state", b"on", retain=True)
    pub.publish("state", b"", retain=True)
    late = MessageCollector()
    sub = MemoryPubSub(broker)
    sub.connect()
    sub.subscribe("state", late)
    assert late.payloads() == []


def test_subscriptions_survive_reconnect_and_deliver_only_while_connected() -> None:
    broker = MemoryBroker()
    sub, pub = MemoryPubSub(broker, client_id="s"), MemoryPubSub(broker)
    got = MessageCollector()
    sub.subscribe("t", got)  # before connect: kept
    pub.connect()
    pub.publish("t", b"missed")
    sub.connect()
    pub.publish("t", b"one")
    sub.disconnect()
    pub.publish("t", b"missed too")
    sub.connect()
    pub.publish("t", b"two")
    assert got.payloads() == [b"one", b"two"]
    assert sub.subscriptions() == {"t": [got]}
    sub.unsubscribe("t", got)
    sub.unsubscribe("t", got)  # unknown pair: ignored
    assert sub.subscriptions() == {} and "client_id='s'" in repr(sub)


def test_errors() -> None:
    client = MemoryPubSub(MemoryBroker())
    with pytest.raises(ProtocolNotConnectedError):
        client.publish("t", b"x")
    with pytest.raises(ProtocolTypeError):
        client.subscribe("t", "not callable")  # type: ignore[arg-type]
    client.connect()
    with pytest.raises(ProtocolTypeError):
        client.publish("t", b"x", retain=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.publish("t", b"x", qos=True)
