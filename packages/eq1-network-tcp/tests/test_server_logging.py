"""What TCPServer logs about clients: DEBUG per connection, an INFO summary at most per interval."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eq1_network.protocols.ethernet import TLSConfig, _server_loop
from eq1_network.protocols.ethernet._peer import Peer
from eq1_network.protocols.ethernet._server_events import Activity as _Activity
from eq1_network.protocols.ethernet.tcp_server import TCPServer

LOCALHOST = "127.0.0.1"
LOGGER = "eq1_network.protocols.ethernet"
LOOP_LOGGER = "eq1_network.protocols.ethernet._server_loop"
CYCLES = 100


class Counts:
    """Connect and disconnect notifications seen so far."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connected = 0
        self.disconnected = 0

    def on_connect(self, peer: Peer) -> None:
        with self.lock:
            self.connected += 1

    def on_disconnect(self, peer: Peer) -> None:
        with self.lock:
            self.disconnected += 1


@pytest.fixture
def counted_server() -> Iterator[tuple[TCPServer, Counts]]:
    counts = Counts()
    server = TCPServer(
        LOCALHOST,
        0,
        timeout=5.0,
        on_connect=counts.on_connect,
        on_disconnect=counts.on_disconnect,
    )
    server.connect()
    try:
        yield server, counts
    finally:
        server.disconnect()


def connect_and_leave(server: TCPServer, counts: Counts, until: Callable[..., None]) -> None:
    """Run CYCLES connect/disconnect cycles, each waited for on the server's side."""
    for i in range(1, CYCLES + 1):
        with socket.create_connection((LOCALHOST, server.port), timeout=5.0):
            until(lambda i=i: counts.connected >= i, what=f"connect {i}")
        until(lambda i=i: counts.disconnected >= i, what=f"disconnect {i}")


def loud(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(LOGGER) and r.levelno >= logging.INFO]


@pytest.mark.timeout(120)
def test_connect_disconnect_cycles_log_no_info_line_per_connection(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    until: Callable[..., None],
) -> None:
    monkeypatch.setattr(_server_loop, "_SUMMARY_INTERVAL", 1e9)  # no summary during the cycles
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    counts = Counts()
    server = TCPServer(
        LOCALHOST, 0, timeout=5.0, on_connect=counts.on_connect, on_disconnect=counts.on_disconnect
    )
    server.connect()
    try:
        caplog.clear()
        connect_and_leave(server, counts, until)
        assert loud(caplog) == []
        debug = [r.getMessage() for r in caplog.records if r.name == LOOP_LOGGER]
        assert sum("connected" in m and "disconnected" not in m for m in debug) == CYCLES
        assert sum("disconnected: closed by the client" in m for m in debug) == CYCLES
    finally:
        server.disconnect()
    summaries = [r.getMessage() for r in loud(caplog) if r.name == LOOP_LOGGER]
    assert len(summaries) == 1, summaries
    assert (
        f"{CYCLES} client(s) connected, {CYCLES} disconnected (0 after an error)" in (summaries[0])
    )


@pytest.mark.timeout(120)
def test_with_the_default_interval_cycles_log_at_most_a_summary(
    counted_server: tuple[TCPServer, Counts],
    caplog: pytest.LogCaptureFixture,
    until: Callable[..., None],
) -> None:
    server, counts = counted_server
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    connect_and_leave(server, counts, until)
    # Only summaries, at most one per 60 s (the cycles take far less than 50 minutes);
    # never a line naming a client (``#<id> host:port``).
    messages = [r.getMessage() for r in loud(caplog)]
    assert len(messages) < CYCLES // 2
    assert all(m.startswith("server ") and "#" not in m for m in messages), messages


@pytest.mark.timeout(60)
def test_refusals_warn_once_per_interval_and_are_counted(
    caplog: pytest.LogCaptureFixture, until: Callable[..., None]
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    server = TCPServer(LOCALHOST, 0, timeout=5.0, max_clients=1)
    server.connect()
    held = socket.create_connection((LOCALHOST, server.port), timeout=5.0)
    try:
        until(lambda: len(server.peers()) == 1, what="the first client")
        for _ in range(5):
            with socket.create_connection((LOCALHOST, server.port), timeout=5.0) as extra:
                assert extra.recv(1) == b""  # closed by the server at once
        refusals = [r for r in caplog.records if "max_clients (1) reached" in r.getMessage()]
        assert [r.levelno for r in refusals] == [logging.WARNING] + [logging.DEBUG] * 4
    finally:
        held.close()
        server.disconnect()
    [summary] = [
        r.getMessage() for r in loud(caplog) if r.levelno == logging.INFO and r.name == LOOP_LOGGER
    ]
    assert "1 client(s) connected, 1 disconnected (0 after an error), 5 refused" in summary


def test_activity_logs_at_most_once_per_interval_and_only_after_activity(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOOP_LOGGER)
    activity = _Activity("127.0.0.1:1", 0.0, 60.0)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == LOOP_LOGGER]

    activity.connected += 1
    activity.tick(1.0, 1)
    activity.tick(59.9, 1)
    assert lines() == []
    activity.disconnected += 1
    activity.failed += 1
    activity.tick(60.0, 0)
    assert lines() == [
        "server 127.0.0.1:1, last 60 s: 1 client(s) connected, 1 disconnected "
        "(1 after an error), 0 refused; 0 connected now"
    ]
    activity.tick(200.0, 0)  # due, but nothing happened: silent
    activity.connected += 1
    activity.tick(201.0, 1)  # counting restarted at 200
    assert len(lines()) == 1
    activity.tick(230.0, 1, final=True)
    assert len(lines()) == 2 and "last 30 s: 1 client(s) connected" in lines()[1]
    activity.tick(1000.0, 1, final=True)
    assert len(lines()) == 2


def test_tls_handshake_failures_stay_warnings(
    tls_files: Any, caplog: pytest.LogCaptureFixture, until: Callable[..., None]
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    server = TCPServer(
        LOCALHOST,
        0,
        timeout=5.0,
        tls=TLSConfig(certfile=str(tls_files.server_cert), keyfile=str(tls_files.server_key)),
    )
    server.connect()
    try:
        with socket.create_connection((LOCALHOST, server.port), timeout=5.0) as plain:
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
            until(
                lambda: any("TLS handshake failed" in r.getMessage() for r in caplog.records),
                what="the handshake failure to be logged",
            )
    finally:
        server.disconnect()
    [failure] = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert failure.levelno == logging.WARNING
    [summary] = [
        r.getMessage() for r in loud(caplog) if r.levelno == logging.INFO and r.name == LOOP_LOGGER
    ]
    assert "0 client(s) connected, 1 disconnected (1 after an error)" in summary
