"""A minimal readiness selector for the server loop: ``epoll`` on Linux, :mod:`selectors` elsewhere.

The server loop needs only "which registered sockets are ready". On Linux it calls
``epoll`` directly and keeps one ``fd -> data`` entry per socket, which spares the
per-event :class:`selectors.SelectorKey` handling on the request/response path and
a few dozen bytes per idle connection. Other systems use
:class:`selectors.DefaultSelector` (kqueue, poll or select) behind the same methods.
"""

from __future__ import annotations

import select
import selectors
import socket
from typing import Generic, TypeVar

__all__ = ["READ", "WRITE", "Poller"]

READ = selectors.EVENT_READ
"""Interest in readability (for sockets: data, a new connection, or a close)."""
WRITE = selectors.EVENT_WRITE
"""Interest in writability."""

_HAS_EPOLL = hasattr(select, "epoll")
_MAX_EVENTS = 1024
"""Most events one ``epoll`` call returns; more ready sockets wait for the next call."""

_D = TypeVar("_D")


class Poller(Generic[_D]):
    """Sockets registered with a piece of data each; :meth:`select` tells which are ready.

    Not thread-safe: one thread at a time uses it (the server loop's owner).

    Args:
        use_epoll: Use ``epoll`` directly; ``None`` picks it where it exists.
    """

    def __init__(self, use_epoll: bool | None = None) -> None:
        self.epoll: select.epoll | None = None
        """The ``epoll`` object where it is used, else ``None``; for :meth:`select`'s
        callers that poll it themselves (with :attr:`max_events`)."""
        self._selector: selectors.BaseSelector | None = None
        if _HAS_EPOLL if use_epoll is None else use_epoll:
            self.epoll = select.epoll()
        else:
            self._selector = selectors.DefaultSelector()
        self._socks: dict[int, socket.socket] = {}
        self.data: dict[int, _D] = {}
        """``fd -> data`` of every registered socket; read it, do not change it."""
        self.max_events = 1
        """The ``maxevents`` argument to pass to ``epoll.poll``."""

    def __len__(self) -> int:
        return len(self._socks)

    def register(self, sock: socket.socket, events: int, data: _D) -> None:
        """Watch ``sock`` for ``events`` (:data:`READ` and/or :data:`WRITE`).

        Args:
            sock: An open socket, not yet registered.
            events: The events of interest.
            data: What :meth:`select` returns when ``sock`` is ready.

        Raises:
            KeyError: If ``sock`` is already registered.
            OSError: If the system refuses (for example, the socket is closed).
        """
        fd = sock.fileno()
        if fd in self._socks:
            raise KeyError(f"{sock!r} is already registered")
        if self.epoll is not None:
            self.epoll.register(fd, _epoll_mask(events))
        else:
            assert self._selector is not None
            self._selector.register(fd, events)
        self._socks[fd] = sock
        self.data[fd] = data
        self.max_events = min(len(self._socks), _MAX_EVENTS)

    def modify(self, sock: socket.socket, events: int, data: _D) -> None:
        """Change the events and data of a registered socket.

        Args:
            sock: A registered socket.
            events: The new events of interest.
            data: The new data.

        Raises:
            KeyError: If ``sock`` is not registered.
        """
        fd = self._fd_of(sock)
        if self.epoll is not None:
            self.epoll.modify(fd, _epoll_mask(events))
        else:
            assert self._selector is not None
            self._selector.modify(fd, events)
        self.data[fd] = data

    def unregister(self, sock: socket.socket) -> None:
        """Stop watching ``sock`` (it may already be closed).

        Args:
            sock: A registered socket.

        Raises:
            KeyError: If ``sock`` is not registered.
        """
        fd = self._fd_of(sock)
        del self._socks[fd]
        del self.data[fd]
        self.max_events = max(min(len(self._socks), _MAX_EVENTS), 1)
        if self.epoll is not None:
            try:
                self.epoll.unregister(fd)
            except (OSError, ValueError):  # closed already: the kernel dropped it
                pass
        else:
            assert self._selector is not None
            self._selector.unregister(fd)

    def select(self, timeout: float | None) -> list[tuple[int, int]]:
        """Wait until a registered socket is ready, or ``timeout`` seconds pass.

        Look the data up with ``poller.data.get(fd)``: the lean form keeps the hot
        path of the server loop short.

        Args:
            timeout: Longest wait in seconds; ``None`` waits without limit, ``0``
                only polls.

        Returns:
            ``(fd, events)`` pairs of the ready sockets (empty on timeout); the events
            are system-specific and only tell that something happened.
        """
        if self.epoll is not None:
            if timeout is None:
                timeout = -1.0
            elif timeout < 0:
                timeout = 0.0
            return self.epoll.poll(timeout, self.max_events)
        assert self._selector is not None
        return [(key.fd, mask) for key, mask in self._selector.select(timeout)]

    def close(self) -> None:
        """Release the system resources; the sockets themselves stay open."""
        self._socks.clear()
        self.data.clear()
        if self.epoll is not None:
            self.epoll.close()
        if self._selector is not None:
            self._selector.close()

    def _fd_of(self, sock: socket.socket) -> int:
        fd = sock.fileno()
        if self._socks.get(fd) is sock:
            return fd
        for known, registered in self._socks.items():  # closed: fileno() is -1
            if registered is sock:
                return known
        raise KeyError(f"{sock!r} is not registered")


def _epoll_mask(events: int) -> int:
    mask = 0
    if events & READ:
        mask |= select.EPOLLIN | select.EPOLLPRI
    if events & WRITE:
        mask |= select.EPOLLOUT
    return mask
