"""Fixtures that the documentation's code blocks declare with ``needs=FIXTURE:PORT``.

Each starts a real peer on 127.0.0.1 and a free port (the block's documented port is
replaced with it); ``peer(name)`` returns that port and stops the peer after the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eq1_network.testing.peers import require_peers

sys.path.insert(0, str(Path(__file__).parent))

HOST = "127.0.0.1"
START_TIMEOUT = 20.0


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, deadline: float) -> None:
    """Poll until a TCP port accepts connections."""
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {HOST}:{port} after {START_TIMEOUT} s")
        time.sleep(0.02)


@contextlib.contextmanager
def tcp_echo() -> Iterator[int]:
    """A threaded TCP echo server."""
    server = socket.create_server((HOST, 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


@contextlib.contextmanager
def udp_echo() -> Iterator[int]:
    """A UDP echo server: every datagram goes back to its sender."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(OSError):
                sock.sendto(data, addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        sock.close()


@contextlib.contextmanager
def mqtt_broker() -> Iterator[int]:
    """A private mosquitto: anonymous clients, no persistence."""
    exe = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
        None,
    )
    if exe is None:
        reason = "this block needs mosquitto; install it (apt-get install mosquitto)"
        if require_peers():
            pytest.fail(f"{reason} (EQ1_REQUIRE_PEERS is set, so this cannot be skipped)")
        pytest.skip(reason)
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "mosquitto.conf"
        config.write_text(f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n")
        log = open(Path(folder) / "log", "wb")
        proc = subprocess.Popen([exe, "-c", str(config)], stdout=log, stderr=log)
        try:
            wait_listening(port, time.monotonic() + START_TIMEOUT)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            log.close()


@contextlib.contextmanager
def modbus_server() -> Iterator[int]:
    """A Modbus TCP server: unit 1 with 100 of each table, all zero."""
    from eq1_network.protocols.modbus import ModbusDevice, ModbusTCPServer

    device = ModbusDevice(
        coils=100, discrete_inputs=100, holding_registers=100, input_registers=100
    )
    with ModbusTCPServer(HOST, 0, units={1: device}) as server:
        yield server.address[1]


@contextlib.contextmanager
def port_only() -> Iterator[int]:
    """No peer: a free port for a block that starts its own server."""
    yield free_port()


FIXTURES: dict[str, Callable[[], contextlib.AbstractContextManager[int]]] = {
    "free-port": port_only,
    "tcp-echo": tcp_echo,
    "udp-echo": udp_echo,
    "mqtt-broker": mqtt_broker,
    "modbus-server": modbus_server,
}


@pytest.fixture
def peers() -> Iterator[Callable[[str], int]]:
    """``peers(fixture_name)`` starts a fixture and returns its port."""
    with contextlib.ExitStack() as stack:

        def start(name: str) -> int:
            return stack.enter_context(FIXTURES[name]())

        yield start
