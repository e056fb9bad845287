"""Adds the ``gateway`` command through the ``eq1_network.protocols`` entry point.

The gateway provides no protocol; it only adds a command. This module is imported
whenever the command line builds its parser, so it imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eq1_network.plugins import hookimpl

if TYPE_CHECKING:
    import argparse

__all__ = ["eq1_network_add_cli_commands"]

_EPILOG = """\
exit codes:
  0  stopped by SIGINT or SIGTERM (or --check: the file is valid)
  2  the configuration file is not valid (each problem names its line and key)
"""


@hookimpl
def eq1_network_add_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``gateway --config FILE [--check]``.

    Args:
        subparsers: The command line's sub-command collection.
    """
    import argparse  # only the command line needs it, and it builds its parser first

    parser = subparsers.add_parser(
        "gateway",
        help="bridge Modbus, serial and TCP endpoints to MQTT from a YAML file",
        description="Poll Modbus devices and bridge serial/TCP streams to MQTT and back, "
        "as one YAML file describes; runs until SIGINT or SIGTERM.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="the YAML configuration")
    parser.add_argument("--check", action="store_true", help="only validate the file, then exit")
    parser.add_argument(
        "--stats-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="log the counters and report them to statistics exporters every SECONDS "
        "(0: only at exit)",
    )
    parser.add_argument(
        "--record", metavar="FILE", help="record all traffic to FILE (JSON Lines, for replay)"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on 127.0.0.1:PORT (needs prometheus-client)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from eq1_network.gateway.cli import run_gateway

    return run_gateway(args)
