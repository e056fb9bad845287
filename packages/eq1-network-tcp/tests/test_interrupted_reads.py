"""A read interrupted by Ctrl-C never leaves the client unable to disconnect or read again.

``KeyboardInterrupt`` can be raised between any two bytecodes, so also right after a
reader took the read lock and before the block that frees it. The lock below raises
at exactly that point, every time, so the tests do not depend on a signal's timing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.testing import InterruptingLock

LOCALHOST = "127.0.0.1"
TIMEOUT = 20.0


def disconnect_within(client: TCPClient, seconds: float) -> None:
    """Disconnect on another thread; fail if it still waits after ``seconds``."""
    closer = threading.Thread(target=client.disconnect, daemon=True)
    closer.start()
    closer.join(seconds)
    assert not closer.is_alive(), f"disconnect() still waits after {seconds} s"


@pytest.mark.parametrize(
    "interrupted",
    [
        pytest.param(lambda c: c.read_within(TIMEOUT), id="read_within"),
        pytest.param(lambda c: c.exchange(b"ping", TIMEOUT), id="exchange"),
        pytest.param(lambda c: c.wait_readable(TIMEOUT), id="wait_readable"),
        pytest.param(lambda c: c.read(), id="read"),
    ],
)
def test_disconnect_after_an_interrupted_read_returns_and_the_next_connection_reads(
    interrupted: Any,
    echo_server: Any,
    clients: list[TCPClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    stuck = InterruptingLock()
    client._read_lock = stuck  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        interrupted(client)
    assert stuck.locked()  # nobody will free it

    with caplog.at_level(logging.INFO, logger="eq1_network.protocols.ethernet.tcp_client"):
        disconnect_within(client, TIMEOUT)
    assert "the read lock was not freed" in caplog.text
    assert client._read_lock is not stuck

    client.connect()
    assert client.exchange(b"ping", TIMEOUT) == b"ping"
    client.send(b"pong")
    assert client.read_within(TIMEOUT) == b"pong"
    fresh = client._read_lock
    disconnect_within(client, TIMEOUT)
    assert client._read_lock is fresh  # nothing held this time: the lock is kept


def test_the_lock_of_a_reader_that_leaves_at_the_close_is_kept(
    echo_server: Any, clients: list[TCPClient]
) -> None:
    client = TCPClient(LOCALHOST, echo_server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    lock = client._read_lock
    results: list[bytes | None] = []
    reader = threading.Thread(target=lambda: results.append(client.read_within(TIMEOUT)))
    reader.start()
    deadline = time.monotonic() + TIMEOUT
    while not lock.locked():  # the reader waits inside recv, holding the lock
        assert time.monotonic() < deadline, "the reader never took the read lock"
        time.sleep(0.001)
    disconnect_within(client, TIMEOUT)  # the close wakes the reader, which frees the lock
    reader.join(TIMEOUT)
    assert results == [None]
    assert client._read_lock is lock
    assert not lock.locked()
