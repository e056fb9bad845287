"""``TCPClient.exchange``: a request sent and its first answer bytes awaited in one call.

Peers on 127.0.0.1: ``socat`` echoing, and raw sockets whose test decides what the
server does. Each test checks the outcome ``send()`` + ``read_within()`` would have, on
the one-step path and on each case that takes the two calls.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eq1_network import ReconnectPolicy
from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolNotConnectedError
from eq1_network.interfaces import ReqResProtocol
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.testing import DEFAULT_TIMEOUT, read_exactly, recv_exactly

LOCALHOST = "127.0.0.1"
TIMEOUT = DEFAULT_TIMEOUT


@pytest.fixture
def two_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record each exchange that took the interface's two calls instead of one step."""
    taken: list[bytes] = []
    default = ReqResProtocol.exchange

    def spy(self: ReqResProtocol, data: bytes, timeout: float) -> bytes | None:
        taken.append(bytes(data))
        return default(self, data, timeout)

    monkeypatch.setattr(ReqResProtocol, "exchange", spy)
    return taken


@pytest.fixture
def raw_peer(clients: list[TCPClient]) -> Iterator[Callable[..., tuple[TCPClient, socket.socket]]]:
    """Connect a client to a raw listening socket; yields a factory of (client, server side)."""
    conns: list[socket.socket] = []

    def make(**options: Any) -> tuple[TCPClient, socket.socket]:
        with socket.create_server((LOCALHOST, 0)) as listener:
            client = TCPClient(LOCALHOST, listener.getsockname()[1], timeout=TIMEOUT, **options)
            clients.append(client)
            client.connect()
            conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        conns.append(conn)
        return client, conn

    yield make
    for conn in conns:
        conn.close()


def echo_of(client: TCPClient, request: bytes) -> bytes:
    got = client.exchange(request, TIMEOUT)
    assert got is not None, "no answer"
    if len(got) < len(request):
        got += read_exactly(client, len(request) - len(got), TIMEOUT)
    return got


def test_exchange_returns_the_echo_of_socat_in_one_step(
    socat_echo: int, clients: list[TCPClient], two_calls: list[bytes]
) -> None:
    client = TCPClient(LOCALHOST, socat_echo, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    assert client.read_within(0) is None  # a recent look: exchange needs no liveness check
    requests = [f"request {i}\n".encode() * (1 + i % 7) for i in range(200)]
    assert [echo_of(client, r) for r in requests] == requests
    assert len(two_calls) < len(requests) / 2, "the one-step path was not taken"


def test_an_idle_connection_is_looked_at_first_as_send_does(
    socat_echo: int, clients: list[TCPClient], two_calls: list[bytes]
) -> None:
    client = TCPClient(LOCALHOST, socat_echo, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    client._last_look = time.monotonic() - 60  # as after a minute without reads
    assert echo_of(client, b"after a pause") == b"after a pause"
    assert two_calls == [b"after a pause"]


def test_bytes_already_buffered_come_first(
    raw_peer: Callable[..., tuple[TCPClient, socket.socket]], two_calls: list[bytes]
) -> None:
    client, conn = raw_peer()
    conn.sendall(b"early")
    assert client.wait_readable(TIMEOUT) is True
    assert client.is_connected() is True  # the liveness check buffers the waiting bytes
    assert client.exchange(b"request", TIMEOUT) == b"early"
    assert two_calls == [b"request"]
    assert recv_exactly(conn, 7) == b"request"
    conn.sendall(b"answer")
    assert read_exactly(client, 6, TIMEOUT) == b"answer"


def test_silence_returns_none_after_the_timeout_and_the_request_went(
    raw_peer: Callable[..., tuple[TCPClient, socket.socket]],
) -> None:
    client, conn = raw_peer()
    assert client.read_within(0) is None
    started = time.monotonic()
    assert client.exchange(b"hello?", 0.05) is None
    assert time.monotonic() - started >= 0.04
    assert recv_exactly(conn, 6) == b"hello?"


@pytest.mark.parametrize(
    ("ending", "reason"),
    [("close", "closed by the peer"), ("reset", "ConnectionResetError")],
)
def test_a_peer_close_or_reset_during_the_wait_is_noticed(
    raw_peer: Callable[..., tuple[TCPClient, socket.socket]], ending: str, reason: str
) -> None:
    client, conn = raw_peer()
    assert client.read_within(0) is None

    def answer_with_the_end() -> None:
        recv_exactly(conn, 4)
        if ending == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    ender = threading.Thread(target=answer_with_the_end)
    ender.start()
    assert client.exchange(b"quit", 0.5) is None
    ender.join(TIMEOUT)
    assert client.is_connected() is False
    with pytest.raises(ProtocolConnectionError, match=reason):
        client.exchange(b"late", 0.05)


def test_a_loss_during_the_wait_waits_for_the_reconnection(
    clients: list[TCPClient],
) -> None:
    policy = ReconnectPolicy(initial_delay=0.02, max_delay=0.05, jitter=0.0)
    with socket.create_server((LOCALHOST, 0)) as listener:
        listener.settimeout(TIMEOUT)
        client = TCPClient(LOCALHOST, listener.getsockname()[1], timeout=TIMEOUT, reconnect=policy)
        clients.append(client)
        client.connect()
        first, _ = listener.accept()
        assert client.read_within(0) is None
        result: list[bytes | None] = []
        caller = threading.Thread(target=lambda: result.append(client.exchange(b"req", TIMEOUT)))
        caller.start()
        first.settimeout(TIMEOUT)
        assert recv_exactly(first, 3) == b"req"
        first.close()  # lost while the caller waits for the answer
        second, _ = listener.accept()  # the client reconnects
        with second:
            deadline = time.monotonic() + TIMEOUT
            while not client.is_connected():
                assert time.monotonic() < deadline, "no reconnection"
                time.sleep(0.01)
            second.sendall(b"after")
            caller.join(TIMEOUT)
        assert result == [b"after"]


def test_another_reader_keeps_the_answer_and_exchange_waits_behind_it(
    raw_peer: Callable[..., tuple[TCPClient, socket.socket]], two_calls: list[bytes]
) -> None:
    client, conn = raw_peer()
    first: list[bytes | None] = []
    reader = threading.Thread(target=lambda: first.append(client.read_within(TIMEOUT)))
    reader.start()
    deadline = time.monotonic() + TIMEOUT
    while not client._read_lock.locked():
        assert time.monotonic() < deadline, "the reader never took the read lock"
        time.sleep(0.001)
    started = time.monotonic()
    assert client.exchange(b"mine", 0.05) is None
    assert time.monotonic() - started >= 0.04
    assert two_calls == [b"mine"]
    assert recv_exactly(conn, 4) == b"mine"
    conn.sendall(b"reply")
    reader.join(TIMEOUT)
    assert first == [b"reply"]


def test_exchange_before_connect_raises_not_connected() -> None:
    client = TCPClient(LOCALHOST, 9, timeout=TIMEOUT)
    with pytest.raises(ProtocolNotConnectedError, match=r"not connected"):
        client.exchange(b"x", 0.01)


def test_text_is_refused_before_anything_is_sent(
    raw_peer: Callable[..., tuple[TCPClient, socket.socket]],
) -> None:
    client, conn = raw_peer()
    with pytest.raises(TypeError):
        client.exchange("text", 0.01)  # type: ignore[arg-type]
    conn.settimeout(0.05)
    with pytest.raises(TimeoutError):
        conn.recv(1)


def test_a_tap_sees_what_exchange_sends_and_reads(
    socat_echo: int, clients: list[TCPClient]
) -> None:
    from eq1_network.observe import Tap

    events: list[Any] = []
    client = TCPClient(LOCALHOST, socat_echo, timeout=TIMEOUT)
    clients.append(client)
    tap = Tap(events.append)
    tap.install(client)
    client.connect()
    assert client.read_within(0) is None  # a recent look: the one-step path would apply
    assert echo_of(client, b"observed") == b"observed"
    sends = [e.data for e in events if e.kind == "send"]
    reads = b"".join(e.data for e in events if e.kind == "read")
    assert sends == [b"observed"] and reads == b"observed"
    tap.uninstall()
    assert "exchange" not in vars(client)
    events.clear()
    assert client.read_within(0) is None
    assert echo_of(client, b"not observed") == b"not observed"
    assert events == []


def test_a_subclass_that_changes_sending_keeps_exchange_on_it(
    socat_echo: int, clients: list[TCPClient], two_calls: list[bytes]
) -> None:
    class Prefixing(TCPClient):
        def _send_raw(self, data: bytes) -> int:
            super()._send_raw(b">" + data)
            return len(data)

    assert TCPClient._exchange_in_one_step and not Prefixing._exchange_in_one_step
    client = Prefixing(LOCALHOST, socat_echo, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    assert client.read_within(0) is None
    got = client.exchange(b"x", TIMEOUT) or b""
    if len(got) < 2:
        got += read_exactly(client, 2 - len(got), TIMEOUT)
    assert got == b">x"
    assert two_calls == [b"x"]
