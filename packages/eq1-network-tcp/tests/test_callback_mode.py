"""TCPServer in callback mode (``on_data``), against real clients on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from eq1_network.common.exceptions import ProtocolTypeError
from eq1_network.protocols.ethernet import Peer
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import DataCallback, TCPServer
from eq1_network.testing import read_exactly

LOCALHOST = "127.0.0.1"
TIMEOUT = 20.0


@pytest.fixture
def servers() -> Iterator[list[TCPServer]]:
    """Servers a test started; all stopped at the end."""
    started: list[TCPServer] = []
    yield started
    for server in started:
        server.disconnect()


def start(servers: list[TCPServer], on_data: DataCallback, **kwargs: Any) -> TCPServer:
    server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT, on_data=on_data, **kwargs)
    server.connect()
    servers.append(server)
    return server


def connect(server: TCPServer, clients: list[TCPClient]) -> TCPClient:
    client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    return client


def test_the_reply_goes_back_to_the_sender_only(
    servers: list[TCPServer], clients: list[TCPClient]
) -> None:
    seen: list[tuple[int, bytes]] = []

    def upper(peer: Peer, data: bytes) -> bytes:
        seen.append((peer.id, data))
        return data.upper()

    server = start(servers, upper)
    first, second = connect(server, clients), connect(server, clients)
    first.send(b"one")
    assert read_exactly(first, 3, TIMEOUT) == b"ONE"
    second.send(b"two")
    assert read_exactly(second, 3, TIMEOUT) == b"TWO"
    assert first.read_within(0.05) is None  # nothing crossed over
    assert [data for _, data in seen] == [b"one", b"two"]
    assert seen[0][0] != seen[1][0]
    assert server.read() == (False, None)  # chunks went to the callback, not the queue
    assert server.receive(0) is None


def test_many_round_trips_in_order_through_the_manager(
    servers: list[TCPServer], clients: list[TCPClient]
) -> None:
    from eq1_network import ReqResManager

    server = start(servers, lambda peer, data: data)
    manager = ReqResManager.isolated()
    manager.register("echo", TCPClient(LOCALHOST, server.port, timeout=TIMEOUT))
    manager.connect("echo")
    try:
        for number in range(500):
            request = number.to_bytes(4, "big") * 16
            manager.send("echo", request)
            got = manager.read("echo")
            while len(got) < len(request):
                got += manager.read("echo")
            assert got == request
    finally:
        manager.disconnect("echo")


def test_none_and_empty_replies_send_nothing(
    servers: list[TCPServer], clients: list[TCPClient]
) -> None:
    received: list[bytes] = []
    got = threading.Event()

    def quiet(peer: Peer, data: bytes) -> bytes | None:
        received.append(data)
        got.set()
        return b"" if data == b"empty" else None

    server = start(servers, quiet)
    client = connect(server, clients)
    for message in (b"none", b"empty"):
        got.clear()
        client.send(message)
        assert got.wait(TIMEOUT)
    assert client.read_within(0.1) is None
    assert b"".join(received) == b"noneempty"


def test_a_bytearray_or_memoryview_reply_is_sent(
    servers: list[TCPServer], clients: list[TCPClient]
) -> None:
    server = start(
        servers, lambda peer, data: bytearray(data) if data == b"ba" else memoryview(data)
    )
    client = connect(server, clients)
    client.send(b"ba")
    assert read_exactly(client, 2, TIMEOUT) == b"ba"
    client.send(b"mv")
    assert read_exactly(client, 2, TIMEOUT) == b"mv"


def test_a_raising_callback_is_logged_and_the_server_goes_on(
    servers: list[TCPServer], clients: list[TCPClient], caplog: pytest.LogCaptureFixture
) -> None:
    failed = threading.Event()

    def picky(peer: Peer, data: bytes) -> bytes:
        if data == b"bad":
            failed.set()
            raise ValueError("cannot handle this request")
        return data

    server = start(servers, picky)
    client = connect(server, clients)
    with caplog.at_level(logging.ERROR):
        client.send(b"bad")
        assert failed.wait(TIMEOUT)
        client.send(b"good")
        assert read_exactly(client, 4, TIMEOUT) == b"good"
    errors = [r for r in caplog.records if "on_data callback" in r.getMessage()]
    assert errors and errors[0].exc_info is not None
    assert "cannot handle this request" in str(errors[0].exc_info[1])
    assert server.is_connected()
    assert len(server.peers()) == 1


def test_a_reply_of_the_wrong_type_is_logged_and_not_sent(
    servers: list[TCPServer], clients: list[TCPClient], caplog: pytest.LogCaptureFixture
) -> None:
    answered = threading.Event()

    def wrong(peer: Peer, data: bytes) -> Any:
        answered.set()
        return "text"

    server = start(servers, wrong)
    client = connect(server, clients)
    with caplog.at_level(logging.ERROR):
        client.send(b"ping")
        assert answered.wait(TIMEOUT)
        assert client.read_within(0.1) is None
    assert any("returned str" in r.getMessage() for r in caplog.records)
    assert len(server.peers()) == 1


def test_a_client_that_does_not_take_its_replies_is_dropped(
    servers: list[TCPServer], caplog: pytest.LogCaptureFixture
) -> None:
    gone = threading.Event()
    big = bytes(4 * 1024 * 1024)
    server = start(
        servers,
        lambda peer, data: big,
        write_timeout=0.2,
        on_disconnect=lambda peer: gone.set(),
    )
    other = socket.create_connection((LOCALHOST, server.port), timeout=TIMEOUT)
    with socket.create_connection((LOCALHOST, server.port), timeout=TIMEOUT) as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with caplog.at_level(logging.WARNING):
            stalled.sendall(b"give me a lot")  # and never read the reply
            assert gone.wait(TIMEOUT), "the stalled client was not dropped"
        assert any("reply not accepted" in r.getMessage() for r in caplog.records)
    with other:  # the server still serves the others
        other.sendall(b"x")
        got = bytearray()
        while len(got) < len(big):
            chunk = other.recv(1 << 20)
            assert chunk, "server closed the healthy client"
            got += chunk
        assert len(got) == len(big)


def test_on_data_must_be_callable() -> None:
    with pytest.raises(ProtocolTypeError, match="on_data must be callable"):
        TCPServer(LOCALHOST, 0, on_data="echo")  # type: ignore[arg-type]
