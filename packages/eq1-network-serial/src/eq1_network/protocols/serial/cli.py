"""The ``eq1-network serial-ports`` sub-command.

Added to the command line through the ``eq1_network_add_cli_commands`` hook of
:mod:`eq1_network.protocols.serial.plugin`. Importing this module is cheap;
pyserial is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

__all__ = ["add_commands", "run_serial_ports"]


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``serial-ports`` to the ``eq1-network`` command line.

    Args:
        subparsers: The object returned by ``ArgumentParser.add_subparsers()``.
    """
    cmd = subparsers.add_parser(
        "serial-ports",
        help="list the serial ports of this machine",
        description="List serial ports with their description and hardware id.",
    )
    cmd.add_argument("--json", action="store_true", help="print a JSON list")
    cmd.add_argument(
        "--all",
        dest="include_links",
        action="store_true",
        help="also list symbolic links to ports (POSIX)",
    )
    cmd.add_argument(
        "--grep", metavar="REGEX", help="only ports whose device/description/hwid match"
    )
    cmd.set_defaults(handler=run_serial_ports)


def run_serial_ports(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the serial ports.

    Args:
        args: Parsed arguments with ``json``, ``include_links`` and ``grep``.
        out: Where to write; standard output by default.

    Returns:
        0.

    Raises:
        ProtocolValidationError: If ``--grep`` is not a valid regular expression.
    """
    from eq1_network.protocols.serial.ports import list_ports

    stream = out or sys.stdout
    ports = list_ports(include_links=args.include_links, pattern=args.grep)
    if args.json:
        stream.write(json.dumps([p.as_dict() for p in ports], indent=2) + "\n")
        return 0
    if not ports:
        stream.write("no serial ports found\n")
        return 0
    rows = [("DEVICE", "DESCRIPTION", "HWID")]
    rows += [(p.device, p.description, p.hwid) for p in ports]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for device, description, hwid in rows:
        stream.write(f"{device.ljust(widths[0])}  {description.ljust(widths[1])}  {hwid}\n")
    return 0
