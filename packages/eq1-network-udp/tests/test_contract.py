"""The request/response contract in message-oriented mode, against real peers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.udp import MAX_DATAGRAM_IPV4, UDPClient, UDPServer
from eq1_network.testing import DEFAULT_TIMEOUT as DEADLINE
from eq1_network.testing import ReqResContract

LOCALHOST = "127.0.0.1"
BUFFER = 4 << 20
"""SO_RCVBUF of the sockets under test: the contract sends bursts that UDP may drop."""


class TestClientAgainstUDPServer(ReqResContract):
    """UDPClient talking to the library's own UDPServer, echoing from a thread."""

    preserves_boundaries = True
    max_message_size = MAX_DATAGRAM_IPV4

    @pytest.fixture
    def protocol(self, echo_server: UDPServer) -> Iterator[ReqResProtocol]:
        assert echo_server.address is not None
        client = UDPClient(
            LOCALHOST, echo_server.address[1], timeout=DEADLINE, receive_buffer=BUFFER
        )
        yield client
        client.disconnect()


class TestClientAgainstRawEcho(ReqResContract):
    """UDPClient talking to a plain socket echo that no one here wrote as a protocol."""

    preserves_boundaries = True
    max_message_size = 1472

    @pytest.fixture
    def protocol(self, raw_echo: Any) -> Iterator[ReqResProtocol]:
        client = UDPClient(
            LOCALHOST, raw_echo.port, timeout=DEADLINE, max_datagram=1472, receive_buffer=BUFFER
        )
        yield client
        client.disconnect()


class _EchoingPeer:
    """A raw client socket that greets a UDPServer, then echoes what the server sends."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
        self.sock.connect((LOCALHOST, port))
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65_536)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                self.sock.send(data)
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(DEADLINE)
        self.sock.close()


class TestServerAgainstRawClient(ReqResContract):
    """UDPServer as the protocol under test; its peer is a raw client that echoes."""

    preserves_boundaries = True
    max_message_size = MAX_DATAGRAM_IPV4

    @pytest.fixture
    def protocol(self) -> Iterator[ReqResProtocol]:
        server = UDPServer(LOCALHOST, 0, timeout=DEADLINE, receive_buffer=BUFFER)
        self._peers: list[_EchoingPeer] = []
        yield server
        server.disconnect()
        for peer in self._peers:
            peer.stop()

    def after_connect(self, protocol: ReqResProtocol) -> None:
        assert isinstance(protocol, UDPServer) and protocol.address is not None
        peer = _EchoingPeer(protocol.address[1])
        self._peers.append(peer)
        peer.sock.send(b"hello")  # the server learns whom send() answers
        assert protocol.read_within(DEADLINE) == b"hello"
