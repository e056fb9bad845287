"""One connection lifetime: from ``connect()`` to ``disconnect()`` or giving up.

A :class:`Session` bundles the adapter, the network thread (supervisor), the dispatcher
thread and the SUBACK/UNSUBACK books of one lifetime, and routes the adapter's events
to them. Automatic reconnections stay inside one session; an explicit ``connect()``
after ``disconnect()`` starts a new one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from eq1_network.common.backoff import Backoff
from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.protocols.mqtt._adapter import PahoAdapter, ServerLimits, Will
from eq1_network.protocols.mqtt._dispatcher import Dispatcher, Resolver
from eq1_network.protocols.mqtt._messages import MessageMeta
from eq1_network.protocols.mqtt._offline_queue import QueuedPublish
from eq1_network.protocols.mqtt._supervisor import ConnectionSupervisor
from eq1_network.protocols.mqtt._tracking import AckBook, AckWaiter, PublishTracker
from eq1_network.protocols.mqtt._window import InflightWindow, default_window
from eq1_network.protocols.mqtt.config import MQTT_V5, BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import Reason, refusal_error

__all__ = ["AdapterFactory", "RestoreState", "Session", "SessionEvents"]

logger = get_logger(__name__)


class RestoreState:
    """Subscriptions being restored after CONNACK, before the connection goes live.

    Args:
        waiters: ``(filter, waiter)`` per SUBSCRIBE sent.
        deadline: ``time.monotonic()`` after which the protocol stops waiting.
    """

    def __init__(self, waiters: list[tuple[str, AckWaiter]], deadline: float) -> None:
        self.filters = frozenset(f for f, _ in waiters)
        self._waiters = [w for _, w in waiters]
        self._deadline = deadline

    def timed_out(self) -> bool:
        """Whether the deadline passed."""
        return time.monotonic() >= self._deadline

    def finished(self) -> bool:
        """Whether every SUBACK arrived (or the deadline passed)."""
        return all(w.settled for w in self._waiters) or self.timed_out()


class SessionEvents(Protocol):
    """Where a session reports its connection events (called on the network thread)."""

    def session_connected(self, session: Session, session_present: bool) -> None:
        """The broker accepted the connection."""

    def restore_progress(self, session: Session) -> None:
        """A network round passed while ``session.restore`` is set."""

    def session_lost(self, session: Session, reason: Reason | None) -> None:
        """An established connection dropped; the supervisor reconnects."""

    def session_failed(self, session: Session, error: ProtocolError) -> None:
        """The supervisor gave up; ``error`` says why."""


AdapterFactory = type[PahoAdapter]


class Session:
    """The threads and bookkeeping of one connection lifetime.

    Args:
        events: Receives the connection events.
        broker: Broker configuration.
        config: Client configuration.
        client_id: The client identifier.
        will: The Will, or ``None``.
        tracker: The protocol's publish tracker.
        resolve: Looks up the callbacks of a message.
        adapter_factory: The adapter class (replaceable in tests).
    """

    def __init__(
        self,
        events: SessionEvents,
        broker: BrokerConfig,
        config: ClientConfig,
        client_id: str,
        will: Will | None,
        tracker: PublishTracker,
        resolve: Resolver,
        adapter_factory: AdapterFactory,
    ) -> None:
        self._events = events
        self._tracker = tracker
        self.limits = ServerLimits()
        self.restore: RestoreState | None = None
        self.subacks = AckBook()
        self.unsubacks = AckBook()
        self.window = InflightWindow(
            default_window(config.max_inflight, config.protocol_version == MQTT_V5, None)
        )
        self.dispatcher = Dispatcher(resolve, name=f"eq1-mqtt-dispatch-{client_id}")
        self._batch: list[tuple[str, bytes, tuple[int, ...], MessageMeta | None]] = []
        self.adapter = adapter_factory(broker, config, client_id, self, will)
        self.supervisor = ConnectionSupervisor(
            self.adapter,
            self,
            Backoff(
                config.reconnect.initial_delay,
                config.reconnect.max_delay,
                multiplier=config.reconnect.multiplier,
                jitter=config.reconnect.jitter,
            ),
            broker=f"{broker.broker_address}:{broker.port}",
            username=broker.username,
            connect_timeout=broker.connect_timeout,
            max_attempts=config.reconnect.max_attempts,
            name=f"eq1-mqtt-net-{client_id}",
        )

    # -- AdapterListener -------------------------------------------------------------

    def on_connack(self, reason: Reason, session_present: bool, limits: ServerLimits) -> None:
        """Record the broker's limits and pass CONNACK to the supervisor."""
        self.limits = limits
        self.supervisor.on_connack(reason, session_present)

    def on_connection_closed(self, reason: Reason | None) -> None:
        """Pass the end of the connection to the supervisor."""
        if reason is not None:
            logger.warning("broker sent DISCONNECT: %s", reason)
        self.supervisor.on_closed(reason)

    def on_message(
        self,
        topic: str,
        payload: bytes,
        subscription_ids: tuple[int, ...],
        meta: MessageMeta | None = None,
    ) -> None:
        """Collect a received message; the batch goes to the dispatcher after the round."""
        self._batch.append((topic, payload, subscription_ids, meta))

    def on_publish_results(self, mids: Sequence[int], reason: Reason, qos: int) -> None:
        """Settle the handles of publishes acknowledged (or refused) with one reason."""
        self.window.acknowledged(qos, len(mids))
        if not reason.is_failure:
            self._tracker.acknowledge(mids, None)
            return
        for mid in mids:
            self._tracker.acknowledge((mid,), refusal_error(reason, f"PUBLISH (packet id {mid})"))

    def on_session_lost(self, mids: list[int] | None) -> None:
        """Fail QoS 2 messages the broker accepted (PUBREC) and then lost with its session.

        Args:
            mids: Their packet ids; ``None`` when the client library cannot tell, and
                then every QoS 2 message still awaiting PUBCOMP fails.
        """
        if mids is None:
            mids = self._tracker.awaiting(qos=2)
            if not mids:
                return
        logger.warning(
            "broker has no stored session: %d QoS 2 messages it had accepted (PUBREC) fail "
            "with delivery unknown",
            len(mids),
        )
        for mid in mids:
            error = ProtocolConnectionError(
                f"QoS 2 PUBLISH (packet id {mid}): the broker accepted the message (PUBREC) and "
                "then came back without the session (Session Present 0), so whether it was "
                "delivered is unknown; publish it again if a duplicate is acceptable. To keep "
                "QoS 2 exactly-once across reconnections, keep the persistent session "
                "(ClientConfig.clean_session=False, with MQTT 5 a session_expiry that outlasts "
                "the outage) on a broker that keeps sessions (persistence on)"
            )
            self._tracker.abandon([mid], error)

    def on_subscribe_result(self, mid: int, reasons: list[Reason]) -> None:
        """Record a SUBACK."""
        self.subacks.resolve(mid, reasons)

    def on_unsubscribe_result(self, mid: int, reasons: list[Reason]) -> None:
        """Record an UNSUBACK."""
        self.unsubacks.resolve(mid, reasons)

    # -- SupervisorHooks -------------------------------------------------------------

    def connected(self, session_present: bool) -> None:
        """Report that the broker accepted the connection."""
        self._events.session_connected(self, session_present)

    def after_round(self) -> None:
        """Called after every network round: hand over messages, finish a restore."""
        if self._batch:
            self.flush_messages()
        if self.restore is not None:
            self._events.restore_progress(self)
        if len(self.window):
            self.window.release(self._send_released)

    def before_write(self) -> None:
        """Called by the adapter between reading and writing: fill freed window slots."""
        if len(self.window):
            self.window.release(self._send_released)

    def _send_released(self, item: QueuedPublish) -> None:
        """Hand a message that waited for an in-flight slot to the library."""
        _, mid, report = self.adapter.publish(
            item.topic,
            item.payload,
            item.qos,
            item.retain,
            item.message_expiry,
            item.user_properties,
        )
        if item.qos:
            self._tracker.track(mid, item.handle, held=True)
        elif report is not None:
            self._tracker.attach(item.handle, report)
        else:
            error = ProtocolConnectionError("QoS 0 message not sent: the connection dropped")
            self._tracker.settle(item.handle, error)

    def flush_messages(self) -> None:
        """Hand the messages collected so far to the dispatcher."""
        batch, self._batch = self._batch, []
        if batch:
            self.dispatcher.submit_batch(batch)

    def lost(self, reason: Reason | None) -> None:
        """Report that the connection dropped."""
        self.flush_messages()
        self.subacks.fail_all()
        self.unsubacks.fail_all()
        self._events.session_lost(self, reason)

    def failed(self, error: ProtocolError) -> None:
        """Report that the supervisor gave up."""
        self.flush_messages()
        self.subacks.fail_all()
        self.unsubacks.fail_all()
        self._events.session_failed(self, error)
