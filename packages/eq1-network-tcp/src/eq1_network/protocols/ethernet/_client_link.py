"""The connection of a :class:`TCPClient`: connect, disconnect, loss and reconnection.

:class:`ClientLink` holds the state every part of the client shares, opens the
connection, notices its loss (:meth:`ClientLink._probe` looks for a close by the
peer) and re-establishes it in the background under a reconnect policy. The read
side is in :mod:`._client_reader`, the write side in :mod:`._client_writer`, the
public class in :mod:`.tcp_client`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
)
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.ethernet._connect import open_stream
from eq1_network.protocols.ethernet._reconnect import Reconnector

if TYPE_CHECKING:
    import ssl

    from eq1_network.protocols.ethernet._config import KeepAlive, ReconnectPolicy
    from eq1_network.protocols.ethernet._json import JsonDecoder, JsonStructure
    from eq1_network.protocols.ethernet._stream import SocketStream

__all__ = ["IDLE_WAIT", "ClientLink"]

logger = get_logger("eq1_network.protocols.ethernet.tcp_client")
"""The client logs under the name of its public module, whichever part logs."""

IDLE_WAIT = 0.1
"""Seconds ``wait_readable(None)`` waits: the "short default slice" of the interface."""

CLOSE_GRACE = 2.0
"""Seconds :meth:`ClientLink.disconnect` waits for a reader to leave the closed connection."""


class ClientLink(ReqResProtocol):
    """The connection of a TCP client and the state the client's parts share.

    ``TCPClient.__init__`` sets the attributes declared here.
    """

    host: str
    port: int
    timeout: float | None
    connect_timeout: float
    write_timeout: float
    nodelay: bool
    quickack: bool
    keepalive: KeepAlive
    reconnect: ReconnectPolicy | None
    max_buffer: int
    json_structure: JsonStructure | None
    _context: ssl.SSLContext | None
    _server_hostname: str | None
    _chunk: int
    """Bytes asked of one ``recv`` on the plain read path."""
    _lock: threading.RLock
    """Guards the connection state: :attr:`_stream`, :attr:`_closing`, the reconnector."""
    _state: threading.Condition
    """Notified, under :attr:`_lock`, whenever :attr:`_stream` changes."""
    _read_lock: threading.Lock
    """Held by the one thread that reads (or probes) at a time; guards :attr:`_rx`."""
    _stream: SocketStream | None
    _rx: bytearray
    """Bytes a probe or a wait took from the socket, for ``read()`` to return."""
    _last_look: float
    """When the socket was last read (``time.monotonic()``)."""
    _closing: bool
    """``disconnect()`` was called (and ``connect()`` not since): no reconnection."""
    _lost_reason: str | None
    _reconnector: Reconnector | None
    _json_lock: threading.Lock
    _json: JsonDecoder | None
    _generation: int
    _exchange_in_one_step: bool = True
    """Whether ``exchange()`` may skip ``send``/``read_within`` and their hooks: true
    unless a subclass overrides one of them (``TCPClient.__init_subclass__``)."""
    """Counts the connections made; the JSON decoder notices a new one by it."""
    _json_generation: int

    @property
    def where(self) -> str:
        """``host:port`` of the server, as used in messages."""
        return f"{self.host}:{self.port}"

    @property
    def tls(self) -> bool:
        """Whether the connection uses TLS."""
        return self._context is not None

    @property
    def local_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of this end of the connection, or ``None`` when not connected."""
        stream = self._stream
        if stream is None:
            return None
        try:
            name = stream.sock.getsockname()
        except OSError:
            return None
        return str(name[0]), int(name[1])

    # -- connection ------------------------------------------------------------

    def connect(self) -> bool:
        """Open the connection; does nothing if already connected.

        A failed attempt is not retried, with or without a reconnect policy.

        Returns:
            ``True`` when connected (the only value it returns).

        Raises:
            ProtocolConnectionError: If the server refused, was unreachable or did not
                answer within ``connect_timeout``, or the TLS handshake failed; the
                message names ``host:port``.
            ProtocolAuthenticationError: If the server's TLS certificate was rejected
                (a :class:`ProtocolConnectionError` too).
        """
        with self._lock:
            if self._stream is not None:
                return True
            self._closing = False
            reconnector = self._reconnector
        stream = self._open()
        if reconnector is not None:
            reconnector.stop()
        if not self._install(stream):
            stream.close()
            with self._lock:
                if self._stream is None:
                    raise ProtocolConnectionError(
                        f"connection to {self.where} abandoned: disconnect() was called "
                        "while connect() was in progress"
                    )
        logger.debug("%r connected", self)
        return True

    def disconnect(self) -> None:
        """Close the connection, stop reconnecting and drop unread data and messages.

        Calling it when not connected does nothing.
        """
        with self._lock:
            self._closing = True
            stream, self._stream = self._stream, None
            reconnector, self._reconnector = self._reconnector, None
            self._lost_reason = None
            self._state.notify_all()
        if reconnector is not None:
            reconnector.stop()
            reconnector.join(self.connect_timeout + 1.0)
        if stream is not None:
            stream.close()
            logger.debug("disconnected from %s", self.where)
        self._leave_reads()
        with self._json_lock:
            self._json = None

    def _leave_reads(self) -> None:
        """Drop unread bytes once no thread reads; a read lock nobody will free is replaced.

        A reader leaves within moments of the close. The lock stays held only when
        its holder was interrupted (``KeyboardInterrupt``) between taking it and the
        block that frees it; the next connection then starts with a new lock.
        """
        lock = self._read_lock
        if lock.acquire(True, CLOSE_GRACE):
            try:
                self._rx.clear()
            finally:
                lock.release()
            return
        logger.info(
            "%r: the read lock was not freed within %s s of the close (a reader was "
            "interrupted); reads go on with a new lock",
            self,
            CLOSE_GRACE,
        )
        self._read_lock = threading.Lock()
        self._rx.clear()

    def is_connected(self) -> bool:
        """Tell whether the connection is up, noticing a peer that closed it.

        Returns:
            ``True`` if connected.
        """
        if self._stream is None:
            return False
        self._probe()
        return self._stream is not None

    def _link_ready(self) -> bool:
        return self._stream is not None

    def _not_connected_error(self, operation: str) -> ProtocolError:
        return self._unusable(operation)

    # -- internals -------------------------------------------------------------

    def _open(self) -> SocketStream:
        return open_stream(
            self.host,
            self.port,
            timeout=self.connect_timeout,
            context=self._context,
            server_hostname=self._server_hostname,
            nodelay=self.nodelay,
            keepalive=self.keepalive,
            quickack=self.quickack,
        )

    def _install(self, stream: SocketStream) -> bool:
        with self._lock:
            if self._stream is not None or self._closing:
                return False
            self._stream = stream
            self._lost_reason = None
            self._generation += 1
            self._state.notify_all()
            return True

    def _receive(self, stream: SocketStream, limit: int) -> bytes | None:
        """Read from ``stream`` (read lock held); a closed or failed link is recorded."""
        self._last_look = time.monotonic()
        try:
            data = stream.recv_some(limit)
        except OSError as exc:
            self._lost(stream, f"{type(exc).__name__}: {exc}")
            return None
        if data == b"":
            self._lost(stream, "closed by the peer")
            return None
        return data

    def _wait_in_recv(self, stream: SocketStream, timeout: float) -> bytes | None:
        """Wait inside ``recv`` (read lock held; ``stream.kernel_waits``).

        Returns:
            The bytes; ``None`` on timeout; ``b""`` when the link was lost (recorded).
        """
        self._last_look = time.monotonic()
        try:
            received = stream.recv_wait(self._chunk, timeout)
        except OSError as exc:
            self._lost(stream, f"{type(exc).__name__}: {exc}")
            return b""
        if received == b"":
            self._lost(stream, "closed by the peer")
        return received

    def _probe(self) -> None:
        """Move waiting bytes into the read buffer, noticing a close by the peer.

        Skipped when another thread is reading (it will notice) or the buffer is full.
        Reads go on until nothing is waiting, so that a close right after the data is
        noticed too.
        """
        lock = self._read_lock
        if not lock.acquire(False):
            return
        try:
            stream = self._stream
            while stream is not None and len(self._rx) < self.max_buffer:
                data = self._receive(stream, self.max_buffer - len(self._rx))
                if not data:
                    return
                self._rx += data
        finally:
            lock.release()

    def _drop(self, reason: str) -> None:
        stream = self._stream
        if stream is not None:
            self._lost(stream, reason)

    def _lost(self, stream: SocketStream, reason: str) -> None:
        with self._lock:
            if self._stream is not stream:
                return
            self._stream = None
            self._lost_reason = reason
            self._state.notify_all()
            retry = self.reconnect is not None and not self._closing
            if retry:
                self._start_reconnector()
        stream.close()
        logger.warning(
            "connection to %s lost: %s%s", self.where, reason, "; reconnecting" if retry else ""
        )

    def _start_reconnector(self) -> None:
        assert self.reconnect is not None
        previous = self._reconnector
        if previous is not None:
            previous.stop()
        self._reconnector = Reconnector(
            f"eq1-tcp-reconnect-{self.where}", self.reconnect, self._reconnect_once, self._give_up
        )
        self._reconnector.start()

    def _reconnect_once(self) -> bool:
        with self._lock:
            if self._closing or self._stream is not None:
                return True
        try:
            stream = self._open()
        except ProtocolConnectionError as exc:
            logger.info("reconnection to %s failed: %s", self.where, exc)
            return False
        if self._install(stream):
            logger.info("reconnected to %s", self.where)
        else:
            stream.close()
        return True

    def _give_up(self, attempts: int) -> None:
        with self._lock:
            if self._stream is None and not self._closing:
                self._lost_reason = (
                    f"{self._lost_reason}; gave up after {attempts} reconnection attempts"
                )
        logger.error("gave up reconnecting to %s after %d attempts", self.where, attempts)

    def _unusable(self, operation: str) -> ProtocolConnectionError:
        with self._lock:
            reason = self._lost_reason
            retrying = self._reconnector is not None and self._reconnector.is_alive()
        if reason is None:
            return ProtocolNotConnectedError(
                f"{operation} on {self!r}: not connected; call connect() first"
            )
        suffix = "; reconnecting in the background" if retrying else "; call connect() again"
        return ProtocolConnectionError(
            f"{operation}: connection to {self.where} was lost ({reason}){suffix}"
        )
