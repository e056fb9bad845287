"""Registers ``tcp`` and ``tcp-server`` through the ``eq1_network.protocols`` entry point.

This module is imported whenever protocols are listed, so it imports nothing of
the transport itself: factories are ``"module:Class"`` strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eq1_network.interfaces.protocol import ProtocolKind
from eq1_network.plugins import ProtocolSpec, hookimpl

if TYPE_CHECKING:
    import argparse

__all__ = ["eq1_network_add_cli_commands", "eq1_network_register_protocols"]


@hookimpl
def eq1_network_register_protocols() -> list[ProtocolSpec]:
    """Return the specs of ``tcp`` and ``tcp-server``.

    Returns:
        The two specs.
    """
    return [
        ProtocolSpec(
            name="tcp",
            factory="eq1_network.protocols.ethernet.tcp_client:TCPClient",
            kind=ProtocolKind.REQRES,
            schemes=("tcp", "tls"),
            summary="TCP client (optional TLS, keep-alive, reconnection)",
        ),
        ProtocolSpec(
            name="tcp-server",
            factory="eq1_network.protocols.ethernet.tcp_server:TCPServer",
            kind=ProtocolKind.REQRES,
            schemes=("tcp-listen",),
            summary="TCP server: many clients on one I/O thread (optional TLS)",
        ),
    ]


@hookimpl
def eq1_network_add_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``tcp-echo`` sub-command (a TCPServer that echoes every client).

    Args:
        subparsers: The command line's sub-command collection.
    """
    echo = subparsers.add_parser(
        "tcp-echo", help="run a TCP echo server (TCPServer) until interrupted"
    )
    echo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    echo.add_argument("--port", type=int, default=8080, help="port to listen on (0: any)")
    echo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    echo.set_defaults(handler=_run_echo)


def _run_echo(args: argparse.Namespace) -> int:
    from eq1_network.protocols.ethernet._cli import run_echo_server

    return run_echo_server(args.host, args.port, args.duration)
