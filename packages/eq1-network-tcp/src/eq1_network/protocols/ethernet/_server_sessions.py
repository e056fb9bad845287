"""The receiving side of a :class:`TCPServer`: clients, their chunks, ``read()`` and ``receive()``.

Every received chunk waits in the server's inbox with the client that sent it; taking
it makes that client the target of ``send()`` and resumes reading from a client that
was paused by back-pressure.
"""

from __future__ import annotations

import time

from eq1_network.protocols.ethernet._config import check_timeout
from eq1_network.protocols.ethernet._peer import Connection, Peer, PeerMessage, peer_id
from eq1_network.protocols.ethernet._server_base import ServerBase

__all__ = ["FOREVER_SLICE", "ServerSessions"]

_IDLE_WAIT = 0.1
"""Seconds ``wait_readable(None)`` waits: the "short default slice" of the interface."""

FOREVER_SLICE = 1.0
"""Seconds of one wait while ``receive(None)`` (or ``receive_json(None)``) waits without limit."""


class ServerSessions(ServerBase):
    """The per-client sessions of a TCP server and the chunks they sent."""

    @property
    def last_peer(self) -> Peer | None:
        """The client whose data was read last: where :meth:`send` replies."""
        conn = self._last_conn
        return None if conn is None else conn.peer

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
            remaining = FOREVER_SLICE if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._wait(remaining)

    def disconnect_peer(self, peer: Peer | int) -> bool:
        """Close the connection of one client; ``on_disconnect`` follows.

        Args:
            peer: The client, or its :attr:`Peer.id`.

        Returns:
            ``True`` if the client was connected.

        Raises:
            ProtocolTypeError: If ``peer`` has the wrong type.
        """
        wanted = peer_id(peer)
        loop = self._loop
        conn = None if loop is None else loop.connection(wanted)
        if loop is None or conn is None:
            return False
        loop.drop(conn, "disconnected by the server")
        return True

    # -- internals -------------------------------------------------------------------

    def _accept_item(self, conn: Connection, data: bytes, resume: bool) -> PeerMessage:
        if resume:
            self._resume(conn)
        self._last_conn = conn
        return PeerMessage(conn.peer, data)

    def _resume(self, conn: Connection) -> None:
        loop = self._loop
        if loop is not None:
            loop.resume(conn)
