"""The arguments of ``eq1-network modbus read|write|serve`` (argparse wiring only).

This module is imported whenever the command line builds its parser, so it imports
nothing but the standard library and the value type names; the commands themselves
live in :mod:`eq1_network.protocols.modbus.cli`, imported when one runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from eq1_network.protocols.modbus._spec import MAX_ADDRESS
from eq1_network.protocols.modbus.values import BYTE_ORDERS, VALUE_TYPES

__all__ = ["EXIT_CODES", "add_modbus_command"]

Handler = Callable[[argparse.Namespace], int]

EXIT_CODES = """\
exit codes (the same for every eq1-network command):
  0    success
  1    other error
  2    usage error: bad arguments, URL or device file
  3    could not connect (nothing listening, serial port missing or busy)
  4    timeout: no answer from the unit
  5    protocol error: a Modbus exception response (its name is printed, e.g.
       ILLEGAL DATA ADDRESS) or a malformed answer
  6    authentication or TLS failure
  130  interrupted by Ctrl-C (which ends 'serve' and 'read --repeat 0' with 0)
"""

_URLS = """\
URLs:
  modbus://HOST:PORT?unit=1           Modbus TCP (also modbus+tcp://)
  modbus+rtu:///dev/ttyUSB0?baudrate=19200&parity=E&unit=1
                                      Modbus RTU on a serial port
  modbus+ascii:///dev/ttyUSB0?...     Modbus ASCII on a serial port
  modbus+rtu+tcp://HOST:PORT          RTU frames over TCP (serial gateways)
"""

_DEVICE_FILE = """\
device file (JSON, read with the standard library's json module):
  {"units": {"1": {"coils": 100,
                   "discrete_inputs": 8,
                   "holding_registers": [1, 2, 3],
                   "input_registers": 10,
                   "identification": {"0": "Vendor", "1": "Product", "2": "1.0"},
                   "server_id": "EQ1",
                   "exception_status": 0}}}
  Each table is a size (all zero) or a list of initial values. Unit ids are
  0..255 on TCP and 1..247 on a serial line; every key is optional except
  "units", and an unknown key is an error.
"""


def add_modbus_command(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``modbus`` with its ``read``, ``write`` and ``serve`` sub-commands.

    Args:
        subparsers: The command line's sub-command collection.
    """
    modbus = subparsers.add_parser(
        "modbus",
        help="read, write or simulate Modbus devices (TCP, RTU, ASCII)",
        description="Read and write Modbus devices, or run a simulated one, by URL.",
        epilog=_URLS + "\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = modbus.add_subparsers(dest="modbus_command", metavar="ACTION")
    modbus.set_defaults(handler=_usage(modbus))
    _add_read(actions)
    _add_write(actions)
    _add_serve(actions)


def _usage(parser: argparse.ArgumentParser) -> Handler:
    def show(args: argparse.Namespace) -> int:
        parser.print_usage()
        return 2

    return show


def _address(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= MAX_ADDRESS:
        raise argparse.ArgumentTypeError(f"address {text!r} must be 0..{MAX_ADDRESS}")
    return value


def _count(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"count {text!r} must be 1 or more")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def _repeat(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"repeat {text!r} must be 0 (until Ctrl-C) or more")
    return value


def _integer(text: str) -> int:
    """Decimal or ``0x`` hexadecimal, with an optional sign."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    try:
        if body[:2].lower() == "0x":
            return sign * int(body[2:], 16)
        return sign * int(body, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an integer (decimal or 0x hex)"
        ) from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the device, e.g. modbus://127.0.0.1:502?unit=1")
    parser.add_argument(
        "--unit", type=_integer, default=None, help="unit (slave) id; overrides the URL's unit"
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=None,
        help="seconds to wait for the answer; overrides the URL's timeout (default 1). "
        "One attempt, unless the URL sets retries=N",
    )


def _typed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--type",
        choices=VALUE_TYPES,
        default=None,
        help="register value type; without it registers are raw 0..65535",
    )
    parser.add_argument(
        "--order",
        choices=BYTE_ORDERS,
        default=None,
        help="byte/word order of register values (default ABCD: big-endian, high word first)",
    )


def _add_read(actions: argparse._SubParsersAction[Any]) -> None:
    read = actions.add_parser(
        "read",
        help="read coils, discrete inputs, holding or input registers",
        description=(
            "Read COUNT values (default 1) from ADDRESS (0-based protocol address) and\n"
            "print 'address: value' lines, or one JSON object per poll with --json.\n"
            "With --type, COUNT counts typed values (a float32 takes two registers)."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(read)
    read.add_argument(
        "table", choices=("coils", "discrete", "holding", "input"), help="the table to read"
    )
    read.add_argument("address", type=_address, metavar="ADDRESS", help="first address, 0..65535")
    read.add_argument(
        "count", type=_count, nargs="?", default=1, metavar="COUNT", help="values to read"
    )
    _typed(read)
    read.add_argument(
        "--json", action="store_true", help="print one JSON object per poll instead of lines"
    )
    read.add_argument(
        "--repeat", type=_repeat, default=1, help="number of polls (0: until Ctrl-C; default 1)"
    )
    read.add_argument(
        "--interval", type=_positive, default=1.0, help="seconds between polls (default 1)"
    )
    read.set_defaults(handler=_run("run_read"))


def _add_write(actions: argparse._SubParsersAction[Any]) -> None:
    write = actions.add_parser(
        "write",
        help="write coils or holding registers",
        description=(
            "Write VALUEs from ADDRESS (0-based protocol address). 'coil' and 'register'\n"
            "write one value (functions 05 and 06), 'coils' and 'registers' several\n"
            "(functions 0F and 10). Coil values: 1/0, true/false, on/off. Register\n"
            "values: decimal or 0x hex, 0..65535; with --type, values of that type\n"
            "(a float32 takes two registers). --unit 0 broadcasts (no answer).\n"
            "Put -- before values that look like options, e.g. -- -1e5."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(write)
    write.add_argument(
        "table", choices=("coil", "coils", "register", "registers"), help="what to write"
    )
    write.add_argument("address", type=_address, metavar="ADDRESS", help="first address, 0..65535")
    write.add_argument("values", nargs="+", metavar="VALUE", help="the value(s) to write")
    _typed(write)
    write.set_defaults(handler=_run("run_write"))


def _add_serve(actions: argparse._SubParsersAction[Any]) -> None:
    serve = actions.add_parser(
        "serve",
        help="run a simulated Modbus device (server) from a JSON device file",
        description=(
            "Serve the units of a device file until Ctrl-C, SIGTERM or --duration.\n"
            "It prints 'listening on WHERE' once it serves, and a count of requests\n"
            "when it stops.\n\n"
            "  modbus://HOST:PORT, modbus+tcp://HOST:PORT   Modbus TCP (port 0: any free\n"
            "                                               port, printed at start)\n"
            "  modbus+rtu+tcp://HOST:PORT                   RTU frames over TCP\n"
            "  modbus+rtu:///dev/ttyX?baudrate=19200&parity=E\n"
            "  modbus+ascii:///dev/ttyX?...                 a serial port (query: baudrate,\n"
            "                                               parity, bytesize, stopbits, ...)"
        ),
        epilog=_DEVICE_FILE + "\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("url", metavar="URL", help="where to listen, e.g. modbus://127.0.0.1:1502")
    serve.add_argument("--device", required=True, metavar="FILE", help="the JSON device file")
    serve.add_argument(
        "--duration", type=_positive, default=None, help="stop after this many seconds"
    )
    serve.set_defaults(handler=_run("run_serve"))


def _run(name: str) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        from eq1_network.protocols.modbus import cli

        result: int = getattr(cli, name)(args)
        return result

    return handler
