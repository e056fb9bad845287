"""Fixtures of the serial tests: simulated devices, socat pty pairs, TCP and RFC 2217 peers.

Every peer is started by the fixture on loopback addresses or pseudo-terminals and
stopped (processes, threads, descriptors) when the test ends.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from serial import rfc2217

from eq1_network.protocols.serial.simulator import SimulatedModem
from eq1_network.testing import (
    DEFAULT_TIMEOUT,
    EchoServer,
    SocatProcess,
    allow_interrupts,
    pty_echo,
    pty_pair,
    wait_until,
)

POSIX = sys.platform != "win32"
DEADLINE = DEFAULT_TIMEOUT
"""Seconds any wait in these tests may take; generous, for busy machines."""


@pytest.fixture
def until() -> Callable[..., object]:
    """The kit's :func:`wait_until` (raises on timeout), for test modules."""
    return wait_until


@pytest.fixture
def posix() -> None:
    """Skip on Windows, which has no pseudo-terminals."""
    if not POSIX:
        pytest.skip("needs POSIX pseudo-terminals (not available on Windows)")


@pytest.fixture
def modem(posix: None, tmp_path: Path) -> Iterator[SimulatedModem]:
    """A simulated AT modem behind the stable link ``tmp_path/modem``."""
    device = SimulatedModem(link=tmp_path / "modem")
    device.start()
    yield device
    device.close()


@pytest.fixture
def socat_pair(posix: None, tmp_path: Path) -> Iterator[SocatProcess]:
    """``socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B``: a null-modem cable A <-> B."""
    with pty_pair(tmp_path).start() as pair:
        yield pair


@pytest.fixture
def socat_echo(posix: None, tmp_path: Path) -> Iterator[SocatProcess]:
    """``socat pty,raw,echo=0,link=A PIPE``: a terminal whose peer (socat) echoes every byte."""
    with pty_echo(tmp_path).start() as echo:
        yield echo


class TcpEchoServer(EchoServer):
    """The kit's threaded TCP echo server, addressed as pyserial's ``socket://`` URL."""

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def drop_clients(self) -> None:
        """Close every accepted connection (the peer of the client vanishes)."""
        self.close_connections()


@pytest.fixture
def tcp_echo() -> Iterator[TcpEchoServer]:
    """A TCP echo server on 127.0.0.1 with a free port."""
    with TcpEchoServer() as server:
        yield server


class _SocketWriter:
    """What ``rfc2217.PortManager`` writes telnet answers to."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.conn.sendall(data)


class Rfc2217EchoServer:
    """An RFC 2217 server (pyserial's ``PortManager``) in front of a ``loop://`` port: an echo."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._main = threading.Thread(target=self._serve, name="rfc2217-echo", daemon=True)

    @property
    def url(self) -> str:
        return f"rfc2217://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._main.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._serve_client, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _serve_client(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(0.2)
        port = serial.serial_for_url("loop://", timeout=0.05)
        writer = _SocketWriter(conn)
        manager = rfc2217.PortManager(port, writer)  # type: ignore[arg-type]
        done = threading.Event()

        def pump_back() -> None:
            while not done.is_set() and not self._stop.is_set():
                data = port.read(port.in_waiting or 1)
                if data:
                    try:
                        writer.write(b"".join(manager.escape(data)))
                    except OSError:
                        return

        back = threading.Thread(target=pump_back, daemon=True)
        back.start()
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                port.write(b"".join(manager.filter(data)))
        finally:
            done.set()
            back.join(DEADLINE)
            port.close()
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._main.join(DEADLINE)
        for worker in self._threads:
            worker.join(DEADLINE)
        self.listener.close()


@pytest.fixture
def rfc2217_echo() -> Iterator[Rfc2217EchoServer]:
    """An RFC 2217 echo server on 127.0.0.1 with a free port."""
    server = Rfc2217EchoServer()
    server.start()
    yield server
    server.stop()


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT its handler back in a run started with it ignored (Ctrl-C tests)."""
    allow_interrupts()
