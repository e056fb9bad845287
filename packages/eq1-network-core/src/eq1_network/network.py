"""``NetworkHandler``: typed messages over any request/response protocol.

A handler owns one protocol, a bounded send queue, a send worker
(:class:`~eq1_network.worker.Requester`) and a receive worker
(:class:`~eq1_network.worker.Listener`)::

    config = NetworkConfig(protocol="tcp", params={"host": "127.0.0.1", "port": 9000},
                           package=TEXT_PACKAGE)
    with NetworkHandler(config, event_callback) as handler:
        handler.send_data(TextSendData("hello"))
        reply = handler.request(TextSendData("status?", message_type=MessageType.COMMAND),
                                timeout=2.0)

What can be lost
----------------
Messages are written in the order :meth:`NetworkHandler.send_data` accepted them and
arrive in that order. Every accepted message is either written, or reported:
:meth:`NetworkHandler.stop` returns (and logs) those that were never written. Written
is not delivered, though. Without acknowledged mode, a stream transport such as TCP
cannot tell which written bytes the peer really read: when a connection breaks, the
bytes the kernel had accepted but the peer never read are lost, and the batch whose
write failed is written again after reconnection, so the peer may see some messages of
that batch twice. The handler then reports how many messages it had written to that
connection (an ERROR event whose ``data`` is the number, and
:attr:`StopReport.unconfirmed`): an upper bound of what was lost, since it cannot tell
how many of them the peer read. With ``NetworkConfig(acknowledged=True)`` on both ends,
the sender keeps every message until the receiver acknowledges it and writes the
unacknowledged ones again after a reconnection, and the receiver drops repeats: nothing
is lost or duplicated while the sender runs. With ``ack_state_path`` the receiver's
record survives a restart of its process; a receiver killed between a delivery and the
record of it (a few microseconds) gets that one message again.

Many peers
----------
Over a protocol that serves many peers (``tcp-server``; see
:class:`~eq1_network.interfaces.protocol.MultiPeerProtocol`), each peer has its own
byte stream and reassembly state. A peer that sends bytes that do not form valid frames
(a corrupt or oversized frame header), or takes longer than
``NetworkConfig.peer_frame_timeout`` to finish a frame, is disconnected alone and
reported in an ERROR event whose ``data`` is that peer; the listener and the other
peers are unaffected. A reply (a typed message with ``reply_to`` set) goes to the peer
that sent the message it answers; other messages go to the protocol's default
destination (for ``tcp-server``, the client read last).

Message transports
------------------
A protocol that sets ``max_message_size`` (``udp``, ``udp-server``) moves whole
messages that may be lost, duplicated or reordered. The handler puts only whole frames
in each message and splits a typed message that does not fit one into fragments of
that size. A message that is not whole frames is dropped and reported in an ERROR event;
the link stays up. Without acknowledged mode, nothing is retried: a lost message, or a
lost fragment of a split one, is lost (an incomplete split message is reported when
``reassembly_timeout`` passes), and repeats are delivered. In acknowledged mode the
receiver delivers each sender's messages in order, once each, and the sender writes
every unacknowledged message again when none was acknowledged for
``NetworkConfig.ack_timeout`` seconds: nothing is lost or duplicated while both run.
Keep ``max_unacknowledged`` within what the receiver's socket buffer holds, since a
resend writes them all at once.

Interrupts
----------
A ``KeyboardInterrupt`` (Ctrl-C, or interrupting a notebook's kernel) raised in
:meth:`~NetworkHandler.send_data` or :meth:`~NetworkHandler.request` propagates, and the
handler keeps working: the message may or may not have been queued, and a lock the
interrupt left held is taken back by the next thread that waits for it, after about a
second (``eq1_network.common.guard``; logged as a WARNING).

Worker failure
--------------
If a worker thread ends on an unexpected exception, the handler reports it in an ERROR
event and stops working: waiting and later :meth:`~NetworkHandler.receive`,
:meth:`~NetworkHandler.request` and :meth:`~NetworkHandler.send_data` calls raise
``ProtocolNotConnectedError`` chained from that exception (messages received before
are still returned by ``receive()``); :meth:`~NetworkHandler.stop` then reports what
was not sent.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from queue import Queue
from threading import get_ident
from types import TracebackType
from typing import Any

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolError,
    ProtocolTimeoutError,
    ProtocolTypeError,
)
from eq1_network.common.guard import Guard
from eq1_network.common.logging import get_logger
from eq1_network.common.policies import OverflowPolicy, QueueFullPolicy, ReconnectPolicy
from eq1_network.data import ReceivedData, SendData
from eq1_network.network_config import NetworkConfig, create_protocol
from eq1_network.packets.send import SequenceCounter, TypedSendData
from eq1_network.worker.ack import AckWindow, DeliveryLedger
from eq1_network.worker.correlation import Correlator, Waiter
from eq1_network.worker.delivery import Delivery
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.lifecycle import HandlerState, Lifecycle, StopReport
from eq1_network.worker.link import Link
from eq1_network.worker.listener import Listener
from eq1_network.worker.peers import ReplyRouter
from eq1_network.worker.requester import QueuedMessage, Requester
from eq1_network.worker.send_queue import BatchQueue
from eq1_network.worker.submit import WRITE_AT_DEPTH, Submitter
from eq1_network.worker.wiring import HandlerParts, create_workers

__all__ = [
    "EventCallback",
    "HandlerState",
    "NetworkConfig",
    "NetworkEvent",
    "NetworkEventType",
    "NetworkHandler",
    "OverflowPolicy",
    "QueueFullPolicy",
    "ReconnectPolicy",
    "StopReport",
]

logger = get_logger(__name__)

EventCallback = Callable[[NetworkEvent], None]
"""Signature of ``event_callback``; it is called from the worker threads."""

_POLL = 0.05
_RUNNING = HandlerState.RUNNING


class NetworkHandler:
    """Sends and receives typed messages over one request/response protocol.

    All public methods are thread-safe. ``event_callback(event)`` runs on the worker
    threads; an exception it raises is logged and reported as an ERROR event, and the
    workers go on. See the module notes for what can be lost, for protocols serving
    many peers, and for what happens when a worker fails.

    Args:
        network_config: The configuration.
        event_callback: Called with every :class:`NetworkEvent`; optional.

    Raises:
        ProtocolConfigurationError: If the configuration is invalid.
    """

    def __init__(
        self, network_config: NetworkConfig, event_callback: EventCallback | None = None
    ) -> None:
        if not isinstance(network_config, NetworkConfig):
            raise ProtocolTypeError(
                f"network_config must be a NetworkConfig, got {type(network_config).__name__}"
            )
        if event_callback is not None and not callable(event_callback):
            raise ProtocolTypeError("event_callback must be callable or None")
        self.config = network_config
        keep = network_config.receive_queue
        received: Queue[ReceivedData] | None = (
            Queue(network_config.receive_queue_size)
            if (keep if keep is not None else event_callback is None)
            else None
        )
        self._lifecycle = Lifecycle()
        self._stopping = threading.Event()
        self._requests = Correlator()
        self._delivery = Delivery(
            event_callback, received, self._requests, self._stopping, self._worker_failed
        )
        self._emit = self._delivery.emit
        self._guard = Guard("the handler's send lock", logger)  # numbering + queue order
        self._counter = SequenceCounter()
        self._numbered_here = network_config.acknowledged
        self._send_class = network_config.package.send_data_class
        self._typed = issubclass(self._send_class, TypedSendData)
        self._put_timeout = (
            0.0
            if network_config.queue_full_policy is OverflowPolicy.REJECT
            else network_config.send_timeout
        )
        self._epoch = secrets.randbits(63) + 1
        self._queue: BatchQueue[QueuedMessage] = BatchQueue(network_config.send_queue_size)
        self._sender = Submitter(
            network_config.package,
            self._queue,
            self._guard,
            self._counter,
            self._requests,
            self._put_timeout,
            network_config.acknowledged,
        )
        # Typed messages over the standard framing are framed with to_frame directly;
        # outside acknowledged mode, send_data then takes its inlined common path.
        self._direct_limit = None if network_config.acknowledged else self._sender.frame_limit
        # Plain messages (neither typed nor Message) are framed from their bytes directly.
        self._plain_packet = network_config.package.plain_packet_encoder()
        self._link: Link | None = None
        self._requester: Requester | None = None
        self._listener: Listener | None = None
        self._listener_id: int | None = None
        self._window: AckWindow[SendData] | None = None
        self._ledger: DeliveryLedger | None = None

    # -- life cycle ------------------------------------------------------------

    def __enter__(self) -> NetworkHandler:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Connect and start both workers.

        Raises:
            ProtocolConnectionError: If the protocol cannot connect.
            ProtocolNotFoundError: If the protocol name is unknown.
            ProtocolValidationError: If the handler was already started.
        """
        self._lifecycle.begin_start()
        cfg = self.config
        try:
            link = Link(create_protocol(cfg), cfg.reconnect, self._emit)
            link.open()
        except BaseException:
            self._lifecycle.started(ok=False)
            raise
        if cfg.acknowledged:
            self._window = AckWindow(cfg.max_unacknowledged)
            self._ledger = DeliveryLedger(cfg.ack_state_path)
        sender = self._sender
        sender.fit_messages(link.protocol.max_message_size)
        if self._direct_limit is not None:
            self._direct_limit = sender.frame_limit
        if link.multi_peer is not None:
            sender.router = ReplyRouter()
            # Every send goes through the Submitter, which routes replies.
            self._direct_limit = self._plain_packet = None
        parts = HandlerParts(
            queue=self._queue,
            delivery=self._delivery,
            stopping=self._stopping,
            epoch=self._epoch,
            on_failure=self._worker_failed,
            window=self._window,
            ledger=self._ledger,
            router=sender.router,
            requests=self._requests,
        )
        requester, listener = create_workers(cfg, link, parts)
        self._requester, self._listener, self._link = requester, listener, link
        sender.requester = requester
        requester.start()
        listener.start()
        self._listener_id = sender.listener_id = listener.ident
        self._lifecycle.started(ok=True)
        logger.info("handler started on %r", link.protocol)

    def _worker_failed(self, exc: BaseException) -> None:
        """A worker died: fail every wait, now and later, with its exception."""
        if not self._lifecycle.fail(exc):
            return
        self._stopping.set()
        requester = self._requester
        if requester is not None:
            requester.request_stop(abort=True)
        if self._window is not None:
            self._window.abort()
        self._queue.poke()
        self._requests.fail_all()

    def stop(self, timeout: float = 5.0) -> StopReport:
        """Drain the send queue within ``timeout``, stop the workers and disconnect.

        Args:
            timeout: Seconds allowed for draining (and, in acknowledged mode, for the
                last acknowledgements) and for the threads to end.

        Returns:
            What could not be sent or was not acknowledged (also logged and reported as
            an ERROR event when not empty).
        """
        if not self._lifecycle.begin_stop():
            return StopReport()
        deadline = time.monotonic() + timeout
        requester, listener, link = self._requester, self._listener, self._link
        assert requester is not None and listener is not None and link is not None
        self._queue.close()
        requester.request_stop()
        requester.join(max(deadline - time.monotonic(), 0))
        if requester.is_alive():
            requester.request_stop(abort=True)
            requester.join(_POLL * 4)
        if (
            self._window is not None
            and not link.failed.is_set()
            and self._lifecycle.failure is None
        ):
            self._window.wait_empty(max(deadline - time.monotonic(), 0))
        self._stopping.set()
        listener.join(max(deadline - time.monotonic(), _POLL * 4))
        report = StopReport(
            unsent=requester.rejected
            + requester.pending()
            + [item for item, _ in self._queue.drain()],
            unacknowledged=self._window.items() if self._window is not None else [],
            unconfirmed=link.unconfirmed,
        )
        link.protocol.disconnect()
        if link.up.is_set():
            self._emit(NetworkEvent(NetworkEventType.DISCONNECTED))
        link.up.clear()
        if self._ledger is not None:
            self._ledger.close()
        self._requests.fail_all()
        self._lifecycle.stopped()
        if not report.complete:
            error = ProtocolTimeoutError(
                f"stopped with {len(report.unsent)} message(s) unsent and "
                f"{len(report.unacknowledged)} unacknowledged"
                + (f" ({report.unconfirmed} unconfirmed)" if report.unconfirmed else "")
            )
            logger.warning("%s", error)
            self._emit(NetworkEvent(NetworkEventType.ERROR, data=report, error=error))
        logger.info("handler stopped on %r", link.protocol)
        return report

    def is_running(self) -> bool:
        """Tell whether the handler was started and not stopped.

        Returns:
            ``True`` while running.
        """
        return self._lifecycle.state is _RUNNING

    def is_connected(self) -> bool:
        """Tell whether the link is up right now.

        Returns:
            ``True`` if connected.
        """
        return self._link is not None and self._link.up.is_set()

    # -- sending ---------------------------------------------------------------

    def send_data(self, send_data: SendData, timeout: float | None = None) -> int:
        """Queue a message for sending.

        Args:
            send_data: An instance of the package's send class.
            timeout: Seconds to wait for room in a full queue under the ``BLOCK`` policy;
                default ``NetworkConfig.send_timeout``.

        Returns:
            The message's sequence number (0 for untyped messages).

        Raises:
            ProtocolTypeError: If ``send_data`` is not of the package's send class.
            ProtocolNotConnectedError: If the handler is not running.
            QueueFullError: If the queue stayed full (see ``queue_full_policy``).
            ProtocolValidationError: In acknowledged mode, if the message already has
                a sequence number (the handler numbers messages itself).
        """
        if send_data.__class__ is not self._send_class and not isinstance(
            send_data, self._send_class
        ):
            raise ProtocolTypeError(
                f"send_data() needs a {self._send_class.__name__}, got {type(send_data).__name__}"
            )
        if self._lifecycle.state is not _RUNNING:
            raise self._lifecycle.not_running("send_data()")
        limit = self._direct_limit
        if limit is None or timeout is not None or get_ident() == self._listener_id:
            to_packet = self._plain_packet
            if (
                to_packet is None
                or timeout is not None
                or send_data.__class__ is not self._send_class
            ):
                return self._sender.submit(send_data, timeout, None)
            return self._sender.submit_plain(send_data, to_packet)
        # The common case: an application thread queues a typed message at the default
        # timeout, framed here (what Submitter.submit does, in one step).
        typed: Any = send_data
        guard = self._guard
        lock = guard.lock  # explicit acquire/release: cheaper than ``with`` here
        lock = lock if lock.acquire(False) else guard.take(lock)  # see common.guard
        try:
            guard.turn += 1
            sequence = self._counter.assign(typed, self._numbered_here)
            try:
                entry: QueuedMessage = (send_data, typed.to_frame(limit))
            except (ProtocolError, ValueError, TypeError):
                entry = (send_data, None)  # the send worker splits or reports it
            deep = self._queue.put(entry, self._put_timeout) >= WRITE_AT_DEPTH
        finally:
            guard.turn += 1
            lock.release()
        if deep:
            self._sender.write_head()
        return sequence

    def request(self, send_data: SendData, timeout: float = 5.0) -> ReceivedData:
        """Send a message and wait for the reply whose ``reply_to`` is its sequence number.

        The peer answers with a typed message built with ``reply_to=request.sequence``
        (usually ``message_type=MessageType.RESPONSE``). The reply is returned here and
        not delivered as a RECEIVED event or to :meth:`receive`. Over one connection,
        back-to-back requests read their replies on the calling thread while the receive
        worker stands aside (``eq1_network.worker.handoff``); every other message is
        still delivered by the receive worker, in order.

        Args:
            send_data: A typed message (usually ``message_type=MessageType.COMMAND``).
            timeout: Seconds to wait for room in the queue and for the reply.

        Returns:
            The reply.

        Raises:
            ProtocolTimeoutError: If no reply arrived in time.
            ProtocolConfigurationError: If the package is not typed.
            ProtocolNotConnectedError: If the handler is not running or stopped while
                waiting, or a worker failed (chained from its exception).
        """
        if not self._typed:
            raise ProtocolConfigurationError("request() needs a package of typed messages")
        cls = self.config.package.send_data_class
        if not isinstance(send_data, cls):
            raise ProtocolTypeError(
                f"request() needs a {cls.__name__}, got {type(send_data).__name__}"
            )
        if self._lifecycle.state is not _RUNNING:
            raise self._lifecycle.not_running("request()")
        waiter = Waiter()
        deadline = time.monotonic() + timeout
        listener = self._listener
        handoff = listener.handoff if listener is not None else None
        sequence = self._sender.submit(send_data, timeout, waiter)
        try:
            if handoff is not None:
                # When the receive worker stands aside, this thread reads the reply;
                # one read this way is no longer waited for (see worker.handoff).
                reply = handoff.lead(sequence, deadline, self.is_running)
                if reply is not None:
                    return reply
            if not waiter.wait(max(deadline - time.monotonic(), 0)):
                raise ProtocolTimeoutError(f"no reply to message {sequence} within {timeout:g} s")
        finally:
            if sequence in self._requests.waiting:
                self._requests.discard(sequence)
            if handoff is not None:
                handoff.done(sequence)
        if waiter.result is None:
            raise self._lifecycle.not_running(f"request() waiting for the reply to {sequence}")
        return waiter.result

    # -- receiving -------------------------------------------------------------

    def receive(self, timeout: float | None = None) -> ReceivedData:
        """Take the next received message (pull style).

        Args:
            timeout: Seconds to wait; ``None`` waits without limit.

        Returns:
            The message.

        Raises:
            ProtocolTimeoutError: If nothing arrived in time.
            ProtocolConfigurationError: If the handler keeps no receive queue.
            ProtocolNotConnectedError: If a worker failed (chained from its exception)
                and every message received before was taken.
        """
        return self._delivery.take(timeout, self._lifecycle)
