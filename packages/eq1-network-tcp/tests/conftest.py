"""Fixtures of the TCP tests: real peers on 127.0.0.1, generated TLS certificates.

Peers come from the testing kit (:mod:`eq1_network.testing`) and are started by the
tests themselves on free ports: a threaded echo/sink server, ``socat`` processes, and
TCPServer instances. Every fixture stops what it started (threads joined, processes
reaped, sockets closed).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.testing import (
    DEFAULT_TIMEOUT,
    EchoServer,
    PeerProcess,
    TLSFiles,
    allow_interrupts,
    free_port,
    make_tls_files,
    recv_exactly,
    require_executable,
    wait_until,
)

LOCALHOST = "127.0.0.1"
DEADLINE = DEFAULT_TIMEOUT
"""Seconds any test waits for something that should happen; generous for busy machines."""


@pytest.fixture
def until() -> Callable[..., object]:
    """The kit's :func:`wait_until`, as a fixture (test modules cannot import conftest)."""
    return wait_until


@pytest.fixture
def recv_all() -> Callable[..., bytes]:
    """The kit's :func:`recv_exactly`, as a fixture."""
    return recv_exactly


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    """A raw-socket echo server on 127.0.0.1."""
    server = EchoServer()
    yield server
    server.stop()


@pytest.fixture
def sink_server() -> Iterator[EchoServer]:
    """A raw-socket server that reads and never answers."""
    server = EchoServer(echo=False)
    yield server
    server.stop()


@pytest.fixture
def socat_factory(tmp_path: Path) -> Iterator[Callable[..., PeerProcess]]:
    """Start ``socat`` processes with given arguments; all are stopped at the end."""
    socat = require_executable("socat", "echo peer of the TCP integration tests")
    procs: list[PeerProcess] = []

    def start(*args: str) -> PeerProcess:
        proc = PeerProcess([socat, *args], log=tmp_path / f"socat-{len(procs)}.log")
        procs.append(proc)
        return proc.start()

    yield start
    for proc in procs:
        proc.stop()


@pytest.fixture
def socat_echo(socat_factory: Callable[..., PeerProcess]) -> int:
    """``socat TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork PIPE``; yields the port."""
    port = free_port()
    socat_factory(f"TCP-LISTEN:{port},bind={LOCALHOST},reuseaddr,fork", "PIPE").wait_listening(port)
    return port


@pytest.fixture
def server() -> Iterator[TCPServer]:
    """A TCPServer listening on 127.0.0.1 with a system-chosen port."""
    srv = TCPServer(LOCALHOST, 0, timeout=DEADLINE)
    srv.connect()
    yield srv
    srv.disconnect()


@pytest.fixture
def clients() -> Iterator[list[TCPClient]]:
    """A list the test appends its clients to; all are disconnected at the end."""
    made: list[TCPClient] = []
    yield made
    for client in made:
        client.disconnect()


def echo_forever(server: TCPServer, stop: threading.Event) -> None:
    """Send every chunk a TCPServer receives back to its sender, until ``stop`` is set."""
    while not stop.is_set():
        message = server.receive(0.1)
        if message is None:
            continue
        with contextlib.suppress(ConnectionError, TimeoutError):
            server.send_to(message.peer, message.data)


@pytest.fixture
def echo_tcpserver_factory() -> Iterator[Callable[..., TCPServer]]:
    """Make connected TCPServers that echo (one responder thread each); all stopped at the end."""
    started: list[tuple[TCPServer, threading.Event, threading.Thread]] = []

    def make(**kwargs: object) -> TCPServer:
        srv = TCPServer(LOCALHOST, 0, timeout=DEADLINE, **kwargs)
        srv.connect()
        stop = threading.Event()
        thread = threading.Thread(target=echo_forever, args=(srv, stop), daemon=True)
        thread.start()
        started.append((srv, stop, thread))
        return srv

    yield make
    for srv, stop, thread in started:
        stop.set()
        thread.join(DEADLINE)
        srv.disconnect()


# -- TLS material ------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a
    second, unrelated CA with its own server certificate; made on the fly by the kit."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT its handler back in a run started with it ignored (Ctrl-C tests)."""
    allow_interrupts()
