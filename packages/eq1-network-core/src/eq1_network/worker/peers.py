"""Per-peer state of the workers: one byte stream per peer, and where replies go.

Used when the protocol serves many peers at once
(:class:`~eq1_network.interfaces.protocol.MultiPeerProtocol`), and, with a single
:class:`StreamState`, for a protocol with one peer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from eq1_network.common.exceptions import (
    MalformedPacketError,
    PacketError,
    ProtocolError,
)
from eq1_network.common.logging import get_logger
from eq1_network.data import ReceivedData, SendData
from eq1_network.interfaces.protocol import MultiPeerProtocol
from eq1_network.packets.fragmentation import Reassembler
from eq1_network.packets.reader import TypedStreamReader
from eq1_network.packets.stream import PacketStream
from eq1_network.worker.events import NetworkEvent, NetworkEventType

__all__ = ["PeerStreams", "ReplyRouter", "StreamState"]

logger = get_logger("eq1_network.worker.listener")  # the receive worker's records

_GONE_SWEEPS = 2
"""Sweeps that must find a peer disconnected before its state is freed: by then the
bytes it sent before leaving were read."""
_ORIGINS = 65_536
"""Sequence numbers whose senders a :class:`ReplyRouter` remembers (twice this at most)."""


class StreamState:
    """What the receive worker keeps for one peer's byte stream.

    Attributes:
        peer: The peer (``None`` for a protocol with one peer).
        stream: Unframes the peer's bytes.
        reader: Decodes typed messages straight out of ``stream``, when available.
        reassembler: Holds the peer's incomplete split messages.
        epoch: Acknowledged mode: the peer's epoch, from its hello.
        ack_due: Acknowledged mode: the sequence number to acknowledge next (0: none).
        since: When the frame the peer has begun started (``None`` between frames).
        gone: Sweeps that found the peer disconnected.
    """

    __slots__ = (
        "ack_due",
        "epoch",
        "gone",
        "peer",
        "reader",
        "reassembler",
        "since",
        "stream",
    )

    def __init__(
        self,
        peer: object,
        stream: PacketStream,
        reader: TypedStreamReader | None,
        reassembler: Reassembler,
    ) -> None:
        self.peer = peer
        self.stream = stream
        self.reader = reader
        self.reassembler = reassembler
        self.epoch = 0
        self.ack_due = 0
        self.since: float | None = None
        self.gone = 0

    @property
    def settled(self) -> bool:
        """Whether no frame and no split message is half read."""
        return not self.stream.buffered and not self.reassembler.pending

    def track(self, new_frame: bool) -> None:
        """Note when the peer's incomplete frame began, after a chunk was fed.

        Args:
            new_frame: Whether the chunk finished the frame pending before it (or none
                was pending), so that what is buffered now is a frame it began.
        """
        if not self.stream.buffered:
            self.since = None
        elif new_frame or self.since is None:
            self.since = time.monotonic()


class ReplyRouter:
    """Remembers which peer sent each sequence number, and sends replies back to it.

    The receive worker calls :meth:`note` for every message a peer sent; a reply (a
    message whose ``reply_to`` is non-zero) is given its destination once, by
    :meth:`claim` when it is queued: the peer that sent the oldest unanswered message
    with that sequence number. The send worker then asks :meth:`destination` and calls
    :meth:`release` once the reply is written or reported. The sequence numbers of the
    last 65,536 to 131,072 messages are remembered.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._young: dict[int, Any] = {}
        self._old: dict[int, Any] = {}
        self._routes: dict[int, tuple[SendData, object]] = {}

    def noted(self, messages: Iterator[ReceivedData], peer: object) -> Iterator[ReceivedData]:
        """Yield ``messages``, noting that ``peer`` sent each just before it is delivered."""
        note = self.note
        for received in messages:
            sequence = getattr(received, "sequence", 0)
            if sequence:
                note(sequence, peer)
            yield received

    def note(self, sequence: int, peer: object) -> None:
        """Record that ``peer`` sent the message numbered ``sequence`` (receive worker).

        Only the receive worker adds origins and replaces the tables; other threads
        only take origins (under the lock). So a sequence number not yet recorded,
        in a table with room, is added without the lock: a single dictionary store,
        which no taker can interleave with.
        """
        young = self._young
        if sequence not in young and len(young) < _ORIGINS:
            young[sequence] = peer
            return
        with self._lock:
            young = self._young
            previous = young.get(sequence)
            if previous is None:
                if len(young) >= _ORIGINS:
                    self._old, young = young, {}
                    self._young = young
                young[sequence] = peer
            elif type(previous) is list:
                previous.append(peer)
            else:
                young[sequence] = [previous, peer]

    def claim(self, item: SendData) -> None:
        """Give a reply its destination: the sender of the message it answers, if known."""
        reply_to = getattr(item, "reply_to", 0)
        if not reply_to:
            return
        with self._lock:
            peer = self._take(self._young, reply_to)
            if peer is None:
                peer = self._take(self._old, reply_to)
            if peer is not None:
                self._routes[id(item)] = (item, peer)

    @staticmethod
    def _take(origins: dict[int, Any], sequence: int) -> object:
        found = origins.get(sequence)
        if type(found) is list:
            peer = found.pop(0)
            if len(found) == 1:
                origins[sequence] = found[0]
            return peer
        if found is not None:
            del origins[sequence]
        return found

    def destination(self, item: SendData) -> object:
        """The peer that ``item`` must go to, or ``None`` for the protocol's default."""
        route = self._routes.get(id(item))
        return None if route is None else route[1]

    def release(self, item: SendData) -> None:
        """Forget the destination of a reply that was written or reported."""
        self._routes.pop(id(item), None)

    @property
    def routing(self) -> bool:
        """Whether some queued reply has a destination."""
        return bool(self._routes)


class PeerStreams:
    """The receive worker's stream states of the peers of a protocol serving many.

    Args:
        multi: The protocol's per-peer methods.
        emit: Where events go.
        frame_timeout: Seconds a peer may take to complete a frame it began.

    Attributes:
        states: The stream state of each peer that sent bytes.
    """

    __slots__ = ("_emit", "_frame_timeout", "_multi", "states")

    def __init__(
        self,
        multi: MultiPeerProtocol,
        emit: Callable[[NetworkEvent], None],
        frame_timeout: float,
    ) -> None:
        self._multi = multi
        self._emit = emit
        self._frame_timeout = frame_timeout
        self.states: dict[object, StreamState] = {}

    def sweep(self, expire: Callable[[StreamState], None]) -> None:
        """Free the state of peers that left; drop peers stuck inside a frame.

        Args:
            expire: Drops the expired split messages of a peer still connected.
        """
        states = self.states
        if not states:
            return
        present = set(self._multi.peers())
        now = time.monotonic()
        for peer, state in list(states.items()):
            if peer not in present:
                state.gone += 1
                if state.gone >= _GONE_SWEEPS:
                    del states[peer]
                    if state.stream.buffered:
                        error = MalformedPacketError(
                            f"{peer} left inside a frame; its {state.stream.buffered} "
                            "buffered byte(s) were dropped"
                        )
                        logger.warning("%s", error)
                        self._emit(NetworkEvent(NetworkEventType.ERROR, data=peer, error=error))
                continue
            if state.since is not None and now - state.since > self._frame_timeout:
                stalled = MalformedPacketError(
                    f"{peer} did not complete a frame within {self._frame_timeout:g} s "
                    "(NetworkConfig.peer_frame_timeout)"
                )
                self.drop(state, stalled, "stalled inside a frame")
                continue
            expire(state)

    def drop(self, state: StreamState, exc: PacketError, why: str) -> None:
        """Disconnect one peer and report why; the others are unaffected.

        Args:
            state: The peer's stream state.
            exc: What the peer did wrong.
            why: The same, in words, for the report.
        """
        peer = state.peer
        self.states.pop(peer, None)
        try:
            self._multi.disconnect_peer(peer)
        except ProtocolError as failure:
            logger.debug("disconnecting %s failed: %s", peer, failure)
        message = f"{peer} {why}: {exc}; that peer was disconnected, the others are unaffected"
        try:
            error: PacketError = type(exc)(message)
        except TypeError:
            error = PacketError(message)
        error.__cause__ = exc
        logger.warning("%s", error)
        self._emit(NetworkEvent(NetworkEventType.ERROR, data=peer, error=error))
