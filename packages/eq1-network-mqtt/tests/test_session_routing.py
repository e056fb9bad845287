"""Routing after a persistent session is resumed by a new process, against a real mosquitto.

A first ``MQTTProtocol`` subscribes, disconnects, messages are published while it is away
(by ``mosquitto_pub``, an independent peer), and a second object with the same client id
resumes the session with the same, reordered, fewer or more filters. Every callback must
receive exactly the messages its filter matches, once each: each test ends by publishing
a sentinel on every subscribed filter and compares whole delivery lists once they arrived.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import uuid
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from eq1_network.testing import MessageCollector, require_executable, wait_until

TIMEOUT = 20.0
pytestmark = pytest.mark.timeout(120)

FIRST = ("a", "b")
RESTARTS = {
    "same": ("a", "b"),
    "other_order": ("b", "a"),
    "fewer": ("b",),
    "more": ("a", "b", "c"),
}


def mosquitto_pub(port: int, topic: str, payload: str, version: int) -> None:
    """Publish one QoS 1 message with the mosquitto command-line client."""
    tool = shutil.which("mosquitto_pub")
    if tool is None:
        require_executable("mosquitto_pub", "these tests publish with mosquitto_pub")
    assert tool is not None
    protocol = "mqttv5" if version == 5 else "mqttv311"
    address = ["-h", "127.0.0.1", "-p", str(port), "-V", protocol]
    subprocess.run(
        [tool, *address, "-q", "1", "-t", topic, "-m", payload],
        check=True,
        capture_output=True,
        timeout=30,
    )


def settings(version: int) -> dict[str, Any]:
    """A persistent session under a fresh client id."""
    config: dict[str, Any] = {
        "client_id": f"eq1-resume-{uuid.uuid4().hex[:10]}",
        "clean_session": False,
        "protocol_version": version,
    }
    if version == 5:
        config["session_expiry"] = 60
    return config


def deliveries_end_with_sentinels(
    publisher: Any, prefix: str, names: tuple[str, ...], got: dict[str, MessageCollector]
) -> None:
    """Publish ``<name>/end`` for every subscribed name and wait until each arrived."""
    for name in names:
        assert publisher.publish(f"{prefix}/{name}/end", b"end", qos=1).wait(TIMEOUT)
    for name in names:
        topic = f"{prefix}/{name}/end"
        wait_until(lambda topic=topic, name=name: (topic, b"end") in got[name].messages)


def stale_removed_at_broker(
    client: Any, prefix: str, got: dict[str, MessageCollector], caplog: Any
) -> None:
    """After the stale ``a/#`` is unsubscribed, a message on ``a/...`` no longer arrives."""
    wait_until(
        lambda: any(
            "unsubscribing" in r.getMessage() and "session" in r.getMessage()
            for r in caplog.records
        )
    )
    session = client._shared.session
    unmatched = session.dispatcher.unmatched
    # Published by the same connection, after its UNSUBSCRIBE: the broker handles them in order.
    assert client.publish(f"{prefix}/a/3", b"after removal", qos=1).wait(TIMEOUT)
    assert client.publish(f"{prefix}/b/end2", b"end2", qos=1).wait(TIMEOUT)
    wait_until(lambda: (f"{prefix}/b/end2", b"end2") in got["b"].messages)
    assert session.dispatcher.unmatched == unmatched


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
@pytest.mark.parametrize("restart", sorted(RESTARTS))
def test_resumed_session_routes_queued_and_live_messages_exactly(
    mosquitto: Any,
    make_client: Any,
    caplog: pytest.LogCaptureFixture,
    version: int,
    restart: str,
) -> None:
    caplog.set_level(logging.INFO, logger="eq1_network.protocols.mqtt")
    prefix = f"eq1-resume/{uuid.uuid4().hex[:12]}"
    config = settings(version)
    first = make_client(mosquitto.port, **config)
    for name in FIRST:
        first.subscribe(f"{prefix}/{name}/#", MessageCollector(), qos=1)
    first.connect()
    first.disconnect()
    for name in ("a", "b", "c"):
        mosquitto_pub(mosquitto.port, f"{prefix}/{name}/1", "queued", version)

    names = RESTARTS[restart]
    got = {name: MessageCollector() for name in names}
    second = make_client(mosquitto.port, **config)
    for name in names:
        second.subscribe(f"{prefix}/{name}/#", got[name], qos=1)
    second.connect()
    assert second.session_present is True
    publisher = make_client(mosquitto.port)
    publisher.connect()
    for name in ("a", "b", "c"):
        assert publisher.publish(f"{prefix}/{name}/2", b"live", qos=1).wait(TIMEOUT)
    deliveries_end_with_sentinels(publisher, prefix, names, got)

    for name in names:
        expected = [(f"{prefix}/{name}/2", b"live"), (f"{prefix}/{name}/end", b"end")]
        if name in FIRST:  # the broker queued only what the first process had subscribed
            expected.insert(0, (f"{prefix}/{name}/1", b"queued"))
        assert got[name].messages == expected, name
    if restart == "fewer":
        stale_removed_at_broker(second, prefix, got, caplog)
        assert [p for _, p in got["b"].messages] == [b"queued", b"live", b"end", b"end2"]


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
def test_overlapping_filters_deliver_once_per_callback(
    mosquitto: Any, make_client: Any, version: int
) -> None:
    prefix = f"eq1-overlap/{uuid.uuid4().hex[:12]}"
    config = settings(version)
    filters = {"wide": f"{prefix}/#", "level": f"{prefix}/+"}
    first = make_client(mosquitto.port, **config)
    for topic_filter in filters.values():
        first.subscribe(topic_filter, MessageCollector(), qos=1)
    first.connect()
    first.disconnect()
    mosquitto_pub(mosquitto.port, f"{prefix}/q", "queued", version)

    got = {name: MessageCollector() for name in filters}
    second = make_client(mosquitto.port, **config)
    for name in ("level", "wide"):
        second.subscribe(filters[name], got[name], qos=1)
    second.connect()
    assert second.session_present is True
    publisher = make_client(mosquitto.port, protocol_version=version)
    publisher.connect()
    assert publisher.publish(f"{prefix}/x", b"both", qos=1).wait(TIMEOUT)
    assert publisher.publish(f"{prefix}/x/y", b"wide only", qos=1).wait(TIMEOUT)
    assert publisher.publish(f"{prefix}/end", b"end", qos=1).wait(TIMEOUT)
    for collector in got.values():
        wait_until(lambda c=collector: (f"{prefix}/end", b"end") in c.messages)
    assert got["level"].messages == [
        (f"{prefix}/q", b"queued"),
        (f"{prefix}/x", b"both"),
        (f"{prefix}/end", b"end"),
    ]
    assert got["wide"].messages == [
        (f"{prefix}/q", b"queued"),
        (f"{prefix}/x", b"both"),
        (f"{prefix}/x/y", b"wide only"),
        (f"{prefix}/end", b"end"),
    ]


def _paho_subscriber(port: int, client_id: str, filters: list[tuple[str, int]]) -> None:
    """Leave an MQTT 5 session whose subscriptions carry identifiers of another scheme."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 60
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    try:
        acked: list[int] = []
        client.on_subscribe = lambda c, u, mid, codes, p: acked.append(mid)
        for topic_filter, sub_id in filters:
            sub_props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
            sub_props.SubscriptionIdentifier = sub_id
            client.subscribe(topic_filter, qos=1, properties=sub_props)
        wait_until(lambda: len(acked) == len(filters))
    finally:
        client.disconnect()
        client.loop_stop()


def test_identifiers_of_another_scheme_fall_back_to_topic_matching(
    mosquitto: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A session left with identifiers 1 and 2 (numbered per process) is resumed safely."""
    caplog.set_level(logging.INFO, logger="eq1_network.protocols.mqtt")
    prefix = f"eq1-legacy/{uuid.uuid4().hex[:12]}"
    config = settings(5)
    _paho_subscriber(
        mosquitto.port, config["client_id"], [(f"{prefix}/a/#", 1), (f"{prefix}/b/#", 2)]
    )
    for name in ("a", "b"):
        mosquitto_pub(mosquitto.port, f"{prefix}/{name}/1", "queued", 5)
    got = {"b": MessageCollector()}
    second = make_client(mosquitto.port, **config)
    second.subscribe(f"{prefix}/b/#", got["b"], qos=1)
    second.connect()
    assert second.session_present is True
    publisher = make_client(mosquitto.port)
    publisher.connect()
    for name in ("a", "b"):
        assert publisher.publish(f"{prefix}/{name}/2", b"live", qos=1).wait(TIMEOUT)
    deliveries_end_with_sentinels(publisher, prefix, ("b",), got)
    assert got["b"].messages == [
        (f"{prefix}/b/1", b"queued"),  # carried identifier 2: delivered by topic
        (f"{prefix}/b/2", b"live"),
        (f"{prefix}/b/end", b"end"),
    ]
    stale_removed_at_broker(second, prefix, got, caplog)
