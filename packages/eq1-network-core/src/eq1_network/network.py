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

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
from eq1_network.common.policies import OverflowPolicy, QueueFullPolicy, ReconnectPolicy
from eq1_network.data import ReceivedData, SendData
from eq1_network.interfaces.protocol import BaseProtocol, ReqResProtocol
from eq1_network.package import BINARY_PACKAGE, DataPackage
from eq1_network.packets.fragmentation import (
    DEFAULT_REASSEMBLY_BYTES,
    DEFAULT_REASSEMBLY_TIMEOUT,
    Reassembler,
)
from eq1_network.packets.send import SequenceCounter, TypedSendData
from eq1_network.plugins.registry import ProtocolManager
from eq1_network.urls import check_keywords
from eq1_network.worker.ack import AckWindow, DeliveryLedger
from eq1_network.worker.correlation import Correlator, Waiter
from eq1_network.worker.delivery import Delivery
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.lifecycle import HandlerState, Lifecycle, StopReport
from eq1_network.worker.link import Link
from eq1_network.worker.listener import Listener
from eq1_network.worker.peers import ReplyRouter
from eq1_network.worker.requester import QueuedMessage, Requester, message_payload_limit
from eq1_network.worker.send_queue import BatchQueue

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

logger = logging.getLogger(__name__)

EventCallback = Callable[[NetworkEvent], None]
"""Signature of ``event_callback``; it is called from the worker threads."""

_POLL = 0.05
_WRITE_AT_DEPTH = 256
"""Queue depth at which ``send_data`` writes the head of the queue itself (see the docs)."""
_RUNNING = HandlerState.RUNNING


@dataclass
class NetworkConfig:
    """Configuration of a :class:`NetworkHandler`.

    Args:
        protocol: A protocol name for :func:`~eq1_network.get_protocol` (``"tcp"``,
            ``"loopback"``, ...), an endpoint URL for :func:`~eq1_network.from_url`
            (``"tcp://127.0.0.1:5000?timeout=2"``) or a ready :class:`ReqResProtocol`.
        params: Constructor arguments of the protocol, when ``protocol`` is a name or
            a URL (they replace what the URL says); an unknown one raises
            :class:`ProtocolConfigurationError` naming it and listing the valid ones.
        package: How messages are encoded; ``BINARY_PACKAGE`` by default.
        send_queue_size: Most messages waiting to be written.
        queue_full_policy: What ``send_data`` does when the queue is full:
            ``OverflowPolicy.BLOCK`` (wait up to ``send_timeout``) or ``REJECT``.
        send_timeout: Seconds ``send_data`` waits for room under ``BLOCK``.
        receive_queue: Keep received messages for :meth:`NetworkHandler.receive`;
            ``None`` means "when no event callback is given".
        receive_queue_size: Most received messages kept; the receive worker waits
            (and the transport applies back-pressure) when it is full.
        reconnect: Automatic reconnection policy; off (``enabled=False``) by default.
        acknowledged: Acknowledged mode (both ends must use it; needs a typed package).
        ack_state_path: File where the receiver records deliveries across restarts.
        max_unacknowledged: Most messages awaiting acknowledgement before sending pauses.
        sent_events: Emit a SENT event for every message written.
        max_batch: Most queued messages coalesced into one batch.
        max_write_bytes: Most bytes joined into one write.
        reassembly_max_bytes: Most bytes of incomplete split messages held.
        reassembly_timeout: Seconds an incomplete split message is kept.
        peer_frame_timeout: Over a protocol serving many peers: seconds a peer may take
            to finish a frame it began before it is disconnected.
        ack_timeout: Acknowledged mode over a message transport (a protocol whose
            ``max_message_size`` is set, such as UDP): seconds without an
            acknowledgement after which every unacknowledged message is written again.

    Raises:
        ProtocolConfigurationError: If a value is invalid.
    """

    protocol: str | ReqResProtocol
    params: dict[str, Any] = field(default_factory=dict)
    package: DataPackage[Any, Any] = BINARY_PACKAGE
    send_queue_size: int = 10_000
    queue_full_policy: OverflowPolicy = OverflowPolicy.BLOCK
    send_timeout: float = 10.0
    receive_queue: bool | None = None
    receive_queue_size: int = 10_000
    reconnect: ReconnectPolicy = field(default_factory=lambda: ReconnectPolicy(enabled=False))
    acknowledged: bool = False
    ack_state_path: str | Path | None = None
    max_unacknowledged: int = 10_000
    sent_events: bool = True
    max_batch: int = 1024
    max_write_bytes: int = 1 << 20
    reassembly_max_bytes: int = DEFAULT_REASSEMBLY_BYTES
    reassembly_timeout: float = DEFAULT_REASSEMBLY_TIMEOUT
    peer_frame_timeout: float = 30.0
    ack_timeout: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, (str, ReqResProtocol)):
            raise ProtocolConfigurationError(
                "NetworkConfig.protocol must be a protocol name or a ReqResProtocol, "
                f"got {type(self.protocol).__name__}"
            )
        if not isinstance(self.package, DataPackage):
            raise ProtocolConfigurationError(
                f"NetworkConfig.package must be a DataPackage, got {type(self.package).__name__}"
            )
        _check_policies(self)
        for name in (
            "send_queue_size",
            "receive_queue_size",
            "max_unacknowledged",
            "max_batch",
            "max_write_bytes",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProtocolConfigurationError(
                    f"NetworkConfig.{name} must be a positive int, got {value!r}"
                )
        if self.send_timeout < 0:
            raise ProtocolConfigurationError(
                f"NetworkConfig.send_timeout must be non-negative, got {self.send_timeout}"
            )
        if not self.ack_timeout > 0:
            raise ProtocolConfigurationError(
                "NetworkConfig.ack_timeout must be a positive number of seconds, "
                f"got {self.ack_timeout!r}"
            )
        if not self.peer_frame_timeout > 0:
            raise ProtocolConfigurationError(
                "NetworkConfig.peer_frame_timeout must be a positive number of seconds, "
                f"got {self.peer_frame_timeout!r}"
            )
        typed = issubclass(self.package.send_data_class, TypedSendData)
        if self.acknowledged and not typed:
            raise ProtocolConfigurationError(
                "acknowledged mode needs a package of typed messages (TEXT_PACKAGE, "
                "BINARY_PACKAGE, INT_PACKAGE, JSON_PACKAGE or ANY_PACKAGE)"
            )


def _check_policies(config: NetworkConfig) -> None:
    policy = OverflowPolicy.coerce("NetworkConfig.queue_full_policy", config.queue_full_policy)
    if policy is OverflowPolicy.DROP_OLDEST:
        raise ProtocolConfigurationError(
            "NetworkConfig.queue_full_policy must be OverflowPolicy.BLOCK or REJECT "
            "(a message accepted by send_data is never dropped), got DROP_OLDEST"
        )
    object.__setattr__(config, "queue_full_policy", policy)
    if not isinstance(config.reconnect, ReconnectPolicy):
        raise ProtocolConfigurationError(
            "NetworkConfig.reconnect must be a ReconnectPolicy, "
            f"got {type(config.reconnect).__name__}"
        )


def _create_protocol(config: NetworkConfig) -> ReqResProtocol:
    """The protocol ``config.protocol`` names (or is)."""
    spec = config.protocol
    if isinstance(spec, ReqResProtocol):
        return spec
    if "://" in spec:
        protocol: BaseProtocol = ProtocolManager.from_url(spec, **config.params)
    else:
        factory = ProtocolManager.get_protocol(spec)
        check_keywords(factory, config.params, where=f"NetworkConfig(protocol={spec!r}).params")
        protocol = factory(**config.params)
    if not isinstance(protocol, ReqResProtocol):
        raise ProtocolConfigurationError(
            f"NetworkHandler needs a request/response protocol; {spec!r} is "
            f"{type(protocol).__name__}"
        )
    return protocol


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
        self._lock = threading.Lock()  # sequence numbering + queue order
        self._counter = SequenceCounter()
        self._numbered_here = network_config.acknowledged
        self._package = network_config.package
        self._send_class = network_config.package.send_data_class
        self._typed = issubclass(self._send_class, TypedSendData)
        # Typed messages over the standard framing are framed with to_frame directly;
        # outside acknowledged mode, send_data then takes its inlined common path.
        self._frame_limit = network_config.package.direct_frame_limit()
        self._direct_limit = None if network_config.acknowledged else self._frame_limit
        self._put_timeout = (
            0.0
            if network_config.queue_full_policy is OverflowPolicy.REJECT
            else network_config.send_timeout
        )
        # send_data writes batches itself only where it may wait (not under RAISE) and
        # outside acknowledged mode (see _submit).
        self._batch_writes = self._put_timeout != 0 and not network_config.acknowledged
        self._epoch = secrets.randbits(63) + 1
        self._queue: BatchQueue[QueuedMessage] = BatchQueue(network_config.send_queue_size)
        self._link: Link | None = None
        self._requester: Requester | None = None
        self._listener: Listener | None = None
        self._listener_id: int | None = None
        self._window: AckWindow[SendData] | None = None
        self._ledger: DeliveryLedger | None = None
        self._router: ReplyRouter | None = None

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
            link = Link(_create_protocol(cfg), cfg.reconnect, self._emit)
            link.open()
        except BaseException:
            self._lifecycle.started(ok=False)
            raise
        if cfg.acknowledged:
            self._window = AckWindow(cfg.max_unacknowledged)
            self._ledger = DeliveryLedger(cfg.ack_state_path)
        self._fit_messages(link.protocol)
        if link.multi_peer is not None:
            self._router = ReplyRouter()
            self._direct_limit = None  # every send goes through _submit, which routes replies
        requester, listener = self._create_workers(link)
        self._requester, self._listener, self._link = requester, listener, link
        requester.start()
        listener.start()
        self._listener_id = listener.ident
        self._lifecycle.started(ok=True)
        logger.info("handler started on %r", link.protocol)

    def _fit_messages(self, protocol: ReqResProtocol) -> None:
        """Over a message transport, frame typed messages to fit one message each."""
        size = protocol.max_message_size
        if size is None or self._frame_limit is None:
            return
        limit = message_payload_limit(self._package.packet_structure, size)
        self._frame_limit = min(self._frame_limit, limit)
        if self._direct_limit is not None:
            self._direct_limit = self._frame_limit

    def _create_workers(self, link: Link) -> tuple[Requester, Listener]:
        cfg = self.config
        max_message = link.protocol.max_message_size
        name = f"eq1-{type(link.protocol).__name__}"
        requester = Requester(
            queue=self._queue,
            package=cfg.package,
            link=link,
            emit=self._emit,
            window=self._window,
            epoch=self._epoch,
            max_batch=cfg.max_batch,
            max_write_bytes=cfg.max_write_bytes,
            sent_events=cfg.sent_events,
            max_message=max_message,
            retransmit_after=cfg.ack_timeout if max_message is not None else None,
            router=self._router,
            on_failure=self._worker_failed,
            name=f"{name}-requester",
        )
        listener = Listener(
            link=link,
            package=cfg.package,
            sink=self._delivery,
            stopping=self._stopping,
            on_ack=self._window.acknowledge if self._window is not None else None,
            ledger=self._ledger,
            reassembler=lambda: Reassembler(
                max_bytes=cfg.reassembly_max_bytes, timeout=cfg.reassembly_timeout
            ),
            router=self._router,
            peer_frame_timeout=cfg.peer_frame_timeout,
            messages=max_message is not None,
            name=f"{name}-listener",
        )
        return requester, listener

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
            return self._submit(send_data, timeout, None)
        # The common case: an application thread queues a typed message at the default
        # timeout, framed here (what _numbered_entry and _encode do, in one step).
        typed: Any = send_data
        lock = self._lock
        lock.acquire()  # explicit acquire/release: cheaper than ``with`` on this hot path
        try:
            sequence = self._counter.assign(typed, self._numbered_here)
            try:
                entry: QueuedMessage = (send_data, typed.to_frame(limit))
            except (ProtocolError, ValueError, TypeError):
                entry = (send_data, None)  # the send worker splits or reports it
            deep = self._queue.put(entry, self._put_timeout) >= _WRITE_AT_DEPTH
        finally:
            lock.release()
        if deep:
            self._write_head()
        return sequence

    def _submit(self, send_data: SendData, timeout: float | None, waiter: Waiter | None) -> int:
        """Queue (or write) a message: every case but the common one of :meth:`send_data`."""
        router = self._router
        if router is None:
            return self._submit_in_order(send_data, timeout, waiter)
        router.claim(send_data)  # a reply goes to the peer that asked
        try:
            return self._submit_in_order(send_data, timeout, waiter)
        except BaseException:
            router.release(send_data)
            raise

    def _submit_in_order(
        self, send_data: SendData, timeout: float | None, waiter: Waiter | None
    ) -> int:
        wait = self._put_timeout if timeout is None or self._put_timeout == 0 else timeout
        if not self._typed:
            with self._lock:  # the package numbers untyped messages: keep the queue in order
                self._queue.put(self._encode(send_data), wait)
            return 0
        with self._lock:
            sequence, entry = self._numbered_entry(send_data)
            if waiter is None and get_ident() != self._listener_id:
                deep = self._queue.put(entry, wait) >= _WRITE_AT_DEPTH
            else:
                deep = False
                self._submit_now(entry, sequence, wait, waiter)
        if deep:
            self._write_head()
        return sequence

    def _numbered_entry(self, send_data: SendData) -> tuple[int, QueuedMessage]:
        """Give a typed message its sequence number and encode it (lock held)."""
        typed: Any = send_data
        sequence = self._counter.assign(typed, self._numbered_here)
        return sequence, self._encode(send_data)

    def _write_head(self) -> None:
        """Write the head of a deep queue from this thread (see the docs)."""
        if self._batch_writes:
            # A producer that outpaces the send worker writes the head of the queue
            # itself: no thread hand-offs, and queued messages stay few.
            requester = self._requester
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
        requester = self._requester
        if requester is not None and requester.write_now(entry):
            return
        try:
            self._queue.put(entry, wait)
        except BaseException:
            if waiter is not None:
                self._requests.discard(sequence)
            raise

    def _encode(self, send_data: SendData) -> QueuedMessage:
        """Encode on the sending thread, so that the send worker only joins and writes.

        A message that does not fit one frame, or cannot be encoded, is queued as it is:
        the send worker splits it, or reports it with an ERROR event and in the
        :class:`StopReport`.
        """
        try:
            limit = self._frame_limit
            if limit is not None:
                typed: Any = send_data
                return send_data, typed.to_frame(limit)
            return send_data, self._package.encode(send_data)
        except (ProtocolError, ValueError, TypeError):
            return send_data, None

    def request(self, send_data: SendData, timeout: float = 5.0) -> ReceivedData:
        """Send a message and wait for the reply whose ``reply_to`` is its sequence number.

        The peer answers with a typed message built with ``reply_to=request.sequence``
        (usually ``message_type=MessageType.RESPONSE``). The reply is returned here and
        not delivered as a RECEIVED event or to :meth:`receive`.

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
        sequence = self._submit(send_data, timeout, waiter)
        try:
            if not waiter.wait(max(deadline - time.monotonic(), 0)):
                raise ProtocolTimeoutError(f"no reply to message {sequence} within {timeout:g} s")
        finally:
            self._requests.discard(sequence)
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
