"""TCPServer against real clients on 127.0.0.1: many clients, loss, restart, per-client API."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolNotConnectedError,
    ProtocolTypeError,
)
from eq1_network.protocols.ethernet import Peer
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.testing import read_exactly

LOCALHOST = "127.0.0.1"
TIMEOUT = 20.0


class PeerLog:
    """Records connect/disconnect notifications and lets tests wait for them."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.connected: list[Peer] = []
        self.disconnected: list[Peer] = []

    def on_connect(self, peer: Peer) -> None:
        with self.cond:
            self.connected.append(peer)
            self.cond.notify_all()

    def on_disconnect(self, peer: Peer) -> None:
        with self.cond:
            self.disconnected.append(peer)
            self.cond.notify_all()

    def wait(self, what: str, count: int) -> list[Peer]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(getattr(self, what)) >= count, TIMEOUT)
            peers = list(getattr(self, what))
        assert ok, f"expected {count} {what} notifications, got {peers}"
        return peers


@pytest.fixture
def log() -> PeerLog:
    return PeerLog()


@pytest.fixture
def logged_server(log: PeerLog) -> Any:
    server = TCPServer(
        LOCALHOST, 0, timeout=TIMEOUT, on_connect=log.on_connect, on_disconnect=log.on_disconnect
    )
    server.connect()
    yield server
    server.disconnect()


def raw_client(port: int) -> socket.socket:
    sock = socket.create_connection((LOCALHOST, port), timeout=TIMEOUT)
    return sock


def reset(sock: socket.socket) -> None:
    """Close with an RST, as a crashed or unplugged-and-rebooted client would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    sock.close()


def line_responder(server: TCPServer, stop: threading.Event, errors: list[BaseException]) -> None:
    """Answer each newline-terminated request with ``b"reply to " + request``."""
    buffers: dict[int, bytes] = {}
    try:
        while not stop.is_set():
            message = server.receive(0.1)
            if message is None:
                continue
            pending = buffers.get(message.peer.id, b"") + message.data
            *lines, pending = pending.split(b"\n")
            buffers[message.peer.id] = pending
            for line in lines:
                server.send_to(message.peer, b"reply to " + line + b"\n")
    except BaseException as exc:
        errors.append(exc)


def test_200_simultaneous_clients_each_get_exactly_their_own_reply(
    logged_server: TCPServer, log: PeerLog
) -> None:
    count = 200
    stop = threading.Event()
    errors: list[BaseException] = []
    responder = threading.Thread(target=line_responder, args=(logged_server, stop, errors))
    responder.start()
    start = threading.Barrier(count)
    replies: dict[int, bytes] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()

    def one_client(index: int) -> None:
        client = TCPClient(LOCALHOST, logged_server.port, timeout=TIMEOUT)
        try:
            client.connect()
            start.wait(TIMEOUT)
            request = b"request %03d from client %03d\n" % (index, index)
            client.send(request)
            expected = b"reply to " + request
            got = read_exactly(client, len(expected), TIMEOUT)
            with lock:
                replies[index] = got
        except BaseException as exc:
            with lock:
                failures.append(exc)
        finally:
            client.disconnect()

    threads = [threading.Thread(target=one_client, args=(i,)) for i in range(count)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT * 2)
    finally:
        stop.set()
        responder.join(TIMEOUT)
    assert not failures, failures[:3]
    assert not errors
    assert len(replies) == count
    for index, reply in replies.items():
        assert reply == b"reply to request %03d from client %03d\n" % (index, index)
    assert len({p.id for p in log.wait("connected", count)}) == count
    log.wait("disconnected", count)


def test_client_lost_mid_stream_does_not_disturb_the_others(
    logged_server: TCPServer, log: PeerLog
) -> None:
    healthy = TCPClient(LOCALHOST, logged_server.port, timeout=TIMEOUT)
    healthy.connect()
    doomed = raw_client(logged_server.port)
    try:
        first, second = log.wait("connected", 2)[:2]
        doomed.sendall(b"half a requ")  # the rest never comes
        message = logged_server.receive(TIMEOUT)
        assert message is not None
        while len(message.data) < 11:  # chunks may be split; same sender
            more = logged_server.receive(TIMEOUT)
            assert more is not None and more.peer == message.peer
            message = type(message)(message.peer, message.data + more.data)
        assert message.data == b"half a requ"
        lost = message.peer
        reset(doomed)
        assert log.wait("disconnected", 1) == [lost]
        assert logged_server.peers() == [p for p in (first, second) if p != lost]
        with pytest.raises(ProtocolConnectionError, match="not connected"):
            logged_server.send_to(lost, b"too late")
        with pytest.raises(ProtocolConnectionError):
            logged_server.send(b"reply to the last reader, who left")
        healthy.send(b"still here")
        got = read_exactly(logged_server, 10, TIMEOUT)
        assert got == b"still here"
        assert logged_server.last_peer != lost
        logged_server.send(b"and so am I")
        assert read_exactly(healthy, 11, TIMEOUT) == b"and so am I"
    finally:
        healthy.disconnect()
        doomed.close()


def test_receive_reports_the_sender(server: TCPServer, clients: list[TCPClient]) -> None:
    for tag in (b"A", b"B"):
        client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
        clients.append(client)
        client.connect()
        client.send(tag * 1000)
    seen: dict[tuple[str, int], bytes] = {}
    deadline = time.monotonic() + TIMEOUT
    while sum(len(v) for v in seen.values()) < 2000 and time.monotonic() < deadline:
        message = server.receive(1.0)
        if message is None:
            continue
        assert len(set(message.data)) == 1, "chunks of different clients were mixed"
        key = (message.peer.host, message.peer.port)
        seen[key] = seen.get(key, b"") + message.data
    assert seen == {clients[0].local_address: b"A" * 1000, clients[1].local_address: b"B" * 1000}


def test_broadcast_and_send_to(server: TCPServer, clients: list[TCPClient], until: Any) -> None:
    for _ in range(3):
        client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
        clients.append(client)
        client.connect()
    until(lambda: len(server.peers()) == 3, what="three clients")
    assert server.broadcast(b"to everyone") == 3
    for client in clients:
        assert read_exactly(client, 11, TIMEOUT) == b"to everyone"
    peers = server.peers()
    assert [p.id for p in peers] == sorted(p.id for p in peers)
    assert server.send_to(peers[1].id, b"just you") == 8
    by_port = {c.local_address[1]: c for c in clients if c.local_address}
    assert read_exactly(by_port[peers[1].port], 8, TIMEOUT) == b"just you"
    for other in (peers[0], peers[2]):
        assert by_port[other.port].read() == (False, None)


def test_disconnect_peer_closes_only_that_client(
    logged_server: TCPServer, log: PeerLog, clients: list[TCPClient], until: Any
) -> None:
    for _ in range(2):
        client = TCPClient(LOCALHOST, logged_server.port, timeout=TIMEOUT)
        clients.append(client)
        client.connect()
    first, _second = log.wait("connected", 2)
    assert logged_server.disconnect_peer(first) is True
    assert log.wait("disconnected", 1) == [first]
    assert logged_server.disconnect_peer(first) is False
    kicked = next(c for c in clients if c.local_address == (first.host, first.port))
    kept = next(c for c in clients if c is not kicked)
    until(lambda: not kicked.is_connected(), what="the kicked client to notice")
    assert kept.is_connected()


def test_send_needs_a_client_to_reply_to(server: TCPServer) -> None:
    with pytest.raises(ProtocolConnectionError, match="no client to reply to"):
        server.send(b"hello?")
    assert server.last_peer is None


def test_per_client_api_rejects_bad_arguments(server: TCPServer) -> None:
    with pytest.raises(ProtocolConnectionError, match="not connected"):
        server.send_to(12345, b"nobody")
    with pytest.raises(ProtocolTypeError, match="peer must be"):
        server.send_to("1", b"x")  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError, match="encode text first"):
        server.broadcast("text")  # type: ignore[arg-type]
    with pytest.raises(ProtocolConfigurationError, match="timeout"):
        server.receive(-1)
    assert server.broadcast(b"nobody listens") == 0


def test_methods_before_connect() -> None:
    server = TCPServer(LOCALHOST, 0)
    assert server.is_connected() is False
    assert server.peers() == []
    assert server.read() == (False, None)
    assert server.wait_readable(0.01) is False
    assert server.disconnect_peer(1) is False
    with pytest.raises(ProtocolNotConnectedError):
        server.send_to(1, b"x")
    with pytest.raises(ProtocolNotConnectedError):
        server.broadcast(b"x")
    server.disconnect()


def test_port_in_use_raises_naming_the_address() -> None:
    with socket.create_server((LOCALHOST, 0)) as taken:
        port = taken.getsockname()[1]
        server = TCPServer(LOCALHOST, port)
        with pytest.raises(ProtocolConnectionError, match=rf"127\.0\.0\.1:{port}"):
            server.connect()
        assert server.is_connected() is False


def test_back_pressure_pauses_a_fast_client_without_losing_bytes(clients: list[TCPClient]) -> None:
    server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT, max_buffer=64 * 1024)
    server.connect()
    try:
        client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT, write_timeout=TIMEOUT * 2)
        clients.append(client)
        client.connect()
        payload = bytes(i % 251 for i in range(4 * 1024 * 1024))
        sender = threading.Thread(target=client.send, args=(payload,))
        sender.start()
        loop = server._loop
        assert loop is not None
        deadline = time.monotonic() + TIMEOUT
        while not any(c.paused for c in loop.connections()):
            assert time.monotonic() < deadline, "reading never paused"
            time.sleep(0.005)
        pending = max(c.pending for c in loop.connections())
        assert pending < 64 * 1024 + 512 * 1024  # bounded: limit plus one read batch
        got = read_exactly(server, len(payload), TIMEOUT)
        sender.join(TIMEOUT)
        assert got == payload
    finally:
        server.disconnect()


def test_max_clients_refuses_extra_clients(clients: list[TCPClient], until: Any) -> None:
    server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT, max_clients=1)
    server.connect()
    try:
        first = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
        clients.append(first)
        first.connect()
        until(lambda: len(server.peers()) == 1, what="the first client")
        extra = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
        clients.append(extra)
        extra.connect()  # the kernel accepts; the server closes it at once
        until(lambda: not extra.is_connected(), what="the extra client to be closed")
        assert len(server.peers()) == 1
    finally:
        server.disconnect()


def test_failing_callbacks_do_not_stop_the_server(clients: list[TCPClient]) -> None:
    def boom(peer: Peer) -> None:
        raise RuntimeError(f"callback failed for {peer}")

    server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT, on_connect=boom, on_disconnect=boom)
    server.connect()
    try:
        for _ in range(2):
            client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
            clients.append(client)
            client.connect()
            client.send(b"ping")
            assert read_exactly(server, 4, TIMEOUT) == b"ping"
            server.send(b"pong")
            assert read_exactly(client, 4, TIMEOUT) == b"pong"
            client.disconnect()
        assert server.is_connected()
    finally:
        server.disconnect()


def test_disconnect_closes_clients_notifies_and_drops_unread_data(
    logged_server: TCPServer, log: PeerLog, clients: list[TCPClient], until: Any
) -> None:
    client = TCPClient(LOCALHOST, logged_server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    client.send(b"unread")
    until(lambda: logged_server.wait_readable(0.1), what="data to arrive")
    (peer,) = log.wait("connected", 1)
    logged_server.disconnect()
    assert log.wait("disconnected", 1) == [peer]
    assert logged_server.read() == (False, None)
    assert logged_server.peers() == []
    until(lambda: not client.is_connected(), what="the client to notice")
    with pytest.raises(ProtocolNotConnectedError):
        logged_server.send(b"x")


def test_restart_on_the_same_port_never_reuses_peer_ids(clients: list[TCPClient]) -> None:
    server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT)
    server.connect()
    try:
        port = server.port
        ids = []
        for _ in range(2):
            client = TCPClient(LOCALHOST, port, timeout=TIMEOUT)
            clients.append(client)
            client.connect()
            client.send(b"x")
            message = server.receive(TIMEOUT)
            assert message is not None
            ids.append(message.peer.id)
            server.disconnect()
            server.connect()
            assert server.port == port
        assert ids[1] > ids[0]
    finally:
        server.disconnect()


def test_repr_and_properties(server: TCPServer) -> None:
    assert server.port > 0
    assert repr(server) == f"TCPServer('127.0.0.1', {server.port}, tls=False, listening=True)"
    assert server.where == f"127.0.0.1:{server.port}"
    assert server.tls is False
    assert str(Peer(3, "127.0.0.1", 5000)) == "#3 127.0.0.1:5000"


def test_several_responder_threads_share_the_loop(server: TCPServer) -> None:
    """Leader/followers: many threads wait in receive(); each request is answered once."""
    stop = threading.Event()
    errors: list[BaseException] = []
    responders = [
        threading.Thread(target=line_responder, args=(server, stop, errors)) for _ in range(4)
    ]
    for thread in responders:
        thread.start()
    results: dict[int, bytes] = {}
    lock = threading.Lock()

    def one_client(index: int) -> None:
        client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
        try:
            client.connect()
            for n in range(5):
                request = b"c%02d-r%d\n" % (index, n)
                client.send(request)
                expected = b"reply to " + request
                got = read_exactly(client, len(expected), TIMEOUT)
                with lock:
                    results[index * 10 + n] = got
        finally:
            client.disconnect()

    clients = [threading.Thread(target=one_client, args=(i,)) for i in range(30)]
    try:
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(TIMEOUT * 2)
    finally:
        stop.set()
        for thread in responders:
            thread.join(TIMEOUT)
    assert not errors
    assert len(results) == 150
    for key, reply in results.items():
        assert reply == b"reply to c%02d-r%d\n" % (key // 10, key % 10)


def test_receive_without_timeout_waits_for_data(
    server: TCPServer, clients: list[TCPClient]
) -> None:
    client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    sender = threading.Timer(0.05, client.send, args=(b"eventually",))
    sender.start()
    try:
        message = server.receive(None)
        assert message is not None
        got = message.data
        while len(got) < 10:
            more = server.receive(None)
            assert more is not None
            got += more.data
        assert got == b"eventually"
    finally:
        sender.join(TIMEOUT)


def test_wait_readable_with_a_negative_timeout_only_looks(server: TCPServer) -> None:
    started = time.monotonic()
    assert server.wait_readable(-1.0) is False
    assert server.wait_readable(0) is False
    assert time.monotonic() - started < TIMEOUT / 4
