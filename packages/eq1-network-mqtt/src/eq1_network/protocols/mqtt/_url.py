"""URLs of the MQTT protocol: ``mqtt://`` and ``mqtts://``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.protocols.mqtt.config import (
    MQTT_V5,
    MQTT_V31,
    MQTT_V311,
    BrokerConfig,
    ClientConfig,
)
from eq1_network.urls import coerce, config_class, query_kwargs

if TYPE_CHECKING:
    from eq1_network.urls import ParsedURL

__all__ = ["mqtt_url_kwargs"]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_VERSIONS = {"3.1": MQTT_V31, "3": MQTT_V31, "3.1.1": MQTT_V311, "4": MQTT_V311, "5": MQTT_V5}
_NETLOC = ("broker_address", "port", "username", "password", "tls")


def _names(kind: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(kind)]


def _version(url: ParsedURL, raw: str) -> int:
    key = raw.strip()
    value = _VERSIONS.get("5" if key == "5.0" else key)
    if value is None:
        raise url.error(
            f"parameter 'version' must be 3.1, 3.1.1 or 5 (or the protocol level 3, 4 "
            f"or 5), got {raw!r}"
        )
    return value


def _split(url: ParsedURL, tls_fields: list[str]) -> tuple[dict[str, str], ...]:
    broker_fields = [n for n in _names(BrokerConfig) if n not in _NETLOC]
    client_fields = _names(ClientConfig)
    aliases = {"cafile": "ca_certs"} if "cafile" not in tls_fields else {}
    broker: dict[str, str] = {}
    client: dict[str, str] = {}
    tls: dict[str, str] = {}
    for name, raw in url.params.items():
        if name in ("tls", "version"):
            continue
        if name in tls_fields:
            tls[name] = raw
        elif aliases.get(name, name) in broker_fields:
            broker[aliases.get(name, name)] = raw
        elif name in client_fields:
            client[name] = raw
        else:
            valid = sorted(
                {"tls", "version", *tls_fields, *aliases, *broker_fields, *client_fields}
            )
            raise url.error(f"unknown parameter {name!r}; valid parameters: {', '.join(valid)}")
    return broker, client, tls


def _want_tls(url: ParsedURL) -> bool:
    want = url.scheme == "mqtts"
    raw = url.params.get("tls")
    if raw is None:
        return want
    try:
        flag = bool(coerce("tls", raw, bool))
    except ProtocolConfigurationError as exc:
        raise url.error(str(exc)) from None
    if want and not flag:
        raise url.error(f"tls={raw} contradicts the mqtts:// scheme; drop one")
    return flag


def mqtt_url_kwargs(url: ParsedURL) -> dict[str, Any]:
    """Map an MQTT URL to ``broker_config`` and ``client_config``.

    ``mqtt://[user[:password]@]host[:port]`` (port 1883, or 8883 for ``mqtts://``,
    which turns TLS on). ``version`` (3.1, 3.1.1, 5) sets ``protocol_version``;
    the TLS settings fields (``cafile``, ``certfile``, ``keyfile``, ...) turn TLS on;
    any other parameter names a field of ``BrokerConfig`` or ``ClientConfig``.

    Args:
        url: The parsed URL.

    Returns:
        ``{"broker_config": ..., "client_config": ...}``.

    Raises:
        ProtocolConfigurationError: If the host is missing or a parameter is unknown
            or ill-typed.
    """
    if not url.host:
        raise url.error("MQTTProtocol needs a broker host; e.g. mqtt://broker:1883")
    if url.path not in ("", "/"):
        raise url.error(f"MQTTProtocol takes no path, but the URL gives {url.path!r}")
    tls_class = config_class(BrokerConfig, "tls")
    tls_fields = (
        []
        if tls_class is None
        else [n for n in _names(tls_class) if n not in ("password", "server_hostname")]
    )
    broker_raw, client_raw, tls_raw = _split(url, tls_fields)
    where = f"URL {url.masked!r}"
    broker = query_kwargs(BrokerConfig, broker_raw, where=where)
    client = query_kwargs(ClientConfig, client_raw, where=where)
    if "version" in url.params:
        client["protocol_version"] = _version(url, url.params["version"])
    broker.update(
        broker_address=url.host,
        port=url.port if url.port is not None else DEFAULT_PORTS.get(url.scheme, 1883),
        username=url.username,
        password=url.password,
    )
    if _want_tls(url) or tls_raw:
        if tls_class is not None:
            broker["tls"] = tls_class(**query_kwargs(tls_class, tls_raw, where=f"{where} (TLS)"))
        else:
            broker["tls"] = True
    return {"broker_config": BrokerConfig(**broker), "client_config": ClientConfig(**client)}
