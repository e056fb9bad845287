"""MQTT protocol plugin of EQ-1 Network.

``from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol, BrokerConfig,
ClientConfig`` is the public import path. This package module stays light (no
paho-mqtt import) because plugin discovery imports it; ``MQTTProtocol`` is loaded on
first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eq1_network.protocols.mqtt._messages import MQTTMessage
    from eq1_network.protocols.mqtt.config import (
        MQTT_V5,
        MQTT_V31,
        MQTT_V311,
        OVERFLOW_DROP_OLDEST,
        OVERFLOW_REJECT,
        BrokerConfig,
        ClientConfig,
    )
    from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol, MQTTPublishHandle
    from eq1_network.protocols.mqtt.reason_codes import (
        MQTTRefusalError,
        MQTTValidationRefusalError,
    )

__all__ = [
    "MQTT_V5",
    "MQTT_V31",
    "MQTT_V311",
    "OVERFLOW_DROP_OLDEST",
    "OVERFLOW_REJECT",
    "BrokerConfig",
    "ClientConfig",
    "MQTTMessage",
    "MQTTProtocol",
    "MQTTPublishHandle",
    "MQTTRefusalError",
    "MQTTValidationRefusalError",
]

_LAZY = frozenset({"MQTTProtocol", "MQTTPublishHandle"})
_REFUSALS = frozenset({"MQTTRefusalError", "MQTTValidationRefusalError"})


def __getattr__(name: str) -> Any:
    if name == "MQTTMessage":
        from eq1_network.protocols.mqtt import _messages

        return _messages.MQTTMessage
    if name in _LAZY:
        from eq1_network.protocols.mqtt import mqtt_protocol

        return getattr(mqtt_protocol, name)
    if name in _REFUSALS:
        from eq1_network.protocols.mqtt import reason_codes

        return getattr(reason_codes, name)
    if name in __all__:
        from eq1_network.protocols.mqtt import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
