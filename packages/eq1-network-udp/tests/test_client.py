"""UDPClient against socat, a raw echo and UDPServer: whole datagrams, sizes, errors."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from eq1_network.common.exceptions import (
    PacketSizeError,
    PayloadTooLargeError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolNotConnectedError,
)
from eq1_network.protocols.udp import MAX_DATAGRAM_IPV4, UDPClient, UDPServer
from eq1_network.testing import DEFAULT_TIMEOUT as DEADLINE

LOCALHOST = "127.0.0.1"


@pytest.mark.parametrize("size", [1, 1400, MAX_DATAGRAM_IPV4])
def test_one_datagram_per_read_through_socat(
    socat_echo: int, clients: list[UDPClient], size: int
) -> None:
    client = UDPClient(LOCALHOST, socat_echo, timeout=DEADLINE)
    clients.append(client)
    client.connect()
    payload = bytes(i % 253 for i in range(size))
    assert client.send(payload) == size
    assert client.read_within(DEADLINE) == payload
    assert client.read() == (False, None)


@pytest.mark.parametrize("size", [0, 1, 1400, MAX_DATAGRAM_IPV4])
def test_one_datagram_per_read_with_udpserver(
    echo_server: UDPServer, clients: list[UDPClient], size: int
) -> None:
    assert echo_server.address is not None
    client = UDPClient(LOCALHOST, echo_server.address[1], timeout=DEADLINE)
    clients.append(client)
    client.connect()
    payload = bytes(i % 251 for i in range(size))
    assert client.send(payload) == size
    assert client.read_datagram(DEADLINE) == payload


def test_two_datagrams_are_never_joined(raw_echo: Any, clients: list[UDPClient]) -> None:
    client = UDPClient(LOCALHOST, raw_echo.port, timeout=DEADLINE)
    clients.append(client)
    client.connect()
    client.send(b"first")
    client.send(b"second")
    assert client.read_within(DEADLINE) == b"first"
    assert client.read_within(DEADLINE) == b"second"


def test_read_skips_an_empty_datagram_that_read_datagram_returns(
    raw_echo: Any, clients: list[UDPClient]
) -> None:
    client = UDPClient(LOCALHOST, raw_echo.port, timeout=DEADLINE)
    clients.append(client)
    client.connect()
    client.send(b"")
    client.send(b"data")
    assert client.read_within(DEADLINE) == b"data"
    client.send(b"")
    assert client.read_datagram(DEADLINE) == b""


def test_oversize_datagram_is_rejected_before_sending(
    raw_echo: Any, clients: list[UDPClient]
) -> None:
    client = UDPClient(LOCALHOST, raw_echo.port, timeout=DEADLINE)
    clients.append(client)
    client.connect()
    with pytest.raises(PayloadTooLargeError, match="65508 bytes exceeds the limit of 65507"):
        client.send(bytes(MAX_DATAGRAM_IPV4 + 1))
    assert client.read_within(0.2) is None  # nothing was sent


def test_configured_lower_limit(raw_echo: Any, clients: list[UDPClient]) -> None:
    client = UDPClient(LOCALHOST, raw_echo.port, timeout=DEADLINE, max_datagram=512)
    clients.append(client)
    client.connect()
    assert client.max_message_size == 512
    assert client.send(bytes(512)) == 512
    with pytest.raises(PacketSizeError):
        client.send(bytes(513))
    assert client.read_within(DEADLINE) == bytes(512)


def test_max_datagram_out_of_range_is_refused() -> None:
    with pytest.raises(ProtocolConfigurationError, match="max_datagram"):
        UDPClient(LOCALHOST, 9, max_datagram=70_000)


def test_port_unreachable_is_a_clear_connection_error(
    clients: list[UDPClient], free_port_udp: Callable[[], int]
) -> None:
    port = free_port_udp()  # nothing listens there
    client = UDPClient(LOCALHOST, port, timeout=DEADLINE)
    clients.append(client)
    client.connect()
    client.send(b"anyone?")
    with pytest.raises(ProtocolConnectionError, match="port unreachable") as caught:
        client.read_within(DEADLINE)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    assert client.is_connected()
    # Reported once; the socket works on: a server started now gets the next datagram.
    with UDPServer(LOCALHOST, port) as server:
        client.send(b"now?")
        datagram = server.receive(DEADLINE)
        assert datagram is not None and datagram.data == b"now?"


def test_port_unreachable_surfaces_on_send_too(
    clients: list[UDPClient], free_port_udp: Callable[[], int]
) -> None:
    client = UDPClient(LOCALHOST, free_port_udp(), timeout=DEADLINE)
    clients.append(client)
    client.connect()
    client.send(b"first")
    with pytest.raises(ProtocolConnectionError, match="port unreachable"):
        for _ in range(200):  # the ICMP answer arrives asynchronously
            if client.wait_readable(0.05):
                client.send(b"again")
                break
        else:
            client.send(b"again")


def test_send_when_not_connected() -> None:
    client = UDPClient(LOCALHOST, 9)
    with pytest.raises(ProtocolNotConnectedError):
        client.send(b"x")
    assert client.read() == (False, None)


def test_broadcast_option_sets_so_broadcast(clients: list[UDPClient]) -> None:
    client = UDPClient(LOCALHOST, 9, broadcast=True, receive_buffer=1 << 20)
    clients.append(client)
    client.connect()
    sock = client._sock
    assert sock is not None
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 1
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 1 << 20
    plain = UDPClient(LOCALHOST, 9)
    clients.append(plain)
    plain.connect()
    assert plain._sock is not None
    assert plain._sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 0


def test_reconnect_after_disconnect(raw_echo: Any, clients: list[UDPClient]) -> None:
    client = UDPClient(LOCALHOST, raw_echo.port, timeout=DEADLINE)
    clients.append(client)
    with client:
        client.send(b"one")
        assert client.read_within(DEADLINE) == b"one"
    assert not client.is_connected()
    with client:
        client.send(b"two")
        assert client.read_within(DEADLINE) == b"two"
