"""Registers the Modbus protocols through the ``eq1_network.protocols`` entry point.

This module is imported whenever protocols are listed, so it imports nothing of
the transports: factories are ``"module:Class"`` strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eq1_network.interfaces.protocol import ProtocolKind
from eq1_network.plugins import ProtocolSpec, hookimpl

if TYPE_CHECKING:
    import argparse

__all__ = ["eq1_network_add_cli_commands", "eq1_network_register_protocols"]

_HOME = "eq1_network.protocols.modbus"


def _spec(name: str, factory: str, schemes: tuple[str, ...], summary: str) -> ProtocolSpec:
    return ProtocolSpec(
        name=name,
        factory=f"{_HOME}.{factory}",
        kind=ProtocolKind.REQRES,
        schemes=schemes,
        summary=summary,
    )


@hookimpl
def eq1_network_register_protocols() -> list[ProtocolSpec]:
    """Return the specs of the Modbus clients and servers.

    Returns:
        The specs.
    """
    return [
        _spec("modbus", "transports:ModbusProtocol", ("modbus", "modbus+tcp"), "Modbus TCP client"),
        _spec("modbus-tcp", "transports:ModbusProtocol", (), "Modbus TCP client (alias of modbus)"),
        _spec(
            "modbus-rtu",
            "transports:ModbusRTUProtocol",
            ("modbus+rtu",),
            "Modbus RTU client on a serial port",
        ),
        _spec(
            "modbus-ascii",
            "transports:ModbusASCIIProtocol",
            ("modbus+ascii",),
            "Modbus ASCII client on a serial port",
        ),
        _spec(
            "modbus-rtu-tcp",
            "transports:ModbusRTUOverTCPProtocol",
            ("modbus+rtu+tcp",),
            "Modbus RTU frames over TCP (serial device servers)",
        ),
        _spec(
            "modbus-tcp-server",
            "server:ModbusTCPServer",
            (),
            "Modbus TCP server / device simulator",
        ),
        _spec(
            "modbus-rtu-server",
            "server:ModbusRTUServer",
            (),
            "Modbus RTU/ASCII server / device simulator on a serial port",
        ),
    ]


@hookimpl
def eq1_network_add_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``modbus`` sub-command (``read``, ``write``, ``serve``).

    Args:
        subparsers: The command line's sub-command collection.
    """
    from eq1_network.protocols.modbus._cli_args import add_modbus_command

    add_modbus_command(subparsers)
