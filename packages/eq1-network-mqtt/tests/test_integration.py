"""Integration tests against a real mosquitto started by the fixtures."""

from __future__ import annotations

import selectors
import subprocess
import sys
import threading
import uuid
from typing import Any

import pytest
from mqtt_test_brokers import PASSWORD, USERNAME

from eq1_network.common.exceptions import (
    ProtocolAuthenticationError,
    ProtocolConnectionError,
    ProtocolNotConnectedError,
)
from eq1_network.testing import MessageCollector, wait_until

TIMEOUT = 20.0
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def prefix() -> str:
    return f"eq1-it/{uuid.uuid4().hex[:12]}"


# -- authentication -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "codes"), [(4, {4, 5}), (5, {0x86, 0x87})], ids=["mqtt311", "mqtt5"]
)
def test_wrong_password_raises_authentication_error_at_once(
    mosquitto: Any, make_client: Any, version: int, codes: set[int]
) -> None:
    client = make_client(
        mosquitto.auth_port,
        broker={"username": USERNAME, "password": "wrong-secret"},
        protocol_version=version,
    )
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            client.connect()
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt)
    worker.start()
    worker.join(TIMEOUT)  # a refusal retried forever would never return
    assert not worker.is_alive(), "connect() kept retrying a refused password"
    assert len(outcome) == 1 and isinstance(outcome[0], ProtocolAuthenticationError)
    error = outcome[0]
    assert error.reason_code in codes
    assert error.reason_name and error.reason_name.lower() in str(error).lower()
    assert USERNAME in str(error) and "wrong-secret" not in str(error)
    assert not client.is_connected()


def test_right_password_connects(mosquitto: Any, make_client: Any, prefix: str) -> None:
    client = make_client(mosquitto.auth_port, broker={"username": USERNAME, "password": PASSWORD})
    assert client.connect() is True
    got = MessageCollector()
    client.subscribe(f"{prefix}/auth", got)
    client.publish(f"{prefix}/auth", b"ok", qos=1).wait(TIMEOUT)
    assert got.wait_for(1, TIMEOUT) == [(f"{prefix}/auth", b"ok")]
    assert PASSWORD not in repr(client) and PASSWORD not in repr(client.broker_config)


def test_missing_credentials_are_refused(mosquitto: Any, make_client: Any) -> None:
    with pytest.raises(ProtocolAuthenticationError) as info:
        make_client(mosquitto.auth_port).connect()
    assert "without credentials" in str(info.value)


def test_nothing_listening_raises_connection_error(make_client: Any) -> None:
    from eq1_network.testing import free_port

    with pytest.raises(ProtocolConnectionError, match="refused the TCP connection"):
        make_client(free_port()).connect()


# -- TLS ------------------------------------------------------------------------------


def test_tls_with_ca_certs(mosquitto: Any, make_client: Any, prefix: str) -> None:
    client = make_client(mosquitto.tls_port, broker={"ca_certs": str(mosquitto.tls.ca)})
    assert client.connect()
    got = MessageCollector()
    client.subscribe(f"{prefix}/tls", got)
    client.publish(f"{prefix}/tls", b"secret", qos=2).wait(TIMEOUT)
    assert got.wait_for(1, TIMEOUT) == [(f"{prefix}/tls", b"secret")]


def test_tls_rejects_an_unknown_ca(mosquitto: Any, make_client: Any) -> None:
    client = make_client(mosquitto.tls_port, broker={"ca_certs": str(mosquitto.tls.other_ca)})
    with pytest.raises(ProtocolConnectionError, match="failed verification"):
        client.connect()


def test_tls_checks_the_host_name_unless_insecure(mosquitto: Any, make_client: Any) -> None:
    ca = str(mosquitto.tls.ca)
    strict = make_client(mosquitto.wrong_name_port, broker={"ca_certs": ca})
    with pytest.raises(ProtocolConnectionError, match="failed verification"):
        strict.connect()
    relaxed = make_client(mosquitto.wrong_name_port, broker={"ca_certs": ca, "tls_insecure": True})
    assert relaxed.connect()


def test_mutual_tls_needs_the_client_certificate(mosquitto: Any, make_client: Any) -> None:
    tls = mosquitto.tls
    without = make_client(mosquitto.mtls_port, broker={"ca_certs": str(tls.ca)})
    with pytest.raises(ProtocolConnectionError):
        without.connect()
    with_cert = make_client(
        mosquitto.mtls_port,
        broker={
            "ca_certs": str(tls.ca),
            "certfile": str(tls.client_cert),
            "keyfile": str(tls.client_key),
        },
    )
    assert with_cert.connect()


# -- Will -----------------------------------------------------------------------------

WILL_SCRIPT = """
import sys
from eq1_network.protocols.mqtt.mqtt_protocol import BrokerConfig, ClientConfig, MQTTProtocol
port, topic = int(sys.argv[1]), sys.argv[2]
client = MQTTProtocol(BrokerConfig("127.0.0.1", port), ClientConfig())
client.set_will(topic, b"device offline", qos=1, retain=False)
client.connect()
print("ready", flush=True)
sys.stdin.read()
"""


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no output from the client process within {timeout} s")
    return proc.stdout.readline().strip()


def test_will_is_published_when_the_client_process_dies(
    mosquitto: Any, make_client: Any, prefix: str
) -> None:
    watcher = make_client(mosquitto.port)
    watcher.connect()
    got = MessageCollector()
    watcher.subscribe(f"{prefix}/status", got)
    proc = subprocess.Popen(
        [sys.executable, "-c", WILL_SCRIPT, str(mosquitto.port), f"{prefix}/status"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert read_line(proc, TIMEOUT) == "ready"
        proc.kill()
        proc.wait(TIMEOUT)
        assert got.wait_for(1, TIMEOUT) == [(f"{prefix}/status", b"device offline")]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_will_is_not_published_after_a_clean_disconnect(
    mosquitto: Any, make_client: Any, prefix: str
) -> None:
    watcher = make_client(mosquitto.port)
    watcher.connect()
    got = MessageCollector()
    watcher.subscribe(f"{prefix}/#", got)
    device = make_client(mosquitto.port)
    device.set_will(f"{prefix}/status", "offline", qos=1)
    device.connect()
    device.disconnect()
    watcher.publish(f"{prefix}/sentinel", b"after", qos=1)
    assert got.wait_for(1, TIMEOUT) == [(f"{prefix}/sentinel", b"after")]


# -- shared subscriptions ---------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
def test_shared_subscription_splits_the_load(
    mosquitto: Any, make_client: Any, prefix: str, version: int
) -> None:
    first, second, everything = MessageCollector(), MessageCollector(), MessageCollector()
    consumers = [make_client(mosquitto.port, protocol_version=version) for _ in range(2)]
    for consumer, collector in zip(consumers, (first, second), strict=True):
        consumer.connect()
        consumer.subscribe(f"$share/workers/{prefix}/jobs/+", collector)
    observer = make_client(mosquitto.port)
    observer.connect()
    observer.subscribe(f"{prefix}/jobs/+", everything)
    producer = make_client(mosquitto.port)
    producer.connect()
    count = 200
    for i in range(count):
        producer.publish(f"{prefix}/jobs/{i % 7}", str(i), qos=1)
    everything.wait_for(count, TIMEOUT)
    wait_until(lambda: len(first.payloads()) + len(second.payloads()) >= count)
    a, b = first.payloads(), second.payloads()
    assert a and b, "one consumer received nothing"
    assert sorted(int(p) for p in a + b) == list(range(count))  # each job exactly once


# -- broker failures --------------------------------------------------------------------


def test_broker_killed_mid_stream(fresh_mosquitto: Any, make_client: Any, prefix: str) -> None:
    broker = fresh_mosquitto
    sub, pub = make_client(broker.port), make_client(broker.port)
    sub.connect()
    pub.connect()
    got = MessageCollector()
    sub.subscribe(f"{prefix}/stream", got)
    before = [pub.publish(f"{prefix}/stream", f"a{i}", qos=1) for i in range(100)]
    assert all(h.wait(TIMEOUT) for h in before)
    got.wait_for(100, TIMEOUT)

    broker.kill()  # SIGKILL: no clean shutdown
    wait_until(lambda: not pub.is_connected() and not sub.is_connected())
    during = [pub.publish(f"{prefix}/stream", f"b{i}", qos=1) for i in range(100)]
    assert pub.offline_queue_length == 100
    assert not any(h.is_published() for h in during)

    broker.start()
    assert pub.wait_until_connected(TIMEOUT) and sub.wait_until_connected(TIMEOUT)
    assert all(h.wait(TIMEOUT) for h in during)  # the offline queue reached the broker
    assert pub.offline_queue_length == 0
    # The subscription came back by itself (the clean session was re-subscribed).
    after = [pub.publish(f"{prefix}/stream", f"c{i}", qos=1) for i in range(100)]
    assert all(h.wait(TIMEOUT) for h in after)
    wait_until(lambda: len([p for p in got.payloads() if p.startswith(b"c")]) == 100)
    tail = [p.decode() for p in got.payloads() if p.startswith(b"c")]
    assert tail == [f"c{i}" for i in range(100)]
    assert sub.reconnect_count >= 1 and pub.reconnect_count >= 1


def test_queued_messages_reach_a_persistent_subscriber_exactly_once(
    fresh_mosquitto: Any, make_client: Any, prefix: str
) -> None:
    broker = fresh_mosquitto
    sub = make_client(
        broker.port, client_id=f"eq1-persist-{uuid.uuid4().hex[:8]}", clean_session=False
    )
    pub = make_client(broker.port)
    got = MessageCollector()
    sub.subscribe(f"{prefix}/orders", got, qos=1)  # registered before connect()
    sub.connect()
    pub.connect()
    first = [pub.publish(f"{prefix}/orders", f"{i}", qos=1) for i in range(50)]
    assert all(h.wait(TIMEOUT) for h in first)
    got.wait_for(50, TIMEOUT)

    broker.stop()  # SIGTERM: mosquitto saves the persistent session
    wait_until(lambda: not pub.is_connected() and not sub.is_connected())
    queued = [pub.publish(f"{prefix}/orders", f"{i}", qos=1) for i in range(50, 150)]
    assert pub.offline_queue_length == 100

    broker.start()
    assert pub.wait_until_connected(TIMEOUT) and sub.wait_until_connected(TIMEOUT)
    assert all(h.wait(TIMEOUT) for h in queued)
    got.wait_for(150, TIMEOUT)
    sentinel = pub.publish(f"{prefix}/orders", "end", qos=1)
    assert sentinel.wait(TIMEOUT)
    wait_until(lambda: got.payloads()[-1:] == [b"end"])
    received = [p.decode() for p in got.payloads()]
    assert sub.session_present is True
    assert received[-1] == "end"
    numbers = [int(p) for p in received[:-1]]
    assert sorted(set(numbers)) == list(range(150))  # nothing lost
    # QoS 1 is at-least-once: a message whose PUBACK was still in flight when the broker
    # stopped may come again. The messages queued while it was down come exactly once,
    # in order.
    queued_part = [n for n in numbers if n >= 50]
    assert queued_part == list(range(50, 150))
    assert all(n < 50 for n in numbers[50:] if numbers.count(n) > 1)


def test_mqtt5_session_expiry_keeps_messages_while_offline(
    mosquitto: Any, make_client: Any, prefix: str
) -> None:
    client_id = f"eq1-v5-{uuid.uuid4().hex[:8]}"
    settings = {
        "client_id": client_id,
        "clean_session": False,
        "protocol_version": 5,
        "session_expiry": 300,
    }
    sub = make_client(mosquitto.port, **settings)
    got = MessageCollector()
    sub.connect()
    sub.subscribe(f"{prefix}/offline", got, qos=1)
    assert sub.session_present is False
    sub.disconnect()
    pub = make_client(mosquitto.port)
    pub.connect()
    assert pub.publish(f"{prefix}/offline", b"while you were away", qos=1).wait(TIMEOUT)
    again = make_client(mosquitto.port, **settings)
    again.subscribe(f"{prefix}/offline", got, qos=1)
    again.connect()
    assert again.session_present is True
    assert got.wait_for(1, TIMEOUT) == [(f"{prefix}/offline", b"while you were away")]


def test_publish_after_disconnect_raises(mosquitto: Any, make_client: Any, prefix: str) -> None:
    client = make_client(mosquitto.port)
    client.connect()
    client.disconnect()
    with pytest.raises(ProtocolNotConnectedError):
        client.publish(f"{prefix}/x", b"late", qos=1)
    assert client.connect()  # a new lifetime works
    assert client.publish(f"{prefix}/x", b"again", qos=1).wait(TIMEOUT)
