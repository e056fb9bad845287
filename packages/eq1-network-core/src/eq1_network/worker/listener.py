"""The receive worker: reads, unframes, reassembles, decodes and dispatches.

Over a protocol that serves many peers
(:class:`~eq1_network.interfaces.protocol.MultiPeerProtocol`) it keeps one byte stream,
reassembly state and acknowledged-mode state per peer: a peer that sends bytes that do
not form valid frames, or takes longer than ``peer_frame_timeout`` to finish a frame,
is disconnected alone and reported in an ERROR event whose ``data`` is that peer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from eq1_network.common.exceptions import (
    FragmentError,
    MalformedPacketError,
    PacketError,
    ProtocolConnectionError,
    ProtocolError,
)
from eq1_network.common.logging import get_logger
from eq1_network.data import ReceivedData
from eq1_network.interfaces.protocol import has_readiness_wait
from eq1_network.packets.fragmentation import Reassembler, split_message
from eq1_network.packets.header import FLAGS_OFFSET, HEADER_VERSION
from eq1_network.packets.kinds import MessageFlags
from eq1_network.packets.message import Message
from eq1_network.worker.ack import (
    CONTROL_FLAGS,
    DeliveryLedger,
    ack_message,
    parse_hello,
)
from eq1_network.worker.base import Worker
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.handoff import ReadHandoff
from eq1_network.worker.link import Link
from eq1_network.worker.peers import PeerStreams, ReplyRouter, StreamState

__all__ = ["Listener", "ListenerSink"]

logger = get_logger(__name__)

_IDLE = 0.05
_EXPIRE_EVERY = 1.0
_CONTROL_BIT = int(CONTROL_FLAGS)
_SPECIAL_BITS = _CONTROL_BIT | int(MessageFlags.FRAGMENT)


class ListenerSink(Protocol):
    """Where a :class:`Listener` puts what it reads (all methods run on its thread)."""

    def emit(self, event: NetworkEvent) -> None:
        """Take an event (connection changes, errors)."""

    def deliver(self, received: ReceivedData) -> None:
        """Take one decoded message, in order."""

    def deliver_many(self, batch: Iterable[ReceivedData]) -> None:
        """Take the decoded messages of one read, each as the iterator yields it, in order.

        Used outside acknowledged mode to save a call per message.
        """

    def after_batch(self) -> None:
        """Called after the messages of each read, before the worker waits again."""

    def worker_failed(self, exc: BaseException) -> None:
        """Called with the exception that ended the worker, if one did."""


class Listener(Worker):
    """Reads a :class:`Link` and hands every decoded message to ``deliver``.

    It also reconnects the link when it breaks (with the link's policy), handles the
    control messages of acknowledged mode, and reports malformed data, rejected
    fragments and expired transfers as ERROR events without stopping. Over a single
    connection, bytes that are not a valid stream mark the link down (the stream cannot
    be resynchronised); over a protocol serving many peers, only the peer that sent
    them is disconnected.

    Args:
        link: The connection.
        package: A ``DataPackage`` that decodes payloads.
        sink: Takes the events, the decoded messages and the worker's failure.
        stopping: Set to end the worker.
        on_ack: Acknowledged mode: called with the sequence number of each ack received.
        ledger: Acknowledged mode: records deliveries per sender epoch.
        reassembler: Makes the store of fragments of split messages (one per peer).
        max_buffer: Bound of the stream decoder's buffer.
        router: Told which peer sent each message, when the protocol serves many peers.
        peer_frame_timeout: Seconds a peer of a protocol serving many peers may take to
            complete a frame it began before it is disconnected.
        messages: The link is a message transport (its protocol sets
            ``max_message_size``): a read that is not whole frames is dropped alone and
            reported (the link stays up), and in acknowledged mode only the next
            sequence of each sender is delivered; others are dropped and come again.
        handoff: Lets requests read their own replies (see ``worker.handoff``).
        name: Thread name.

    Attributes:
        handoff: The ``handoff`` argument.
    """

    def __init__(  # noqa: PLR0913 - built in one place, worker.wiring
        self,
        *,
        link: Link,
        package: Any,
        sink: ListenerSink,
        stopping: threading.Event,
        on_ack: Callable[[int], object] | None = None,
        ledger: DeliveryLedger | None = None,
        reassembler: Callable[[], Reassembler] = Reassembler,
        max_buffer: int | None = None,
        router: ReplyRouter | None = None,
        peer_frame_timeout: float = 30.0,
        messages: bool = False,
        handoff: ReadHandoff | None = None,
        name: str = "eq1-listener",
    ) -> None:
        super().__init__(name, sink.emit, sink.worker_failed)
        self._link = link
        self._package = package
        self._decode = package.payload_decoder()
        self._deliver = sink.deliver
        self._deliver_many = sink.deliver_many
        self._after_batch = sink.after_batch
        self._stopping = stopping
        self._on_ack = on_ack
        self._ledger = ledger
        self._new_reassembler = reassembler
        self._max_buffer = max_buffer
        self._router = router
        self._frame_timeout = peer_frame_timeout
        self._messages = messages
        self.handoff = handoff
        self._state = self._new_state(None)
        self._peers: PeerStreams | None = None

    @property
    def peer_count(self) -> int:
        """How many peers' stream states are kept (a protocol serving many peers)."""
        return 0 if self._peers is None else len(self._peers.states)

    def _new_state(self, peer: object) -> StreamState:
        stream = self._package.stream(max_buffer=self._max_buffer)
        # Outside acknowledged mode, typed messages are decoded in one step.
        reader = self._package.stream_reader(stream) if self._ledger is None else None
        return StreamState(peer, stream, reader, self._new_reassembler())

    def _finish(self) -> None:
        self._after_batch()

    def _loop(self) -> None:
        if self._link.multi_peer is not None:
            self._serve_peers()
        else:
            self._serve_one()

    def _connected(self) -> bool:
        """Reconnect if needed (with the policy); ``True`` once the link is up."""
        link = self._link
        if link.up.is_set():
            return True
        if link.failed.is_set() or not link.reconnect(self._stopping):
            self._stopping.wait(_IDLE)
        return False

    def _serve_one(self) -> None:  # noqa: C901 - the per-chunk hot path, kept in one frame
        link, protocol = self._link, self._link.protocol
        wait_first = has_readiness_wait(protocol)
        generation = -1
        next_expiry = time.monotonic() + _EXPIRE_EVERY
        while not self._stopping.is_set():
            if not self._connected():
                continue
            if link.generation != generation:
                generation = link.generation
                self._state = self._new_state(None)
            # Bytes a request read and handed back come first; else read the link.
            aside = self._aside()
            data: bytes | None = aside.stand_aside(self._stopping) if aside else b""
            ok = bool(data)
            if not ok:
                try:
                    ok, data = protocol.read()
                except ProtocolConnectionError as exc:
                    link.mark_down(exc)
                    continue
            if not ok or not data:
                if not protocol.is_connected():
                    link.mark_down(None)
                    continue
                if self._aside() is None:
                    protocol.wait_readable(_IDLE)
                if time.monotonic() >= next_expiry:
                    next_expiry = time.monotonic() + _EXPIRE_EVERY
                    self._expire(self._state)
                continue
            try:
                reader = self._state.reader
                if reader is not None:
                    self._deliver_many(reader.feed(data, self._handle))
                else:
                    self._take(self._state.stream.feed_payloads(data))
            except PacketError as exc:
                if self._messages:
                    self._bad_message(exc)
                    continue
                logger.error("corrupt byte stream from %r: %s", protocol, exc)
                self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))
                link.mark_down(exc)
                continue
            if self._messages and self._state.stream.buffered:
                self._bad_message(MalformedPacketError("a message ended inside a frame"))
            if self._state.ack_due:
                self._send_ack()
            self._after_batch()
            if wait_first and self._aside() is None:
                # Straight back to waiting: the read that would find nothing, and the
                # interpreter lock hand-offs its system calls cause, are saved.
                protocol.wait_readable(_IDLE)

    def _aside(self) -> ReadHandoff | None:
        """The handoff, if requests asked this worker to stand aside and it may now."""
        handoff = self.handoff
        due = handoff is not None and handoff.due() and self._state.settled
        return handoff if due else None

    def _bad_message(self, exc: PacketError) -> None:
        """Drop one message of a message transport that was not whole frames; go on."""
        self._state.stream.reset()
        logger.warning("dropping a message from %r: %s", self._link.protocol, exc)
        self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))

    def _serve_peers(self) -> None:
        link, protocol = self._link, self._link.protocol
        multi = link.multi_peer
        assert multi is not None
        wait_first = has_readiness_wait(protocol)
        peers = self._peers = PeerStreams(multi, self._emit, self._frame_timeout)
        states = peers.states
        link.reader = threading.get_ident()
        generation = -1
        next_sweep = time.monotonic() + _EXPIRE_EVERY
        while not self._stopping.is_set():
            if not self._connected():
                continue
            if link.generation != generation:
                generation = link.generation
                states.clear()
            try:
                message = multi.receive(0)
            except ProtocolConnectionError as exc:
                link.mark_down(exc)
                continue
            if message is not None:
                self._take_chunk(message.peer, message.data)
                self._after_batch()
            elif not protocol.is_connected():
                link.mark_down(None)
                continue
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + _EXPIRE_EVERY
                peers.sweep(self._expire)
            if message is None or wait_first:
                protocol.wait_readable(_IDLE)

    def _take_chunk(self, peer: object, data: bytes) -> None:
        """Decode and deliver one chunk of one peer's stream (a protocol with many peers)."""
        peers = self._peers
        assert peers is not None
        state = peers.states.get(peer)
        if state is None:
            state = peers.states[peer] = self._new_state(peer)
        self._state = state
        self._link.reading_peer = peer
        stream, reader = state.stream, state.reader
        buffered = stream.buffered
        try:
            if reader is not None:
                need = stream.needed() if buffered else 0
                messages: Iterator[ReceivedData] = reader.feed(data, self._handle)
                if self._router is not None:
                    messages = self._router.noted(messages, peer)
                self._deliver_many(messages)
                new_frame = need == 0 or len(data) >= need
            else:
                payloads = stream.feed_payloads(data)
                self._take(payloads)
                new_frame = bool(payloads) or not buffered
        except PacketError as exc:
            peers.drop(state, exc, "sent bytes that are not a valid stream")
            return
        if stream.buffered and self._messages:
            error = MalformedPacketError(f"a message from {peer} ended inside a frame")
            self._bad_message(error)
        elif stream.buffered:
            state.track(new_frame)
        elif state.since is not None:
            state.since = None
        if state.ack_due:
            self._send_ack()

    def _take(self, payloads: list[bytes]) -> None:
        """Decode and deliver the payloads of one read (when no reader decodes the chunk)."""
        if self._ledger is None:
            self._deliver_many(self._decoded(payloads))
        else:
            for payload in payloads:
                self._handle(payload)

    def _decoded(self, payloads: list[bytes]) -> Iterator[ReceivedData]:
        """Decode payloads one at a time, handling control messages and fragments in place.

        ``deliver_many`` takes each message before the next payload is looked at, so
        everything happens in stream order, and no message outlives its delivery.
        """
        decode, handle = self._decode, self._handle
        state = self._state
        note = self._router.note if self._router is not None else None
        for payload in payloads:
            if (
                len(payload) > FLAGS_OFFSET
                and payload[FLAGS_OFFSET] & _SPECIAL_BITS
                and payload[0] == HEADER_VERSION
            ):
                handle(payload)  # a control message or a fragment
                continue
            try:
                received = decode(payload)
            except (ProtocolError, ValueError, TypeError) as exc:
                self._undecodable(exc)
                continue
            if note is not None:
                sequence = getattr(received, "sequence", 0)
                if sequence:
                    note(sequence, state.peer)
            yield received

    def _handle(self, payload: bytes) -> None:
        state = self._state
        try:
            if (
                len(payload) > FLAGS_OFFSET
                and payload[FLAGS_OFFSET] & _CONTROL_BIT
                and payload[0] == HEADER_VERSION
            ):
                self._control(Message.from_bytes(payload))
                return
            received = self._package.receive_payload(payload, state.reassembler)
        except (ProtocolError, ValueError, TypeError) as exc:
            self._undecodable(exc)
            return
        if received is None:
            return
        sequence = getattr(received, "sequence", 0)
        if sequence and self._router is not None:
            self._router.note(sequence, state.peer)
        ledger = self._ledger
        if ledger is None:
            self._deliver(received)
            return
        last = ledger.last(state.epoch)
        if sequence and sequence <= last:
            logger.debug("dropping duplicate %d of epoch %d", sequence, state.epoch)
            state.ack_due = last or state.ack_due
            return
        if sequence and self._messages and (state.epoch == 0 or sequence != last + 1):
            # Not the next one, or its sender's hello was lost: it comes again.
            logger.debug("dropping %d of epoch %d: %d is due", sequence, state.epoch, last + 1)
            state.ack_due = last or -1
            return
        self._deliver(received)
        if sequence:
            ledger.record(state.epoch, sequence)
            state.ack_due = sequence

    def _undecodable(self, exc: Exception) -> None:
        peer = self._state.peer
        where = "" if peer is None else f" from {peer}"
        logger.error("dropping an undecodable message%s: %s", where, exc)
        self._emit(NetworkEvent(NetworkEventType.ERROR, data=peer, error=exc))

    def _control(self, message: Message) -> None:
        state = self._state
        epoch = parse_hello(message)
        if epoch is not None:
            state.epoch = epoch
            ledger = self._ledger
            if ledger is not None:
                if message.reply_to > ledger.last(epoch):
                    ledger.record(epoch, message.reply_to)  # the sender's floor
                state.ack_due = ledger.last(epoch) or -1
            return
        if self._on_ack is not None:
            self._on_ack(message.reply_to)

    def _send_ack(self) -> None:
        state = self._state
        sequence = max(state.ack_due, 0)
        state.ack_due = 0
        frames = split_message(ack_message(sequence), structure=self._package.packet_structure)
        try:
            if state.peer is None:
                self._link.send(frames[0])
            else:
                self._link.send_to(state.peer, frames[0])
        except ProtocolConnectionError:
            return
        except ProtocolError as exc:
            self._emit(NetworkEvent(NetworkEventType.ERROR, data=state.peer, error=exc))

    def _expire(self, state: StreamState) -> None:
        where = "" if state.peer is None else f" from {state.peer}"
        for expired in state.reassembler.expire():
            error = FragmentError(
                f"incomplete split message{where} dropped after its timeout: {expired}"
            )
            self._emit(NetworkEvent(NetworkEventType.ERROR, data=state.peer, error=error))
