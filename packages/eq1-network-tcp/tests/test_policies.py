"""The TCP protocols take the core policy types; the old TCP names are deprecated aliases."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import eq1_network
from eq1_network import ReconnectPolicy, TLSConfig
from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolTypeError
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.testing import read_exactly

LOCALHOST = "127.0.0.1"
TIMEOUT = 20.0
pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("name", ["ReconnectPolicy", "TLSConfig"])
def test_old_tcp_names_are_the_core_classes_and_warn(name: str) -> None:
    import eq1_network.protocols.ethernet as ethernet

    with pytest.warns(DeprecationWarning, match=rf"use eq1_network\.{name} instead"):
        old = getattr(ethernet, name)
    assert old is getattr(eq1_network, name)


def test_core_reconnect_policy_is_accepted_by_the_client() -> None:
    policy = eq1_network.ReconnectPolicy(enabled=True, initial_delay=0.05, max_delay=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = TCPClient(LOCALHOST, 1, reconnect=policy)
    assert client.reconnect is policy
    assert TCPClient(LOCALHOST, 1, reconnect=ReconnectPolicy(enabled=False)).reconnect is None
    assert TCPClient(LOCALHOST, 1, reconnect=True).reconnect == ReconnectPolicy()
    with pytest.raises(ProtocolTypeError, match="reconnect must be a ReconnectPolicy"):
        TCPClient(LOCALHOST, 1, reconnect="yes")  # type: ignore[arg-type]


def test_core_reconnect_policy_reconnects_after_a_server_restart(
    clients: list[TCPClient], until: Any
) -> None:
    server = TCPServer(LOCALHOST, 0, timeout=TIMEOUT)
    server.connect()
    port = server.port
    policy = eq1_network.ReconnectPolicy(enabled=True, initial_delay=0.05, max_delay=0.2)
    client = TCPClient(LOCALHOST, port, timeout=TIMEOUT, reconnect=policy)
    clients.append(client)
    try:
        client.connect()
        until(lambda: server.peers(), what="the first connection")
        server.disconnect()
        until(lambda: not client.is_connected(), what="the client to notice the restart")
        server = TCPServer(LOCALHOST, port, timeout=TIMEOUT)
        server.connect()
        until(client.is_connected, what="the automatic reconnection")
        client.send(b"back")
        assert read_exactly(server, 4, TIMEOUT) == b"back"
    finally:
        server.disconnect()


def test_mutual_tls_through_the_core_tls_config(
    tls_files: Any, echo_tcpserver_factory: Any, clients: list[TCPClient]
) -> None:
    server = echo_tcpserver_factory(
        tls=TLSConfig(
            certfile=tls_files.server_cert, keyfile=tls_files.server_key, cafile=tls_files.ca
        )
    )
    client_tls = TLSConfig(
        cafile=tls_files.ca, certfile=tls_files.client_cert, keyfile=tls_files.client_key
    )
    client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT, tls=client_tls)
    clients.append(client)
    client.connect()
    assert client.tls and server.tls
    client.send(b"over tls")
    assert read_exactly(client, 8, TIMEOUT) == b"over tls"


def test_core_tls_config_errors_reach_the_constructors(tls_files: Any) -> None:
    with pytest.raises(ProtocolConfigurationError, match="needs certfile"):
        TCPServer(LOCALHOST, 0, tls=TLSConfig(cafile=tls_files.ca))
    with pytest.raises(ProtocolConfigurationError, match="cannot load cafile"):
        TCPClient(LOCALHOST, 1, tls=TLSConfig(cafile=tls_files.server_key))
