"""The ``eq1-network tcp-echo`` command: a TCPServer that sends every chunk back."""

from __future__ import annotations

import sys
import time

from eq1_network.common.logging import get_logger
from eq1_network.protocols.ethernet.tcp_server import TCPServer

__all__ = ["run_echo_server"]

logger = get_logger(__name__)


def run_echo_server(host: str, port: int, duration: float | None) -> int:
    """Echo every client's bytes back to it until interrupted or ``duration`` passes.

    Prints ``listening on HOST:PORT`` (with the bound port) on standard output first.

    Args:
        host: Address to listen on.
        port: Port, ``0`` for any.
        duration: Seconds to run, or ``None`` to run until Ctrl-C.

    Returns:
        The exit code, 0.

    Raises:
        ProtocolConnectionError: If the address cannot be bound.
    """
    server = TCPServer(host, port, timeout=1.0)
    server.connect()
    sys.stdout.write(f"listening on {server.where}\n")
    sys.stdout.flush()
    deadline = None if duration is None else time.monotonic() + duration
    try:
        while deadline is None or time.monotonic() < deadline:
            remaining = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            message = server.receive(remaining)
            if message is None:
                continue
            try:
                server.send_to(message.peer, message.data)
            except ConnectionError as exc:
                logger.info("echo to %s failed: %s", message.peer, exc)
    except KeyboardInterrupt:
        pass
    finally:
        server.disconnect()
    return 0
