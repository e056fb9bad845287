"""The ``eq1-network modbus`` commands: ``read``, ``write`` and ``serve``.

Each command returns its exit code (see :data:`~eq1_network.protocols.modbus._cli_args.EXIT_CODES`)
and prints errors as one ``error: ...`` line on standard error. The argument parser
is built by :mod:`eq1_network.protocols.modbus._cli_args`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, Literal

from eq1_network.cli import exit_code as command_exit_code
from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolTimeoutError,
)
from eq1_network.protocols.modbus._device_file import load_device_file
from eq1_network.protocols.modbus._spec import MAX_READ_REGISTERS
from eq1_network.protocols.modbus.client import ModbusClient
from eq1_network.protocols.modbus.errors import ModbusExceptionError
from eq1_network.protocols.modbus.server import ModbusRTUServer, ModbusTCPServer
from eq1_network.protocols.modbus.values import ValueType, decode_many, encode_many, register_count
from eq1_network.urls import ParsedURL, mask_url, parse_url, query_kwargs

__all__ = ["exit_code", "run_read", "run_serve", "run_write"]

# Codes of the table every eq1-network command shares (eq1_network.cli.exit_code).
OK, PROTOCOL, INTERRUPTED = 0, 5, 130

_TRUE = frozenset({"1", "true", "on"})
_FALSE = frozenset({"0", "false", "off"})
_READERS = {
    "coils": "read_coils",
    "discrete": "read_discrete_inputs",
    "holding": "read_holding_registers",
    "input": "read_input_registers",
}
_TCP_SCHEMES: dict[str, Literal["mbap", "rtu"]] = {
    "modbus": "mbap",
    "modbus+tcp": "mbap",
    "modbus+rtu+tcp": "rtu",
}
_FIXED = ("host", "port", "units", "framer")
"""Server arguments a serve URL sets otherwise, so not accepted in its query."""
_SERIAL_SCHEMES: dict[str, Literal["rtu", "ascii"]] = {"modbus+rtu": "rtu", "modbus+ascii": "ascii"}

Value = bool | int | float


def exit_code(exc: BaseException) -> int:
    """Return the exit code for an error: the table of every ``eq1-network`` command.

    Args:
        exc: The error a command raised.

    Returns:
        5 for a Modbus exception response; otherwise
        :func:`eq1_network.cli.exit_code` (6 authentication or TLS, 5 a malformed
        answer, 4 timeout, 3 connection, 2 usage, 1 other).
    """
    if isinstance(exc, ModbusExceptionError):
        return PROTOCOL
    return command_exit_code(exc)


def _guarded(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return command(args)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:  # the reader of standard output left (e.g. "| head -1")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except (ProtocolError, OSError) as exc:
        text = " ".join(str(exc).split())
        sys.stderr.write(f"error: {text}\n")
        return exit_code(exc)


# -- clients ----------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> ModbusClient:
    """Build the client of ``args.url`` and connect it (any failure to connect is exit 3)."""
    from eq1_network import from_url

    overrides: dict[str, Any] = {}
    parsed = parse_url(args.url)
    if parsed.scheme.startswith("modbus") and "retries" not in parsed.params:
        overrides["retries"] = 0  # one attempt, as --timeout says, unless the URL asks for more
    if args.unit is not None:
        overrides["unit"] = args.unit
    if args.timeout is not None:
        overrides["timeout"] = args.timeout
    client = from_url(args.url, **overrides)
    if not isinstance(client, ModbusClient):
        raise ProtocolArgumentError(
            f"URL {mask_url(args.url)!r} is not a Modbus URL; use modbus://, modbus+tcp://, "
            "modbus+rtu://, modbus+ascii:// or modbus+rtu+tcp://"
        )
    try:
        client.connect()
    except ProtocolTimeoutError as exc:
        raise ProtocolConnectionError(f"cannot connect: {exc}") from None
    return client


@contextmanager
def _connected(args: argparse.Namespace) -> Iterator[ModbusClient]:
    client = _client(args)
    try:
        yield client
    finally:
        client.disconnect()


# -- read -------------------------------------------------------------------------------


def run_read(args: argparse.Namespace) -> int:
    """``modbus read``: poll a table ``args.repeat`` times and print the values.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code.
    """
    return _guarded(_read, args)


def _read(args: argparse.Namespace) -> int:
    bits = args.table in ("coils", "discrete")
    if bits and (args.type or args.order):
        raise ProtocolArgumentError(
            f"--type and --order apply to registers; {args.table} are single bits: drop them"
        )
    value_type: ValueType = args.type or "uint16"
    width = 1 if bits else register_count(value_type)
    if not bits and args.count * width > MAX_READ_REGISTERS:
        raise ProtocolArgumentError(
            f"COUNT={args.count} {value_type} values take {args.count * width} registers; one "
            f"read returns at most {MAX_READ_REGISTERS}: pass COUNT<={MAX_READ_REGISTERS // width}"
        )
    with _connected(args) as client:
        try:
            _polls(client, args, value_type, width)
        except KeyboardInterrupt:
            if args.repeat:
                raise
    return OK  # --repeat 0 polls until Ctrl-C, its normal end


def _polls(
    client: ModbusClient, args: argparse.Namespace, value_type: ValueType, width: int
) -> None:
    start = time.monotonic()
    polls = 0
    while True:
        values = _poll(client, args, value_type, width)
        _show(args, client, values, value_type, width, first=polls == 0)
        polls += 1
        if args.repeat and polls >= args.repeat:
            return
        time.sleep(max(0.0, start + polls * args.interval - time.monotonic()))


def _poll(
    client: ModbusClient, args: argparse.Namespace, value_type: ValueType, width: int
) -> list[Value]:
    reader = getattr(client, _READERS[args.table])
    if width == 1 and args.table in ("coils", "discrete"):
        bits: list[bool] = reader(args.address, args.count)
        return list(bits)
    registers: list[int] = reader(args.address, args.count * width)
    decoded: Sequence[Value] = decode_many(registers, value_type, args.order or "ABCD")
    return [_shortest(value, value_type) for value in decoded]


def _shortest(value: Value, value_type: str) -> Value:
    """A float32 as the shortest decimal that reads back as the same float32."""
    if value_type != "float32" or not isinstance(value, float) or not math.isfinite(value):
        return value
    for digits in range(1, 10):
        short = float(f"{value:.{digits}g}")
        if struct.unpack(">f", struct.pack(">f", short))[0] == value:
            return short
    return value  # pragma: no cover - 9 significant digits always round-trip a float32


def _show(
    args: argparse.Namespace,
    client: ModbusClient,
    values: Sequence[Value],
    value_type: str,
    width: int,
    *,
    first: bool,
) -> None:
    addresses = [args.address + index * width for index in range(len(values))]
    if args.json:
        bits = args.table in ("coils", "discrete")
        record: dict[str, Any] = {
            "url": mask_url(args.url),
            "unit": client.unit,
            "table": args.table,
            "address": args.address,
            "type": "bool" if bits else value_type,
        }
        if not bits:
            record["order"] = args.order or "ABCD"
        record["addresses"] = addresses
        record["values"] = [_json_value(value) for value in values]
        text = json.dumps(record)
    else:
        lines = [
            f"{address}: {_text(value)}" for address, value in zip(addresses, values, strict=True)
        ]
        text = "\n".join(lines) if first else "\n" + "\n".join(lines)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(value) if isinstance(value, float) else str(value)


def _json_value(value: Value) -> Value | str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


# -- write ------------------------------------------------------------------------------


def run_write(args: argparse.Namespace) -> int:
    """``modbus write``: write coils or holding registers.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code.
    """
    return _guarded(_write, args)


def _write(args: argparse.Namespace) -> int:
    single = args.table in ("coil", "register")
    if single and len(args.values) != 1:
        plural = f"{args.table}s"
        raise ProtocolArgumentError(
            f"'{args.table}' writes one VALUE, got {len(args.values)}; use '{plural}' for several"
        )
    if args.table in ("coil", "coils"):
        if args.type or args.order:
            raise ProtocolArgumentError("--type and --order apply to registers, not coils")
        bits = [_coil(text, index) for index, text in enumerate(args.values)]
        with _connected(args) as client:
            if single:
                client.write_coil(args.address, bits[0])
            else:
                client.write_coils(args.address, bits)
        return _wrote(len(bits), "coil", args.address)
    value_type: ValueType = args.type or "uint16"
    numbers = [_number(text, value_type, index) for index, text in enumerate(args.values)]
    registers = encode_many(numbers, value_type, args.order or "ABCD")
    if single and len(registers) != 1:
        raise ProtocolArgumentError(
            f"a {value_type} takes {len(registers)} registers; 'register' (function 06) writes "
            "one: use 'registers'"
        )
    with _connected(args) as client:
        if single:
            client.write_register(args.address, registers[0])
        else:
            client.write_registers(args.address, registers)
    return _wrote(len(registers), "register", args.address)


def _wrote(count: int, noun: str, address: int) -> int:
    sys.stdout.write(f"wrote {count} {noun}{'s' * (count != 1)} at {address}\n")
    return OK


def _coil(text: str, index: int) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ProtocolArgumentError(
        f"VALUE {index + 1} ({text!r}) is not a coil value; use 1/0, true/false or on/off"
    )


def _number(text: str, value_type: str, index: int) -> int | float:
    body = text.strip()
    try:
        if value_type.startswith("float"):
            return float(body)
        sign = -1 if body.startswith("-") else 1
        digits = body.lstrip("+-")
        if digits[:2].lower() == "0x":
            return sign * int(digits[2:], 16)
        return sign * int(digits, 10)
    except ValueError:
        kind = "a number" if value_type.startswith("float") else "an integer (decimal or 0x hex)"
        raise ProtocolArgumentError(
            f"VALUE {index + 1} ({text!r}) is not {kind} for {value_type}"
        ) from None


# -- serve ------------------------------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    """``modbus serve``: run a server for the units of a device file.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code.
    """
    return _guarded(_serve, args)


def _serve(args: argparse.Namespace) -> int:
    url = parse_url(args.url)
    server = _server(url, args.device)
    server.start()
    try:
        if isinstance(server, ModbusTCPServer):
            host, port = server.address
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        else:
            where = server.port
        sys.stdout.write(f"listening on {where}\n")
        sys.stdout.flush()
        _wait(args.duration)
    finally:
        server.stop()
    stats = server.stats
    sys.stdout.write(f"stopped: {stats.requests} requests, {stats.answers} answers\n")
    return OK


def _server(url: ParsedURL, device_file: str) -> ModbusTCPServer | ModbusRTUServer:
    where = f"URL {url.masked!r}"
    if url.username is not None or url.password is not None:
        raise url.error("a Modbus server takes no user name or password")
    if url.scheme in _TCP_SCHEMES:
        if not url.host or url.path not in ("", "/"):
            raise url.error(f"serve needs {url.scheme}://HOST:PORT, e.g. modbus://127.0.0.1:1502")
        options = query_kwargs(ModbusTCPServer, url.params, where=where, exclude=_FIXED)
        units = load_device_file(device_file, serial=False)
        port = 502 if url.port is None else url.port
        return ModbusTCPServer(
            url.host, port, units=units, framer=_TCP_SCHEMES[url.scheme], **options
        )
    if url.scheme in _SERIAL_SCHEMES:
        from eq1_network.protocols.serial._url import serial_url_kwargs

        for name in _FIXED:
            if name in url.params:
                raise url.error(f"{name} cannot be set in a serve URL; remove {name}= from it")
        options = serial_url_kwargs(ModbusRTUServer, url)
        units = load_device_file(device_file, serial=True)
        return ModbusRTUServer(units=units, framer=_SERIAL_SCHEMES[url.scheme], **options)
    known = ", ".join(f"{scheme}://" for scheme in (*_TCP_SCHEMES, *_SERIAL_SCHEMES))
    raise url.error(f"serve takes {known}; not {url.scheme}://")


def _wait(duration: float | None) -> None:
    """Return after ``duration`` seconds, on SIGTERM, or on Ctrl-C."""
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        stop.wait(duration)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
