"""``TCPClient(quickack=True)``: received data is acknowledged at once (Linux)."""

from __future__ import annotations

import socket
import sys

import pytest

from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.testing import EchoServer

LINUX = sys.platform.startswith("linux")


def _quickack(client: TCPClient) -> int:
    stream = client._stream  # the option lives on the socket itself
    assert stream is not None
    return stream.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK)


@pytest.mark.skipif(not LINUX, reason="TCP_QUICKACK is a Linux option")
@pytest.mark.parametrize("wait", [True, False])
def test_every_read_rearms_quickack(echo_server: EchoServer, wait: bool) -> None:
    with TCPClient(*echo_server.address, timeout=10.0, quickack=True) as client:
        for round_ in range(3):
            client.send(b"ping %d" % round_)
            data = client.read_within(10.0) if wait else client.read_exactly(6, timeout=10.0)
            assert data == b"ping %d" % round_
            assert _quickack(client) == 1


def test_quickack_is_off_by_default_and_harmless_elsewhere(echo_server: EchoServer) -> None:
    with TCPClient(*echo_server.address, timeout=10.0) as client:
        assert client.quickack is False
        client.send(b"x")
        assert client.read_within(10.0) == b"x"
    assert TCPClient.from_url(f"tcp://127.0.0.1:{echo_server.address[1]}?quickack=true").quickack
