"""``udp``: :class:`UDPClient`, a request/response protocol over one connected datagram socket."""

from __future__ import annotations

import select
import socket
import threading
import time

from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.udp import _multicast
from eq1_network.protocols.udp._options import (
    HAS_RCVTIMEO,
    MAX_DATAGRAM_IPV4,
    RECV_SIZE,
    check_address,
    check_buffer,
    check_max_datagram,
    check_size,
    check_timeout,
    family_limit,
    resolve,
    set_buffers,
    set_receive_timeout,
)

__all__ = ["UDPClient"]

logger = get_logger(__name__)

_IDLE_WAIT = 0.1
"""Seconds ``wait_readable(None)`` waits: the "short default slice" of the interface."""
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class UDPClient(ReqResProtocol):
    """A UDP client implementing :class:`~eq1_network.interfaces.ReqResProtocol`.

    ``connect()`` creates a datagram socket connected to ``host:port`` (no packet is
    sent: UDP has no handshake); only datagrams from that address are received.
    ``send(data)`` sends exactly one datagram and returns its size; ``read()`` returns
    exactly one whole datagram, never a part of one and never two joined. Every method
    is thread-safe; concurrent ``send()`` calls never mix their datagrams.

    What UDP does not promise: a datagram may be lost, duplicated or reordered, and
    nothing tells the sender. Use :class:`~eq1_network.NetworkHandler` in acknowledged
    mode, or an application protocol with retries, when that matters.

    Errors:

    * A datagram larger than :attr:`max_message_size` (65,507 bytes on IPv4, 65,527 on
      IPv6, or ``max_datagram`` when lower) raises
      :class:`~eq1_network.common.exceptions.PayloadTooLargeError` (a
      ``PacketSizeError``) before anything is sent.
    * When the host answers a datagram with ICMP port-unreachable (nothing listens on
      that port), the next ``send()``, ``read()`` or ``read_within()`` raises
      :class:`~eq1_network.common.exceptions.ProtocolConnectionError` saying so. The
      socket stays open: the call after that works normally.

    Empty datagrams: ``read()`` and ``read_within()`` return data only, so they pass
    over an empty datagram; :meth:`read_datagram` returns it as ``b""``.

    Args:
        host: Server host name or IP address (IPv6 in brackets or bare).
        port: Server port, 1-65535.
        timeout: Seconds ``ReqResManager.read`` waits for a reply; ``None`` lets the
            caller decide (1 s).
        max_datagram: Largest datagram sent, in bytes; ``None`` for the address
            family's maximum. Set the path's real limit (1472 on a 1500-byte Ethernet
            MTU) to avoid IP fragmentation.
        broadcast: Allow sending to a broadcast address (``SO_BROADCAST``).
        local_host: Local address to bind before connecting; ``None`` lets the
            system choose.
        local_port: Local port to bind (0: any free port).
        receive_buffer: ``SO_RCVBUF`` in bytes (``None``: system default); the kernel
            drops datagrams that arrive while it is full.
        send_buffer: ``SO_SNDBUF`` in bytes (``None``: system default).
        multicast_ttl: TTL (IPv4) or hop limit (IPv6) of multicast datagrams sent.
        multicast_loop: Whether multicast datagrams sent are also delivered to
            sockets of this host (``None``: system default, on).
        multicast_interface: Interface that multicast datagrams leave by: its IPv4
            address, or for IPv6 its name or index.

    Raises:
        ProtocolConfigurationError: If an argument has an invalid value.
        ProtocolTypeError: If an argument has the wrong type.
    """

    protocol_name = "udp"

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
        self,
        host: str,
        port: int,
        timeout: float | None = 1.0,
        *,
        max_datagram: int | None = None,
        broadcast: bool = False,
        local_host: str | None = None,
        local_port: int = 0,
        receive_buffer: int | None = None,
        send_buffer: int | None = None,
        multicast_ttl: int | None = None,
        multicast_loop: bool | None = None,
        multicast_interface: str | None = None,
    ) -> None:
        self.host, self.port = check_address(host, port, allow_zero_port=False)
        self.timeout = check_timeout("timeout", timeout)
        self.max_datagram = check_max_datagram(max_datagram)
        self.max_message_size: int | None = self.max_datagram or MAX_DATAGRAM_IPV4
        self.broadcast = bool(broadcast)
        if local_host is not None:
            check_address(local_host, local_port, allow_zero_port=True)
        self.local_host = local_host
        self.local_port = local_port
        self.receive_buffer = check_buffer("receive_buffer", receive_buffer)
        self.send_buffer = check_buffer("send_buffer", send_buffer)
        self.multicast_ttl = _multicast.check_ttl(multicast_ttl)
        self.multicast_loop = multicast_loop
        self.multicast_interface = multicast_interface
        self._sock: socket.socket | None = None
        self._limit = self.max_message_size or MAX_DATAGRAM_IPV4
        self._lock = threading.Lock()
        self._rcvtimeo = -1.0

    def __repr__(self) -> str:
        return f"UDPClient({self.host!r}, {self.port}, connected={self._sock is not None})"

    @property
    def where(self) -> str:
        """``udp://host:port`` of the server, as used in messages."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"udp://{host}:{self.port}"

    @property
    def local_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of this end, or ``None`` when not connected."""
        sock = self._sock
        if sock is None:
            return None
        try:
            name = sock.getsockname()
        except OSError:
            return None
        return str(name[0]), int(name[1])

    # -- life cycle -----------------------------------------------------------------

    def connect(self) -> bool:
        """Create the socket and connect it to the server's address.

        Returns:
            ``True`` (also when already connected).

        Raises:
            ProtocolConnectionError: If the name does not resolve or the socket cannot
                be created, bound or connected; the message names the endpoint.
        """
        with self._lock:
            if self._sock is not None:
                return True
            family, address = resolve(self.host, self.port, self.where)
            try:
                sock = socket.socket(family, socket.SOCK_DGRAM)
            except OSError as exc:
                raise ProtocolConnectionError(
                    f"{self.where}: cannot create a socket: {exc}"
                ) from exc
            try:
                self._configure(sock)
                sock.connect(address)
            except (OSError, ProtocolError) as exc:
                sock.close()
                if isinstance(exc, ProtocolError):
                    raise
                raise ProtocolConnectionError(f"{self.where}: cannot connect: {exc}") from exc
            self._limit = family_limit(family, self.max_datagram)
            self.max_message_size = self._limit
            self._rcvtimeo = -1.0
            self._sock = sock
        logger.debug("%r connected", self)
        return True

    def _configure(self, sock: socket.socket) -> None:
        set_buffers(sock, self.receive_buffer, self.send_buffer)
        if self.broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        _multicast.set_sending_options(
            sock,
            ttl=self.multicast_ttl,
            loop=self.multicast_loop,
            interface=self.multicast_interface,
        )
        if self.local_host is not None:
            sock.bind((self.local_host.strip("[]"), self.local_port))

    def disconnect(self) -> None:
        """Close the socket. Calling it when not connected does nothing."""
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in recv
        except OSError:
            pass
        sock.close()
        logger.debug("%r disconnected", self)

    def is_connected(self) -> bool:
        """Tell whether the socket is open.

        Returns:
            ``True`` between ``connect()`` and ``disconnect()``; UDP cannot tell
            whether anyone listens.
        """
        return self._sock is not None

    def _link_ready(self) -> bool:
        return self._sock is not None

    def _link_error(self, operation: str, exc: OSError) -> ProtocolError:
        if isinstance(exc, ConnectionRefusedError):
            return ProtocolConnectionError(
                f"{operation} on {self.where}: port unreachable: the host answered an "
                "earlier datagram with ICMP port-unreachable, so nothing listens on port "
                f"{self.port}; start the server (the socket stays open and the next call "
                "works normally)"
            )
        return ProtocolConnectionError(f"{operation} on {self.where}: {exc}")

    # -- hooks ----------------------------------------------------------------------

    def _send_raw(self, data: bytes) -> int:
        if len(data) > self._limit:
            check_size(len(data), self._limit, self.where)
        sock = self._sock
        if sock is None:
            raise self._not_connected_error("send()")
        return sock.send(data)

    def _recv_now(self) -> bytes | None:
        """One datagram if one is waiting (``b""`` for an empty one), else ``None``."""
        sock = self._sock
        if sock is None:
            return None
        try:
            if _DONTWAIT:
                return sock.recv(RECV_SIZE, _DONTWAIT)
            if not select.select([sock], [], [], 0)[0]:
                return None
            return sock.recv(RECV_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            if self._sock is None:
                return None  # closed by disconnect() meanwhile
            raise

    def _read_raw(self) -> bytes | None:
        while True:
            data = self._recv_now()
            if data is None or data:
                return data
            # an empty datagram: read() returns data only; look for the next one

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        sock = self._sock
        wait = _IDLE_WAIT if timeout is None else max(timeout, 0.0)
        if sock is None:
            time.sleep(min(wait, _IDLE_WAIT))
            return False
        try:
            return bool(select.select([sock], [], [], wait)[0])
        except (OSError, ValueError):
            return False

    def _read_within_raw(self, timeout: float) -> bytes | None:
        data = self._wait_datagram(timeout)  # the same timeout each call: set once
        if data is None or data:
            return data
        deadline = time.monotonic() + timeout  # an empty datagram came: wait on
        while True:
            data = self._wait_datagram(max(deadline - time.monotonic(), 0.0))
            if data:
                return data
            if data is None or time.monotonic() >= deadline:
                return None

    def _wait_datagram(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` for one datagram; ``None`` if none came."""
        sock = self._sock
        if sock is None or timeout <= 0:
            return self._recv_now()
        if not HAS_RCVTIMEO:
            return self._recv_now() if self._wait_readable_raw(timeout) else None
        try:
            if timeout != self._rcvtimeo:
                set_receive_timeout(sock, timeout)
                self._rcvtimeo = timeout
            data = sock.recv(RECV_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            if self._sock is None:
                return None
            raise
        if not data and self._sock is None:
            return None  # woken by disconnect()
        return data

    # -- datagram API -----------------------------------------------------------------

    def read_datagram(self, timeout: float | None = 0.0) -> bytes | None:
        """Return the next datagram, empty ones included.

        Args:
            timeout: Seconds to wait; ``0`` does not wait, ``None`` applies
                :attr:`timeout` (1 s when that is ``None`` too).

        Returns:
            The datagram (``b""`` for an empty one), or ``None`` if none arrived.

        Raises:
            ProtocolConnectionError: If the host reported the port unreachable, or the
                socket failed.
        """
        wait = (
            timeout if timeout is not None else (self.timeout if self.timeout is not None else 1.0)
        )
        try:
            return self._wait_datagram(wait)
        except OSError as exc:
            raise self._link_error("read_datagram()", exc) from exc
