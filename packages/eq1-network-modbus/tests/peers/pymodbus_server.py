"""A pymodbus server run by the tests in its own process, as an independent Modbus peer.

Usage::

    python pymodbus_server.py --framer socket --port 0 --units 1,2
    python pymodbus_server.py --framer rtu --device /path/to/pty --units 1,2
    python pymodbus_server.py --framer rtu --port 0          # RTU frames over TCP
    python pymodbus_server.py --framer ascii --device /path/to/pty

Every unit id gets its own tables of ``--size`` entries filled with the pattern of
``modbus_peers`` (tests folder), and the identification objects of ``IDENTITY``. It prints
``READY <port>`` (TCP, the bound port) or ``READY <device>`` (serial) once it listens,
then serves until SIGTERM or SIGINT.

``--silent-unknown`` drops requests for unit ids it does not serve, as a device on a
shared serial bus must (pymodbus 3.16 with ``SimDevice`` answers them with exception
04 even when ``ignore_missing_devices`` is set: its ``SimCore`` raises ``KeyError``,
not ``NoSuchIdException``). ``--broadcast`` executes unit 0 writes on every unit
without answering.

The tables are built with pymodbus's ``SimDevice``/``SimData`` (the 3.16 data model):
their addresses are protocol addresses (0-based). The deprecated
``ModbusSequentialDataBlock`` is 1-based instead (block address 1 = protocol address 0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modbus_peers import (
    IDENTITY,
    coils,
    discrete_inputs,
    holding_registers,
    input_registers,
)

FRAMERS = {"socket": FramerType.SOCKET, "rtu": FramerType.RTU, "ascii": FramerType.ASCII}


def device(unit: int, size: int) -> SimDevice:
    """Return unit ``unit`` with four separate tables of ``size`` entries each."""
    return SimDevice(
        id=unit,
        simdata=(
            [SimData(0, values=coils(unit, 0, size), datatype=DataType.BITS)],
            [SimData(0, values=discrete_inputs(unit, 0, size), datatype=DataType.BITS)],
            [SimData(0, values=holding_registers(unit, 0, size), datatype=DataType.REGISTERS)],
            [SimData(0, values=input_registers(unit, 0, size), datatype=DataType.REGISTERS)],
        ),
    )


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framer", choices=sorted(FRAMERS), default="socket")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (0: a free one)")
    where.add_argument("--device", help="serial device (a pty end)")
    parser.add_argument("--units", default="1,2", help="comma-separated unit ids")
    parser.add_argument("--size", type=int, default=100, help="entries per table")
    parser.add_argument("--baudrate", type=int, default=19200)
    parser.add_argument("--silent-unknown", action="store_true", help="ignore other units")
    parser.add_argument("--broadcast", action="store_true", help="unit 0 is a broadcast")
    return parser.parse_args()


def unit_filter(units: list[int], broadcast: bool) -> Callable[[bool, ModbusPDU], ModbusPDU]:
    """Return a ``trace_pdu`` hook that drops requests for units not in ``units``.

    A request the hook turns into ``None`` is not handled, so nothing is answered.
    """
    wanted = {*units, 0} if broadcast else set(units)

    def trace_pdu(sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if sending or pdu.dev_id in wanted:
            return pdu
        return None  # type: ignore[return-value]

    return trace_pdu


async def serve(args: argparse.Namespace) -> None:
    """Start the server, print the ready line and serve until a stop signal."""
    units = [int(u) for u in args.units.split(",")]
    devices = [device(unit, args.size) for unit in units]
    options: dict[str, Any] = {
        "framer": FRAMERS[args.framer],
        "identity": ModbusDeviceIdentification(info_name=IDENTITY),
        "broadcast_enable": args.broadcast,
        "trace_pdu": unit_filter(units, args.broadcast) if args.silent_unknown else None,
    }
    server: ModbusTcpServer | ModbusSerialServer
    if args.device is None:
        server = ModbusTcpServer(devices, address=("127.0.0.1", args.port), **options)
    else:
        server = ModbusSerialServer(
            devices, port=args.device, baudrate=args.baudrate, parity="N", **options
        )
    # serve_forever() raises if listen() ran before it: let it listen, in the background.
    await server.serve_forever(background=True)
    if args.device is None:
        port = server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"READY {port}", flush=True)
    else:
        print(f"READY {args.device}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.shutdown()


def main() -> None:
    """Run the server."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(parse_args()))


if __name__ == "__main__":
    main()
