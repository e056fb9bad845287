"""Fixtures of the MQTT plugin tests: real brokers, client factories, the fake adapter."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mqtt_test_brokers import HOST, AmqttBroker, MosquittoBroker

from eq1_network import ReconnectPolicy
from eq1_network.protocols.mqtt.mqtt_protocol import (
    BrokerConfig,
    ClientConfig,
    MQTTProtocol,
)
from eq1_network.testing import allow_interrupts, require_executable, require_peers

_OLD_RECONNECT_FIELDS = frozenset(
    {"reconnect_min_delay", "reconnect_max_delay", "max_reconnect_attempts"}
)
MOSQUITTO_REASON = "the MQTT integration tests need mosquitto (apt-get install mosquitto)"


def _mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[MosquittoBroker]:
    """A mosquitto with plain, password, TLS and mutual-TLS listeners (mosquitto-only tests)."""
    path = _mosquitto_path()
    if path is None:
        require_executable("mosquitto", MOSQUITTO_REASON + " (mosquitto-only features)")
    assert path is not None
    broker = MosquittoBroker(path).start()
    yield broker
    broker.close()


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest) -> Any:
    """The broker for tests any MQTT 3.1.1 broker can serve: mosquitto, else amqtt.

    ``EQ1_MQTT_TEST_BROKER=amqtt`` forces the fallback. Under ``EQ1_REQUIRE_PEERS`` a
    missing mosquitto fails instead of falling back.
    """
    forced = os.environ.get("EQ1_MQTT_TEST_BROKER", "")
    if forced != "amqtt" and (_mosquitto_path() is not None or require_peers()):
        return request.getfixturevalue("mosquitto")
    pytest.importorskip("amqtt", reason="neither mosquitto nor amqtt is installed")
    fallback = AmqttBroker().start()
    request.addfinalizer(fallback.close)
    return fallback


@pytest.fixture
def fresh_mosquitto() -> Iterator[MosquittoBroker]:
    """A mosquitto of its own (persistent sessions on), for tests that kill the broker."""
    path = _mosquitto_path()
    if path is None:
        require_executable("mosquitto", MOSQUITTO_REASON + " (this test restarts the broker)")
    assert path is not None
    broker = MosquittoBroker(path, persistence=True, tls=False).start()
    yield broker
    broker.close()


ClientFactory = Callable[..., MQTTProtocol]


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Create MQTTProtocol clients; all are disconnected after the test.

    Call as ``make_client(port, broker=dict(...), **client_config_fields)``.
    """
    made: list[MQTTProtocol] = []

    def make(port: int, *, broker: dict[str, Any] | None = None, **client: Any) -> MQTTProtocol:
        if not _OLD_RECONNECT_FIELDS.intersection(client):
            client.setdefault("reconnect", ReconnectPolicy(initial_delay=0.05, max_delay=0.5))
        proto = MQTTProtocol(
            BrokerConfig(broker_address=HOST, port=port, **(broker or {})),
            ClientConfig(**client),
        )
        made.append(proto)
        return proto

    yield make
    for proto in made:
        proto.disconnect()


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT its handler back in a run started with it ignored (Ctrl-C tests)."""
    allow_interrupts()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected socket pair: the client's side (non-blocking) and the peer's."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()
