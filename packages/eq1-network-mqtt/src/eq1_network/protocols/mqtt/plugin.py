"""Registers ``mqtt`` through the ``eq1_network.protocols`` entry point.

Kept light on purpose: listing protocols imports this module, never paho-mqtt.
"""

from __future__ import annotations

from eq1_network.interfaces.protocol import ProtocolKind
from eq1_network.plugins.hookspecs import hookimpl
from eq1_network.plugins.spec import ProtocolSpec


@hookimpl
def eq1_network_register_protocols() -> list[ProtocolSpec]:
    """Return the spec of ``mqtt``.

    Returns:
        One spec.
    """
    return [
        ProtocolSpec(
            name="mqtt",
            factory="eq1_network.protocols.mqtt.mqtt_protocol:MQTTProtocol",
            kind=ProtocolKind.PUBSUB,
            schemes=("mqtt", "mqtts"),
            summary="MQTT 3.1.1/5.0 client (paho-mqtt): reconnect, offline queue, TLS, Will",
        )
    ]
