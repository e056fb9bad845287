"""The request/response contract suite for TCPClient and TCPServer, against real peers."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.ethernet import TLSConfig
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.testing import ReqResContract, read_exactly

LOCALHOST = "127.0.0.1"
TIMEOUT = 20.0
GREETING = b"greeting from the echo client"


class EchoClient:
    """A raw-socket client (optionally TLS) that echoes everything a server sends it."""

    def __init__(self, port: int, context: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection((LOCALHOST, port), timeout=TIMEOUT)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=LOCALHOST)
        sock.settimeout(0.2)
        self.sock = sock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="echo-client", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)
        with contextlib.suppress(OSError):
            self.sock.close()


def greet_newest_peer(server: TCPServer, peers_before: int) -> None:
    """Wait for a new client, send it a greeting and read the echo, so that
    ``server.send`` has a client to reply to (the contract's ``after_connect``)."""
    end = time.monotonic() + TIMEOUT
    while len(server.peers()) <= peers_before:
        assert time.monotonic() < end, "the echo client did not connect"
        time.sleep(0.005)
    peer = server.peers()[-1]
    server.send_to(peer, GREETING)
    assert read_exactly(server, len(GREETING), TIMEOUT) == GREETING
    assert server.last_peer == peer


class TestClientAgainstOwnEchoSocket(ReqResContract):
    timeout = TIMEOUT

    @pytest.fixture
    def protocol(self, echo_server: Any) -> Iterator[ReqResProtocol]:
        client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
        yield client
        client.disconnect()


class TestClientAgainstSocatEcho(ReqResContract):
    timeout = TIMEOUT

    @pytest.fixture
    def protocol(self, socat_echo: int) -> Iterator[ReqResProtocol]:
        client = TCPClient(LOCALHOST, socat_echo, timeout=TIMEOUT)
        yield client
        client.disconnect()


class TestServerWithOwnEchoClient(ReqResContract):
    timeout = TIMEOUT
    context: ssl.SSLContext | None = None

    @pytest.fixture
    def protocol(self) -> Iterator[ReqResProtocol]:
        self.peers: list[EchoClient] = []
        server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT)
        yield server
        server.disconnect()
        for peer in self.peers:
            peer.stop()

    def after_connect(self, protocol: ReqResProtocol) -> None:
        assert isinstance(protocol, TCPServer)
        before = len(protocol.peers())
        self.peers.append(EchoClient(protocol.port, self.context))
        greet_newest_peer(protocol, before)


class TestTLSServerWithOwnTLSEchoClient(TestServerWithOwnEchoClient):
    @pytest.fixture
    def protocol(self, tls_files: Any) -> Iterator[ReqResProtocol]:
        self.peers = []
        self.context = ssl.create_default_context(cafile=str(tls_files.ca))
        tls = TLSConfig(certfile=tls_files.server_cert, keyfile=tls_files.server_key)
        server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT, tls=tls)
        yield server
        server.disconnect()
        for peer in self.peers:
            peer.stop()


class TestServerWithSocatEchoClient(ReqResContract):
    timeout = TIMEOUT

    @pytest.fixture
    def protocol(self, socat_factory: Any) -> Iterator[ReqResProtocol]:
        self.start_socat = socat_factory
        server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT)
        yield server
        server.disconnect()

    def after_connect(self, protocol: ReqResProtocol) -> None:
        assert isinstance(protocol, TCPServer)
        before = len(protocol.peers())
        self.start_socat(f"TCP:{LOCALHOST}:{protocol.port}", "PIPE")
        greet_newest_peer(protocol, before)


class TestTLSClientAgainstTLSServer(ReqResContract):
    timeout = TIMEOUT

    @pytest.fixture
    def protocol(self, tls_files: Any, echo_tcpserver_factory: Any) -> Iterator[ReqResProtocol]:
        server = echo_tcpserver_factory(
            tls=TLSConfig(certfile=tls_files.server_cert, keyfile=tls_files.server_key)
        )
        client = TCPClient(
            LOCALHOST, server.port, timeout=TIMEOUT, tls=TLSConfig(cafile=tls_files.ca)
        )
        yield client
        client.disconnect()
