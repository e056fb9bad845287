"""A serial request/response round trip (an AT command to a modem), runnable anywhere.

Without ``--port`` it starts a simulated AT modem on a pseudo-terminal (Linux,
macOS) and talks to that; with ``--port`` it talks to a real device::

    python examples/serial_example.py
    python examples/serial_example.py --port /dev/ttyUSB0 --baudrate 115200
    python examples/serial_example.py --port COM3

Needs ``eq1-network-serial`` (``python -m pip install ./packages/eq1-network-core
./packages/eq1-network-serial`` from a clone).
"""

from __future__ import annotations

import argparse
import sys

from eq1_network import ProtocolError, ReqResManager
from eq1_network.protocols.serial.serial_protocol import SerialProtocol


def at_round_trip(port: str, baudrate: int) -> None:
    """Send ``AT`` to the modem on ``port`` and print its answer.

    Args:
        port: Device name or pyserial URL.
        baudrate: Bits per second.
    """
    try:
        # Configure the serial protocol and register it under a name.
        serial_protocol = SerialProtocol(port, baudrate, timeout=1)
        ReqResManager.register("serial", serial_protocol)

        # Connect, send a command, read the answer.
        if ReqResManager.connect("serial"):
            result = ReqResManager.send("serial", b"AT\r\n")
            if result > 0:
                response = ReqResManager.read("serial")
                print(f"Response: {response.decode()}")
            ReqResManager.disconnect("serial")
    finally:
        if "serial" in ReqResManager.names():
            ReqResManager.disconnect("serial")
            ReqResManager.unregister("serial")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start the simulated modem if needed, run the scenario.

    Args:
        argv: Command-line arguments without the program name.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="device or pyserial URL; default: a simulated modem")
    parser.add_argument("--baudrate", type=int, default=9600)
    args = parser.parse_args(argv)
    try:
        if args.port:
            at_round_trip(args.port, args.baudrate)
            return 0
        if sys.platform == "win32":
            parser.error("Windows has no pseudo-terminals: pass --port COMn")
        from eq1_network.protocols.serial.simulator import SimulatedModem

        with SimulatedModem() as modem:
            print(f"simulated modem on {modem.path}")
            at_round_trip(modem.path, args.baudrate)
        return 0
    except ProtocolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
