"""Registers ``serial`` through the ``eq1_network.protocols`` entry point.

Light on purpose: importing it never imports pyserial.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eq1_network.interfaces.protocol import ProtocolKind
from eq1_network.plugins.hookspecs import hookimpl
from eq1_network.plugins.spec import ProtocolSpec

if TYPE_CHECKING:
    import argparse


@hookimpl
def eq1_network_register_protocols() -> list[ProtocolSpec]:
    """Return the spec of ``serial``.

    Returns:
        One spec.
    """
    return [
        ProtocolSpec(
            name="serial",
            factory="eq1_network.protocols.serial.serial_protocol:SerialProtocol",
            kind=ProtocolKind.REQRES,
            schemes=("serial", "socket", "rfc2217"),
            summary="Serial ports via pyserial (devices, socket://, rfc2217://), AT commands",
        )
    ]


@hookimpl
def eq1_network_add_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``serial-ports`` sub-command.

    Args:
        subparsers: The object returned by ``ArgumentParser.add_subparsers()``.
    """
    from eq1_network.protocols.serial.cli import add_commands

    add_commands(subparsers)
