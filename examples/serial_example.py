"""The requirements' serial scenario ("현재 구현된 Serial 예시"), runnable anywhere.

Without ``--port`` it starts a simulated AT modem on a pseudo-terminal (Linux,
macOS) and talks to that; with ``--port`` it talks to a real device::

    python examples/serial_example.py
    python examples/serial_example.py --port /dev/ttyUSB0 --baudrate 115200
    python examples/serial_example.py --port COM3

The scenario below is the requirements document's text, word for word, except the
port name. The document calls the package root ``app``; that root is
``eq1_network`` today, so ``app`` is made an alias of it first.
"""

from __future__ import annotations

import argparse
import sys

import eq1_network


def requirements_scenario(port: str, baudrate: int) -> None:
    """Run the requirements' serial example with ``port`` in place of ``"COM1"``.

    Args:
        port: Device name or pyserial URL.
        baudrate: Bits per second (the document uses 9600).
    """
    sys.modules.setdefault("app", eq1_network)
    try:
        # isort: off
        # --- the requirements document's example; only the port differs --------
        from app import ReqResManager
        from eq1_network.protocols.serial.serial_protocol import SerialProtocol

        # 시리얼 프로토콜 설정
        serial_protocol = SerialProtocol(port, baudrate, timeout=1)
        ReqResManager.register("serial", serial_protocol)

        # 연결 및 통신
        if ReqResManager.connect("serial"):
            result = ReqResManager.send("serial", b"AT\r\n")
            if result > 0:
                response = ReqResManager.read("serial")
                print(f"Response: {response.decode()}")
            ReqResManager.disconnect("serial")
        # -------------------------------------------------------------------------
        # isort: on
    finally:
        if "serial" in eq1_network.ReqResManager.names():
            eq1_network.ReqResManager.disconnect("serial")
            eq1_network.ReqResManager.unregister("serial")


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
            requirements_scenario(args.port, args.baudrate)
            return 0
        if sys.platform == "win32":
            parser.error("Windows has no pseudo-terminals: pass --port COMn")
        from eq1_network.protocols.serial.simulator import SimulatedModem

        with SimulatedModem() as modem:
            print(f"simulated modem on {modem.path}")
            requirements_scenario(modem.path, args.baudrate)
        return 0
    except eq1_network.ProtocolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
