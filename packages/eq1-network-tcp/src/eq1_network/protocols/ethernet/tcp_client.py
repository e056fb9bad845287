"""``tcp``: :class:`TCPClient`, a request/response protocol over one TCP (or TLS) connection."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
)
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.ethernet._config import (
    DEFAULT_MAX_BUFFER,
    KeepAlive,
    ReconnectPolicy,
    as_keepalive,
    as_reconnect_policy,
    check_address,
    check_positive_int,
    check_timeout,
    pick_timeout,
)
from eq1_network.protocols.ethernet._connect import open_stream
from eq1_network.protocols.ethernet._reconnect import Reconnector
from eq1_network.protocols.ethernet._stream import READ_CHUNK, SendTimeoutError, SocketStream
from eq1_network.protocols.ethernet._tls import TLSOption, client_context

if TYPE_CHECKING:
    from eq1_network.protocols.ethernet._json import JsonDecoder, JsonStructure, JsonValue
    from eq1_network.urls import ParsedURL

__all__ = ["TCPClient"]

logger = logging.getLogger(__name__)

_IDLE_WAIT = 0.1
"""Seconds ``wait_readable(None)`` waits: the "short default slice" of the interface."""

_PROBE_AFTER_IDLE = 0.5
"""``send()`` first checks for a close by the peer when nobody read for this long."""


class TCPClient(ReqResProtocol):
    """A TCP client implementing :class:`~eq1_network.interfaces.ReqResProtocol`.

    ``connect()`` opens the connection (and performs the TLS handshake when ``tls``
    is given); ``send()`` writes whole messages, and concurrent ``send()`` calls never
    interleave their bytes; ``read()`` never blocks and returns whatever bytes have
    arrived (TCP is a byte stream: one ``send`` on the peer may arrive in several
    reads, several in one read; frame messages, e.g. with the JSON methods, when
    boundaries matter). Every method is thread-safe.

    A peer that closes or resets the connection is detected by ``read()``,
    ``is_connected()`` and ``send()``: ``is_connected()`` becomes ``False`` and
    ``send()`` raises :class:`~eq1_network.common.exceptions.ProtocolConnectionError`.
    A peer that vanishes silently is detected by TCP keep-alive (see
    :class:`KeepAlive`). With a ``reconnect`` policy a lost connection is
    re-established in the background; without one (the default) call ``connect()``
    again.

    Timeouts:

    ==================  ==========================================================
    ``timeout``         How long ``ReqResManager.read`` waits for a reply; also
                        the default of the two below. ``None`` leaves them at 30 s.
    ``connect_timeout`` Deadline of ``connect()`` (TCP connect plus TLS handshake).
    ``write_timeout``   Deadline of one ``send()`` call, waiting included.
    ==================  ==========================================================

    Args:
        host: Server host name or IP address.
        port: Server port, 1-65535.
        timeout: Seconds; see the table above.
        connect_timeout: Seconds; see the table above.
        write_timeout: Seconds; see the table above.
        tls: ``None`` for plain TCP, a client ``ssl.SSLContext``, or a
            :class:`eq1_network.TLSConfig` naming CA/certificate files.
        nodelay: Set ``TCP_NODELAY`` (on by default: requests leave at once).
        keepalive: Keep-alive settings; ``True`` for the defaults, ``False`` for off.
        reconnect: An :class:`eq1_network.ReconnectPolicy`, ``True`` for the default
            policy, or ``None``/``False`` (or a policy with ``enabled=False``) for no
            automatic reconnection (the default).
        max_buffer: Most received bytes held for ``read()`` by ``is_connected()``
            and ``send()`` probes.
        json_structure: Framing of :meth:`send_json`/:meth:`read_json`:
            ``NetworkPacketStructure`` (1 MiB limit) when ``None``, or an instance
            such as ``NetworkPacketStructure(max_payload=...)``.
        quickack: Acknowledge received data at once (Linux ``TCP_QUICKACK``, set
            again after every read; ignored elsewhere). For pipelined requests to a
            server that leaves Nagle's algorithm on: its second answer would
            otherwise wait for the delayed acknowledgement of the first (about
            40 ms). Costs one system call per read.

    Raises:
        ProtocolConfigurationError: If an argument has an invalid value.
        ProtocolTypeError: If an argument has the wrong type.

    Example:
        >>> client = TCPClient("127.0.0.1", 8080, timeout=1)  # doctest: +SKIP
        >>> with client:  # doctest: +SKIP
        ...     client.send(b"Hello Server!")
    """

    protocol_name = "tcp"

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float | None = 1.0,
        *,
        connect_timeout: float | None = None,
        write_timeout: float | None = None,
        tls: TLSOption = None,
        nodelay: bool = True,
        keepalive: KeepAlive | bool = True,
        reconnect: ReconnectPolicy | bool | None = None,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        json_structure: JsonStructure | None = None,
        quickack: bool = False,
    ) -> None:
        self.host, self.port = check_address(host, port, allow_zero_port=False)
        self.timeout = check_timeout("timeout", timeout)
        self.connect_timeout = pick_timeout(
            check_timeout("connect_timeout", connect_timeout), self.timeout
        )
        self.write_timeout = pick_timeout(
            check_timeout("write_timeout", write_timeout), self.timeout
        )
        self._context = client_context(tls)
        self._server_hostname = getattr(tls, "server_hostname", None)
        self.nodelay = bool(nodelay)
        self.quickack = bool(quickack)
        self.keepalive = as_keepalive(keepalive)
        self.reconnect = as_reconnect_policy(reconnect)
        self.max_buffer = check_positive_int("max_buffer", max_buffer)
        self._chunk = min(READ_CHUNK, self.max_buffer)
        self._lock = threading.RLock()
        self._state = threading.Condition(self._lock)
        self._read_lock = threading.Lock()
        self._stream: SocketStream | None = None
        self._rx = bytearray()
        self._last_look = 0.0
        self._closing = True
        self._lost_reason: str | None = None
        self._reconnector: Reconnector | None = None
        self.json_structure = json_structure
        self._json_lock = threading.Lock()
        self._json: JsonDecoder | None = None
        self._generation = 0
        self._json_generation = 1

    @classmethod
    def url_kwargs(cls, url: ParsedURL) -> dict[str, Any]:
        """Map a ``tcp://host:port`` URL to constructor arguments (see ``docs/urls.md``).

        TLS is on for ``tls://host:port`` or ``tls=true``. ``cafile``, ``certfile``, ``keyfile`` and
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
            f"TCPClient({self.host!r}, {self.port}, tls={self._context is not None}, "
            f"connected={self._stream is not None})"
        )

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
        with self._read_lock:
            self._rx.clear()
        with self._json_lock:
            self._json = None

    def is_connected(self) -> bool:
        """Tell whether the connection is up, noticing a peer that closed it.

        Returns:
            ``True`` if connected.
        """
        if self._stream is None:
            return False
        self._probe()
        return self._stream is not None

    # -- data ------------------------------------------------------------------

    def _link_ready(self) -> bool:
        return self._stream is not None

    def _not_connected_error(self, operation: str) -> ProtocolError:
        return self._unusable(operation)

    def _send_raw(self, data: bytes) -> int:
        """Write all of ``data``; concurrent calls never interleave their bytes.

        ``send()`` raises :class:`~eq1_network.common.exceptions.ProtocolTimeoutError`
        if the bytes could not be handed over within ``write_timeout``; when part of
        the message had been sent, the connection is closed, because the peer can no
        longer find where messages start.
        """
        if time.monotonic() - self._last_look > _PROBE_AFTER_IDLE:
            self._probe()
        stream = self._stream
        if stream is None:
            raise self._unusable("send()")
        try:
            stream.send_all(data, self.write_timeout)
        except SendTimeoutError as exc:
            raise self._send_timed_out(stream, exc) from None
        except OSError as exc:
            self._lost(stream, f"{type(exc).__name__}: {exc}")
            raise ProtocolConnectionError(
                f"connection to {self.where} lost during send(): {exc}"
            ) from exc
        return len(data)

    def _read_raw(self) -> bytes | None:
        """Take the bytes that have arrived, without blocking (``None`` if none)."""
        lock = self._read_lock
        if not lock.acquire(False):
            # Another thread is reading, or waiting in wait_readable(): it takes
            # what arrives; this call must not block behind it.
            return None
        try:
            if self._rx:
                return self._take_buffered()
            stream = self._stream
            if stream is None:
                return None
            if stream.tls:
                return self._receive(stream, self.max_buffer)
            # Plain TCP, the hot path: one recv call, what _receive does spelt out.
            self._last_look = time.monotonic()
            try:
                received = stream.sock.recv(self._chunk, stream.flags)
            except BlockingIOError:
                return None
            except OSError as exc:
                self._lost(stream, f"{type(exc).__name__}: {exc}")
                return None
            if received:
                return received
            self._lost(stream, "closed by the peer")
            return None
        finally:
            lock.release()

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        """Wait until :meth:`read` may return data, without polling.

        Waits on the socket itself; :meth:`read` then takes the bytes (or notices that
        the server closed the connection). While the client is disconnected it waits
        for a reconnection instead. The wait holds the read lock, so a liveness check
        by another thread (:meth:`is_connected`, or :meth:`send` after an idle spell)
        cannot take the bytes from under it; meanwhile :meth:`read` on other threads
        returns ``(False, None)`` instead of blocking.

        Args:
            timeout: Longest wait in seconds; ``None`` waits a short slice (0.1 s).

        Returns:
            ``True`` if data may be readable now (a hint), ``False`` on timeout.
        """
        limit = _IDLE_WAIT if timeout is None else max(timeout, 0.0)
        if self._rx:
            return True
        stream = self._stream
        if stream is None:
            with self._state:
                self._state.wait_for(lambda: self._stream is not None, limit)
            return bool(self._rx)
        lock = self._read_lock
        if not lock.acquire(False):
            return stream.wait_readable(limit)  # another thread reads: wait alongside it
        try:
            if self._rx:  # a liveness check buffered bytes meanwhile
                return True
            if not stream.kernel_waits:
                return stream.wait_readable(limit)
            # One system call both waits and takes the bytes, which read() then returns.
            received = self._wait_in_recv(stream, limit)
            if received is None:
                return False
            self._rx += received  # b"" when the connection was lost: read() tells
            return True
        finally:
            lock.release()

    def _read_within_raw(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds for bytes and return them.

        On a plain connection on Linux a single ``recv`` call both waits and reads;
        elsewhere this is :meth:`wait_readable` followed by :meth:`read`. While the
        client is disconnected it waits for a reconnection.

        Args:
            timeout: Longest wait in seconds (``0`` only looks).

        Returns:
            The bytes that arrived, or ``None`` if none arrived in time.
        """
        stream = self._stream
        if stream is None or not stream.kernel_waits:
            return super()._read_within_raw(timeout)
        lock = self._read_lock
        if not lock.acquire(True, max(timeout, 0.0)):
            return None  # another thread kept reading for the whole time
        try:
            if self._rx:
                return self._take_buffered()
            received = self._wait_in_recv(stream, timeout)
            if received is None or received:
                return received
            started = self._last_look  # when the wait began
        finally:
            lock.release()
        if self._closing:  # disconnect() was called: no reconnection to wait for
            return None
        # The connection was lost: wait for a reconnection within the time left.
        return super()._read_within_raw(max(started + timeout - time.monotonic(), 0.0))

    # -- JSON messages -----------------------------------------------------------

    def send_json(self, value: JsonValue) -> int:
        """Send a ``dict`` or ``list`` as one JSON message.

        The message is compact UTF-8 JSON in one ``NetworkPacketStructure`` frame
        (4-byte big-endian length, then the JSON). Use either the JSON methods or
        the byte methods on one connection, not both.

        Args:
            value: The message.

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

    def read_json(self, timeout: float | None = 0.0) -> JsonValue | None:
        """Return the next JSON message sent by the server.

        Args:
            timeout: Seconds to wait; ``0`` (the default) does not wait, ``None``
                waits without limit.

        Returns:
            The ``dict`` or ``list``, or ``None`` if no whole message arrived in time.

        Raises:
            MalformedPacketError: If a frame's payload is not a JSON object or array;
                that frame is consumed and the connection stays usable. Also raised
                when the connection ended inside a frame, or a frame header is corrupt;
                in that case the connection is closed, because message boundaries are
                lost.
            PacketSizeError: If a frame header announces more than ``max_payload``
                bytes; the connection is closed for the same reason.
            ProtocolConfigurationError: If ``timeout`` is negative.
        """
        from eq1_network.protocols.ethernet._json import JsonDecoder

        limit = check_timeout("timeout", timeout)
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            with self._json_lock:
                if self._json is None:
                    self._json = JsonDecoder(self._framing())
                decoder = self._json
                if decoder.has_items():
                    return decoder.pop()
                ok, data = self.read()
                if self._json_generation != self._generation:
                    self._json_generation = self._generation
                    decoder.feed_eof(self.where)
                if ok and data:
                    if not decoder.feed(data):
                        self._drop("a JSON frame header was corrupt or too large")
                    continue
                if self._stream is None and decoder.buffered:
                    decoder.feed_eof(self.where)
                    continue
            remaining = _IDLE_WAIT if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.wait_readable(remaining)

    # -- internals -------------------------------------------------------------

    def _framing(self) -> JsonStructure:
        if self.json_structure is not None:
            return self.json_structure
        from eq1_network.packets import NetworkPacketStructure

        return NetworkPacketStructure

    def _drop(self, reason: str) -> None:
        stream = self._stream
        if stream is not None:
            self._lost(stream, reason)

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

    def _take_buffered(self) -> bytes:
        """Empty the read buffer and return its bytes (read lock held)."""
        data = bytes(self._rx)
        self._rx.clear()
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
        if not self._read_lock.acquire(blocking=False):
            return
        try:
            stream = self._stream
            while stream is not None and len(self._rx) < self.max_buffer:
                data = self._receive(stream, self.max_buffer - len(self._rx))
                if not data:
                    return
                self._rx += data
        finally:
            self._read_lock.release()

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

    def _send_timed_out(self, stream: SocketStream, exc: SendTimeoutError) -> ProtocolTimeoutError:
        if exc.sent == 0:
            return ProtocolTimeoutError(
                f"send() to {self.where}: nothing could be sent within "
                f"{self.write_timeout:g} s (write_timeout); the connection is intact"
            )
        self._lost(stream, f"send() timed out after {exc.sent} of {exc.total} bytes")
        return ProtocolTimeoutError(
            f"send() to {self.where}: only {exc.sent} of {exc.total} bytes sent within "
            f"{self.write_timeout:g} s (write_timeout); the connection was closed because "
            "the peer can no longer find message boundaries"
        )
