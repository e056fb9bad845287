"""Readiness waits on one socket, with a timeout and no limit on descriptor numbers."""

from __future__ import annotations

import select
import socket

__all__ = ["select_poll", "wait_socket"]

_HAS_POLL = hasattr(select, "poll")


def wait_socket(sock: socket.socket, *, write: bool, timeout: float) -> bool:
    """Wait until ``sock`` is readable (or writable), or ``timeout`` seconds pass.

    ``poll`` is used where available, because ``select`` fails on descriptors above
    ``FD_SETSIZE`` (1024), which a process holding many connections reaches. Errors
    and hang-ups count as ready: the next socket call reports them.

    Args:
        sock: The socket.
        write: Wait for writability instead of readability.
        timeout: Longest wait in seconds (``0`` only polls).

    Returns:
        ``True`` if the socket is ready, ``False`` on timeout or if it is closed.
    """
    fd = sock.fileno()
    if fd < 0:
        return False
    timeout = max(timeout, 0.0)
    if _HAS_POLL:
        poller = select.poll()
        poller.register(fd, select.POLLOUT if write else select.POLLIN | select.POLLPRI)
        return bool(poller.poll(timeout * 1000.0))
    try:
        ready = (
            select.select([], [fd], [fd], timeout)
            if write
            else select.select([fd], [], [fd], timeout)
        )
    except (OSError, ValueError):
        return True
    return any(ready)


def select_poll(sock: socket.socket) -> select.poll | None:
    """Return a ``poll`` object watching ``sock`` for readability, to reuse across waits.

    Args:
        sock: The socket.

    Returns:
        The poll object, or ``None`` where ``poll`` does not exist (Windows).
    """
    if not _HAS_POLL:
        return None
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    return poller
