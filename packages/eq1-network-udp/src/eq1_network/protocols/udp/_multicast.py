"""Multicast socket options: joining and leaving groups, TTL/hop limit and loopback.

IPv4 groups are joined with ``IP_ADD_MEMBERSHIP`` on the interface that has the given
local address (``0.0.0.0``: the system's choice); IPv6 groups with
``IPV6_JOIN_GROUP`` on the interface of the given name or index (``0``: the
system's choice).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from typing import TYPE_CHECKING

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolConnectionError

__all__ = [
    "GroupMembership",
    "check_ttl",
    "join",
    "leave",
    "own_groups_only",
    "set_sending_options",
]

_ANY_IPV4 = "0.0.0.0"  # noqa: S104 - INADDR_ANY as a membership's interface: the system picks


def _group(group: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        address = ipaddress.ip_address(group.strip("[]"))
    except ValueError:
        raise ProtocolConfigurationError(
            f"group must be a multicast IP address such as '239.1.2.3' or 'ff15::1', got {group!r}"
        ) from None
    if not address.is_multicast:
        raise ProtocolConfigurationError(
            f"group {group!r} is not a multicast address (224.0.0.0/4 or ff00::/8)"
        )
    return address


def _ipv6_index(interface: str | int | None) -> int:
    if interface is None or interface == "":
        return 0
    if isinstance(interface, int):
        return interface
    if interface.isdigit():
        return int(interface)
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise ProtocolConfigurationError(
            f"interface {interface!r} is not a network interface of this machine "
            f"(known: {[name for _, name in socket.if_nameindex()]})"
        ) from None


def _membership(group: str, interface: str | int | None) -> tuple[int, int, bytes]:
    """Return ``(level, family, request)`` of a membership change."""
    address = _group(group)
    if address.version == 4:
        local = _ANY_IPV4 if interface in (None, "") else str(interface)
        try:
            request = address.packed + socket.inet_aton(local)
        except OSError:
            raise ProtocolConfigurationError(
                f"interface must be the IPv4 address of a local interface for an IPv4 "
                f"group, got {interface!r}"
            ) from None
        return socket.IPPROTO_IP, socket.AF_INET, request
    request = address.packed + struct.pack("@I", _ipv6_index(interface))
    return socket.IPPROTO_IPV6, socket.AF_INET6, request


def join(sock: socket.socket, group: str, interface: str | int | None, where: str) -> None:
    """Join a multicast group on one interface.

    Raises:
        ProtocolConfigurationError: If the group or interface is invalid, or the group's
            family differs from the socket's.
        ProtocolConnectionError: If the system refuses (no multicast route, say).
    """
    _change(sock, group, interface, where, join=True)


def leave(sock: socket.socket, group: str, interface: str | int | None, where: str) -> None:
    """Leave a multicast group joined with :func:`join`.

    Raises:
        ProtocolConfigurationError: If the group or interface is invalid.
        ProtocolConnectionError: If the group was not joined on that interface.
    """
    _change(sock, group, interface, where, join=False)


def _change(
    sock: socket.socket, group: str, interface: str | int | None, where: str, *, join: bool
) -> None:
    level, family, request = _membership(group, interface)
    if family != sock.family:
        raise ProtocolConfigurationError(
            f"{where}: group {group!r} is {'IPv6' if family == socket.AF_INET6 else 'IPv4'} "
            "but the socket is not; bind the server to an address of the group's family "
            "('0.0.0.0' or '::')"
        )
    if family == socket.AF_INET:
        option = socket.IP_ADD_MEMBERSHIP if join else socket.IP_DROP_MEMBERSHIP
    else:
        option = socket.IPV6_JOIN_GROUP if join else socket.IPV6_LEAVE_GROUP
    try:
        sock.setsockopt(level, option, request)
    except OSError as exc:
        verb = "join" if join else "leave"
        raise ProtocolConnectionError(
            f"{where}: cannot {verb} multicast group {group} on interface "
            f"{interface or 'default'}: {exc}"
        ) from exc


_MULTICAST_ALL = {
    socket.AF_INET: (socket.IPPROTO_IP, 49),
    socket.AF_INET6: (socket.IPPROTO_IPV6, 29),
}
"""``IP_MULTICAST_ALL`` and ``IPV6_MULTICAST_ALL`` (Linux; not in the socket module)."""


def own_groups_only(sock: socket.socket) -> None:
    """Receive only the groups this socket joined (Linux; elsewhere this is the rule).

    By default Linux delivers to a socket bound to the any-address the datagrams of
    every group any socket of the host joined on its port.
    """
    if not sys.platform.startswith("linux"):
        return
    level, option = _MULTICAST_ALL.get(sock.family, (None, 0))
    if level is None:
        return
    try:
        sock.setsockopt(level, option, 0)
    except OSError:  # kernels before 4.20 lack the IPv6 option
        pass


def check_ttl(value: object) -> int | None:
    """Check a multicast TTL (IPv4) or hop limit (IPv6): ``None`` or 0-255.

    Raises:
        ProtocolConfigurationError: If out of range.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise ProtocolConfigurationError(f"multicast_ttl must be an int in 0-255, got {value!r}")
    return value


def set_sending_options(
    sock: socket.socket,
    *,
    ttl: int | None,
    loop: bool | None,
    interface: str | int | None,
) -> None:
    """Set the outgoing multicast TTL, loopback and interface of a socket (``None``: leave).

    Raises:
        ProtocolConfigurationError: If the interface is invalid.
        OSError: If the system refuses an option.
    """
    if sock.family == socket.AF_INET6:
        if ttl is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        if loop is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, int(loop))
        if interface not in (None, ""):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, _ipv6_index(interface))
        return
    if ttl is not None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    if loop is not None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(loop))
    if interface not in (None, ""):
        try:
            packed = socket.inet_aton(str(interface))
        except OSError:
            raise ProtocolConfigurationError(
                f"multicast_interface must be the IPv4 address of a local interface, "
                f"got {interface!r}"
            ) from None
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, packed)


class GroupMembership:
    """``join_group`` and ``leave_group`` of a protocol that binds a UDP socket.

    Attributes:
        interface: The default interface of the groups joined (``None``: the system's
            choice).
    """

    interface: str | int | None

    if TYPE_CHECKING:

        @property
        def where(self) -> str:
            """Where the socket is bound, for messages."""

        def _bound(self, operation: str) -> socket.socket:
            """The bound socket; raises ``ProtocolNotConnectedError`` if there is none."""

    def join_group(self, group: str, interface: str | int | None = None) -> None:
        """Join a multicast group: datagrams sent to it (and this port) are received.

        Args:
            group: The group, e.g. ``"239.1.2.3"`` or ``"ff15::1"``.
            interface: For IPv4 the address of the local interface, for IPv6 its name
                or index; ``None`` for the protocol's ``interface`` (or the system's
                choice).

        Raises:
            ProtocolNotConnectedError: If the socket is not bound.
            ProtocolConfigurationError: If the group or interface is invalid.
            ProtocolConnectionError: If the system refuses (no multicast route, say).
        """
        join(self._bound("join_group()"), group, self._iface(interface), self.where)

    def leave_group(self, group: str, interface: str | int | None = None) -> None:
        """Leave a multicast group joined before.

        Args:
            group: The group.
            interface: As given to :meth:`join_group`.

        Raises:
            ProtocolNotConnectedError: If the socket is not bound.
            ProtocolConnectionError: If the group was not joined there.
        """
        leave(self._bound("leave_group()"), group, self._iface(interface), self.where)

    def _iface(self, interface: str | int | None) -> str | int | None:
        return self.interface if interface is None else interface
