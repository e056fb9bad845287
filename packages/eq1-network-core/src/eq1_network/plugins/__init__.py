"""Plugin system: hook markers, protocol specs and the protocol registry."""

from eq1_network.plugins._availability import ProtocolUnavailableError
from eq1_network.plugins._entry_points import ENTRY_POINT_GROUP
from eq1_network.plugins.hookspecs import hookimpl, hookspec
from eq1_network.plugins.registry import (
    ProtocolManager,
    ProtocolRegistry,
    from_url,
    get_protocol,
)
from eq1_network.plugins.spec import ProtocolSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProtocolManager",
    "ProtocolRegistry",
    "ProtocolSpec",
    "ProtocolUnavailableError",
    "from_url",
    "get_protocol",
    "hookimpl",
    "hookspec",
]
