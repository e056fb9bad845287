"""Delivery through a mosquitto with stock settings (only a listener and anonymous access).

A stock mosquitto accepts at most 20 incoming QoS 2 messages awaiting PUBREL
(``max_inflight_messages``) and answers the overflow with a PUBREC that MQTT 3.1.1
cannot mark as an error, dropping the message; the client's default in-flight window
must stay inside that. The longer runs (20,000 messages, broker restarts) are in
``tests/faults``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mqtt_test_brokers import StockMosquitto
from mqtt_test_delivery import Receiver, publish_numbered, settle, stock_mosquitto

TIMEOUT = 60.0


@pytest.fixture
def stock_broker() -> Iterator[StockMosquitto]:
    broker = stock_mosquitto()
    yield broker
    broker.close()


@pytest.fixture
def prefix() -> str:
    return f"eq1-stock/{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("version", [4, 5])
def test_qos2_stream_on_a_stock_broker_loses_nothing(
    stock_broker: StockMosquitto, make_client: Any, prefix: str, version: int
) -> None:
    count = 2000
    topic = f"{prefix}/stock/{version}"
    receiver = Receiver()
    sub = make_client(stock_broker.port, protocol_version=version)
    sub.connect()
    sub.subscribe(topic, receiver, qos=2)
    pub = make_client(stock_broker.port, protocol_version=version)
    pub.connect()
    outcomes = settle(publish_numbered(pub, topic, range(count), qos=2), TIMEOUT)
    assert not outcomes.failed and not outcomes.pending
    missing = receiver.wait_for(outcomes.ok, TIMEOUT)
    assert not missing, f"{len(missing)} acknowledged but lost, first {min(missing)}"
    assert len(receiver.numbers) == count  # exactly once


def test_mixed_qos_burst_through_a_wildcard_subscription(
    stock_broker: StockMosquitto, make_client: Any, prefix: str
) -> None:
    # QoS 0 may be dropped by the broker when the subscriber's window is full; 1 and 2 not.
    got = {1: Receiver(), 2: Receiver()}
    client = make_client(stock_broker.port)
    client.connect()
    for qos, receiver in got.items():
        client.subscribe(f"{prefix}/a/+/b/{qos}/#", receiver, qos=2)
    handles = [
        client.publish(f"{prefix}/a/{i % 7}/b/{qos}/x", str(i).encode(), qos=qos)
        for i in range(100)
        for qos in (0, 1, 2)
    ]
    assert all(h.wait(TIMEOUT) for h in handles)
    for qos, receiver in got.items():
        missing = receiver.wait_for(range(100), TIMEOUT)
        assert not missing, f"QoS {qos}: {sorted(missing)} acknowledged but lost"


def test_qos2_with_unlimited_broker_queues_is_delivered(make_client: Any, prefix: str) -> None:
    # With `max_queued_messages 0` the broker disconnects a client that exceeds its
    # incoming QoS 2 quota; the default window never does.
    broker = stock_mosquitto("max_queued_messages 0")
    try:
        receiver = Receiver()
        sub = make_client(broker.port)
        sub.connect()
        sub.subscribe(prefix, receiver, qos=2)
        pub = make_client(broker.port, client_id=f"pub-{uuid.uuid4().hex[:8]}")
        pub.connect()
        outcomes = settle(publish_numbered(pub, prefix, range(2000), qos=2), TIMEOUT)
        assert not outcomes.failed and not outcomes.pending
        assert not receiver.wait_for(outcomes.ok, TIMEOUT)
        assert pub.reconnect_count == 0
    finally:
        broker.close()
