"""The connection shared by the two workers: state, sending, and reconnection with backoff."""

from __future__ import annotations

import threading
from collections.abc import Callable
from threading import get_ident

from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import MultiPeerProtocol, ReqResProtocol, serves_many_peers
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.policy import ReconnectPolicy

__all__ = ["Link"]

logger = get_logger(__name__)

Emit = Callable[[NetworkEvent], None]


class Link:
    """A request/response protocol plus the state both workers need to share.

    Only the receive worker reconnects; the send worker waits for :attr:`up`.

    Outside acknowledged mode, the send worker counts the messages written on each
    connection (:meth:`note_written`). When a connection breaks, those messages may or
    may not have been read by the peer: their number is added to :attr:`unconfirmed`
    and reported in an ERROR event whose ``data`` is that number (a write that ends
    after the break was noticed is reported in an event of its own).

    Attributes:
        multi_peer: The protocol, when it serves many peers (:class:`MultiPeerProtocol`).
        unconfirmed: Messages written to connections that then broke.
        reading_peer: Set by the receive worker to the peer whose data it delivers.
        reader: The receive worker's thread identifier.

    Args:
        protocol: The transport.
        policy: When and how to reconnect.
        emit: Where events go.
    """

    def __init__(self, protocol: ReqResProtocol, policy: ReconnectPolicy, emit: Emit) -> None:
        self.protocol = protocol
        self.policy = policy
        self._emit = emit
        self.up = threading.Event()
        self.down = threading.Event()
        self.failed = threading.Event()
        self.generation = 0
        self.multi_peer: MultiPeerProtocol | None = (
            protocol if serves_many_peers(protocol) else None  # type: ignore[assignment]
        )
        self.unconfirmed = 0
        self.reading_peer: object = None
        self.reader: int | None = None
        self._written = 0
        self._lock = threading.Lock()

    def open(self) -> None:
        """Connect for the first time.

        Raises:
            ProtocolConnectionError: If the protocol does not connect.
        """
        if not self.protocol.connect():
            raise ProtocolConnectionError(f"{self.protocol!r}: connect() failed")
        self._set_up()

    def _set_up(self) -> None:
        with self._lock:
            self.generation += 1
            self.down.clear()
            self.up.set()
        self._emit(NetworkEvent(NetworkEventType.CONNECTED))

    def send(self, data: bytes) -> None:
        """Write bytes; a broken link is marked down and the error re-raised.

        A failure while the protocol still reports itself connected (a server with no
        client to answer) leaves the link up.

        Raises:
            ProtocolConnectionError: If the link is broken.
        """
        try:
            self.protocol.send(data)
        except ProtocolConnectionError as exc:
            if not self.protocol.is_connected():
                self.mark_down(exc)
            raise

    def send_to(self, peer: object, data: bytes) -> None:
        """Write bytes to one peer of a :class:`MultiPeerProtocol`; errors propagate.

        On the receive worker's thread, bytes for the peer whose data it is delivering
        take the protocol's ``send`` (which answers the peer read last): the shorter path.

        Raises:
            ProtocolConnectionError: If that peer is gone (or the protocol is down).
            ProtocolError: As the protocol's ``send_to``.
        """
        if peer is self.reading_peer and get_ident() == self.reader:
            self.send(data)
            return
        multi = self.multi_peer
        assert multi is not None
        multi.send_to(peer, data)

    def note_written(self, count: int, generation: int) -> None:
        """Count messages written on connection ``generation`` (see the class notes).

        Messages whose write ended after the break was noticed are reported at once.
        """
        with self._lock:
            if generation == self.generation and self.up.is_set():
                self._written += count
                return
            self.unconfirmed += count
        self._report_unknown(count)

    def mark_down(self, error: BaseException | None) -> None:
        """Record that the link broke (idempotent per generation).

        Args:
            error: What broke it, if known.
        """
        with self._lock:
            if not self.up.is_set():
                return
            self.up.clear()
            self.down.set()
            written, self._written = self._written, 0
            self.unconfirmed += written
        logger.warning("link to %r lost: %s", self.protocol, error or "peer closed")
        self._emit(NetworkEvent(NetworkEventType.DISCONNECTED, error=error))
        if written:
            self._report_unknown(written)

    def _report_unknown(self, count: int) -> None:
        unknown = ProtocolConnectionError(
            f"{count} message(s) were written to the connection to {self.protocol!r} "
            "before it broke; the peer may not have read them all, and without "
            "acknowledged mode (NetworkConfig(acknowledged=True)) the handler cannot "
            "tell which"
        )
        logger.warning("%s", unknown)
        self._emit(NetworkEvent(NetworkEventType.ERROR, data=count, error=unknown))

    def reconnect(self, stopping: threading.Event) -> bool:
        """Reconnect with the policy's backoff until it works, the policy gives up, or stop.

        Args:
            stopping: Set when the handler stops; ends the attempts.

        Returns:
            ``True`` once connected again; ``False`` if not (the link is then failed
            when the policy gave up).
        """
        try:
            self.protocol.disconnect()
        except ProtocolError as exc:
            logger.debug("disconnect before reconnect failed: %s", exc)
        if not self.policy.enabled:
            self._give_up("automatic reconnection is off (NetworkConfig.reconnect)")
            return False
        for attempt, delay in enumerate(self.policy.delays(), start=1):
            if stopping.wait(delay):
                return False
            try:
                if self.protocol.connect():
                    logger.info("reconnected to %r after %d attempt(s)", self.protocol, attempt)
                    self._set_up()
                    return True
            except ProtocolError as exc:
                logger.info("reconnect attempt %d to %r failed: %s", attempt, self.protocol, exc)
        self._give_up(f"gave up after {self.policy.max_attempts} reconnection attempts")
        return False

    def _give_up(self, why: str) -> None:
        self.failed.set()
        error = ProtocolConnectionError(f"{self.protocol!r}: link lost and {why}")
        logger.error("%s", error)
        self._emit(NetworkEvent(NetworkEventType.ERROR, error=error))
