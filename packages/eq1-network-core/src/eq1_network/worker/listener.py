"""The receive worker (F-14): reads, unframes, reassembles, decodes and dispatches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eq1_network.common.exceptions import (
    FragmentError,
    PacketError,
    ProtocolConnectionError,
    ProtocolError,
)
from eq1_network.data import ReceivedData
from eq1_network.interfaces.protocol import has_readiness_wait
from eq1_network.packets.fragmentation import Reassembler, split_message
from eq1_network.packets.header import HEADER_VERSION
from eq1_network.packets.kinds import MessageFlags
from eq1_network.packets.message import Message
from eq1_network.packets.reader import TypedStreamReader
from eq1_network.worker.ack import CONTROL_FLAGS, DeliveryLedger, ack_message, parse_hello
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.link import Link

__all__ = ["Listener"]

logger = logging.getLogger(__name__)

_IDLE = 0.05
_EXPIRE_EVERY = 1.0
_CONTROL_BIT = int(CONTROL_FLAGS)
_SPECIAL_BITS = _CONTROL_BIT | int(MessageFlags.FRAGMENT)


def _one_by_one(
    deliver: Callable[[ReceivedData], None],
) -> Callable[[Iterable[ReceivedData]], None]:
    """Make a ``deliver_many`` out of a ``deliver``."""

    def deliver_many(batch: Iterable[ReceivedData]) -> None:
        for received in batch:
            deliver(received)

    return deliver_many


class Listener(threading.Thread):
    """Reads a :class:`Link` and hands every decoded message to ``deliver``.

    It also reconnects the link when it breaks (with the link's policy), handles the
    control messages of acknowledged mode, and reports malformed data, rejected
    fragments and expired transfers as ERROR events without stopping.

    Args:
        link: The connection.
        package: A ``DataPackage`` that decodes payloads.
        emit: Where events go.
        deliver: Called with each decoded message, in order.
        deliver_many: Optional; called instead of ``deliver`` with an iterator over
            the decoded messages of one read (outside acknowledged mode), to save a
            call per message. It must deliver each message as it takes it, in order.
        after_batch: Called after the messages of each read were delivered, just before
            the worker waits again (and when it ends).
        stopping: Set to end the worker.
        on_ack: Acknowledged mode: called with the sequence number of each ack received.
        ledger: Acknowledged mode: records deliveries per sender epoch.
        reassembler: Holds fragments of split messages.
        max_buffer: Bound of the stream decoder's buffer.
        name: Thread name.
    """

    def __init__(
        self,
        *,
        link: Link,
        package: Any,
        emit: Callable[[NetworkEvent], None],
        deliver: Callable[[ReceivedData], None],
        deliver_many: Callable[[Iterable[ReceivedData]], None] | None = None,
        after_batch: Callable[[], None] | None = None,
        stopping: threading.Event,
        on_ack: Callable[[int], object] | None = None,
        ledger: DeliveryLedger | None = None,
        reassembler: Reassembler | None = None,
        max_buffer: int | None = None,
        name: str = "eq1-listener",
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._link = link
        self._package = package
        self._decode = package.payload_decoder()
        self._emit = emit
        self._deliver = deliver
        self._deliver_many = deliver_many or _one_by_one(deliver)
        self._after_batch = after_batch
        self._stopping = stopping
        self._on_ack = on_ack
        self._ledger = ledger
        self._reassembler = reassembler or Reassembler()
        self._max_buffer = max_buffer
        self._peer_epoch = 0
        self._ack_due = 0

    def run(self) -> None:
        """Thread body: never dies silently."""
        try:
            self._loop()
        except BaseException as exc:
            logger.exception("receive worker failed")
            self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))
        finally:
            if self._after_batch is not None:
                self._after_batch()

    def _loop(self) -> None:
        link, protocol = self._link, self._link.protocol
        wait_first = has_readiness_wait(protocol)
        generation = -1
        stream = self._package.stream(max_buffer=self._max_buffer)
        reader: TypedStreamReader | None = None
        next_expiry = time.monotonic() + _EXPIRE_EVERY
        while not self._stopping.is_set():
            if not link.up.is_set():
                if link.failed.is_set() or not link.reconnect(self._stopping):
                    self._stopping.wait(_IDLE)
                continue
            if link.generation != generation:
                generation = link.generation
                stream = self._package.stream(max_buffer=self._max_buffer)
                # Outside acknowledged mode, typed messages are decoded in one step.
                reader = self._package.stream_reader(stream) if self._ledger is None else None
                self._reassembler.clear()
                self._peer_epoch = 0
            try:
                ok, data = protocol.read()
            except ProtocolConnectionError as exc:
                link.mark_down(exc)
                continue
            if not ok or not data:
                if not protocol.is_connected():
                    link.mark_down(None)
                    continue
                protocol.wait_readable(_IDLE)
                if time.monotonic() >= next_expiry:
                    next_expiry = time.monotonic() + _EXPIRE_EVERY
                    self._expire()
                continue
            try:
                if reader is not None:
                    self._deliver_many(reader.feed(data, self._handle))
                else:
                    self._take(stream.feed_payloads(data))
            except PacketError as exc:
                logger.error("corrupt byte stream from %r: %s", protocol, exc)
                self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))
                link.mark_down(exc)
                continue
            if self._ack_due:
                self._send_ack()
            if self._after_batch is not None:
                self._after_batch()
            if wait_first:
                # Straight back to waiting: the read that would find nothing, and the
                # interpreter lock hand-offs its system calls cause, are saved.
                protocol.wait_readable(_IDLE)

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
        for payload in payloads:
            if len(payload) > 3 and payload[3] & _SPECIAL_BITS and payload[0] == HEADER_VERSION:
                handle(payload)  # a control message or a fragment
                continue
            try:
                received = decode(payload)
            except (ProtocolError, ValueError, TypeError) as exc:
                self._undecodable(exc)
                continue
            yield received

    def _handle(self, payload: bytes) -> None:
        try:
            if len(payload) > 3 and payload[3] & _CONTROL_BIT and payload[0] == HEADER_VERSION:
                self._control(Message.from_bytes(payload))
                return
            received = self._package.receive_payload(payload, self._reassembler)
        except (ProtocolError, ValueError, TypeError) as exc:
            self._undecodable(exc)
            return
        if received is None:
            return
        ledger = self._ledger
        if ledger is None:
            self._deliver(received)
            return
        sequence = getattr(received, "sequence", 0)
        if sequence and sequence <= ledger.last(self._peer_epoch):
            logger.debug("dropping duplicate %d of epoch %d", sequence, self._peer_epoch)
            self._ack_due = ledger.last(self._peer_epoch) or self._ack_due
            return
        self._deliver(received)
        if sequence:
            ledger.record(self._peer_epoch, sequence)
            self._ack_due = sequence

    def _undecodable(self, exc: Exception) -> None:
        logger.error("dropping an undecodable message: %s", exc)
        self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))

    def _control(self, message: Message) -> None:
        epoch = parse_hello(message)
        if epoch is not None:
            self._peer_epoch = epoch
            if self._ledger is not None:
                self._ack_due = self._ledger.last(epoch) or -1
            return
        if self._on_ack is not None:
            self._on_ack(message.reply_to)

    def _send_ack(self) -> None:
        sequence = max(self._ack_due, 0)
        self._ack_due = 0
        frames = split_message(ack_message(sequence), structure=self._package.packet_structure)
        try:
            self._link.send(frames[0])
        except ProtocolConnectionError:
            return
        except ProtocolError as exc:
            self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))

    def _expire(self) -> None:
        for expired in self._reassembler.expire():
            error = FragmentError(f"incomplete split message dropped after its timeout: {expired}")
            self._emit(NetworkEvent(NetworkEventType.ERROR, error=error))
