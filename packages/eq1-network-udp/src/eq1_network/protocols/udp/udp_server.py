"""``udp-server``: :class:`UDPServer`, a request/response protocol on one bound datagram socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
    ProtocolTypeError,
)
from eq1_network.common.logging import get_logger
from eq1_network.common.policies import OverflowPolicy
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.udp import _multicast
from eq1_network.protocols.udp._inbox import Datagram, Inbox, Peer, as_peer
from eq1_network.protocols.udp._options import (
    MAX_DATAGRAM_IPV4,
    check_address,
    check_buffer,
    check_max_datagram,
    check_size,
    check_timeout,
    family_limit,
    resolve,
    set_buffers,
)
from eq1_network.protocols.udp._receiver import POLL_MS, start_receiver

__all__ = ["UDPServer"]

logger = get_logger(__name__)

_IDLE_WAIT = 0.1


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProtocolConfigurationError(f"{name} must be a positive int, got {value!r}")
    return value


class UDPServer(_multicast.GroupMembership, ReqResProtocol):
    """A UDP server implementing :class:`~eq1_network.interfaces.ReqResProtocol`.

    ``connect()`` binds the socket (and joins ``groups``) and starts one receive thread
    that moves datagrams into a bounded queue. ``read()`` returns the next datagram,
    whole, and remembers its sender; ``send()`` replies to the sender of the datagram
    read last (the convention of ``TCPServer``). The per-peer methods
    (:meth:`receive`, :meth:`send_to`, :meth:`peers`) make it a
    :class:`~eq1_network.interfaces.protocol.MultiPeerProtocol`, so a
    :class:`~eq1_network.NetworkHandler` keeps one stream state per sender and replies
    to the sender that asked.

    Receive queue: at most ``queue_size`` datagrams wait. When it is full, ``overflow``
    decides: ``OverflowPolicy.REJECT`` (the default) drops the arriving datagram,
    ``OverflowPolicy.DROP_OLDEST`` the oldest waiting one; :attr:`dropped` counts
    both. Before that queue, the kernel's socket buffer (``receive_buffer``,
    ``SO_RCVBUF``) drops datagrams that arrive while it is full; raise it for bursts.

    Multicast: the server receives the groups it joined (``groups``,
    :meth:`join_group`) and no others, also on Linux, where a socket bound to the
    any-address would otherwise get every group joined on the host.

    Peers: UDP has no connections. :meth:`peers` lists the senders heard most
    recently (at most ``max_peers``); :meth:`disconnect_peer` forgets one (its next
    datagram makes it known again). :meth:`send_to` may address any host and port.

    Args:
        host: Address to bind (``"0.0.0.0"`` or ``"::"`` for any; a multicast
            receiver binds one of these).
        port: Port to bind (0: any free port; see :attr:`address`).
        timeout: Seconds ``ReqResManager.read`` waits; ``None`` lets the caller decide.
        max_datagram: Largest datagram sent; ``None`` for the address family's limit.
        queue_size: Most datagrams waiting to be read.
        overflow: ``OverflowPolicy.REJECT`` or ``OverflowPolicy.DROP_OLDEST``.
        max_peers: Most senders remembered by :meth:`peers`.
        receive_buffer: ``SO_RCVBUF`` in bytes (``None``: system default).
        send_buffer: ``SO_SNDBUF`` in bytes (``None``: system default).
        broadcast: Allow sending to broadcast addresses (``SO_BROADCAST``).
        reuse_address: Set ``SO_REUSEADDR`` (several multicast receivers on one port).
        groups: Multicast groups to join at ``connect()``.
        interface: Interface of those groups: an IPv4 address, or an IPv6 interface
            name or index (``None``: the system's choice).
        multicast_ttl: TTL (IPv4) or hop limit (IPv6) of multicast datagrams sent.
        multicast_loop: Whether multicast datagrams sent reach sockets of this host.
        multicast_interface: Interface multicast datagrams sent leave by.

    Raises:
        ProtocolConfigurationError: If an argument has an invalid value.
        ProtocolTypeError: If an argument has the wrong type.
    """

    protocol_name = "udp-server"

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
        self,
        host: str,
        port: int,
        timeout: float | None = 1.0,
        *,
        max_datagram: int | None = None,
        queue_size: int = 10_000,
        overflow: OverflowPolicy = OverflowPolicy.REJECT,
        max_peers: int = 4096,
        receive_buffer: int | None = None,
        send_buffer: int | None = None,
        broadcast: bool = False,
        reuse_address: bool = False,
        groups: Sequence[str] = (),
        interface: str | None = None,
        multicast_ttl: int | None = None,
        multicast_loop: bool | None = None,
        multicast_interface: str | None = None,
    ) -> None:
        self.host, self.port = check_address(host, port, allow_zero_port=True)
        self.timeout = check_timeout("timeout", timeout)
        self.max_datagram = check_max_datagram(max_datagram)
        self.max_message_size: int | None = self.max_datagram or MAX_DATAGRAM_IPV4
        self.queue_size = _positive("queue_size", queue_size)
        policy = OverflowPolicy.coerce("overflow", overflow)
        if policy is OverflowPolicy.BLOCK:
            raise ProtocolConfigurationError(
                "overflow must be OverflowPolicy.REJECT or OverflowPolicy.DROP_OLDEST: a UDP "
                "sender cannot be made to wait (a full kernel buffer drops datagrams anyway)"
            )
        self.overflow = policy
        self.max_peers = _positive("max_peers", max_peers)
        self.receive_buffer = check_buffer("receive_buffer", receive_buffer)
        self.send_buffer = check_buffer("send_buffer", send_buffer)
        self.broadcast = bool(broadcast)
        self.reuse_address = bool(reuse_address)
        if isinstance(groups, str):
            raise ProtocolTypeError("groups must be a sequence of addresses, not one string")
        self.groups = tuple(groups)
        self.interface = interface
        self.multicast_ttl = _multicast.check_ttl(multicast_ttl)
        self.multicast_loop = multicast_loop
        self.multicast_interface = multicast_interface
        self._inbox = Inbox(self.queue_size, policy, self.max_peers)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._limit = self.max_message_size or MAX_DATAGRAM_IPV4
        self._last_peer: Peer | None = None
        self.address: tuple[str, int] | None = None
        """``(host, port)`` bound, once connected (the real port when ``port`` was 0)."""

    def __repr__(self) -> str:
        return f"UDPServer({self.host!r}, {self.port}, listening={self._sock is not None})"

    @property
    def where(self) -> str:
        """``udp-listen://host:port`` as used in messages (the bound port once known)."""
        port = self.address[1] if self.address is not None else self.port
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"udp-listen://{host}:{port}"

    @property
    def dropped(self) -> int:
        """Datagrams dropped because the receive queue was full (see the overflow policy)."""
        return self._inbox.dropped

    @property
    def received(self) -> int:
        """Datagrams taken from the socket since the server was created (dropped included)."""
        return self._inbox.received

    @property
    def queued(self) -> int:
        """Datagrams waiting to be read."""
        return len(self._inbox)

    # -- life cycle -----------------------------------------------------------------

    def connect(self) -> bool:
        """Bind the socket, join the groups and start the receive thread.

        Returns:
            ``True`` (also when already listening).

        Raises:
            ProtocolConnectionError: If the address cannot be bound (in use, say) or a
                group cannot be joined; the message names the endpoint.
        """
        with self._lock:
            if self._sock is not None:
                return True
            family, address = resolve(self.host, self.port, self.where, passive=True)
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                self._configure(sock)
                sock.bind(address)
                for group in self.groups:
                    _multicast.join(sock, group, self.interface, self.where)
            except (OSError, ProtocolError) as exc:
                sock.close()
                if isinstance(exc, ProtocolError):
                    raise
                raise ProtocolConnectionError(f"{self.where}: cannot bind: {exc}") from exc
            name = sock.getsockname()
            self.address = (str(name[0]), int(name[1]))
            self._limit = family_limit(family, self.max_datagram)
            self.max_message_size = self._limit
            self._closing.clear()
            self._sock = sock
            self._thread = start_receiver(
                sock, self._inbox, self._closing, self.where, f"eq1-udp-server-{self.address[1]}"
            )
        logger.info("%s listening", self.where)
        return True

    def _configure(self, sock: socket.socket) -> None:
        set_buffers(sock, self.receive_buffer, self.send_buffer)
        if self.reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        _multicast.own_groups_only(sock)
        _multicast.set_sending_options(
            sock,
            ttl=self.multicast_ttl,
            loop=self.multicast_loop,
            interface=self.multicast_interface,
        )

    def disconnect(self) -> None:
        """Stop the receive thread and close the socket; waiting datagrams are dropped."""
        with self._lock:
            sock, self._sock = self._sock, None
            thread, self._thread = self._thread, None
        if sock is None:
            return
        self._closing.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(2 * POLL_MS / 1000 + 1.0)
        sock.close()
        self._inbox.clear()
        self._inbox.wake()
        self._last_peer = None
        logger.info("%s closed", self.where)

    def is_connected(self) -> bool:
        """Tell whether the server is bound and receiving.

        Returns:
            ``True`` between ``connect()`` and ``disconnect()``.
        """
        return self._sock is not None

    def _link_ready(self) -> bool:
        return self._sock is not None

    def _not_connected_error(self, operation: str) -> ProtocolError:
        return ProtocolNotConnectedError(
            f"{operation} on {self.where}: the server is not bound; call connect() first"
        )

    def _link_error(self, operation: str, exc: OSError) -> ProtocolError:
        return ProtocolConnectionError(f"{operation} on {self.where}: {exc}")

    # -- request/response view -----------------------------------------------------

    def _read_raw(self) -> bytes | None:
        """Take the next non-empty datagram; its sender becomes the target of ``send``."""
        inbox = self._inbox
        while True:
            item = inbox.pop()
            if item is None:
                return None
            self._last_peer = item.peer
            if item.data:
                return item.data

    def _send_raw(self, data: bytes) -> int:
        """Reply to the sender of the datagram ``read`` (or :meth:`receive`) returned last."""
        peer = self._last_peer
        if peer is None:
            raise ProtocolConnectionError(
                f"send() on {self.where}: no sender to reply to, because read() has not "
                "returned a datagram yet; use send_to(peer, data) to address a peer"
            )
        return self._send_to(peer, data, "send()")

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        return self._inbox.wait(_IDLE_WAIT if timeout is None else max(timeout, 0.0))

    def _send_to(self, peer: Peer, data: bytes, operation: str) -> int:
        check_size(len(data), self._limit, self.where)
        sock = self._sock
        if sock is None:
            raise self._not_connected_error(operation)
        try:
            return sock.sendto(data, (peer.host, peer.port))
        except OSError as exc:
            raise ProtocolConnectionError(
                f"{operation} to {peer} from {self.where}: {exc}"
            ) from exc

    # -- per-peer API ----------------------------------------------------------------

    def peers(self) -> list[Peer]:
        """List the senders heard most recently (at most ``max_peers``).

        Returns:
            The peers, least recently heard first; empty when not bound.
        """
        return self._inbox.peers() if self._sock is not None else []

    def receive(self, timeout: float | None = 0.0) -> Datagram | None:
        """Return the next datagram with its sender (empty datagrams included).

        The sender becomes the target of :meth:`send`.

        Args:
            timeout: Seconds to wait; ``0`` (the default) does not wait, ``None``
                waits until a datagram arrives or the server closes.

        Returns:
            ``Datagram(peer, data)``, or ``None`` if nothing arrived in time.

        Raises:
            ProtocolConfigurationError: If ``timeout`` is negative.
        """
        limit = check_timeout("timeout", timeout)
        item = self._inbox.take(limit, self.is_connected)
        if item is not None:
            self._last_peer = item.peer
        return item

    def send_to(self, peer: Peer | tuple[str, int], data: bytes) -> int:
        """Send one datagram to any address.

        Args:
            peer: A :class:`Peer` (from :meth:`receive`) or a ``(host, port)`` tuple.
            data: The datagram.

        Returns:
            ``len(data)``.

        Raises:
            ProtocolTypeError: If ``peer`` or ``data`` has the wrong type.
            PayloadTooLargeError: If ``data`` exceeds :attr:`max_message_size`.
            ProtocolNotConnectedError: If the server is not bound.
            ProtocolConnectionError: If the system refused to send.
        """
        peer = as_peer(peer)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProtocolTypeError(f"data must be bytes-like, got {type(data).__name__}")
        return self._send_to(peer, bytes(data), "send_to()")

    def disconnect_peer(self, peer: Peer) -> bool:
        """Forget a sender (UDP has no connection to close); its next datagram makes it known.

        Args:
            peer: The peer.

        Returns:
            ``True`` if it was remembered.
        """
        if self._last_peer == peer:
            self._last_peer = None
        return self._inbox.forget(peer)

    def _bound(self, operation: str) -> socket.socket:
        sock = self._sock
        if sock is None:
            raise self._not_connected_error(operation)
        return sock
