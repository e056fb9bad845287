"""Argument checks, size limits and socket options shared by the UDP protocols."""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from typing import Final

from eq1_network.common.exceptions import (
    PayloadTooLargeError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolTypeError,
)

__all__ = [
    "MAX_DATAGRAM_IPV4",
    "MAX_DATAGRAM_IPV6",
    "check_address",
    "check_buffer",
    "check_max_datagram",
    "check_size",
    "check_timeout",
    "family_limit",
    "resolve",
    "set_buffers",
    "set_receive_timeout",
]

MAX_DATAGRAM_IPV4: Final = 65_507
"""Largest UDP payload over IPv4: 65,535 minus the 20-byte IP and 8-byte UDP headers."""

MAX_DATAGRAM_IPV6: Final = 65_527
"""Largest UDP payload over IPv6 without jumbograms: 65,535 minus the 8-byte UDP header."""

RECV_SIZE: Final = 65_536
"""Receive buffer of one ``recv``: larger than any datagram, so none is truncated."""

_TIMEVAL: Final = struct.Struct("@ll")
HAS_RCVTIMEO: Final = sys.platform.startswith("linux")
"""Whether waiting reads wait inside ``recv`` (``SO_RCVTIMEO``) instead of ``poll`` + ``recv``."""


def check_address(host: object, port: object, *, allow_zero_port: bool) -> tuple[str, int]:
    """Check a host and port.

    Args:
        host: Host name or IP address.
        port: Port number.
        allow_zero_port: Whether 0 (any free port) is accepted.

    Returns:
        ``(host, port)``.

    Raises:
        ProtocolTypeError: If ``host`` is not a string or ``port`` not an int.
        ProtocolConfigurationError: If ``host`` is empty or ``port`` is out of range.
    """
    if not isinstance(host, str):
        raise ProtocolTypeError(f"host must be a str, got {type(host).__name__}")
    if not host:
        raise ProtocolConfigurationError("host must not be empty; use '0.0.0.0' for any address")
    if not isinstance(port, int) or isinstance(port, bool):
        raise ProtocolTypeError(f"port must be an int, got {type(port).__name__}")
    low = 0 if allow_zero_port else 1
    if not low <= port <= 65_535:
        raise ProtocolConfigurationError(f"port must be in {low}-65535, got {port}")
    return host, port


def check_timeout(name: str, value: object) -> float | None:
    """Check an optional timeout in seconds.

    Args:
        name: The parameter name, for messages.
        value: ``None`` or a non-negative number.

    Returns:
        The value as ``float`` (or ``None``).

    Raises:
        ProtocolConfigurationError: If the value is negative or not a number.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ProtocolConfigurationError(
            f"{name} must be a non-negative number of seconds or None, got {value!r}"
        )
    return float(value)


def check_buffer(name: str, value: object) -> int | None:
    """Check an optional socket buffer size (``SO_RCVBUF``/``SO_SNDBUF``).

    Args:
        name: The parameter name, for messages.
        value: ``None`` (the system default) or a positive int.

    Returns:
        The value.

    Raises:
        ProtocolConfigurationError: If the value is not a positive int.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProtocolConfigurationError(
            f"{name} must be a positive number of bytes or None (system default), got {value!r}"
        )
    return value


def check_max_datagram(value: object) -> int | None:
    """Check the configured largest datagram.

    Args:
        value: ``None`` (the address family's limit) or 1..65,527.

    Returns:
        The value.

    Raises:
        ProtocolConfigurationError: If it is out of range.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DATAGRAM_IPV6:
        raise ProtocolConfigurationError(
            f"max_datagram must be an int in 1-{MAX_DATAGRAM_IPV6} or None (the largest the "
            f"address family allows: {MAX_DATAGRAM_IPV4} on IPv4), got {value!r}"
        )
    return value


def family_limit(family: int, configured: int | None) -> int:
    """Return the largest datagram for an address family and an optional lower limit.

    Args:
        family: ``socket.AF_INET`` or ``socket.AF_INET6``.
        configured: The configured limit, or ``None``.

    Returns:
        The limit in bytes.
    """
    limit = MAX_DATAGRAM_IPV6 if family == socket.AF_INET6 else MAX_DATAGRAM_IPV4
    return limit if configured is None else min(limit, configured)


def check_size(size: int, limit: int, where: str) -> None:
    """Reject a datagram larger than ``limit`` before it is sent.

    Raises:
        PayloadTooLargeError: If ``size > limit``.
    """
    if size > limit:
        raise PayloadTooLargeError(
            f"send() on {where}: a datagram of {size} bytes exceeds the limit of {limit} bytes "
            "(max_datagram, or the address family's maximum); split the data or send less"
        )


def is_ipv6_literal(host: str) -> bool:
    """Tell whether ``host`` is an IPv6 address literal."""
    try:
        return ipaddress.ip_address(host.strip("[]")).version == 6
    except ValueError:
        return False


def resolve(
    host: str, port: int, where: str, *, passive: bool = False
) -> tuple[int, tuple[str, int]]:
    """Resolve a host and port to an address family and a socket address.

    Args:
        host: Host name or IP literal (IPv6 in brackets or bare).
        port: Port.
        where: The endpoint as shown in messages.
        passive: Resolve for ``bind`` rather than for sending.

    Returns:
        ``(family, sockaddr)`` of the first result.

    Raises:
        ProtocolConnectionError: If the name does not resolve.
    """
    flags = socket.AI_PASSIVE if passive else 0
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, 0, socket.SOCK_DGRAM, 0, flags)
    except socket.gaierror as exc:
        raise ProtocolConnectionError(f"{where}: cannot resolve {host!r}: {exc}") from exc
    family, _, _, _, sockaddr = infos[0]
    return int(family), (str(sockaddr[0]), int(sockaddr[1]))


def set_buffers(sock: socket.socket, receive: int | None, send: int | None) -> None:
    """Apply ``SO_RCVBUF``/``SO_SNDBUF`` (the kernel may round or cap them)."""
    if receive is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive)
    if send is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send)


def set_receive_timeout(sock: socket.socket, seconds: float) -> None:
    """Set ``SO_RCVTIMEO`` on a blocking socket (Linux); at least 1 µs, since 0 means forever."""
    whole = int(seconds)
    micros = max(int((seconds - whole) * 1_000_000), 0 if whole else 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _TIMEVAL.pack(whole, micros))
