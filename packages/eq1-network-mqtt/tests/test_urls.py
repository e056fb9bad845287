"""URLs of the MQTT protocol: mqtt://, mqtts://, credentials, client and broker settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import eq1_network
from eq1_network import ProtocolConfigurationError, PubSubManager
from eq1_network.protocols.mqtt import MQTTProtocol
from eq1_network.protocols.mqtt.config import MQTT_V5, MQTT_V31, MQTT_V311

SECRET = "mqtt-Pa55word"


def _mqtt(url: str) -> MQTTProtocol:
    proto = eq1_network.from_url(url)
    assert isinstance(proto, MQTTProtocol) and not proto.is_connected()
    return proto


def test_mqtt_url_maps_to_broker_and_client_config() -> None:
    proto = _mqtt(
        f"mqtt://alice:{SECRET}@broker.local:1884?client_id=x&version=5&keepalive=30"
        "&clean_session=false&publish_timeout=2s&max_inflight=10"
    )
    broker, client = proto.broker_config, proto.client_config
    assert (broker.broker_address, broker.port) == ("broker.local", 1884)
    assert (broker.username, broker.password, broker.keepalive) == ("alice", SECRET, 30)
    assert not broker.tls
    assert (client.client_id, client.protocol_version, client.clean_session) == (
        "x",
        MQTT_V5,
        False,
    )
    assert (client.publish_timeout, client.max_inflight) == (2.0, 10)
    assert SECRET not in repr(proto) and SECRET not in repr(broker)


def test_default_ports_and_tls() -> None:
    plain = _mqtt("mqtt://broker")
    assert plain.broker_config.port == 1883 and not plain.broker_config.tls
    secure = _mqtt("mqtts://broker")
    assert secure.broker_config.port == 8883 and secure.broker_config.tls
    explicit = _mqtt("mqtt://broker:8884?tls=true")
    assert explicit.broker_config.port == 8884 and explicit.broker_config.tls
    ipv6 = _mqtt("mqtt://[::1]:1883")
    assert ipv6.broker_config.broker_address == "::1"


def test_cafile_turns_tls_on(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read until connect\n")
    proto = _mqtt(f"mqtts://broker?cafile={ca}")
    broker = proto.broker_config
    assert broker.tls
    assert str(getattr(broker.tls, "cafile", None) or broker.ca_certs) == str(ca)


@pytest.mark.parametrize(
    ("text", "level"), [("3.1", MQTT_V31), ("3.1.1", MQTT_V311), ("4", MQTT_V311), ("5.0", MQTT_V5)]
)
def test_version_spellings(text: str, level: int) -> None:
    assert _mqtt(f"mqtt://b?version={text}").client_config.protocol_version == level


def test_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EQ1_MQTT_TEST_PASSWORD", SECRET)
    proto = _mqtt("mqtt://bob@broker?password_env=EQ1_MQTT_TEST_PASSWORD")
    assert (proto.broker_config.username, proto.broker_config.password) == ("bob", SECRET)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"mqtt://u:{SECRET}@b?clientid=x", r"unknown parameter 'clientid'; valid .*client_id"),
        (f"mqtt://u:{SECRET}@b?version=7", r"parameter 'version' must be 3.1, 3.1.1 or 5"),
        (f"mqtt://u:{SECRET}@b?keepalive=often", r"parameter 'keepalive' must be int"),
        (f"mqtt://u:{SECRET}@?client_id=x", r"needs a broker host"),
        (f"mqtts://u:{SECRET}@b?tls=false", r"contradicts the mqtts:// scheme"),
        (f"mqtt://u:{SECRET}@b/topic", r"takes no path"),
        (f"mqtt://u:{SECRET}@b?subscribe_qos=7", r"subscribe_qos"),
    ],
)
def test_bad_mqtt_urls_never_show_the_password(
    url: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProtocolConfigurationError, match=message) as info:
        eq1_network.from_url(url)
    assert SECRET not in str(info.value) and "u:***@" in str(info.value)
    assert SECRET not in caplog.text


def test_pubsub_manager_registers_a_url() -> None:
    PubSubManager.register("url-mqtt", "mqtt://127.0.0.1:1883?client_id=url-test")
    try:
        proto = PubSubManager.get("url-mqtt")
        assert isinstance(proto, MQTTProtocol) and proto.client_id == "url-test"
    finally:
        PubSubManager.unregister("url-mqtt")


def test_mqtt_schemes_are_registered() -> None:
    schemes = eq1_network.ProtocolManager.registry.schemes()
    assert schemes["mqtt"].name == schemes["mqtts"].name == "mqtt"
    assert schemes["mqtts"].distribution == "eq1-network-mqtt"


DOCS = Path(__file__).resolve().parents[3] / "docs" / "urls.md"


def documented(schemes: tuple[str, ...]) -> list[str]:
    """The URLs of the docs/urls.md grammar table whose scheme is one of ``schemes``."""
    import re

    rows = re.findall(r"^\| `([a-z0-9+.\-]+://[^`]*)` \|", DOCS.read_text("utf-8"), re.MULTILINE)
    return [url for url in rows if url.partition("://")[0] in schemes]


MQTT_TABLE: dict[str, dict[str, object]] = {
    "mqtt://user:password@broker:1883?client_id=x&version=5": {
        "broker_config.broker_address": "broker",
        "broker_config.port": 1883,
        "broker_config.username": "user",
        "broker_config.password": "password",
        "client_config.client_id": "x",
        "client_config.protocol_version": MQTT_V5,
    },
    "mqtt://user@broker?password_env=MQTT_PASSWORD": {
        "broker_config.username": "user",
        "broker_config.password": SECRET,
    },
    "mqtts://broker": {"broker_config.port": 8883, "tls": True},
    "mqtts://broker:8884?cafile=ca.pem": {"broker_config.port": 8884, "tls": True},
}


def test_every_documented_mqtt_url_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ca.pem").write_text("read at connect\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MQTT_PASSWORD", SECRET)
    assert sorted(documented(("mqtt", "mqtts"))) == sorted(MQTT_TABLE)
    for url, attributes in MQTT_TABLE.items():
        proto = _mqtt(url)
        found: dict[str, object] = {}
        for dotted in attributes:
            if dotted == "tls":
                found[dotted] = bool(proto.broker_config.tls)
                continue
            value: object = proto
            for part in dotted.split("."):
                value = getattr(value, part)
            found[dotted] = value
        assert found == attributes, url
