"""Socket tuning shared by client and server connections: TCP_NODELAY and keep-alive."""

from __future__ import annotations

import socket

from eq1_network.common.logging import get_logger
from eq1_network.protocols.ethernet._config import KeepAlive

__all__ = ["tune_socket"]

logger = get_logger(__name__)

# Linux names first; macOS calls the idle option TCP_KEEPALIVE.
_IDLE_OPTION = getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))
_INTERVAL_OPTION = getattr(socket, "TCP_KEEPINTVL", None)
_COUNT_OPTION = getattr(socket, "TCP_KEEPCNT", None)


def tune_socket(sock: socket.socket, *, nodelay: bool, keepalive: KeepAlive) -> None:
    """Apply ``TCP_NODELAY`` and keep-alive settings to a connected TCP socket.

    Options the platform does not offer are skipped (logged at debug level).

    Args:
        sock: A connected ``SOCK_STREAM`` socket.
        nodelay: Disable Nagle's algorithm so small requests leave at once.
        keepalive: Keep-alive settings.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    _set(sock, socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay), "TCP_NODELAY")
    _set(sock, socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(keepalive.enabled), "SO_KEEPALIVE")
    if not keepalive.enabled:
        return
    if hasattr(sock, "ioctl") and hasattr(socket, "SIO_KEEPALIVE_VALS"):  # Windows
        millis = (1, int(keepalive.idle * 1000), int(keepalive.interval * 1000))
        try:
            sock.ioctl(socket.SIO_KEEPALIVE_VALS, millis)
        except OSError as exc:
            logger.debug("SIO_KEEPALIVE_VALS not applied: %s", exc)
        return
    if _IDLE_OPTION is not None:
        _set(sock, socket.IPPROTO_TCP, _IDLE_OPTION, max(1, int(keepalive.idle)), "keep-alive idle")
    if _INTERVAL_OPTION is not None:
        interval = max(1, int(keepalive.interval))
        _set(sock, socket.IPPROTO_TCP, _INTERVAL_OPTION, interval, "TCP_KEEPINTVL")
    if _COUNT_OPTION is not None:
        _set(sock, socket.IPPROTO_TCP, _COUNT_OPTION, keepalive.count, "TCP_KEEPCNT")


def _set(sock: socket.socket, level: int, option: int, value: int, label: str) -> None:
    try:
        sock.setsockopt(level, option, value)
    except OSError as exc:
        logger.debug("%s not applied: %s", label, exc)
