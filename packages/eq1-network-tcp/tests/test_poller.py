"""Unit tests of the server loop's readiness selector, with epoll and with the portable fallback."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest

from eq1_network.protocols.ethernet._poller import READ, WRITE, Poller

BACKENDS = [
    pytest.param(False, id="selectors"),
    pytest.param(
        True,
        id="epoll",
        marks=pytest.mark.skipif(not hasattr(select, "epoll"), reason="epoll is Linux-only"),
    ),
]


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def ready_data(poller: Poller[str], timeout: float) -> list[str]:
    return [poller.data[fd] for fd, _ in poller.select(timeout)]


@pytest.mark.parametrize("use_epoll", BACKENDS)
def test_reports_readable_sockets_with_their_data(
    use_epoll: bool, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    poller: Poller[str] = Poller(use_epoll)
    poller.register(a, READ, "a")
    assert len(poller) == 1
    assert ready_data(poller, 0) == []
    b.sendall(b"x")
    assert ready_data(poller, 10.0) == ["a"]
    poller.close()


@pytest.mark.parametrize("use_epoll", BACKENDS)
def test_modify_changes_events_and_data(
    use_epoll: bool, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    poller: Poller[str] = Poller(use_epoll)
    poller.register(a, READ, "reading")
    assert ready_data(poller, 0) == []
    poller.modify(a, WRITE, "writing")
    assert ready_data(poller, 10.0) == ["writing"]
    poller.close()


@pytest.mark.parametrize("use_epoll", BACKENDS)
def test_unregister_works_after_the_socket_was_closed(
    use_epoll: bool, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    poller: Poller[str] = Poller(use_epoll)
    poller.register(a, READ, "a")
    poller.register(b, READ, "b")
    b.close()
    poller.unregister(b)
    assert len(poller) == 1
    assert list(poller.data.values()) == ["a"]
    with pytest.raises(KeyError):
        poller.unregister(b)
    poller.close()


@pytest.mark.parametrize("use_epoll", BACKENDS)
def test_double_registration_and_unknown_sockets_raise_key_error(
    use_epoll: bool, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    poller: Poller[str] = Poller(use_epoll)
    poller.register(a, READ, "a")
    with pytest.raises(KeyError, match="already registered"):
        poller.register(a, READ, "again")
    with pytest.raises(KeyError, match="not registered"):
        poller.modify(b, READ, "b")
    poller.close()
