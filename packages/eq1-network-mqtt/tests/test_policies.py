"""MQTT takes the core policy types; the flat spellings still work, with a warning."""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

import eq1_network.protocols.mqtt as mqtt
from eq1_network import OverflowPolicy, ReconnectPolicy, TLSConfig
from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolConnectionError
from eq1_network.protocols.mqtt import config as config_module
from eq1_network.protocols.mqtt.mqtt_protocol import BrokerConfig, ClientConfig, MQTTProtocol
from eq1_network.testing import MessageCollector

HOST = "127.0.0.1"
TIMEOUT = 20.0
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def ca_file(tmp_path: Path) -> str:
    import trustme

    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


def test_new_spellings_do_not_warn(ca_file: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        broker = BrokerConfig(tls=TLSConfig(cafile=ca_file, check_hostname=False))
        client = ClientConfig(
            reconnect=ReconnectPolicy(initial_delay=0.1, max_delay=2, max_attempts=4),
            overflow_policy=OverflowPolicy.DROP_OLDEST,
        )
    assert broker.use_tls and broker.tls_config == TLSConfig(cafile=ca_file, check_hostname=False)
    assert client.reconnect.max_attempts == 4
    assert ClientConfig().reconnect == ReconnectPolicy(initial_delay=0.5, max_delay=30.0)
    assert BrokerConfig(tls=True).tls_config == TLSConfig()
    assert BrokerConfig().tls_config is None


def test_flat_tls_fields_warn_and_become_a_tls_config(ca_file: str) -> None:
    with pytest.warns(DeprecationWarning, match=r"ca_certs=\.\.\..*tls=eq1_network\.TLSConfig"):
        broker = BrokerConfig(ca_certs=ca_file, tls_insecure=True)
    assert broker.tls == TLSConfig(cafile=ca_file, check_hostname=False)
    assert broker.ca_certs is None and broker.tls_insecure is None
    with pytest.warns(DeprecationWarning, match="keyfile_password"):
        plain = BrokerConfig(keyfile_password="k3y")
    assert not plain.use_tls, "a key password alone never turned TLS on"
    with pytest.warns(DeprecationWarning, match="tls_insecure"):
        relaxed = BrokerConfig(tls=True, tls_insecure=True)
    assert relaxed.tls == TLSConfig(check_hostname=False)


def test_flat_reconnect_fields_warn_and_become_a_policy() -> None:
    with pytest.warns(DeprecationWarning, match=r"reconnect=eq1_network\.ReconnectPolicy"):
        config = ClientConfig(
            reconnect_min_delay=0.2, reconnect_max_delay=3.0, max_reconnect_attempts=5
        )
    assert config.reconnect == ReconnectPolicy(initial_delay=0.2, max_delay=3.0, max_attempts=5)
    assert config.reconnect_min_delay is None
    with pytest.warns(DeprecationWarning, match="reconnect_min_delay"):
        only_low = ClientConfig(reconnect_min_delay=60.0)
    assert (only_low.reconnect.initial_delay, only_low.reconnect.max_delay) == (60.0, 60.0)


@pytest.mark.parametrize("value", ["reject", "drop_oldest"])
def test_overflow_strings_warn_and_become_members(value: str) -> None:
    member = OverflowPolicy(value)
    with pytest.warns(
        DeprecationWarning, match=rf"overflow_policy=eq1_network\.OverflowPolicy\.{member.name}"
    ):
        config = ClientConfig(overflow_policy=value)  # type: ignore[arg-type]
    assert config.overflow_policy is member


@pytest.mark.parametrize("name", ["OVERFLOW_REJECT", "OVERFLOW_DROP_OLDEST"])
def test_overflow_constants_warn(name: str) -> None:
    for module in (mqtt, config_module):
        with pytest.warns(DeprecationWarning, match=r"use eq1_network\.OverflowPolicy\."):
            value = getattr(module, name)
        assert isinstance(value, OverflowPolicy) and value == name.removeprefix("OVERFLOW_").lower()


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"reconnect": ReconnectPolicy(enabled=False)}, r"`reconnect\.enabled` must be True"),
        ({"reconnect": 5}, "`reconnect` must be a ReconnectPolicy"),
        ({"overflow_policy": OverflowPolicy.BLOCK}, "`overflow_policy` must be OverflowPolicy"),
        ({"overflow_policy": "lifo"}, "overflow_policy must be an OverflowPolicy"),
        (
            {"reconnect": ReconnectPolicy(max_delay=1), "reconnect_max_delay": 2.0},
            "either as `reconnect=ReconnectPolicy",
        ),
        ({"reconnect_min_delay": 0}, "`reconnect_min_delay` must be a finite number > 0"),
    ],
)
def test_client_config_rejects(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=text):
        ClientConfig(**kwargs)


def test_broker_config_rejects(ca_file: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match="`tls` must be a TLSConfig"):
        BrokerConfig(tls="yes")  # type: ignore[arg-type]
    with pytest.raises(ProtocolConfigurationError, match="server_hostname"):
        BrokerConfig(tls=TLSConfig(server_hostname="broker"))
    with pytest.raises(ProtocolConfigurationError, match="either as `tls=TLSConfig"):
        BrokerConfig(tls=TLSConfig(), ca_certs=ca_file)


def _client(port: int, tls: TLSConfig) -> MQTTProtocol:
    return MQTTProtocol(
        BrokerConfig(broker_address=HOST, port=port, tls=tls),
        ClientConfig(reconnect=ReconnectPolicy(initial_delay=0.05, max_delay=0.5)),
    )


def test_tls_config_round_trip_against_mosquitto(mosquitto: Any) -> None:
    client = _client(mosquitto.tls_port, TLSConfig(cafile=mosquitto.tls.ca))
    topic = f"eq1-policies/{uuid.uuid4().hex[:12]}"
    try:
        assert client.connect()
        got = MessageCollector()
        client.subscribe(topic, got)
        client.publish(topic, b"secret", qos=1).wait(TIMEOUT)
        assert got.wait_for(1, TIMEOUT) == [(topic, b"secret")]
    finally:
        client.disconnect()


def test_tls_config_host_name_check_and_client_certificate(mosquitto: Any) -> None:
    tls = mosquitto.tls
    strict = _client(mosquitto.wrong_name_port, TLSConfig(cafile=tls.ca))
    relaxed = _client(mosquitto.wrong_name_port, TLSConfig(cafile=tls.ca, check_hostname=False))
    mutual = _client(
        mosquitto.mtls_port,
        TLSConfig(cafile=tls.ca, certfile=tls.client_cert, keyfile=tls.client_key),
    )
    try:
        with pytest.raises(ProtocolConnectionError, match="failed verification"):
            strict.connect()
        assert relaxed.connect()
        assert mutual.connect()
    finally:
        for client in (strict, relaxed, mutual):
            client.disconnect()
