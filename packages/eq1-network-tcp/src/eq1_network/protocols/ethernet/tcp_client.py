"""``tcp``: :class:`TCPClient`, a request/response protocol over one TCP (or TLS) connection.

The class is assembled from parts, one concern each: :mod:`._client_link` (connect,
loss, reconnection), :mod:`._client_reader` (the read side) and
:mod:`._client_writer` (the write side). The options and the JSON methods are here.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from eq1_network.protocols.ethernet._client_link import IDLE_WAIT
from eq1_network.protocols.ethernet._client_reader import ClientReader
from eq1_network.protocols.ethernet._client_writer import ClientWriter
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
from eq1_network.protocols.ethernet._stream import READ_CHUNK
from eq1_network.protocols.ethernet._tls import TLSOption, client_context

if TYPE_CHECKING:
    from eq1_network.protocols.ethernet._json import JsonStructure, JsonValue
    from eq1_network.urls import ParsedURL

__all__ = ["TCPClient"]


class TCPClient(ClientReader, ClientWriter):
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass that changes how bytes are sent or read keeps exchange() on them.
        cls._exchange_in_one_step = all(
            getattr(cls, name) is getattr(TCPClient, name)
            for name in ("send", "read_within", "_send_raw", "_read_within_raw")
        )

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
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
        self._stream = None
        self._rx = bytearray()
        self._last_look = 0.0
        self._closing = True
        self._lost_reason = None
        self._reconnector = None
        self.json_structure = json_structure
        self._json_lock = threading.Lock()
        self._json = None
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
            remaining = IDLE_WAIT if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.wait_readable(remaining)

    # -- internals -------------------------------------------------------------

    def _framing(self) -> JsonStructure:
        if self.json_structure is not None:
            return self.json_structure
        from eq1_network.packets import NetworkPacketStructure

        return NetworkPacketStructure
