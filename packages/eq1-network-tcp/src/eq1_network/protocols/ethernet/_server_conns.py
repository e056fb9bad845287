"""The server loop's clients: accepting, TLS handshakes, reading, back-pressure, closing.

:class:`LoopConnections` is the part of :class:`ServerLoop` that owns the table of
clients. Its methods, apart from :meth:`LoopConnections.connection` and
:meth:`LoopConnections.connections`, run on the thread that owns the loop.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eq1_network.common.logging import get_logger
from eq1_network.protocols.ethernet._config import KeepAlive
from eq1_network.protocols.ethernet._inbox import Inbox
from eq1_network.protocols.ethernet._peer import Connection, Peer
from eq1_network.protocols.ethernet._poller import READ, WRITE, Poller
from eq1_network.protocols.ethernet._server_events import (
    LOGGER_NAME,
    Activity,
    Note,
    PeerCallback,
)
from eq1_network.protocols.ethernet._sockopts import tune_socket
from eq1_network.protocols.ethernet._stream import SocketStream

__all__ = ["LISTENER", "ChunkSink", "LoopConnections", "LoopSettings", "close_quietly"]

logger = get_logger(LOGGER_NAME)

ChunkSink = Callable[[Connection, bytes], bool]
"""Where the loop puts each received chunk: ``sink(conn, data)`` answers ``True`` when
reading from ``conn`` must pause (the signature of :meth:`Inbox.push`)."""

LISTENER = object()
"""Selector data of the listening socket."""

_READ_LIMIT = 256 * 1024
_ACCEPT_BATCH = 64
_ACCEPT_BACKOFF = 0.5


@dataclass(frozen=True)
class LoopSettings:
    """What the I/O thread needs to know about new connections.

    Attributes:
        context: Server TLS context, or ``None``.
        nodelay: Set ``TCP_NODELAY`` on accepted sockets.
        keepalive: Keep-alive settings of accepted sockets.
        handshake_timeout: Seconds a client has to complete the TLS handshake.
        max_clients: Most simultaneous clients, or ``None``.
        on_connect: Called with each client that connected (after its handshake).
        on_disconnect: Called with each client that left or was dropped.
        sink: Takes each received chunk instead of the inbox, on the loop's thread;
            ``None`` for the inbox.
    """

    context: ssl.SSLContext | None
    nodelay: bool
    keepalive: KeepAlive
    handshake_timeout: float
    max_clients: int | None
    on_connect: PeerCallback | None
    on_disconnect: PeerCallback | None
    sink: ChunkSink | None = None


class LoopConnections:
    """The clients of one :class:`ServerLoop`, from accept to close.

    ``ServerLoop.__init__`` sets the state declared here.
    """

    _listener: socket.socket
    _inbox: Inbox
    _settings: LoopSettings
    _sink: ChunkSink
    _ids: Iterator[int]
    _selector: Poller[Any]
    _lock: threading.Lock
    """Guards :attr:`_conns` against readers on other threads."""
    _conns: dict[int, Connection]
    """Published clients (handshake done), by id, in connection order."""
    _handshaking: dict[Connection, float]
    """TLS clients in their handshake, with its deadline."""
    _again: set[Connection]
    """Clients to read from at the end of the iteration without waiting for the selector."""
    _accept_paused_until: float
    _closures: int
    """Counts closed connections; changed under the inbox lock."""
    _notes: list[Note]
    _activity: Activity

    # -- called from any thread ----------------------------------------------------

    def connection(self, peer_id: int) -> Connection | None:
        """Return the open connection of a client.

        Args:
            peer_id: The client's :attr:`Peer.id`.

        Returns:
            The connection, or ``None`` if that client is not connected.
        """
        with self._lock:
            return self._conns.get(peer_id)

    def connections(self) -> list[Connection]:
        """Return the open connections, in connection order.

        Returns:
            A snapshot list.
        """
        with self._lock:
            return list(self._conns.values())

    # -- the loop's owner ----------------------------------------------------------

    def _accept(self) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    logger.error("cannot accept more clients: %s; pausing accept", exc)
                    self._selector.unregister(self._listener)
                    self._accept_paused_until = time.monotonic() + _ACCEPT_BACKOFF
                else:
                    logger.warning("accept() failed: %s", exc)
                return
            self._add(sock, address)

    def _add(self, sock: socket.socket, address: tuple[str, int]) -> None:
        settings = self._settings
        host, port = str(address[0]), int(address[1])
        if settings.max_clients is not None and (
            len(self._conns) + len(self._handshaking) >= settings.max_clients
        ):
            level = logging.DEBUG if self._activity.refused else logging.WARNING
            self._activity.refused += 1
            logger.log(
                level,
                "refusing %s:%d: max_clients (%d) reached (further refusals until the next "
                "summary are logged at DEBUG)",
                host,
                port,
                settings.max_clients,
            )
            close_quietly(sock)
            self._summarize()
            return
        try:
            tune_socket(sock, nodelay=settings.nodelay, keepalive=settings.keepalive)
            sock.setblocking(False)
            if settings.context is not None:
                sock = settings.context.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False
                )
            stream = SocketStream(sock)
        except OSError as exc:
            logger.warning("cannot set up connection from %s:%d: %s", host, port, exc)
            close_quietly(sock)
            return
        conn = Connection(Peer(next(self._ids), host, port), stream, handshaking=stream.tls)
        self._selector.register(sock, READ, conn)
        conn.registered = True
        if conn.handshaking:
            self._handshaking[conn] = time.monotonic() + settings.handshake_timeout
            self._handshake(conn)
        else:
            self._publish(conn)

    def _publish(self, conn: Connection) -> None:
        with self._lock:
            self._conns[conn.peer.id] = conn
        logger.debug("client %s connected", conn.peer)
        self._activity.connected += 1
        self._summarize()
        if self._settings.on_connect is not None:
            self._notes.append((self._settings.on_connect, conn.peer))

    def _handshake(self, conn: Connection) -> None:
        sock = conn.stream.sock
        assert isinstance(sock, ssl.SSLSocket)
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._selector.modify(sock, READ, conn)
            return
        except ssl.SSLWantWriteError:
            self._selector.modify(sock, WRITE, conn)
            return
        except OSError as exc:  # ssl.SSLError included
            self._close(conn, f"TLS handshake failed: {exc}", level=logging.WARNING)
            return
        del self._handshaking[conn]
        conn.handshaking = False
        self._selector.modify(sock, READ, conn)
        self._publish(conn)
        self._again.add(conn)  # data may have arrived together with the handshake

    def _read(self, conn: Connection, first: bytes | None = None) -> None:
        """Read from a client into the inbox; ``first`` is what a ``recv`` already took."""
        stream = conn.stream
        try:
            if first is None:
                data = stream.recv_some(_READ_LIMIT)
            else:
                data = stream.recv_more(first, _READ_LIMIT)
        except OSError as exc:
            self._close(conn, f"{type(exc).__name__}: {exc}", error=True)
            return
        if data is None:
            return
        if not data:
            self._close(conn, "closed by the client")
            return
        if self._sink(conn, data):
            self._pause(conn)
        elif stream.tls and stream.has_buffered():
            self._again.add(conn)

    def _service_again(self) -> None:
        if not self._again:
            return
        batch, self._again = self._again, set()
        for conn in batch:
            if conn.open and conn.registered and not conn.handshaking:
                self._read(conn)

    def _pause(self, conn: Connection) -> None:
        if conn.registered:
            self._selector.unregister(conn.stream.sock)
            conn.registered = False
            logger.debug("client %s: %d unread bytes, reading paused", conn.peer, conn.pending)

    def _resume(self, conn: Connection) -> None:
        if conn.open and not conn.registered and not conn.paused:
            self._selector.register(conn.stream.sock, READ, conn)
            conn.registered = True
            self._again.add(conn)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self._accept_paused_until and now >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            self._selector.register(self._listener, READ, LISTENER)
        expired = [c for c, deadline in self._handshaking.items() if now >= deadline]
        for conn in expired:
            self._close(
                conn,
                f"TLS handshake not completed within {self._settings.handshake_timeout:g} s",
                level=logging.WARNING,
            )

    def _close(
        self, conn: Connection, reason: str, *, level: int = logging.DEBUG, error: bool = False
    ) -> None:
        """Close a connection; ``error`` (or a WARNING ``level``) counts it as a failure."""
        if not conn.open:
            return
        conn.open = conn.plain = False
        if conn.registered:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(conn.stream.sock)
            conn.registered = False
        self._again.discard(conn)
        published = self._handshaking.pop(conn, None) is None
        with self._lock:
            self._conns.pop(conn.peer.id, None)
        conn.stream.close()
        with self._inbox.lock:
            self._closures += 1
            if self._inbox.waiters:
                self._inbox.cond.notify_all()
        logger.log(level, "client %s disconnected: %s", conn.peer, reason)
        activity = self._activity
        activity.disconnected += 1
        if error or level >= logging.WARNING:
            activity.failed += 1
        self._summarize()
        if published and self._settings.on_disconnect is not None:
            self._notes.append((self._settings.on_disconnect, conn.peer))

    def _summarize(self, *, final: bool = False) -> None:
        """Log the INFO summary if it is due (or ``final``) and anything happened."""
        self._activity.tick(time.monotonic(), len(self._conns), final=final)


def close_quietly(sock: socket.socket) -> None:
    """Close ``sock``, ignoring errors.

    Args:
        sock: The socket.
    """
    with contextlib.suppress(OSError):
        sock.close()
