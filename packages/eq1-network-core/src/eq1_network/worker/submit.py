"""The sending threads' side of a handler's send path: numbering, encoding, queueing.

``NetworkHandler.send_data`` frames the common case itself (an application thread
queueing a typed message at the default timeout); :class:`Submitter` handles every
other case: untyped messages, an explicit timeout, requests, replies sent from the
event callback, acknowledged mode and protocols serving many peers. Both share the
handler's send lock (a :class:`~eq1_network.common.guard.Guard`: taken back when an
interrupted thread left it held), sequence counter and send queue, so that messages
are numbered and queued in one order. Plain messages, which carry no number, are
queued without the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import get_ident
from typing import Any

from eq1_network.common.exceptions import ProtocolError
from eq1_network.common.guard import Guard
from eq1_network.data import SendData
from eq1_network.package import DataPackage
from eq1_network.packets.send import SequenceCounter, TypedSendData
from eq1_network.worker.correlation import Correlator, Waiter
from eq1_network.worker.peers import ReplyRouter
from eq1_network.worker.requester import QueuedMessage, Requester, message_payload_limit
from eq1_network.worker.send_queue import BatchQueue

__all__ = ["WRITE_AT_DEPTH", "Submitter"]

WRITE_AT_DEPTH = 256
"""Queue depth at which a sending thread writes the head of the queue itself (see the docs)."""


class Submitter:
    """Numbers, encodes and queues (or writes) the messages of one handler.

    Args:
        package: The handler's package.
        queue: The send queue.
        guard: Its lock is held while a message is numbered and queued, so both happen in
            one order (taken as ``common.guard`` describes).
        counter: The handler's sequence numbers.
        requests: The requests waiting for replies.
        put_timeout: Seconds to wait for room in a full queue by default (0: reject).
        acknowledged: Acknowledged mode (the handler numbers messages itself, and
            sending threads never write batches).

    Attributes:
        frame_limit: Largest payload framed with ``to_frame`` on the sending thread, or
            ``None`` when the package encodes otherwise.
        requester: The send worker, once started.
        router: Where replies go over a protocol serving many peers, or ``None``.
        listener_id: Thread identifier of the receive worker, once started.
    """

    __slots__ = (
        "_batch_writes",
        "_counter",
        "_guard",
        "_numbered_here",
        "_package",
        "_put_timeout",
        "_queue",
        "_requests",
        "_typed",
        "frame_limit",
        "listener_id",
        "requester",
        "router",
    )

    def __init__(
        self,
        package: DataPackage[Any, Any],
        queue: BatchQueue[QueuedMessage],
        guard: Guard,
        counter: SequenceCounter,
        requests: Correlator,
        put_timeout: float,
        acknowledged: bool,
    ) -> None:
        self._package = package
        self._queue = queue
        self._guard = guard
        self._counter = counter
        self._requests = requests
        self._put_timeout = put_timeout
        self._numbered_here = acknowledged
        self._typed = issubclass(package.send_data_class, TypedSendData)
        # Sending threads write batches themselves only where they may wait (not under
        # REJECT) and outside acknowledged mode.
        self._batch_writes = put_timeout != 0 and not acknowledged
        self.frame_limit = package.direct_frame_limit()
        self.requester: Requester | None = None
        self.router: ReplyRouter | None = None
        self.listener_id: int | None = None

    def fit_messages(self, max_message_size: int | None) -> None:
        """Over a message transport, frame typed messages to fit one message each."""
        if max_message_size is None or self.frame_limit is None:
            return
        limit = message_payload_limit(self._package.packet_structure, max_message_size)
        self.frame_limit = min(self.frame_limit, limit)

    def submit(self, send_data: SendData, timeout: float | None, waiter: Waiter | None) -> int:
        """Queue (or write) a message; a reply is routed to the peer that asked.

        Args:
            send_data: The message, of the package's send class.
            timeout: Seconds to wait for room in a full queue; ``None`` for the default.
            waiter: The request waiting for the reply to this message, or ``None``.

        Returns:
            The message's sequence number (0 for untyped messages).
        """
        router = self.router
        if router is None:
            return self._submit_in_order(send_data, timeout, waiter)
        try:
            # Inside the ``try``: an interrupt right after the claim must not leave a
            # route behind for the next message with the same ``id()``.
            router.claim(send_data)
            return self._submit_in_order(send_data, timeout, waiter)
        except BaseException:
            router.release(send_data)
            raise

    def _submit_in_order(
        self, send_data: SendData, timeout: float | None, waiter: Waiter | None
    ) -> int:
        wait = self._put_timeout if timeout is None or self._put_timeout == 0 else timeout
        guard = self._guard
        lock = guard.lock
        lock = lock if lock.acquire(False) else guard.take(lock)  # see common.guard
        try:
            guard.turn += 1
            if not self._typed:
                # The package numbers untyped messages: keep the queue in order.
                self._queue.put(self.encode(send_data), wait)
                return 0
            typed: Any = send_data
            sequence = self._counter.assign(typed, self._numbered_here)
            entry = self.encode(send_data)
            if waiter is None and get_ident() != self.listener_id:
                deep = self._queue.put(entry, wait) >= WRITE_AT_DEPTH
            else:
                deep = False
                self._submit_now(entry, sequence, wait, waiter)
        finally:
            guard.turn += 1
            lock.release()
        if deep:
            self.write_head()
        return sequence

    def submit_plain(self, send_data: SendData, to_packet: Callable[[bytes], bytes]) -> int:
        """Queue a plain message framed by ``to_packet``: :meth:`submit` in one step.

        For a message of exactly the send class of a package whose
        ``plain_packet_encoder()`` gave ``to_packet``, sent by a handler without a
        reply router. The send lock is not taken: such a message has no number, and
        the queue keeps the order of the appends.

        Returns:
            0: plain messages have no sequence number.
        """
        try:
            entry: QueuedMessage = (send_data, to_packet(send_data.to_bytes()))
        except (ProtocolError, ValueError, TypeError):
            entry = (send_data, None)  # the send worker reports it
        self._queue.put(entry, self._put_timeout)
        return 0

    def write_head(self) -> None:
        """Write the head of a deep queue from this thread (see the docs)."""
        if self._batch_writes:
            # A producer that outpaces the send worker writes the head of the queue
            # itself: no thread hand-offs, and queued messages stay few.
            requester = self.requester
            if requester is not None:
                requester.write_batch_now()

    def _submit_now(
        self, entry: QueuedMessage, sequence: int, wait: float | None, waiter: Waiter | None
    ) -> None:
        """Write or queue a request, or a reply from the event callback (lock held)."""
        if waiter is not None:
            self._requests.register(sequence, waiter)
        # A request blocks its caller anyway, and a reply sent from the event callback
        # runs on the receive worker: when nothing is queued, either is written from
        # this thread, one thread hand-off less per round trip.
        requester = self.requester
        if requester is not None and requester.write_now(entry):
            return
        try:
            self._queue.put(entry, wait)
        except BaseException:
            if waiter is not None:
                self._requests.discard(sequence)
            raise

    def encode(self, send_data: SendData) -> QueuedMessage:
        """Encode on the sending thread, so that the send worker only joins and writes.

        A message that does not fit one frame, or cannot be encoded, is queued as it is:
        the send worker splits it, or reports it with an ERROR event and in the
        ``StopReport``.
        """
        try:
            limit = self.frame_limit
            if limit is not None:
                typed: Any = send_data
                return send_data, typed.to_frame(limit)
            return send_data, self._package.encode(send_data)
        except (ProtocolError, ValueError, TypeError):
            return send_data, None
