"""A TCP client talking to an echo server through ReqResManager, runnable as it is.

With ``--port`` it talks to an echo server you started, for example::

    socat TCP-LISTEN:8080,bind=127.0.0.1,reuseaddr,fork PIPE
    python examples/tcp_example.py --port 8080

Without ``--port`` it starts its own echo server: a ``TCPServer`` whose thread reads
each request and answers it through the request/response view (``read``/``send``).
It then sends a JSON message with send_json()/read_json().

Needs ``eq1-network-tcp`` (``python -m pip install ./packages/eq1-network-core
./packages/eq1-network-tcp`` from a clone).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from eq1_network import ReqResManager
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer


@contextmanager
def echo_server(host: str) -> Iterator[int]:
    """Run a TCPServer that echoes every request; yield its port."""
    server = TCPServer(host, 0, timeout=1)
    server.connect()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if server.wait_readable(0.2):
                ok, data = server.read()
                if ok and data:
                    server.send(data)

    thread = threading.Thread(target=serve, name="echo", daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        stop.set()
        thread.join(5)
        server.disconnect()


def run(host: str, port: int) -> str:
    """The document's example: register, connect, send, read, disconnect.

    Returns:
        The decoded response.
    """
    tcp_client = TCPClient(host, port, timeout=1)
    ReqResManager.register("tcp_client", tcp_client)
    try:
        response = ""
        if ReqResManager.connect("tcp_client"):
            result = ReqResManager.send("tcp_client", b"Hello Server!")
            if result > 0:
                data = ReqResManager.read("tcp_client")
                while len(data) < result:  # TCP may deliver a reply in pieces
                    data += ReqResManager.read("tcp_client")
                response = data.decode()
                print(f"Response: {response}")
            ReqResManager.disconnect("tcp_client")
        return response
    finally:
        ReqResManager.unregister("tcp_client")


def run_json(host: str, port: int) -> None:
    """Send one JSON message and print the echo (framed by NetworkPacketStructure)."""
    with TCPClient(host, port, timeout=1) as client:
        client.send_json({"command": "status", "line": 3})
        print(f"JSON response: {client.read_json(timeout=1)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="an echo server's port")
    args = parser.parse_args()
    if args.port is not None:
        ok = run(args.host, args.port) == "Hello Server!"
        run_json(args.host, args.port)
        return 0 if ok else 1
    with echo_server(args.host) as port:
        ok = run(args.host, port) == "Hello Server!"
        run_json(args.host, port)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
