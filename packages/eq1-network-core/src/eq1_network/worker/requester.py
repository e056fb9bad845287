"""The send worker: drains the send queue, encodes, coalesces and writes."""

from __future__ import annotations

import operator
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from eq1_network.common.exceptions import (
    ProtocolError,
)
from eq1_network.common.guard import Guard
from eq1_network.common.logging import get_logger
from eq1_network.data import SendData
from eq1_network.packets._binding import bind_structure
from eq1_network.packets.fragmentation import split_message
from eq1_network.worker.ack import AckWindow, hello_message
from eq1_network.worker.base import Worker
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.link import Link
from eq1_network.worker.peers import ReplyRouter
from eq1_network.worker.send_queue import BatchQueue
from eq1_network.worker.writer import Encoded, FrameWriter, encode_to_fit, frames_of

__all__ = ["QueuedMessage", "Requester", "message_payload_limit"]

logger = get_logger(__name__)

_SENT = NetworkEventType.SENT  # bound once: an enum member read is slow on 3.10 and 3.11

QueuedMessage = tuple[SendData, bytes | None]
"""A send-queue entry: the message and its frame, or ``None`` when the worker must encode it.

Senders encode where the message is made, so that a fast producer and the worker do not
compete for the interpreter; a message that does not fit one frame (or cannot be encoded
at all) is queued with ``None``, and the worker splits it or reports it.
"""

_IDLE = 0.1
_second = operator.itemgetter(1)


def message_payload_limit(structure: object, max_message: int) -> int:
    """Return the largest frame payload whose frame fits one message of a message transport.

    Args:
        structure: The package's packet structure.
        max_message: The transport's ``max_message_size``.

    Returns:
        ``max_message`` minus the structure's framing overhead.
    """
    overhead = len(bind_structure(structure).to_packet(b""))
    return max_message - overhead


class Requester(Worker):
    """Writes queued messages through a :class:`Link`, many frames per write when the queue is deep.

    Messages are written in the order they were queued. A batch whose write fails stays
    pending and is written again after the link reconnects; in acknowledged mode every
    unacknowledged message is written again first, after a hello. Every message written
    gets exactly one SENT event (with ``sent_events``), also when its first write failed
    and it was written again after a reconnection.

    With a ``router`` (a protocol serving many peers), a reply goes to the peer that
    sent the message it answers; a reply that this peer cannot take (it left, or
    accepts nothing) is reported in an ERROR event and kept in :attr:`rejected`, and a
    peer that accepts nothing is disconnected. Other messages go to the protocol's
    default destination.

    Other threads may write too, always under the same write lock so that the order
    holds: :meth:`write_now` (one message, when nothing is queued; it emits its SENT
    event itself) and :meth:`write_batch_now` (the head of a deep queue; this thread
    emits the SENT events of such batches, in the order of the writes). If one of them
    is interrupted (``KeyboardInterrupt``) right after taking the lock, this thread
    takes it back (``common.guard``) and writes on.

    Args:
        queue: Messages to send, with their frames where the sender encoded them.
        package: A ``DataPackage`` that encodes them.
        link: The connection.
        emit: Where events go.
        window: Acknowledged mode: keeps written messages until acknowledged.
        epoch: Acknowledged mode: this sender's epoch, sent in the hello.
        max_batch: Most messages taken from the queue at once.
        max_write_bytes: Most bytes joined into one ``send`` call.
        sent_events: Emit a SENT event per message.
        max_message: The transport's ``max_message_size`` (a message transport): every
            write then holds whole frames of at most this many bytes in all, and typed
            messages are split to fit.
        retransmit_after: Acknowledged mode over a message transport: seconds without
            an acknowledgement after which the hello and every unacknowledged message
            are written again.
        router: Where replies go, when the protocol serves many peers.
        on_failure: Called with the exception that ended the worker, if one did.
        name: Thread name.
    """

    def __init__(  # noqa: PLR0913 - built in one place, worker.wiring
        self,
        *,
        queue: BatchQueue[QueuedMessage],
        package: Any,
        link: Link,
        emit: Callable[[NetworkEvent], None],
        window: AckWindow[SendData] | None = None,
        epoch: int = 0,
        max_batch: int = 1024,
        max_write_bytes: int = 1 << 20,
        sent_events: bool = True,
        max_message: int | None = None,
        retransmit_after: float | None = None,
        router: ReplyRouter | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        name: str = "eq1-requester",
    ) -> None:
        super().__init__(name, emit, on_failure)
        self._queue = queue
        self._package = package
        self._link = link
        self._router = router
        self._window = window
        self._epoch = epoch
        self._max_batch = max_batch
        self._max_message = max_message
        self._max_payload: int | None = None
        if max_message is not None:
            max_write_bytes = min(max_write_bytes, max_message)
            self._max_payload = message_payload_limit(package.packet_structure, max_message)
        self._retransmit_after = retransmit_after if window is not None else None
        self._sent_events = sent_events
        self._stop_requested = threading.Event()
        self._abort = threading.Event()
        self._pending: list[Encoded] = []
        self.rejected: list[SendData] = []
        self._writer = FrameWriter(link, emit, self._abort, max_write_bytes, router, self.rejected)
        # Taken back if an interrupted thread (write_now, write_batch_now) left it held.
        self._write_guard = Guard("the send worker's write lock", logger)
        self._unreported: deque[list[Encoded]] = deque()
        """Written batches whose SENT events are due, in the order of the writes."""
        self._resend_due: list[Encoded] = []
        """Acknowledged mode: messages whose write failed; their SENT events follow the resend."""

    def request_stop(self, *, abort: bool = False) -> None:
        """Ask the worker to finish: after the queue is drained, or at once with ``abort``."""
        self._stop_requested.set()
        if abort:
            self._abort.set()

    def pending(self) -> list[SendData]:
        """Messages taken from the queue but not written yet."""
        return [item for item, _ in self._pending]

    def _finish(self) -> None:
        self._report_written()

    def _loop(self) -> None:  # noqa: C901 - the send loop's hot path, kept in one frame
        seen_generation = 0
        fresh = False  # acknowledged mode: hello and resend due on this connection
        while not self._abort.is_set():
            if self._unreported:
                self._report_written()
            if not self._link.up.is_set():
                if self._stop_requested.is_set() and (
                    self._link.failed.is_set() or self._abort.is_set()
                ):
                    return
                self._link.up.wait(_IDLE)
                continue
            if self._link.generation != seen_generation:
                seen_generation = self._link.generation
                fresh = self._window is not None
            elif not fresh and self._stalled():
                fresh = True  # unacknowledged for too long: hello and resend
            resend = fresh and self._window is not None and len(self._window) > 0
            if not self._pending and not resend and not self._queue.wait_items(_IDLE):
                if self._stop_requested.is_set():
                    if self._retransmit_after is not None and self._window:
                        # Over a message transport, the last acknowledgements may be lost:
                        # keep writing again until they come (or the stop aborts).
                        self._abort.wait(min(self._retransmit_after, _IDLE))
                        continue
                    self._report_written()
                    return
                continue
            guard = self._write_guard
            lock = guard.lock
            if not lock.acquire(False):
                taken = guard.take(lock, self._abort)  # busy, or left held by an interrupt
                if taken is None:
                    continue  # aborted
                lock = taken
            try:
                guard.turn += 1
                if fresh and not resend and self._resend_due:
                    # Their write failed, yet the peer acknowledged them all: written.
                    self._note_written(self._resend_due, 0)
                    self._resend_due = []
                if not self._pending and not resend:
                    self._pending = self._take_batch()
                    if not self._pending:
                        continue
                written = self._write_pending(fresh)
            finally:
                guard.turn += 1
                lock.release()
            if written:
                fresh = False
                self._report_written()
            elif self._window is not None:
                # Everything written or not is in the window: hello and resend it all.
                fresh = True
                self._resend_due.extend(self._pending)
                self._pending = []

    def _stalled(self) -> bool:
        """Acknowledged mode over a message transport: tell whether a resend is due."""
        after, window = self._retransmit_after, self._window
        if after is None or window is None or not window.stalled(after):
            return False
        logger.info(
            "no acknowledgement for %g s: writing %d message(s) again",
            after,
            len(window),
        )
        window.touch()
        return True

    def _write_pending(self, fresh: bool) -> bool:
        """Write the pending batch (after a hello and the resend, if ``fresh``); lock held.

        Returns:
            ``True`` if nothing is left pending.
        """
        generation = self._link.generation
        batch = self._pending
        if fresh:
            # The window already holds the pending batch.
            if not self._writer.write_frames(self._hello_and_unacknowledged()):
                return False
            done, self._resend_due = self._resend_due + batch, []
            self._pending = []
        elif self._router is not None and self._router.routing:
            done, handled = self._writer.write_routed(batch)
            self._pending = batch[handled:]
        elif self._writer.write_frames(frames_of(batch)):
            done, self._pending = batch, []
        else:
            return False
        self._note_written(done, generation)
        return not self._pending

    def _note_written(self, done: list[Encoded], generation: int) -> None:
        """Count written messages and queue their SENT events (write lock held)."""
        if not done:
            return
        if self._window is None:
            self._link.note_written(len(done), generation)
        if self._sent_events:
            self._unreported.append(done)  # under the write lock: in write order

    def write_now(self, entry: QueuedMessage) -> bool:
        """Write one message at once from the caller's thread, when that keeps the order.

        Used for latency-sensitive sends: it succeeds only when nothing is queued or
        pending, no other write is in progress, the link is up, and acknowledged mode is
        off. Otherwise (or if the write fails) the caller queues the message as usual.

        Args:
            entry: The message and its frame.

        Returns:
            ``True`` if the message was written.
        """
        item, frame = entry
        if frame is None or self._window is not None or not self._link.up.is_set():
            return False
        guard = self._write_guard
        lock = guard.lock
        if not lock.acquire(False):
            return False
        try:
            guard.turn += 1
            if self._pending or len(self._queue):
                return False
            router = self._router
            peer = None if router is None else router.destination(item)
            generation = self._link.generation
            try:
                if peer is None:
                    self._link.send(frame)
                else:
                    self._link.send_to(peer, frame)
            except ProtocolError:
                return False  # the send worker retries, reconnects or reports it
            if router is not None:
                router.release(item)
            self._link.note_written(1, generation)
        finally:
            guard.turn += 1
            lock.release()
        if self._sent_events:
            sequence = getattr(item, "sequence", 0)
            self._emit(NetworkEvent(_SENT, data=item, sequence=sequence))
        return True

    def write_batch_now(self) -> bool:
        """Write the head of the queue from the caller's thread, when that keeps the order.

        For a producer that fills the queue faster than this thread drains it: writing a
        batch itself spares the hand-offs of the interpreter between the two threads,
        and keeps queued messages few. It succeeds only when no other write is in
        progress, nothing failed and waits to be written again, the link is up and
        acknowledged mode is off and the protocol has a single peer. A failed write is
        left pending, for this thread to write again or report.

        Returns:
            ``True`` if a batch was written.
        """
        if self._window is not None or self._router is not None or not self._link.up.is_set():
            return False
        guard = self._write_guard
        lock = guard.lock
        if not lock.acquire(False):
            return False
        try:
            guard.turn += 1
            if self._pending:
                return False
            batch = self._take_batch()
            if not batch:
                return False
            generation = self._link.generation
            try:
                self._writer.send_frames(frames_of(batch))
            except ProtocolError:
                self._pending = batch
                self._queue.poke()  # this thread writes it again (or reports it)
                return False
            self._note_written(batch, generation)
        finally:
            guard.turn += 1
            lock.release()
        if self._sent_events:
            self._queue.poke()
        return True

    def _take_batch(self) -> list[Encoded]:
        if self._window is not None and not self._window.wait_room(_IDLE):
            return []
        entries = self._queue.get_batch(self._max_batch, 0)
        if not entries:
            return []
        encoded: list[Encoded]
        limit = self._max_message
        if None in map(_second, entries) or (
            limit is not None and max(len(frame or b"") for _, frame in entries) > limit
        ):
            encoded = []
            for item, frame in entries:
                fits = frame is not None and (limit is None or len(frame) <= limit)
                done = (item, frame) if frame is not None and fits else self._encode(item)
                if done is not None:
                    encoded.append(done)
        else:
            encoded = cast(list[Encoded], entries)  # every entry carries its frame
        if self._window is not None:
            # Kept before writing: an ack may overtake the end of the write.
            for item, group in encoded:
                frames = [group] if isinstance(group, bytes) else group
                self._window.add(getattr(item, "sequence", 0), item, frames)
        return encoded

    def _encode(self, item: SendData) -> Encoded | None:
        try:
            return item, encode_to_fit(self._package, item, self._max_message, self._max_payload)
        except (ProtocolError, ValueError, TypeError) as exc:
            logger.error("cannot encode %r: %s", item, exc)
            self.rejected.append(item)
            self._emit(NetworkEvent(NetworkEventType.ERROR, data=item, error=exc))
            return None

    def _hello_and_unacknowledged(self) -> list[bytes]:
        assert self._window is not None
        hello = split_message(
            hello_message(self._epoch, self._window.floor()),
            structure=self._package.packet_structure,
        )
        unacknowledged = self._window.frames()
        if unacknowledged:
            logger.info("re-sending %d unacknowledged frame(s)", len(unacknowledged))
        return hello + unacknowledged

    def _report_written(self) -> None:
        """Emit the SENT events of written batches (this thread only), in write order."""
        unreported = self._unreported
        while unreported:
            for item, _ in unreported.popleft():
                sequence = getattr(item, "sequence", 0)
                self._emit(NetworkEvent(_SENT, data=item, sequence=sequence))
