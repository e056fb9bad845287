"""UDPServer: replies to the right sender, the bounded queue and its drop policy, peers."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from eq1_network.common.exceptions import (
    PayloadTooLargeError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolNotConnectedError,
    ProtocolTypeError,
)
from eq1_network.common.policies import OverflowPolicy
from eq1_network.interfaces.protocol import serves_many_peers
from eq1_network.protocols.udp import Peer, UDPClient, UDPServer
from eq1_network.testing import DEFAULT_TIMEOUT as DEADLINE

LOCALHOST = "127.0.0.1"


def _port(server: UDPServer) -> int:
    assert server.address is not None
    return server.address[1]


def test_two_hundred_clients_get_their_own_replies(
    server: UDPServer, clients: list[UDPClient]
) -> None:
    for index in range(200):
        client = UDPClient(LOCALHOST, _port(server), timeout=DEADLINE)
        clients.append(client)
        client.connect()
        client.send(f"client {index}".encode())
    answered = 0
    while answered < 200:
        data = server.read_within(DEADLINE)
        assert data is not None, f"only {answered} of 200 requests arrived"
        server.send(b"reply to " + data)  # send() answers the sender read last
        answered += 1
    for index, client in enumerate(clients):
        assert client.read_within(DEADLINE) == f"reply to client {index}".encode()
    assert len(server.peers()) == 200
    assert server.dropped == 0


def test_receive_and_send_to(server: UDPServer, clients: list[UDPClient]) -> None:
    a = UDPClient(LOCALHOST, _port(server), timeout=DEADLINE)
    b = UDPClient(LOCALHOST, _port(server), timeout=DEADLINE)
    clients.extend([a, b])
    a.connect()
    b.connect()
    a.send(b"from a")
    b.send(b"")
    first = server.receive(DEADLINE)
    second = server.receive(DEADLINE)
    assert first is not None and second is not None
    assert first.data == b"from a" and second.data == b""
    assert a.local_address is not None and first.peer == Peer(*a.local_address)
    assert str(first.peer) == f"127.0.0.1:{a.local_address[1]}"
    server.send_to(second.peer, b"to b")
    server.send_to((LOCALHOST, a.local_address[1]), b"to a")
    assert b.read_within(DEADLINE) == b"to b"
    assert a.read_within(DEADLINE) == b"to a"
    assert serves_many_peers(server)


def test_send_before_any_read_says_whom_to_address(server: UDPServer) -> None:
    with pytest.raises(ProtocolConnectionError, match="send_to"):
        server.send(b"to whom?")


def test_send_to_checks_its_arguments(server: UDPServer) -> None:
    with pytest.raises(ProtocolTypeError):
        server.send_to("127.0.0.1:5", b"x")  # type: ignore[arg-type]
    with pytest.raises(PayloadTooLargeError):
        server.send_to((LOCALHOST, 9), bytes(65_508))


def _blast(port: int, count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for number in range(count):
            sock.sendto(number.to_bytes(4, "big"), (LOCALHOST, port))


@pytest.mark.parametrize(
    ("policy", "kept"),
    [(OverflowPolicy.REJECT, [0, 1, 2, 3, 4]), (OverflowPolicy.DROP_OLDEST, [15, 16, 17, 18, 19])],
)
def test_queue_bound_and_drop_policy(
    policy: OverflowPolicy, kept: list[int], until: Callable[..., object]
) -> None:
    with UDPServer(LOCALHOST, 0, queue_size=5, overflow=policy, receive_buffer=1 << 20) as srv:
        _blast(_port(srv), 20)
        until(lambda: srv.received == 20, DEADLINE, "the 20 datagrams to arrive")
        assert srv.dropped == 15
        assert srv.queued == 5
        got = []
        while (datagram := srv.receive(0)) is not None:
            got.append(int.from_bytes(datagram.data, "big"))
        assert got == kept


def test_block_policy_is_refused() -> None:
    with pytest.raises(ProtocolConfigurationError, match=r"REJECT or OverflowPolicy\.DROP_OLDEST"):
        UDPServer(LOCALHOST, 0, overflow=OverflowPolicy.BLOCK)


def test_receive_buffer_is_applied() -> None:
    with UDPServer(LOCALHOST, 0, receive_buffer=1 << 20) as srv:
        assert srv._sock is not None
        # Linux doubles the value asked for (bookkeeping), capped by rmem_max.
        assert srv._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 1 << 20


def test_peers_are_bounded_and_can_be_forgotten(
    clients: list[UDPClient], until: Callable[..., object]
) -> None:
    with UDPServer(LOCALHOST, 0, max_peers=3) as srv:
        for _ in range(5):
            client = UDPClient(LOCALHOST, _port(srv))
            clients.append(client)
            client.connect()
            client.send(b"hi")
        until(lambda: srv.received == 5, DEADLINE, "the 5 datagrams to arrive")
        remembered = srv.peers()
        expected = [Peer(*c.local_address) for c in clients[2:] if c.local_address]
        assert remembered == expected
        assert srv.disconnect_peer(remembered[0]) is True
        assert srv.disconnect_peer(remembered[0]) is False
        assert len(srv.peers()) == 2


def test_bind_conflict_names_the_endpoint(server: UDPServer) -> None:
    other = UDPServer(LOCALHOST, _port(server))
    with pytest.raises(ProtocolConnectionError, match=f"udp-listen://127.0.0.1:{_port(server)}"):
        other.connect()
    assert not other.is_connected()


def test_not_bound() -> None:
    srv = UDPServer(LOCALHOST, 0)
    with pytest.raises(ProtocolNotConnectedError):
        srv.send_to((LOCALHOST, 9), b"x")
    assert srv.peers() == []
    assert srv.receive(0) is None
    srv.disconnect()
