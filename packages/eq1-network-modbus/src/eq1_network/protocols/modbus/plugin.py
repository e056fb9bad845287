"""Registers the Modbus protocols through the ``eq1_network.protocols`` entry point."""

from __future__ import annotations

from eq1_network.plugins import ProtocolSpec

__all__ = ["eq1_network_register_protocols"]


def eq1_network_register_protocols() -> list[ProtocolSpec]:
    """Return the specs of the Modbus protocols (none until the clients exist)."""
    return []
