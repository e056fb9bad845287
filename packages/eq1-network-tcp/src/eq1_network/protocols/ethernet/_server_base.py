"""The life cycle of a :class:`TCPServer`: listening, the I/O loop, connect notifications.

:class:`ServerBase` holds the state every part of the server shares and starts and
stops the :class:`ServerLoop`. The per-client reads are in :mod:`._server_sessions`,
the sends in :mod:`._server_send`, the public class in :mod:`.tcp_server`.
"""

from __future__ import annotations

import abc
import itertools
import socket
import threading
from typing import TYPE_CHECKING

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
)
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.ethernet._server_loop import LoopSettings, ServerLoop

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

    from eq1_network.protocols.ethernet._config import KeepAlive
    from eq1_network.protocols.ethernet._inbox import Inbox
    from eq1_network.protocols.ethernet._json import JsonStructure, PeerJsonDecoders
    from eq1_network.protocols.ethernet._peer import Connection, Peer
    from eq1_network.protocols.ethernet._server_loop import PeerCallback

__all__ = ["ServerBase"]

logger = get_logger("eq1_network.protocols.ethernet.tcp_server")
"""The server logs under the name of its public module, whichever part logs."""

_STOP_TIMEOUT = 10.0


class ServerBase(ReqResProtocol):
    """Listening and the I/O loop of a TCP server; the state its parts share.

    ``TCPServer.__init__`` sets the attributes declared here.
    """

    host: str
    port: int
    timeout: float | None
    write_timeout: float
    handshake_timeout: float
    nodelay: bool
    keepalive: KeepAlive
    backlog: int
    max_clients: int | None
    max_buffer: int
    on_connect: PeerCallback | None
    on_disconnect: PeerCallback | None
    on_data: Callable[[Peer, bytes], bytes | bytearray | memoryview | None] | None
    json_structure: JsonStructure | None
    _context: ssl.SSLContext | None
    _lock: threading.Lock
    """Guards :attr:`_loop` changes and the creation of :attr:`_json`."""
    _inbox: Inbox
    """Received chunks of every client, in arrival order."""
    _loop: ServerLoop | None
    """The running loop; ``None`` when not listening."""
    _last_conn: Connection | None
    """The client whose data was returned last: where ``send()`` replies."""
    _ids: itertools.count[int]
    """Client ids, shared by every run of the server."""
    _json: PeerJsonDecoders | None

    @property
    def where(self) -> str:
        """``host:port`` the server listens on, as used in messages."""
        return f"{self.host}:{self.port}"

    @property
    def tls(self) -> bool:
        """Whether clients must speak TLS."""
        return self._context is not None

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

    def _link_ready(self) -> bool:
        loop = self._loop
        return loop is not None and loop.running

    def _not_connected_error(self, operation: str) -> ProtocolError:
        return self._not_listening(operation)

    # -- shared by the parts -------------------------------------------------------

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

    @abc.abstractmethod
    def _answer(self, conn: Connection, data: bytes) -> bool:
        """Callback mode: hand a chunk to ``on_data`` and send its reply (loop's thread).

        Args:
            conn: The client that sent ``data``.
            data: The chunk.

        Returns:
            ``True`` when reading from ``conn`` must pause (never, in callback mode).
        """

    # -- internals -------------------------------------------------------------------

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

    def _connected(self, peer: Peer) -> None:
        callback = self.on_connect
        if callback is not None:
            callback(peer)

    def _disconnected(self, peer: Peer) -> None:
        callback = self.on_disconnect
        if callback is not None:
            callback(peer)
