"""``tcp-server``: :class:`TCPServer`, a request/response protocol serving many TCP clients.

The class is assembled from parts, one concern each: :mod:`._server_base` (listening
and the I/O loop), :mod:`._server_sessions` (clients and what they sent),
:mod:`._server_send` (replies, ``send_to``, ``broadcast``, callback mode) and, below
them, :mod:`._server_loop` (the selector loop). The JSON methods are here.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import ProtocolTypeError
from eq1_network.protocols.ethernet._config import (
    DEFAULT_MAX_BUFFER,
    KeepAlive,
    as_keepalive,
    check_address,
    check_positive_int,
    check_timeout,
    pick_timeout,
)
from eq1_network.protocols.ethernet._inbox import Inbox
from eq1_network.protocols.ethernet._peer import Peer
from eq1_network.protocols.ethernet._server_send import ServerSend
from eq1_network.protocols.ethernet._server_sessions import FOREVER_SLICE, ServerSessions
from eq1_network.protocols.ethernet._tls import TLSOption, server_context

if TYPE_CHECKING:
    from eq1_network.protocols.ethernet._json import (
        JsonMessage,
        JsonStructure,
        JsonValue,
        PeerJsonDecoders,
    )
    from eq1_network.protocols.ethernet._server_loop import PeerCallback
    from eq1_network.urls import ParsedURL

__all__ = ["DataCallback", "TCPServer"]

DataCallback = Callable[[Peer, bytes], bytes | bytearray | memoryview | None]
"""Signature of ``on_data``: ``callback(peer, data)``, returning a reply or ``None``."""


class TCPServer(ServerSessions, ServerSend):
    """A TCP server implementing :class:`~eq1_network.interfaces.ReqResProtocol`.

    ``connect()`` binds and listens; one I/O thread (a selector loop: ``epoll`` on
    Linux, :mod:`selectors` elsewhere) then accepts and reads every client, so
    thousands of idle clients cost little memory and no threads. Every method is thread-safe.

    **The request/response view.** ``read()`` returns the next chunk of bytes from
    whichever client sent it (chunks of different clients are never mixed), and
    ``send(data)`` replies to *the client whose data was returned last* by
    ``read()`` or :meth:`receive`. This suits one thread that reads a request and
    answers it. When several threads serve requests, or replies go to other
    clients, use the per-client API instead.

    **The per-client API.** :meth:`peers` lists the connected clients,
    :meth:`receive` returns the next :class:`PeerMessage` ``(peer, data)``,
    :meth:`send_to` writes to one client, :meth:`broadcast` to all of them, and
    :meth:`disconnect_peer` closes one. ``on_connect(peer)`` and
    ``on_disconnect(peer)`` are called when a client arrives (after its TLS
    handshake) or leaves, by the thread that noticed it: the I/O thread, or a
    thread waiting in ``wait_readable()``/``receive()``. Keep them short, they delay
    I/O; they may call any method of the server.

    **Callback mode.** With ``on_data``, every chunk received goes to
    ``on_data(peer, data)`` instead of being queued, on the thread that runs the
    loop (the I/O thread, unless threads wait in ``wait_readable()``). If the callback
    returns bytes, they are sent back to that client before the loop reads on. This is
    the shortest path from request to reply; ``read()``, ``receive()`` and the JSON
    methods then find nothing. A callback that raises is logged and the server goes on;
    a client that does not accept a reply within ``write_timeout`` is dropped.
    Reading from a client waits while its callback runs, so TCP flow control slows
    down clients that send faster than the callback handles.

    **Threads.** One selector loop serves every socket. It runs on the server's
    I/O thread, except while application threads wait for data: a thread blocked
    in ``wait_readable()`` or ``receive()`` runs the loop itself, so a request is
    read and answered on the same thread with no hand-off between threads (the
    leader/followers pattern). The I/O thread resumes as soon as no thread has
    waited for 20 ms, so clients are served even when nobody reads.

    A client that disappears is dropped without disturbing the others; bytes it sent
    before leaving can still be read. Each client may hold ``max_buffer`` unread
    bytes; beyond that the server stops reading from it until the application
    catches up, and TCP flow control slows that client down. Sends are made by the
    calling thread; a client that accepts no data for ``write_timeout`` seconds
    makes ``send_to`` raise (and is dropped if a message was cut short).
    ``disconnect()`` closes every client and drops unread data.

    Args:
        host: Address to listen on, e.g. ``"127.0.0.1"`` or ``"0.0.0.0"``. A name
            that resolves to both IPv4 and IPv6 listens on the IPv4 address.
        port: Port to listen on; ``0`` lets the system choose at the first
            ``connect()``, and :attr:`port` then keeps the chosen port, so a
            restarted server listens where its clients expect it.
        timeout: How long ``ReqResManager.read`` waits for data, and the default
            ``write_timeout``; ``None`` leaves ``write_timeout`` at 30 s.
        write_timeout: Deadline of one send to one client, waiting included.
        handshake_timeout: Seconds a TLS client has to complete its handshake (10 s
            by default); slower clients are dropped.
        tls: ``None`` for plain TCP, a server ``ssl.SSLContext``, or a
            :class:`eq1_network.TLSConfig` with ``certfile``/``keyfile`` (and ``cafile`` to
            require client certificates).
        nodelay: Set ``TCP_NODELAY`` on client sockets.
        keepalive: Keep-alive settings of client sockets; ``True``/``False`` for
            default or off.
        backlog: Listen queue length.
        max_clients: Most simultaneous clients (more are closed at once); ``None``
            for no limit.
        max_buffer: Unread bytes held per client before reading from it pauses.
        on_connect: ``callback(peer)`` for each client that connected.
        on_disconnect: ``callback(peer)`` for each client that left or was dropped.
        on_data: ``callback(peer, data)`` for each chunk received, returning the
            reply (bytes-like) or ``None``; see "Callback mode".
        json_structure: Framing of the JSON methods: ``NetworkPacketStructure``
            (1 MiB limit) when ``None``, or an instance such as
            ``NetworkPacketStructure(max_payload=...)``.

    Raises:
        ProtocolConfigurationError: If an argument has an invalid value.
        ProtocolTypeError: If an argument has the wrong type.
    """

    protocol_name = "tcp-server"

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
        self,
        host: str,
        port: int,
        timeout: float | None = 1.0,
        *,
        write_timeout: float | None = None,
        handshake_timeout: float | None = None,
        tls: TLSOption = None,
        nodelay: bool = True,
        keepalive: KeepAlive | bool = True,
        backlog: int = socket.SOMAXCONN,
        max_clients: int | None = None,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        on_connect: PeerCallback | None = None,
        on_disconnect: PeerCallback | None = None,
        on_data: DataCallback | None = None,
        json_structure: JsonStructure | None = None,
    ) -> None:
        self.host, self.port = check_address(host, port, allow_zero_port=True)
        self.timeout = check_timeout("timeout", timeout)
        self.write_timeout = pick_timeout(
            check_timeout("write_timeout", write_timeout), self.timeout
        )
        self.handshake_timeout = pick_timeout(
            check_timeout("handshake_timeout", handshake_timeout), 10.0
        )
        self._context = server_context(tls)
        self.nodelay = bool(nodelay)
        self.keepalive = as_keepalive(keepalive)
        self.backlog = check_positive_int("backlog", backlog)
        self.max_clients = (
            None if max_clients is None else check_positive_int("max_clients", max_clients)
        )
        self.max_buffer = check_positive_int("max_buffer", max_buffer)
        callbacks = (
            ("on_connect", on_connect),
            ("on_disconnect", on_disconnect),
            ("on_data", on_data),
        )
        for name, callback in callbacks:
            if callback is not None and not callable(callback):
                raise ProtocolTypeError(f"{name} must be callable, got {type(callback).__name__}")
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.on_data = on_data
        self._lock = threading.Lock()
        self._inbox = Inbox(self.max_buffer)
        self._loop = None
        self._last_conn = None
        self._ids = itertools.count(1)
        self.json_structure = json_structure
        self._json = None

    @classmethod
    def url_kwargs(cls, url: ParsedURL) -> dict[str, Any]:
        """Map a ``tcp-listen://host:port`` URL to constructor arguments (see ``docs/urls.md``).

        TLS is on for ``tls=true``. ``cafile``, ``certfile``, ``keyfile`` and
        the other fields of the TLS settings are query parameters (giving one turns
        TLS on).

        Args:
            url: The parsed URL.

        Returns:
            The keyword arguments.

        Raises:
            ProtocolConfigurationError: If a part is missing or a parameter is unknown
                or ill-typed.
        """
        from eq1_network.protocols.ethernet._url import tcp_url_kwargs

        return tcp_url_kwargs(cls, url)

    def __repr__(self) -> str:
        return (
            f"TCPServer({self.host!r}, {self.port}, tls={self._context is not None}, "
            f"listening={self.is_connected()})"
        )

    # -- JSON messages ---------------------------------------------------------------

    def receive_json(self, timeout: float | None = 0.0) -> JsonMessage | None:
        """Return the next JSON message from any client, with its sender.

        Messages are compact UTF-8 JSON objects or arrays, one per
        ``NetworkPacketStructure`` frame, decoded separately for each client. The
        sender becomes the target of :meth:`send` and :meth:`send_json`. Use either
        the JSON methods or the byte methods on one server, not both.

        Args:
            timeout: Seconds to wait; ``0`` (the default) does not wait, ``None``
                waits without limit.

        Returns:
            ``JsonMessage(peer, value)``, or ``None`` if no whole message arrived in time.

        Raises:
            MalformedPacketError: If a client's frame is not a JSON object or array
                (that frame is consumed and the client stays connected), or a client
                left inside a frame, or sent a corrupt frame header (that client is
                disconnected, because its message boundaries are lost). The message
                names the client.
            PacketSizeError: If a client announced a frame larger than ``max_payload``;
                that client is disconnected.
            ProtocolConfigurationError: If ``timeout`` is negative.
        """
        from eq1_network.protocols.ethernet._json import JsonMessage

        decoders = self._json_decoders()
        limit = check_timeout("timeout", timeout)
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            ready = decoders.pop()
            if ready is not None:
                conn, value = ready
                self._last_conn = conn
                return JsonMessage(conn.peer, value)
            item = self._inbox.pop()
            if item is not None:
                sender = self._accept_item(*item).peer
                if not decoders.feed(item[0], item[1]):
                    self.disconnect_peer(sender)
                continue
            if decoders.settle():
                continue
            remaining = FOREVER_SLICE if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._wait(remaining)

    def send_json(self, value: JsonValue) -> int:
        """Reply with a JSON message to the client read last (see :meth:`send`).

        Args:
            value: A ``dict`` or ``list``.

        Returns:
            The number of bytes sent (frame header included).

        Raises:
            ProtocolTypeError: If ``value`` is not a dict or list, or holds an object
                JSON cannot represent.
            ProtocolValidationError: If it holds ``NaN``, an infinity or a cycle.
            PacketSizeError: If it is larger than the structure's ``max_payload``.
            ProtocolConnectionError: As for :meth:`send`.
        """
        from eq1_network.protocols.ethernet._json import encode_frame

        return self.send(encode_frame(value, self._framing()))

    def send_json_to(self, peer: Peer | int, value: JsonValue) -> int:
        """Send a JSON message to one client (see :meth:`send_to`).

        Args:
            peer: The client, or its :attr:`Peer.id`.
            value: A ``dict`` or ``list``.

        Returns:
            The number of bytes sent (frame header included).

        Raises:
            ProtocolTypeError: If ``value`` is not a dict or list, or holds an object
                JSON cannot represent.
            ProtocolValidationError: If it holds ``NaN``, an infinity or a cycle.
            PacketSizeError: If it is larger than the structure's ``max_payload``.
            ProtocolConnectionError: As for :meth:`send_to`.
        """
        from eq1_network.protocols.ethernet._json import encode_frame

        return self.send_to(peer, encode_frame(value, self._framing()))

    # -- internals -------------------------------------------------------------------

    def _framing(self) -> JsonStructure:
        if self.json_structure is not None:
            return self.json_structure
        from eq1_network.packets import NetworkPacketStructure

        return NetworkPacketStructure

    def _json_decoders(self) -> PeerJsonDecoders:
        with self._lock:
            if self._json is None:
                from eq1_network.protocols.ethernet._json import PeerJsonDecoders

                self._json = PeerJsonDecoders(self._framing())
            return self._json
