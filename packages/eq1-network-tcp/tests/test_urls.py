"""URLs of the TCP protocols: tcp://, tls://, tcp-listen://, TLS parameters, IPv6."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

import eq1_network
from eq1_network import ProtocolConfigurationError, ProtocolNotFoundError
from eq1_network.protocols.ethernet import KeepAlive
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer

SECRET = "tcp-Pa55word"
DEADLINE = 30.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {
        "cafile": folder / "ca.pem",
        "certfile": folder / "cert.pem",
        "keyfile": folder / "key.pem",
    }
    ca.cert_pem.write_to_path(str(paths["cafile"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["certfile"]))
    cert.private_key_pem.write_to_path(str(paths["keyfile"]))
    return paths


def test_tcp_url_maps_to_client_arguments() -> None:
    client = eq1_network.from_url(
        "tcp://127.0.0.1:5000?timeout=2&keepalive=true&nodelay=false&connect_timeout=500ms"
        "&max_buffer=4096"
    )
    assert isinstance(client, TCPClient) and not client.is_connected()
    assert (client.host, client.port, client.timeout) == ("127.0.0.1", 5000, 2.0)
    assert client.keepalive == KeepAlive(enabled=True)
    assert (client.nodelay, client.connect_timeout, client.max_buffer) == (False, 0.5, 4096)
    assert client.tls is False


def test_ipv6_literal() -> None:
    client = eq1_network.from_url("tcp://[::1]:5000")
    assert isinstance(client, TCPClient) and (client.host, client.port) == ("::1", 5000)
    server = eq1_network.from_url("tcp-listen://[::]:0")
    assert isinstance(server, TCPServer) and (server.host, server.port) == ("::", 0)


def test_tcp_listen_url_maps_to_server_arguments() -> None:
    server = eq1_network.from_url("tcp-listen://0.0.0.0:5000?max_clients=4&backlog=16&timeout=1")
    assert isinstance(server, TCPServer) and not server.is_connected()
    assert (server.host, server.port, server.max_clients, server.backlog) == (
        "0.0.0.0",
        5000,
        4,
        16,
    )
    assert server.timeout == 1.0 and server.tls is False


def test_tls_scheme_and_tls_parameter(pki: dict[str, Path]) -> None:
    plain = eq1_network.from_url("tls://localhost:8883")
    assert isinstance(plain, TCPClient) and plain.tls is True
    named = eq1_network.from_url(
        f"tcp://127.0.0.1:8883?tls=true&cafile={pki['cafile']}&server_hostname=localhost"
    )
    assert isinstance(named, TCPClient) and named.tls is True
    assert named._context is not None and named._context.verify_mode is ssl.CERT_REQUIRED
    assert named._server_hostname == "localhost"
    implied = eq1_network.from_url(f"tcp://127.0.0.1:1?cafile={pki['cafile']}")
    assert isinstance(implied, TCPClient) and implied.tls is True
    server = eq1_network.from_url(
        f"tcp-listen://127.0.0.1:0?tls=1&certfile={pki['certfile']}&keyfile={pki['keyfile']}"
        f"&cafile={pki['cafile']}"
    )
    assert isinstance(server, TCPServer) and server.tls is True
    assert server._context is not None and server._context.verify_mode is ssl.CERT_REQUIRED


@pytest.fixture
def tls_server(pki: dict[str, Path]) -> Iterator[TCPServer]:
    server = eq1_network.from_url(
        f"tcp-listen://127.0.0.1:0?certfile={pki['certfile']}&keyfile={pki['keyfile']}"
    )
    assert isinstance(server, TCPServer)
    server.connect()
    try:
        yield server
    finally:
        server.disconnect()


def test_tls_urls_talk_to_each_other(tls_server: TCPServer, pki: dict[str, Path]) -> None:
    client = eq1_network.from_url(f"tls://127.0.0.1:{tls_server.port}?cafile={pki['cafile']}")
    assert isinstance(client, TCPClient)
    with client:
        client.send(b"hello")
        deadline = time.monotonic() + DEADLINE
        got = None
        while got is None and time.monotonic() < deadline:
            got = tls_server.receive(timeout=0.5)
        assert got is not None and got.data == b"hello"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tcp://127.0.0.1", "TCPClient needs a port"),
        ("tcp://:5000", "TCPClient needs a host"),
        ("tcp://h:1?timeout=soon", "parameter 'timeout' must be a number of seconds"),
        ("tcp://h:1?keepalive=sometimes", "parameter 'keepalive' must be"),
        ("tcp://h:1?timout=2", r"unknown parameter 'timout'; valid parameters: .*timeout"),
        ("tcp://h:1?cafile=/no/such/ca.pem", "cafile"),
        ("tls://h:1?tls=false", "contradicts"),
        ("tcp://h:1?on_data=x", "unknown parameter 'on_data'"),
        ("tcp-listen://h:1?on_data=x", "'on_data' takes .* cannot be written in a URL"),
        ("tcp-listen://0.0.0.0:0?tls=true", "needs certfile"),
    ],
)
def test_bad_tcp_urls(url: str, message: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=message):
        eq1_network.from_url(url)


def test_credentials_are_refused_and_never_shown() -> None:
    with pytest.raises(ProtocolConfigurationError) as info:
        eq1_network.from_url(f"tcp://user:{SECRET}@127.0.0.1:5000")
    assert SECRET not in str(info.value) and "user:***@" in str(info.value)


def test_tcp_schemes_are_registered() -> None:
    schemes = eq1_network.ProtocolManager.registry.schemes()
    assert schemes["tcp"].name == "tcp" and schemes["tls"].name == "tcp"
    assert schemes["tcp-listen"].name == "tcp-server"
    assert schemes["tcp"].distribution == "eq1-network-tcp"
    with pytest.raises(
        ProtocolNotFoundError, match=r"tcp-listen:// \(tcp-server, eq1-network-tcp\)"
    ):
        eq1_network.from_url("sctp://127.0.0.1:5000")


DOCS = Path(__file__).resolve().parents[3] / "docs" / "urls.md"


def documented(schemes: tuple[str, ...]) -> list[str]:
    """The URLs of the docs/urls.md grammar table whose scheme is one of ``schemes``."""
    import re

    rows = re.findall(r"^\| `([a-z0-9+.\-]+://[^`]*)` \|", DOCS.read_text("utf-8"), re.MULTILINE)
    return [url for url in rows if url.partition("://")[0] in schemes]


TCP_TABLE: dict[str, tuple[type, dict[str, object]]] = {
    "tcp://127.0.0.1:5000?timeout=2&keepalive=true": (
        TCPClient,
        {"host": "127.0.0.1", "port": 5000, "timeout": 2.0, "tls": False},
    ),
    "tcp://[::1]:5000": (TCPClient, {"host": "::1", "port": 5000, "tls": False}),
    "tls://localhost:8443?cafile=ca.pem": (
        TCPClient,
        {"host": "localhost", "port": 8443, "tls": True},
    ),
    "tcp://localhost:8443?tls=true&cafile=ca.pem&certfile=cert.pem&keyfile=key.pem": (
        TCPClient,
        {"host": "localhost", "port": 8443, "tls": True},
    ),
    "tcp-listen://0.0.0.0:5000": (TCPServer, {"host": "0.0.0.0", "port": 5000, "tls": False}),
    "tcp-listen://0.0.0.0:5443?certfile=cert.pem&keyfile=key.pem": (
        TCPServer,
        {"host": "0.0.0.0", "port": 5443, "tls": True},
    ),
}


def test_every_documented_tcp_url_round_trips(
    pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(pki["cafile"].parent)
    assert sorted(documented(("tcp", "tls", "tcp-listen"))) == sorted(TCP_TABLE)
    for url, (kind, attributes) in TCP_TABLE.items():
        proto = eq1_network.from_url(url)
        assert type(proto) is kind, url
        assert {name: getattr(proto, name) for name in attributes} == attributes, url
