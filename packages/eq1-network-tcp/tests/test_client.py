"""TCPClient against real sockets on 127.0.0.1: errors, loss detection, timeouts, reconnection."""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

import pytest

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
    ProtocolTypeError,
)
from eq1_network.protocols.ethernet import KeepAlive, ReconnectPolicy
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.testing import free_port, read_exactly

LOCALHOST = "127.0.0.1"
TIMEOUT = 20.0
FAST_RETRY = ReconnectPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.5)


def test_connection_refused_raises_promptly_naming_host_and_port() -> None:
    port = free_port()
    client = TCPClient(LOCALHOST, port, timeout=TIMEOUT)
    with pytest.raises(ProtocolConnectionError, match=rf"127\.0\.0\.1:{port}.*refused"):
        client.connect()
    assert client.is_connected() is False
    with pytest.raises(ProtocolNotConnectedError):
        client.send(b"x")


def test_refused_connection_is_a_builtin_connection_error_too() -> None:
    with pytest.raises(ConnectionError):
        TCPClient(LOCALHOST, free_port()).connect()


def test_unresolvable_host_raises_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> socket.socket:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_dns)  # no DNS traffic leaves the host
    client = TCPClient("plc.example", 502, timeout=TIMEOUT)
    with pytest.raises(ProtocolConnectionError, match=r"plc\.example:502.*not resolved"):
        client.connect()


def test_context_manager_raises_when_refused() -> None:
    with pytest.raises(ProtocolConnectionError), TCPClient(LOCALHOST, free_port()):
        pass


def test_send_before_connect_raises_not_connected() -> None:
    client = TCPClient(LOCALHOST, 9)
    with pytest.raises(ProtocolNotConnectedError, match="connect"):
        client.send(b"data")
    assert client.read() == (False, None)


def test_connect_is_idempotent(echo_server: Any, clients: list[TCPClient]) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
    clients.append(client)
    assert client.connect() is True
    first = client.local_address
    assert client.connect() is True
    assert first is not None
    assert client.local_address == first


def test_socket_options_nodelay_and_keepalive(echo_server: Any, clients: list[TCPClient]) -> None:
    keepalive = KeepAlive(idle=7, interval=3, count=4)
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT, keepalive=keepalive)
    clients.append(client)
    client.connect()
    sock = client._stream.sock  # type: ignore[union-attr]
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 7
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 3
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4


def test_options_can_be_turned_off(echo_server: Any, clients: list[TCPClient]) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, nodelay=False, keepalive=False)
    clients.append(client)
    client.connect()
    sock = client._stream.sock  # type: ignore[union-attr]
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


def test_read_never_blocks_and_wait_readable_times_out(
    echo_server: Any, clients: list[TCPClient]
) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    assert client.read() == (False, None)
    assert client.wait_readable(0.01) is False
    client.send(b"ping")
    assert client.wait_readable(TIMEOUT) is True
    assert read_exactly(client, 4, TIMEOUT) == b"ping"


def test_bytes_taken_by_a_liveness_check_are_returned_by_read(
    echo_server: Any, clients: list[TCPClient]
) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    client.send(b"ping")
    assert client.wait_readable(TIMEOUT) is True
    assert client.is_connected() is True  # the check reads what waits, to notice a close
    assert client.wait_readable(0) is True  # those bytes are buffered: no wait
    assert read_exactly(client, 4, TIMEOUT) == b"ping"


def test_a_waiting_reader_keeps_its_bytes_and_other_calls_never_block(
    clients: list[TCPClient], until: Any
) -> None:
    with socket.create_server((LOCALHOST, 0)) as listener:
        client = TCPClient(LOCALHOST, listener.getsockname()[1], timeout=TIMEOUT)
        clients.append(client)
        client.connect()
        conn, _ = listener.accept()
    with conn:
        woke: list[bool] = []
        waiter = threading.Thread(target=lambda: woke.append(client.wait_readable(TIMEOUT)))
        waiter.start()
        until(lambda: client._read_lock.locked(), what="the waiter to hold the read lock")
        # While it waits: read() does not block, and a liveness check reads nothing.
        assert client.read() == (False, None)
        assert client.is_connected() is True
        conn.sendall(b"reply")
        waiter.join(TIMEOUT)
        assert woke == [True]
        assert read_exactly(client, 5, TIMEOUT) == b"reply"


def test_text_must_be_encoded(echo_server: Any, clients: list[TCPClient]) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    with pytest.raises(ProtocolTypeError, match="encode text first"):
        client.send("text")  # type: ignore[arg-type]
    assert client.send(bytearray(b"ok")) == 2
    assert client.send(memoryview(b"ok")) == 2
    assert read_exactly(client, 4, TIMEOUT) == b"okok"


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_vanished_peer_is_detected(
    echo_server: Any, clients: list[TCPClient], until: Any, reset: bool
) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    until(lambda: echo_server.connections(), what="the server to accept")
    echo_server.close_connections(reset=reset)
    until(lambda: not client.is_connected(), what="is_connected() to turn False")
    with pytest.raises(ProtocolConnectionError, match=r"127\.0\.0\.1:\d+ was lost"):
        client.send(b"after the peer left")
    assert client.read() == (False, None)


def test_data_sent_before_the_peer_closed_is_still_read(clients: list[TCPClient]) -> None:
    with socket.create_server((LOCALHOST, 0)) as listener:
        client = TCPClient(LOCALHOST, listener.getsockname()[1], timeout=TIMEOUT)
        clients.append(client)
        client.connect()
        conn, _ = listener.accept()
        conn.sendall(b"last words")
        conn.close()
    assert read_exactly(client, 10, TIMEOUT) == b"last words"


def test_vanished_peer_detected_by_read_through_manager(
    echo_server: Any, clients: list[TCPClient], until: Any
) -> None:
    from eq1_network import ReqResManager

    client = TCPClient(LOCALHOST, echo_server.port, timeout=0.2)
    clients.append(client)
    manager = ReqResManager.isolated()
    manager.register("c", client)
    manager.connect("c")
    until(lambda: echo_server.connections(), what="the server to accept")
    echo_server.close_connections()

    def read_notices_the_close() -> bool:
        with pytest.raises(ProtocolTimeoutError):
            manager.read("c")
        return client._stream is None  # noticed by read() itself, not by a probe

    until(read_notices_the_close, what="read() to notice the close")
    assert manager.is_connected("c") is False


def test_send_to_a_stalled_peer_times_out_and_closes_when_cut(clients: list[TCPClient]) -> None:
    """A peer that never reads: a partial send closes the stream (framing is broken)."""
    with socket.create_server((LOCALHOST, 0)) as listener:
        client = TCPClient(LOCALHOST, listener.getsockname()[1], timeout=TIMEOUT, write_timeout=0.3)
        clients.append(client)
        client.connect()
        conn, _ = listener.accept()
        try:
            with pytest.raises(ProtocolTimeoutError, match="closed") as info:
                client.send(b"x" * (64 * 1024 * 1024))
            assert "bytes sent" in str(info.value)
            assert client.is_connected() is False
            with pytest.raises(ProtocolConnectionError, match="timed out"):
                client.send(b"more")
        finally:
            conn.close()


def test_send_timeout_with_nothing_sent_keeps_the_connection(
    echo_server: Any, clients: list[TCPClient]
) -> None:
    """A send that cannot start in time (another sender holds the stream) leaves it intact."""
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT, write_timeout=0.05)
    clients.append(client)
    client.connect()
    stream = client._stream
    assert stream is not None
    assert stream._send_lock.acquire(timeout=TIMEOUT)  # a stuck concurrent sender
    try:
        with pytest.raises(ProtocolTimeoutError, match="intact"):
            client.send(b"one more")
    finally:
        stream._send_lock.release()
    assert client.is_connected() is True
    client.send(b"still works")
    assert read_exactly(client, 11, TIMEOUT) == b"still works"


def test_concurrent_sends_from_many_threads_arrive_whole(
    echo_server: Any, clients: list[TCPClient]
) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    threads, records, size = 6, 30, 4096
    start = threading.Barrier(threads)

    def worker(tag: int) -> None:
        start.wait(TIMEOUT)
        for _ in range(records):
            client.send(bytes([tag]) * size)

    pool = [threading.Thread(target=worker, args=(t + 1,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    data = read_exactly(client, threads * records * size, TIMEOUT)
    for thread in pool:
        thread.join(TIMEOUT)
    for offset in range(0, len(data), size):
        assert len(set(data[offset : offset + size])) == 1


def test_server_restart_then_explicit_connect(clients: list[TCPClient], until: Any) -> None:
    server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT)
    server.connect()
    port = server.port
    client = TCPClient(LOCALHOST, port, timeout=TIMEOUT)
    clients.append(client)
    try:
        client.connect()
        client.send(b"before")
        assert read_exactly(server, 6, TIMEOUT) == b"before"
        server.disconnect()
        until(lambda: not client.is_connected(), what="the client to notice the restart")
        with pytest.raises(ProtocolConnectionError, match="call connect"):
            client.send(b"lost")
        server = TCPServer(LOCALHOST, port, timeout=TIMEOUT)
        server.connect()
        assert client.connect() is True
        client.send(b"after")
        assert read_exactly(server, 5, TIMEOUT) == b"after"
        server.send(b"reply")
        assert read_exactly(client, 5, TIMEOUT) == b"reply"
    finally:
        server.disconnect()


def test_server_restart_with_automatic_reconnection(clients: list[TCPClient], until: Any) -> None:
    server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT)
    server.connect()
    port = server.port
    client = TCPClient(LOCALHOST, port, timeout=TIMEOUT, reconnect=FAST_RETRY)
    clients.append(client)
    try:
        client.connect()
        until(lambda: server.peers(), what="the first connection")
        server.disconnect()
        until(lambda: not client.is_connected(), what="the client to notice the restart")
        with pytest.raises(ProtocolConnectionError, match="reconnecting"):
            client.send(b"during the outage")
        server = TCPServer(LOCALHOST, port, timeout=TIMEOUT)
        server.connect()
        until(client.is_connected, what="the automatic reconnection")
        client.send(b"back")
        assert read_exactly(server, 4, TIMEOUT) == b"back"
    finally:
        server.disconnect()


def test_reconnection_gives_up_after_max_attempts(
    echo_server: Any, clients: list[TCPClient], until: Any
) -> None:
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.05, max_attempts=3)
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT, reconnect=policy)
    clients.append(client)
    client.connect()
    until(lambda: echo_server.connections(), what="the server to accept")
    echo_server.stop()  # closes the listener too: every reconnection attempt is refused
    until(lambda: not client.is_connected(), what="loss detection")
    until(
        lambda: client._reconnector is not None and not client._reconnector.is_alive(),
        what="the reconnection thread to give up",
    )
    with pytest.raises(ProtocolConnectionError, match="gave up after 3"):
        client.send(b"x")


def test_disconnect_stops_reconnection(
    echo_server: Any, clients: list[TCPClient], until: Any
) -> None:
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT, reconnect=policy)
    clients.append(client)
    client.connect()
    until(lambda: echo_server.connections(), what="the server to accept")
    echo_server.stop()
    until(lambda: not client.is_connected(), what="loss detection")
    reconnector = client._reconnector
    assert reconnector is not None
    client.disconnect()
    until(lambda: not reconnector.is_alive(), what="the reconnection thread to stop")
    with pytest.raises(ProtocolNotConnectedError):
        client.send(b"x")


def test_explicit_disconnect_never_reconnects(echo_server: Any, clients: list[TCPClient]) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT, reconnect=FAST_RETRY)
    clients.append(client)
    client.connect()
    client.disconnect()
    assert client._reconnector is None
    assert client.is_connected() is False


def test_wait_readable_while_disconnected_waits_without_spinning() -> None:
    client = TCPClient(LOCALHOST, 9, timeout=TIMEOUT)
    assert client.wait_readable(0.05) is False
    assert client.wait_readable(None) is False


def test_repr_shows_address_and_state(echo_server: Any, clients: list[TCPClient]) -> None:
    client = TCPClient(LOCALHOST, echo_server.port)
    clients.append(client)
    assert repr(client) == f"TCPClient('127.0.0.1', {echo_server.port}, tls=False, connected=False)"
    client.connect()
    assert "connected=True" in repr(client)
    assert client.where == f"127.0.0.1:{echo_server.port}"
    assert client.tls is False


def test_read_within_waits_and_reads_in_one_call(
    echo_server: Any, clients: list[TCPClient]
) -> None:
    client = connected(echo_server.port, clients)
    stream = client._stream
    assert stream is not None
    assert stream.kernel_waits is sys.platform.startswith("linux")
    for wait in (0.05, 0.02, 0.05):  # each change of timeout takes effect
        started = time.monotonic()
        assert client.read_within(wait) is None
        assert time.monotonic() - started >= wait * 0.9
    assert client.read_within(0) is None
    client.send(b"ping")
    assert collect_within(client, 4) == b"ping"


def test_disconnect_ends_a_blocked_read_within_promptly(
    echo_server: Any, clients: list[TCPClient]
) -> None:
    client = connected(echo_server.port, clients)
    results: list[bytes | None] = []
    reader = threading.Thread(target=lambda: results.append(client.read_within(TIMEOUT)))
    started = time.monotonic()
    reader.start()
    wait_until_locked(client)
    client.disconnect()
    reader.join(TIMEOUT)
    assert results == [None]
    assert time.monotonic() - started < TIMEOUT / 2


def test_read_within_notices_a_peer_close(
    echo_server: Any, clients: list[TCPClient], until: Any
) -> None:
    client = connected(echo_server.port, clients)
    until(lambda: echo_server.connections(), what="the server to accept")
    echo_server.close_connections()
    assert client.read_within(0.3) is None
    assert client.is_connected() is False
    with pytest.raises(ProtocolConnectionError, match="closed by the peer"):
        client.send(b"late")


def test_read_within_returns_bytes_a_liveness_check_buffered(
    echo_server: Any, clients: list[TCPClient]
) -> None:
    client = connected(echo_server.port, clients)
    client.send(b"ping")
    assert client.wait_readable(TIMEOUT) is True
    assert client.is_connected() is True  # moves the waiting bytes into the buffer
    assert collect_within(client, 4, first_wait=0) == b"ping"  # no wait: it is buffered


def test_read_within_waits_for_another_reader(clients: list[TCPClient]) -> None:
    with socket.create_server((LOCALHOST, 0)) as listener:
        client = connected(listener.getsockname()[1], clients)
        conn, _ = listener.accept()
    with conn:
        first: list[bytes | None] = []
        reader = threading.Thread(target=lambda: first.append(client.read_within(TIMEOUT)))
        reader.start()
        wait_until_locked(client)
        # A second reader waits behind the first, within its own timeout.
        started = time.monotonic()
        assert client.read_within(0.05) is None
        assert time.monotonic() - started >= 0.04
        conn.sendall(b"reply")
        reader.join(TIMEOUT)
        assert first == [b"reply"]


def connected(port: int, clients: list[TCPClient]) -> TCPClient:
    client = TCPClient(LOCALHOST, port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    return client


def collect_within(client: TCPClient, size: int, first_wait: float = TIMEOUT) -> bytes:
    """Read ``size`` bytes with ``read_within``; the first call waits ``first_wait``."""
    got = client.read_within(first_wait)
    assert got is not None, f"nothing arrived within {first_wait} s"
    while len(got) < size:
        more = client.read_within(TIMEOUT)
        assert more is not None, f"only {len(got)} of {size} bytes arrived"
        got += more
    return got


def wait_until_locked(client: TCPClient) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not client._read_lock.locked():
        assert time.monotonic() < deadline, "the reader never took the read lock"
        time.sleep(0.001)


def test_stream_waits_of_any_length_are_accepted(clients: list[TCPClient]) -> None:
    with socket.create_server((LOCALHOST, 0)) as listener:
        client = connected(listener.getsockname()[1], clients)
        conn, _ = listener.accept()
    with conn:
        stream = client._stream
        assert stream is not None
        if not stream.kernel_waits:  # waits inside recv exist on Linux only
            assert not sys.platform.startswith("linux")
            return
        conn.sendall(b"abc")
        for endless in (float("inf"), float("nan"), 1e12):
            got = stream.recv_wait(1, endless)  # data is waiting: returns at once
            assert got is not None and len(got) == 1
        assert stream.recv_wait(10, 0.0) is None
