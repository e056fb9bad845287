"""``tcp-server``: :class:`TCPServer`, a request/response protocol serving many TCP clients."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
    ProtocolTypeError,
)
from eq1_network.interfaces.protocol import ReqResProtocol
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
from eq1_network.protocols.ethernet._peer import Connection, Peer, PeerMessage
from eq1_network.protocols.ethernet._server_loop import LoopSettings, PeerCallback, ServerLoop
from eq1_network.protocols.ethernet._stream import SendTimeoutError
from eq1_network.protocols.ethernet._tls import TLSOption, server_context

if TYPE_CHECKING:
    from eq1_network.protocols.ethernet._json import (
        JsonMessage,
        JsonStructure,
        JsonValue,
        PeerJsonDecoders,
    )
    from eq1_network.urls import ParsedURL

__all__ = ["DataCallback", "TCPServer"]

logger = logging.getLogger(__name__)

_IDLE_WAIT = 0.1
_STOP_TIMEOUT = 10.0
_FOREVER_SLICE = 1.0

DataCallback = Callable[[Peer, bytes], bytes | bytearray | memoryview | None]
"""Signature of ``on_data``: ``callback(peer, data)``, returning a reply or ``None``."""


class TCPServer(ReqResProtocol):
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

    def __init__(
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
        self._loop: ServerLoop | None = None
        self._last_conn: Connection | None = None
        self._ids = itertools.count(1)
        self.json_structure = json_structure
        self._json: PeerJsonDecoders | None = None

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

    @property
    def where(self) -> str:
        """``host:port`` the server listens on, as used in messages."""
        return f"{self.host}:{self.port}"

    @property
    def tls(self) -> bool:
        """Whether clients must speak TLS."""
        return self._context is not None

    @property
    def last_peer(self) -> Peer | None:
        """The client whose data was read last: where :meth:`send` replies."""
        conn = self._last_conn
        return None if conn is None else conn.peer

    # -- life cycle --------------------------------------------------------------

    def connect(self) -> bool:
        """Bind, listen and start the I/O thread; does nothing if already listening.

        After it returns, :attr:`port` holds the port actually bound (useful with ``0``).

        Returns:
            ``True``.

        Raises:
            ProtocolConnectionError: If the address cannot be resolved or bound (for
                example, the port is in use); the message names ``host:port``.
        """
        with self._lock:
            if self._loop is not None and self._loop.running:
                return True
            listener = self._listen()
            self.port = int(listener.getsockname()[1])
            self._last_conn = None
            settings = LoopSettings(
                context=self._context,
                nodelay=self.nodelay,
                keepalive=self.keepalive,
                handshake_timeout=self.handshake_timeout,
                max_clients=self.max_clients,
                on_connect=self._connected,
                on_disconnect=self._disconnected,
                sink=None if self.on_data is None else self._answer,
            )
            self._loop = ServerLoop(
                listener, self._inbox, settings, self._ids, f"eq1-tcp-server-{self.where}"
            )
            self._loop.start()
        logger.info("listening on %s%s", self.where, " (TLS)" if self.tls else "")
        return True

    def disconnect(self) -> None:
        """Close every client and stop listening; unread data is dropped.

        Calling it when not listening does nothing.
        """
        with self._lock:
            loop, self._loop = self._loop, None
            self._last_conn = None
        if loop is None:
            return
        loop.stop(_STOP_TIMEOUT)
        self._inbox.clear()
        if self._json is not None:
            self._json.clear()
        logger.info("stopped listening on %s", self.where)

    def is_connected(self) -> bool:
        """Tell whether the server is listening.

        Returns:
            ``True`` while listening.
        """
        loop = self._loop
        return loop is not None and loop.running

    # -- request/response view -----------------------------------------------------

    def _read_raw(self) -> bytes | None:
        """Take the next chunk from any client; its sender becomes the target of ``send``."""
        item = self._inbox.pop()
        if item is None:
            return None
        conn, data, resume = item
        if resume:
            self._resume(conn)
        self._last_conn = conn
        return data

    def _link_ready(self) -> bool:
        loop = self._loop
        return loop is not None and loop.running

    def _not_connected_error(self, operation: str) -> ProtocolError:
        return self._not_listening(operation)

    def _send_raw(self, data: bytes) -> int:
        """Reply to the client whose data ``read`` (or :meth:`receive`) returned last.

        ``send()`` raises :class:`~eq1_network.common.exceptions.ProtocolConnectionError`
        if no data has been read yet or that client has left, and
        :class:`~eq1_network.common.exceptions.ProtocolTimeoutError` if the client
        accepted no data within ``write_timeout``.
        """
        loop = self._loop
        if loop is None:  # disconnect() ran since send() looked
            raise self._not_listening("send()")
        conn = self._last_conn
        if conn is None:
            raise ProtocolConnectionError(
                f"send() on {self!r}: no client to reply to, because read() has not "
                "returned data yet; use send_to(peer, data) to address a client"
            )
        return self._send_conn(loop, conn, data)

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        """Wait until a chunk from some client is waiting, without polling.

        While it waits, the calling thread services the sockets itself (see the
        class notes), so a request is read by the thread that will answer it.
        ``None`` waits a short slice (0.1 s). Returns ``True`` if a chunk is waiting
        (or a client left meanwhile: a hint to look again), ``False`` on timeout.
        """
        limit = _IDLE_WAIT if timeout is None else timeout
        loop = self._loop
        if loop is None or not loop.running:
            return self._inbox.wait(limit)
        return loop.wait_for_data(limit)

    # -- per-client API ------------------------------------------------------------

    def peers(self) -> list[Peer]:
        """List the connected clients.

        Returns:
            The clients, in connection order; empty when not listening.
        """
        loop = self._loop
        return [] if loop is None else [c.peer for c in loop.connections()]

    def receive(self, timeout: float | None = 0.0) -> PeerMessage | None:
        """Return the next chunk with the client that sent it.

        The sender becomes the target of :meth:`send`.

        Args:
            timeout: Seconds to wait; ``0`` (the default) does not wait, ``None``
                waits without limit.

        Returns:
            ``PeerMessage(peer, data)``, or ``None`` if nothing arrived in time.

        Raises:
            ProtocolConfigurationError: If ``timeout`` is negative.
        """
        if timeout == 0:  # the common case of a receive loop: look only
            item = self._inbox.pop()
            return None if item is None else self._accept_item(*item)
        limit = check_timeout("timeout", timeout)
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            item = self._inbox.pop()
            if item is not None:
                return self._accept_item(*item)
            remaining = _FOREVER_SLICE if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._wait(remaining)

    def send_to(self, peer: Peer | int, data: bytes) -> int:
        """Send all of ``data`` to one client; concurrent sends never interleave.

        Args:
            peer: The client, or its :attr:`Peer.id`.
            data: The bytes.

        Returns:
            ``len(data)``.

        Raises:
            ProtocolTypeError: If ``peer`` or ``data`` has the wrong type.
            ProtocolNotConnectedError: If the server is not listening.
            ProtocolConnectionError: If that client is not connected (any more).
            ProtocolTimeoutError: If the client accepted no data within
                ``write_timeout``; if part of the message was sent, the client is
                dropped because it can no longer find message boundaries.
        """
        payload = _as_bytes(data)
        loop = self._running_loop("send_to()")
        conn = loop.connection(_peer_id(peer))
        if conn is None:
            raise ProtocolConnectionError(
                f"send_to(): client {peer} is not connected to {self.where} "
                "(it left or was dropped)"
            )
        return self._send_conn(loop, conn, payload)

    def broadcast(self, data: bytes) -> int:
        """Send ``data`` to every connected client.

        A client that fails is logged (and dropped if its stream was cut) and does
        not stop the others. Clients are served one after the other, so a client that
        accepts nothing delays the rest by up to ``write_timeout``.

        Args:
            data: The bytes.

        Returns:
            The number of clients that received all of ``data``.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like.
            ProtocolNotConnectedError: If the server is not listening.
        """
        payload = _as_bytes(data)
        loop = self._running_loop("broadcast()")
        delivered = 0
        for conn in loop.connections():
            try:
                self.send_to(conn.peer, payload)
            except (ProtocolConnectionError, ProtocolTimeoutError) as exc:
                logger.warning("broadcast to %s failed: %s", conn.peer, exc)
            else:
                delivered += 1
        return delivered

    def disconnect_peer(self, peer: Peer | int) -> bool:
        """Close the connection of one client; ``on_disconnect`` follows.

        Args:
            peer: The client, or its :attr:`Peer.id`.

        Returns:
            ``True`` if the client was connected.

        Raises:
            ProtocolTypeError: If ``peer`` has the wrong type.
        """
        peer_id = _peer_id(peer)
        loop = self._loop
        conn = None if loop is None else loop.connection(peer_id)
        if loop is None or conn is None:
            return False
        loop.drop(conn, "disconnected by the server")
        return True

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
            remaining = _FOREVER_SLICE if deadline is None else deadline - time.monotonic()
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

    def _listen(self) -> socket.socket:
        where = self.where
        try:
            infos = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        except socket.gaierror as exc:
            raise ProtocolConnectionError(
                f"cannot listen on {where}: host name not resolved ({exc.strerror or exc})"
            ) from exc
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        family, _, _, _, address = infos[0]
        try:
            return socket.create_server(address, family=family, backlog=self.backlog)
        except OSError as exc:
            raise ProtocolConnectionError(
                f"cannot listen on {where}: {exc.strerror or exc}"
            ) from exc

    def _accept_item(self, conn: Connection, data: bytes, resume: bool) -> PeerMessage:
        if resume:
            self._resume(conn)
        self._last_conn = conn
        return PeerMessage(conn.peer, data)

    def _resume(self, conn: Connection) -> None:
        loop = self._loop
        if loop is not None:
            loop.resume(conn)

    def _send_conn(self, loop: ServerLoop, conn: Connection, payload: bytes) -> int:
        if not conn.open:
            raise ProtocolConnectionError(
                f"client {conn.peer} is not connected to {self.where} (it left or was dropped)"
            )
        try:
            conn.stream.send_all(payload, self.write_timeout)
        except SendTimeoutError as exc:
            raise self._send_timed_out(loop, conn, exc) from None
        except OSError as exc:
            loop.drop(conn, f"send failed: {exc}")
            raise ProtocolConnectionError(
                f"connection to client {conn.peer} lost during send: {exc}"
            ) from exc
        return len(payload)

    def _wait(self, timeout: float) -> bool:
        loop = self._loop
        if loop is None or not loop.running:
            return self._inbox.wait(timeout)
        return loop.wait_for_data(timeout)

    def _running_loop(self, operation: str) -> ServerLoop:
        loop = self._loop
        if loop is None or not loop.running:
            raise self._not_listening(operation)
        return loop

    def _not_listening(self, operation: str) -> ProtocolNotConnectedError:
        return ProtocolNotConnectedError(
            f"{operation} on {self!r}: not listening; call connect() first"
        )

    def _send_timed_out(
        self, loop: ServerLoop, conn: Connection, exc: SendTimeoutError
    ) -> ProtocolTimeoutError:
        if exc.sent == 0:
            return ProtocolTimeoutError(
                f"send to client {conn.peer}: nothing could be sent within "
                f"{self.write_timeout:g} s (write_timeout); the connection is intact"
            )
        loop.drop(
            conn, f"send timed out after {exc.sent} of {exc.total} bytes", level=logging.WARNING
        )
        return ProtocolTimeoutError(
            f"send to client {conn.peer}: only {exc.sent} of {exc.total} bytes sent within "
            f"{self.write_timeout:g} s (write_timeout); the client was dropped because it "
            "can no longer find message boundaries"
        )

    def _answer(self, conn: Connection, data: bytes) -> bool:
        """Callback mode: hand a chunk to ``on_data`` and send its reply (loop's thread)."""
        callback = self.on_data
        assert callback is not None
        try:
            reply = callback(conn.peer, data)
        except Exception:
            logger.exception("on_data callback %r raised for client %s", callback, conn.peer)
            return False
        if reply is None or not conn.open:
            return False
        if type(reply) is not bytes:
            if not isinstance(reply, (bytearray, memoryview)):
                logger.error(
                    "on_data callback %r returned %s for client %s; expected bytes or None "
                    "(nothing was sent)",
                    callback,
                    type(reply).__name__,
                    conn.peer,
                )
                return False
            reply = bytes(reply)
        if not reply:
            return False
        try:
            conn.stream.send_all(reply, self.write_timeout)
        except SendTimeoutError as exc:
            reason = f"reply not accepted within {self.write_timeout:g} s ({exc})"
        except OSError as exc:
            reason = f"reply failed: {exc}"
        else:
            return False
        loop = self._loop
        if loop is not None:
            loop.drop(conn, f"dropped by the server: {reason}", level=logging.WARNING)
        return False

    def _connected(self, peer: Peer) -> None:
        callback = self.on_connect
        if callback is not None:
            callback(peer)

    def _disconnected(self, peer: Peer) -> None:
        callback = self.on_disconnect
        if callback is not None:
            callback(peer)


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise ProtocolTypeError(f"send() needs bytes, got {type(data).__name__}; encode text first")


def _peer_id(peer: Peer | int) -> int:
    if isinstance(peer, Peer):
        return peer.id
    if isinstance(peer, int) and not isinstance(peer, bool):
        return peer
    raise ProtocolTypeError(f"peer must be a Peer or an int id, got {type(peer).__name__}")
