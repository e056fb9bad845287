"""Registers the built-in protocols through the ``eq1_network.protocols`` entry point."""

from __future__ import annotations

from eq1_network.interfaces.protocol import ProtocolKind
from eq1_network.plugins.hookspecs import hookimpl
from eq1_network.plugins.spec import ProtocolSpec


@hookimpl
def eq1_network_register_protocols() -> list[ProtocolSpec]:
    """Return the specs of ``loopback`` and ``memory``.

    Returns:
        The two specs.
    """
    return [
        ProtocolSpec(
            name="loopback",
            factory="eq1_network.protocols.loopback.reqres:LoopbackProtocol",
            kind=ProtocolKind.REQRES,
            schemes=("loop",),
            summary="In-process byte stream: echo, or two ends of a named channel",
        ),
        ProtocolSpec(
            name="memory",
            factory="eq1_network.protocols.loopback.memory:MemoryPubSub",
            kind=ProtocolKind.PUBSUB,
            schemes=("memory",),
            summary="In-process publish/subscribe broker with MQTT topic semantics",
        ),
    ]
