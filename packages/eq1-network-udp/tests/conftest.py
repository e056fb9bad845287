"""Fixtures of the UDP tests: real peers on 127.0.0.1.

Peers are started by the tests themselves on free ports: ``socat`` echo processes
(``UDP-RECVFROM:PORT,fork PIPE``: one process per datagram, each echoing that one
datagram; socat does not echo empty datagrams), raw-socket echo threads, UDPServer
instances and a lossy relay that drops a share of the datagrams it forwards. Every
fixture stops what it started (threads joined, processes reaped, sockets closed).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eq1_network.protocols.udp import UDPClient, UDPServer
from eq1_network.testing import (
    DEFAULT_TIMEOUT,
    PeerProcess,
    allow_interrupts,
    require_executable,
    wait_until,
)

LOCALHOST = "127.0.0.1"
DEADLINE = DEFAULT_TIMEOUT
"""Seconds any test waits for something that should happen; generous for busy machines."""
BUFFER = 4 << 20
"""SO_RCVBUF of the echo peers: bursts of datagrams must not be dropped by the kernel."""


def free_udp_port() -> int:
    """Return a UDP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


class RawEcho:
    """A raw-socket UDP echo on 127.0.0.1: every datagram goes back to its sender."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
        self.sock.bind((LOCALHOST, 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raw-udp-echo", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65_536)
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(OSError):
                self.sock.sendto(data, sender)

    def stop(self) -> None:
        """Stop the thread and close the socket."""
        self._stop.set()
        self._thread.join(DEADLINE)
        self.sock.close()


def echo_forever(server: UDPServer, stop: threading.Event) -> None:
    """Send every datagram a UDPServer receives back to its sender, until ``stop`` is set."""
    while not stop.is_set():
        datagram = server.receive(0.1)
        if datagram is None:
            continue
        with contextlib.suppress(ConnectionError):
            server.send_to(datagram.peer, datagram.data)


@pytest.fixture
def free_port_udp() -> Callable[[], int]:
    """:func:`free_udp_port`, as a fixture."""
    return free_udp_port


@pytest.fixture
def until() -> Callable[..., object]:
    """The kit's :func:`wait_until`, as a fixture (test modules cannot import conftest)."""
    return wait_until


@pytest.fixture
def raw_echo() -> Iterator[RawEcho]:
    """A raw-socket UDP echo thread on 127.0.0.1."""
    echo = RawEcho()
    yield echo
    echo.stop()


@pytest.fixture
def raw_echo_factory() -> Iterator[Callable[[], RawEcho]]:
    """Make raw-socket UDP echo threads; all stopped at the end."""
    made: list[RawEcho] = []

    def make() -> RawEcho:
        made.append(RawEcho())
        return made[-1]

    yield make
    for echo in made:
        echo.stop()


@pytest.fixture
def socat_echo(tmp_path: Path) -> Iterator[int]:
    """``socat -b 65536 UDP-RECVFROM:PORT,bind=127.0.0.1,fork PIPE``; yields the port.

    ``-b 65536``: socat's default 8 KiB transfer buffer would cut larger datagrams.
    """
    socat = require_executable("socat", "echo peer of the UDP integration tests")
    port = free_udp_port()
    proc = PeerProcess(
        [socat, "-b", "65536", f"UDP-RECVFROM:{port},bind={LOCALHOST},fork", "PIPE"],
        log=tmp_path / "socat.log",
    ).start()
    # Ready once a probe datagram comes back.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((LOCALHOST, port))
        probe.settimeout(0.2)

        def answers() -> bool:
            try:
                probe.send(b"probe")
                return probe.recv(16) == b"probe"
            except OSError:
                return False

        wait_until(answers, DEADLINE, "the socat UDP echo to answer")
    yield port
    proc.stop()


@pytest.fixture
def server() -> Iterator[UDPServer]:
    """A UDPServer bound to 127.0.0.1 with a system-chosen port."""
    srv = UDPServer(LOCALHOST, 0, timeout=DEADLINE, receive_buffer=BUFFER)
    srv.connect()
    yield srv
    srv.disconnect()


@pytest.fixture
def echo_server() -> Iterator[UDPServer]:
    """A UDPServer on 127.0.0.1 echoing every datagram from a responder thread."""
    srv = UDPServer(LOCALHOST, 0, timeout=DEADLINE, receive_buffer=BUFFER)
    srv.connect()
    stop = threading.Event()
    thread = threading.Thread(target=echo_forever, args=(srv, stop), daemon=True)
    thread.start()
    yield srv
    stop.set()
    thread.join(DEADLINE)
    srv.disconnect()


@pytest.fixture
def clients() -> Iterator[list[UDPClient]]:
    """A list the test appends its clients to; all are disconnected at the end."""
    made: list[UDPClient] = []
    yield made
    for client in made:
        client.disconnect()


class LossyRelay:
    """A UDP relay on 127.0.0.1 that drops a share of the datagrams, in both directions.

    Clients send to :attr:`port`; the relay forwards to ``target`` and sends what
    ``target`` answers back to the client heard last. Each datagram is dropped with
    probability ``loss``, and held back until the next one is forwarded with probability
    ``reorder`` (a seeded generator: the same run drops the same datagrams).
    """

    def __init__(self, target: int, loss: float, seed: int = 1, reorder: float = 0.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
        self.sock.bind((LOCALHOST, 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.target = (LOCALHOST, target)
        self.loss = loss
        self.reorder = reorder
        self.held: tuple[bytes, tuple[str, int]] | None = None
        self.reordered = 0
        self.forwarded = 0
        self.dropped = 0
        self._random = random.Random(seed)
        self._client: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-udp-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65_536)
            except TimeoutError:
                continue
            except OSError:
                return
            destination: tuple[str, int] | None = self.target
            if sender == self.target:
                destination = self._client
            else:
                self._client = sender
            if destination is None:
                continue
            if self._random.random() < self.loss:
                self.dropped += 1
                continue
            if self.held is None and self._random.random() < self.reorder:
                self.held = (data, destination)  # sent after the next datagram
                self.reordered += 1
                continue
            self._forward(data, destination)
            if self.held is not None:
                self._forward(*self.held)
                self.held = None

    def _forward(self, data: bytes, destination: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendto(data, destination)
            self.forwarded += 1

    def stop(self) -> None:
        """Stop the thread and close the socket."""
        self._stop.set()
        self._thread.join(DEADLINE)
        self.sock.close()


@pytest.fixture
def lossy_relay() -> Iterator[Callable[..., LossyRelay]]:
    """Make :class:`LossyRelay` instances (``make(target_port, loss, seed, reorder)``);
    all are stopped at the end."""
    made: list[LossyRelay] = []

    def make(target: int, loss: float, seed: int = 1, reorder: float = 0.0) -> LossyRelay:
        made.append(LossyRelay(target, loss, seed, reorder))
        return made[-1]

    yield make
    for relay in made:
        relay.stop()


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT its handler back in a run started with it ignored (Ctrl-C tests)."""
    allow_interrupts()
