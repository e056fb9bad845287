"""MQTT protocol plugin of EQ-1 Network.

``from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol, BrokerConfig,
ClientConfig`` is the public import path. This package module stays light (no
paho-mqtt import) because plugin discovery imports it; ``MQTTProtocol`` is loaded on
first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eq1_network.common.lazy import LazyExports

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

_EXPORTS = LazyExports(
    __name__,
    globals(),
    {
        "._messages": ("MQTTMessage",),
        ".config": ("MQTT_V5", "MQTT_V31", "MQTT_V311", "BrokerConfig", "ClientConfig"),
        ".mqtt_protocol": ("MQTTProtocol", "MQTTPublishHandle"),
        ".reason_codes": ("MQTTRefusalError", "MQTTValidationRefusalError"),
    },
    moved={
        "OVERFLOW_DROP_OLDEST": "eq1_network.OverflowPolicy.DROP_OLDEST",
        "OVERFLOW_REJECT": "eq1_network.OverflowPolicy.REJECT",
    },
)
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir
