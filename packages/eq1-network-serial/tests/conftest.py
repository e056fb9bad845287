"""Fixtures of the serial tests: simulated devices, socat pty pairs, TCP and RFC 2217 peers.

Every peer is started by the fixture on loopback addresses or pseudo-terminals and
stopped (processes, threads, descriptors) when the test ends.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from serial import rfc2217

from eq1_network.protocols.serial.simulator import SimulatedModem
from eq1_network.testing import require_executable

POSIX = sys.platform != "win32"
DEADLINE = 20.0
"""Seconds any wait in these tests may take; generous, for busy machines."""


def wait_until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


@pytest.fixture
def until() -> Callable[..., bool]:
    """The :func:`wait_until` function, for test modules (they cannot import conftest)."""
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


class SocatProcess:
    """A ``socat`` process whose addresses create pseudo-terminals behind links."""

    def __init__(self, exe: str, log: Path, *addresses: str, links: tuple[Path, ...]) -> None:
        self.exe = exe
        self.log = log
        self.addresses = addresses
        self.links = links
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        for link in self.links:
            link.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.exe, "-d", "-d", *self.addresses],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        proc = self.proc
        ready = wait_until(
            lambda: proc.poll() is not None or all(link.exists() for link in self.links)
        )
        if not ready or proc.poll() is not None:
            self.stop()
            raise AssertionError(f"socat did not start: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=DEADLINE)


@pytest.fixture
def socat_pair(posix: None, tmp_path: Path) -> Iterator[SocatProcess]:
    """``socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B``: a null-modem cable A <-> B."""
    exe = require_executable("socat", "pseudo-terminal pairs for the serial tests")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    pair = SocatProcess(
        exe,
        tmp_path / "socat.log",
        f"pty,raw,echo=0,link={a}",
        f"pty,raw,echo=0,link={b}",
        links=(a, b),
    )
    pair.start()
    yield pair
    pair.stop()


@pytest.fixture
def socat_echo(posix: None, tmp_path: Path) -> Iterator[SocatProcess]:
    """``socat pty,raw,echo=0,link=A PIPE``: a terminal whose peer (socat) echoes every byte."""
    exe = require_executable("socat", "an echoing pseudo-terminal for the serial tests")
    a = tmp_path / "ttyEcho"
    echo = SocatProcess(exe, tmp_path / "socat.log", f"pty,raw,echo=0,link={a}", "PIPE", links=(a,))
    echo.start()
    yield echo
    echo.stop()


class TcpEchoServer:
    """A threaded TCP echo server on 127.0.0.1 (the peer of ``socket://``)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accept_thread = threading.Thread(target=self._accept, name="tcp-echo", daemon=True)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._accept_thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            worker = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _echo(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def drop_clients(self) -> None:
        """Close every accepted connection (the peer of the client vanishes)."""
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self.drop_clients()
        self._accept_thread.join(DEADLINE)
        for worker in self._threads:
            worker.join(DEADLINE)
        self.listener.close()


@pytest.fixture
def tcp_echo() -> Iterator[TcpEchoServer]:
    """A TCP echo server on 127.0.0.1 with a free port."""
    server = TcpEchoServer()
    server.start()
    yield server
    server.stop()


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
