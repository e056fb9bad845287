"""The requirements' MQTT scenario runs as written, against a real broker."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mqtt_test_brokers import HOST, PASSWORD, USERNAME

from eq1_network.testing import MessageCollector

TIMEOUT = 20.0
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mqtt_example.py"

# Copied from the requirements document, section "현재 구현된 MQTT 예시".
SCENARIO = """
from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol, BrokerConfig, ClientConfig

# 기본 인증 설정
broker_config = BrokerConfig(
    broker_address="broker.example.com",
    port=1883,
    username="mqtt_username",
    password="mqtt_password"
)
client_config = ClientConfig()

mqtt = MQTTProtocol(broker_config, client_config)

# 명시적 연결 필요
mqtt.connect()

def message_callback(topic: str, payload: bytes):
    print(f"Received: [{topic}] {payload.decode()}")

mqtt.subscribe("topic/test", message_callback)
mqtt.publish("topic/test", "hello", qos=1, retain=True)
mqtt.disconnect()
"""


def retained_value(port: int, make_client: Any) -> bytes:
    reader = make_client(port, broker={"username": USERNAME, "password": PASSWORD})
    reader.connect()
    got = MessageCollector()
    reader.subscribe("topic/test", got)
    return got.wait_for(1, TIMEOUT)[0][1]


@pytest.fixture
def clean_topic(mosquitto: Any, make_client: Any) -> Any:
    yield
    cleaner = make_client(mosquitto.auth_port, broker={"username": USERNAME, "password": PASSWORD})
    cleaner.connect()
    cleaner.publish("topic/test", b"", qos=1, retain=True).wait(TIMEOUT)


def test_requirements_scenario_verbatim(mosquitto: Any, make_client: Any, clean_topic: Any) -> None:
    code = (
        SCENARIO.replace('"broker.example.com"', repr(HOST))
        .replace("port=1883", f"port={mosquitto.auth_port}")
        .replace('"mqtt_username"', repr(USERNAME))
        .replace('"mqtt_password"', repr(PASSWORD))
    )
    assert code.count("\n") == SCENARIO.count("\n")  # only the literals changed
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "scenario", "exec"), {"__name__": "scenario"})
    # disconnect() waits for the PUBACK and delivers what arrived before it; mosquitto
    # forwards the message to this subscriber before acknowledging the publish.
    assert out.getvalue() == "Received: [topic/test] hello\n"
    assert retained_value(mosquitto.auth_port, make_client) == b"hello"


def test_example_script_runs(mosquitto: Any, make_client: Any, clean_topic: Any) -> None:
    env = dict(
        os.environ,
        MQTT_HOST=HOST,
        MQTT_PORT=str(mosquitto.auth_port),
        MQTT_USERNAME=USERNAME,
        MQTT_PASSWORD=PASSWORD,
    )
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Received: [topic/test] hello\n"
    assert no_retained_message(mosquitto.auth_port, make_client)


def no_retained_message(port: int, make_client: Any) -> bool:
    """The broker holds no retained message on the example's topic.

    A marker published (not retained) after subscribing arrives first when nothing is
    retained; a retained message would have been delivered before it.
    """
    reader = make_client(port, broker={"username": USERNAME, "password": PASSWORD})
    reader.connect()
    got = MessageCollector()
    reader.subscribe("topic/test", got, qos=1)
    reader.publish("topic/test", b"marker", qos=1).wait(TIMEOUT)
    return got.wait_for(1, TIMEOUT)[0][1] == b"marker"
