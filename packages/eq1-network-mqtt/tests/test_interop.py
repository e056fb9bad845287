"""Interoperability with mosquitto_pub and mosquitto_sub, both directions."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from mqtt_test_brokers import HOST

from eq1_network.testing import MessageCollector, require_executable

TIMEOUT = 20.0
pytestmark = pytest.mark.timeout(180)


def tool(name: str) -> str:
    return require_executable(name, "interoperability tests need mosquitto-clients")


def run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT + 10)
    assert done.returncode == 0, f"{args[0]} failed ({done.returncode}): {done.stderr}"
    return done.stdout


def sub_cmd(port: int, *extra: str) -> list[str]:
    return [tool("mosquitto_sub"), "-h", HOST, "-p", str(port), *extra]


def pub_cmd(port: int, *extra: str) -> list[str]:
    return [tool("mosquitto_pub"), "-h", HOST, "-p", str(port), *extra]


@pytest.fixture
def topic() -> str:
    return f"eq1-interop/{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_our_publish_reaches_mosquitto_sub(
    mosquitto: Any, make_client: Any, topic: str, qos: int
) -> None:
    # A persistent mosquitto_sub session subscribes first (-E exits once SUBACKed), so the
    # broker queues our messages for it; a second run collects them. No timing races.
    client_id = f"eq1-sub-{uuid.uuid4().hex[:8]}"
    session = ["-c", "-i", client_id, "-q", "2", "-t", topic]
    run(sub_cmd(mosquitto.port, *session, "-E"))
    pub = make_client(mosquitto.port)
    pub.connect()
    binary = bytes(range(256))
    assert pub.publish(topic, "text \u00e9", qos=qos).wait(TIMEOUT)
    assert pub.publish(topic, binary, qos=qos).wait(TIMEOUT)
    out = run(sub_cmd(mosquitto.port, *session, "-C", "2", "-W", str(TIMEOUT), "-F", "%q %r %x"))
    lines = out.split()
    assert lines == [str(qos), "0", "text \u00e9".encode().hex(), str(qos), "0", binary.hex()]


def test_our_retained_message_reaches_mosquitto_sub(
    mosquitto: Any, make_client: Any, topic: str
) -> None:
    pub = make_client(mosquitto.port)
    pub.connect()
    assert pub.publish(topic, b"last known value", qos=1, retain=True).wait(TIMEOUT)
    try:
        out = run(
            sub_cmd(mosquitto.port, "-t", topic, "-C", "1", "-W", str(TIMEOUT), "-F", "%r %p")
        )
        assert out.strip() == "1 last known value"
    finally:
        pub.publish(topic, b"", qos=1, retain=True).wait(TIMEOUT)


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_reaches_our_subscriber(
    mosquitto: Any, make_client: Any, topic: str, qos: int, tmp_path: Path
) -> None:
    sub = make_client(mosquitto.port)
    sub.connect()
    got = MessageCollector()
    sub.subscribe(f"{topic}/#", got)  # returns once SUBACKed
    payload_file = tmp_path / "payload.bin"
    payload_file.write_bytes(b"\x00\xffbinary\n")
    run(pub_cmd(mosquitto.port, "-q", str(qos), "-t", f"{topic}/a", "-m", f"hello q{qos}"))
    run(pub_cmd(mosquitto.port, "-q", str(qos), "-t", f"{topic}/b", "-f", str(payload_file)))
    assert got.wait_for(2, TIMEOUT) == [
        (f"{topic}/a", f"hello q{qos}".encode()),
        (f"{topic}/b", b"\x00\xffbinary\n"),
    ]


def test_mosquitto_pub_retained_reaches_our_late_subscriber(
    mosquitto: Any, make_client: Any, topic: str
) -> None:
    run(pub_cmd(mosquitto.port, "-q", "1", "-r", "-t", topic, "-m", "retained by mosquitto_pub"))
    try:
        sub = make_client(mosquitto.port)
        sub.connect()
        got = MessageCollector()
        sub.subscribe(topic, got)
        assert got.wait_for(1, TIMEOUT) == [(topic, b"retained by mosquitto_pub")]
    finally:
        run(pub_cmd(mosquitto.port, "-q", "1", "-r", "-n", "-t", topic))


def test_mqtt5_properties_reach_mosquitto_sub(mosquitto: Any, make_client: Any, topic: str) -> None:
    client_id = f"eq1-sub5-{uuid.uuid4().hex[:8]}"
    session = ["-V", "5", "-c", "-i", client_id, "-x", "600", "-q", "1", "-t", topic]
    run(sub_cmd(mosquitto.port, *session, "-E"))
    pub = make_client(mosquitto.port, protocol_version=5)
    pub.connect()
    handle = pub.publish(
        topic, b"v5", qos=1, message_expiry=300, user_properties=[("site", "line-7")]
    )
    assert handle.wait(TIMEOUT)
    out = run(sub_cmd(mosquitto.port, *session, "-C", "1", "-W", str(TIMEOUT), "-F", "%E|%P|%p"))
    expiry, user_property, payload = out.strip().split("|")
    assert 0 < int(expiry) <= 300
    assert user_property == "site:line-7"
    assert payload == "v5"
