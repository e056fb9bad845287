"""``MQTTProtocol``: the :class:`~eq1_network.interfaces.PubSubProtocol` for MQTT brokers.

Example::

    from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol, BrokerConfig, ClientConfig

    mqtt = MQTTProtocol(BrokerConfig(broker_address="broker.example.com", port=1883,
                                     username="mqtt_username", password="mqtt_password"),
                        ClientConfig())
    mqtt.connect()                      # returns after CONNACK, or raises
    mqtt.subscribe("topic/test", lambda topic, payload: print(topic, payload))
    mqtt.subscribe("topic/#", lambda message: print(message.topic, message.qos, message.retain))
    mqtt.publish("topic/test", "hello", qos=1).wait(5)
    mqtt.run_forever(timeout=10)        # callbacks run until disconnect(), Ctrl-C or 10 s
    mqtt.disconnect()

Threads: one network thread (reads, writes, keep-alive, reconnection) and one
dispatcher thread (runs callbacks) per connection lifetime. Every public method is
thread-safe; callbacks run with no library lock held and may call any method except
that ``disconnect()`` from a callback does not wait for the dispatcher to finish.
See ``docs/mqtt.md`` for the full behaviour.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, cast

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
    ProtocolTypeError,
    QueueFullError,
)
from eq1_network.interfaces._pubsub import check_publish_args
from eq1_network.interfaces.protocol import MessageCallback, PubSubProtocol
from eq1_network.protocols.mqtt._adapter import PahoAdapter, PublishStatus, Will
from eq1_network.protocols.mqtt._messages import AnyMessageCallback, MessageStream, MQTTMessage
from eq1_network.protocols.mqtt._offline_queue import OfflineQueue, QueuedPublish
from eq1_network.protocols.mqtt._registry import Route, SubscriptionRegistry
from eq1_network.protocols.mqtt._session import AdapterFactory, RestoreState, Session
from eq1_network.protocols.mqtt._tracking import AckWaiter, MQTTPublishHandle, PublishTracker
from eq1_network.protocols.mqtt._window import default_window
from eq1_network.protocols.mqtt.config import (
    MQTT_V5,
    BrokerConfig,
    ClientConfig,
    normalize_user_properties,
)
from eq1_network.protocols.mqtt.reason_codes import Reason, refusal_error

if TYPE_CHECKING:
    from eq1_network.urls import ParsedURL

__all__ = ["BrokerConfig", "ClientConfig", "MQTTMessage", "MQTTProtocol", "MQTTPublishHandle"]

logger = logging.getLogger(__name__)

_TEARDOWN_GRACE = 2.0
_GUESS_LEVELS = 4
_STALE_LIMIT = 1000
_THREAD_JOIN_MARGIN = 5.0


class _State(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    CLOSING = "closing"


class MQTTProtocol(PubSubProtocol):
    """Publish/subscribe over an MQTT 3.1.1 or 5.0 broker.

    Args:
        broker_config: Where to connect and how to authenticate.
        client_config: Client behaviour; defaults to :class:`ClientConfig` ``()``.

    Raises:
        ProtocolTypeError: If a config argument has the wrong type.

    Attributes:
        broker_config: The broker configuration.
        client_config: The client configuration.
        client_id: The client identifier, fixed for the life of this object.
    """

    protocol_name = "mqtt"
    _adapter_factory: AdapterFactory = PahoAdapter

    def __init__(
        self, broker_config: BrokerConfig | None = None, client_config: ClientConfig | None = None
    ) -> None:
        broker_config = broker_config if broker_config is not None else BrokerConfig()
        client_config = client_config if client_config is not None else ClientConfig()
        if not isinstance(broker_config, BrokerConfig):
            raise ProtocolTypeError(
                f"broker_config must be a BrokerConfig, got {type(broker_config).__name__}"
            )
        if not isinstance(client_config, ClientConfig):
            raise ProtocolTypeError(
                f"client_config must be a ClientConfig, got {type(client_config).__name__}"
            )
        self.broker_config = broker_config
        self.client_config = client_config
        self.client_id = client_config.resolved_client_id()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._op_lock = threading.Lock()
        self._sub_lock = threading.Lock()
        self._state = _State.IDLE
        self._failure: ProtocolError | None = None
        self._session: Session | None = None
        self._session_present = False
        self._use_sub_ids = False
        self._will: Will | None = None
        self._registry = SubscriptionRegistry()
        self._resumed = False
        self._stale_sent: set[str] = set()
        self._tracker = PublishTracker()
        self._offline = OfflineQueue(
            client_config.offline_queue_max_messages,
            client_config.offline_queue_max_bytes,
            client_config.overflow_policy,
        )

    @classmethod
    def url_kwargs(cls, url: ParsedURL) -> dict[str, Any]:
        """Map ``mqtt://[user[:password]@]host[:port]?client_id=x&version=5`` to arguments.

        ``mqtts://`` turns TLS on and defaults the port to 8883; other parameters name
        fields of :class:`BrokerConfig` or :class:`ClientConfig` (see ``docs/urls.md``).

        Args:
            url: The parsed URL.

        Returns:
            ``broker_config`` and ``client_config``.

        Raises:
            ProtocolConfigurationError: If the host is missing or a parameter is unknown
                or ill-typed.
        """
        from eq1_network.protocols.mqtt._url import mqtt_url_kwargs

        return mqtt_url_kwargs(url)

    def __repr__(self) -> str:
        broker = f"{self.broker_config.broker_address}:{self.broker_config.port}"
        return (
            f"MQTTProtocol(broker={broker!r}, client_id={self.client_id!r}, "
            f"state={self._state.value!r})"
        )

    # -- connection ------------------------------------------------------------------

    def connect(self) -> bool:
        """Connect and return once the broker accepted (CONNACK), or raise.

        Subscriptions registered before (or kept from an earlier connection) are sent
        and their SUBACKs awaited (up to ``ack_timeout``). Calling it while connected
        returns ``True``; while reconnecting it waits for the reconnection.

        Returns:
            ``True``.

        Raises:
            ProtocolAuthenticationError: The broker refused the credentials or the
                client is not authorised; ``reason_code``/``reason_name`` say which.
            ProtocolConfigurationError: The broker refused for a configuration reason
                (protocol version, client identifier, ...) or TLS files are unusable.
            ProtocolConnectionError: The broker is unreachable, TLS failed, or it
                refused for a transient reason (server unavailable, busy, ...).
            ProtocolTimeoutError: No connection or no CONNACK within ``connect_timeout``.
        """
        with self._op_lock:
            with self._lock:
                state = self._state
            if state is _State.CONNECTED:
                return True
            if state is _State.RECONNECTING:
                if self.wait_until_connected(self.broker_config.connect_timeout):
                    return True
                raise ProtocolTimeoutError(
                    f"{self!r}: still reconnecting after {self.broker_config.connect_timeout} s"
                )
            if self._session is not None:
                self._teardown(
                    self._session,
                    self._failure or ProtocolNotConnectedError("the previous connection failed"),
                    graceful=False,
                )
            return self._open()

    def _open(self) -> bool:
        session = Session(
            self,
            self.broker_config,
            self.client_config,
            self.client_id,
            self._will,
            self._tracker,
            self._route,
            self._adapter_factory,
        )
        with self._lock:
            self._state = _State.CONNECTING
            self._failure = None
            self._session = session
        session.dispatcher.start()
        try:
            session.adapter.connect()
        except Exception as exc:
            cause = exc if isinstance(exc, ProtocolError) else ProtocolConnectionError(str(exc))
            self._teardown(session, cause, graceful=False)
            raise
        session.supervisor.start()
        with self._cond:
            self._cond.wait_for(
                lambda: self._state is not _State.CONNECTING,
                self.broker_config.connect_timeout
                + self.client_config.ack_timeout
                + _THREAD_JOIN_MARGIN,
            )
            state, failure = self._state, self._failure
        if state in (_State.CONNECTED, _State.RECONNECTING):
            logger.info("%r connected", self)
            return True
        error = failure or ProtocolTimeoutError(
            f"{self!r}: no CONNACK within {self.broker_config.connect_timeout} s"
        )
        self._teardown(session, error, graceful=False)
        raise error

    def disconnect(self) -> None:
        """Disconnect cleanly (DISCONNECT is sent, so the Will is not published).

        Waits up to ``drain_timeout`` for unacknowledged publishes, then fails the
        handles of those still pending (and of messages in the offline queue) with
        :class:`ProtocolNotConnectedError`, delivers messages already received, and
        stops the threads. Subscriptions stay registered for the next ``connect()``.
        Calling it when not connected does nothing.
        """
        with self._op_lock:
            with self._lock:
                session = self._session
                if session is None:
                    return
                was_connected = self._state is _State.CONNECTED
                self._state = _State.CLOSING
            if was_connected and not self._tracker.wait_drained(self.client_config.drain_timeout):
                logger.warning(
                    "%r: %d publishes still unacknowledged after drain_timeout=%s s",
                    self,
                    self._tracker.unacknowledged(),
                    self.client_config.drain_timeout,
                )
            error = ProtocolNotConnectedError(
                f"{self!r}: disconnect() was called before the message was delivered"
            )
            self._teardown(session, error, graceful=was_connected)
            logger.info("%r disconnected", self)

    def _teardown(self, session: Session, error: ProtocolError, graceful: bool) -> None:
        supervisor = session.supervisor
        if graceful:
            session.adapter.disconnect()
        supervisor.request_stop(_TEARDOWN_GRACE if graceful else 0.0)
        joined = supervisor.join(self.broker_config.connect_timeout + _THREAD_JOIN_MARGIN)
        if joined:
            session.adapter.close()
        else:
            logger.warning("%r: the network thread did not stop in time", self)
        with self._lock:
            queued, waiting = self._offline.pop_all(), session.window.take_all()
            if self._session is session:
                self._session = None
                self._state = _State.IDLE
            self._cond.notify_all()
        self._settle_queued(queued, waiting, error)
        failed = self._tracker.fail_all(error) + len(queued) + len(waiting)
        if failed:
            logger.warning("%r: %d accepted publishes were not delivered: %s", self, failed, error)
        session.subacks.fail_all()
        session.unsubacks.fail_all()
        if joined:
            session.flush_messages()
        session.dispatcher.stop(_THREAD_JOIN_MARGIN)

    def is_connected(self) -> bool:
        """Tell whether the connection is up (CONNACK accepted, not yet lost).

        Returns:
            ``True`` if connected.
        """
        return self._state is _State.CONNECTED

    def wait_until_connected(self, timeout: float) -> bool:
        """Wait until the connection is up, e.g. after an automatic reconnection.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if connected.
        """
        with self._cond:
            return self._cond.wait_for(
                lambda: self._state in (_State.CONNECTED, _State.IDLE, _State.FAILED), timeout
            ) and (self._state is _State.CONNECTED)

    @property
    def session_present(self) -> bool:
        """Whether the broker resumed a stored session at the last connection."""
        return self._session_present

    @property
    def last_error(self) -> ProtocolError | None:
        """Why the connection was given up, or ``None``."""
        return self._failure

    @property
    def offline_queue_length(self) -> int:
        """Publishes waiting in the offline queue for the connection to return."""
        return len(self._offline)

    @property
    def reconnect_count(self) -> int:
        """Reconnection attempts made during the current connection lifetime."""
        session = self._session
        return session.supervisor.reconnects if session is not None else 0

    # -- will ------------------------------------------------------------------------

    def set_will(
        self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False
    ) -> None:
        """Set the Will the broker publishes if this client vanishes without DISCONNECT.

        Call it before ``connect()``; a change while connected applies from the next
        (automatic or explicit) connection.

        Args:
            topic: Topic name.
            payload: ``str`` (UTF-8) or bytes.
            qos: 0, 1 or 2.
            retain: Whether the broker retains the Will message.

        Raises:
            ProtocolValidationError: If the topic or QoS is invalid.
            ProtocolTypeError: If payload or retain has the wrong type.
        """
        data = check_publish_args(topic, payload, qos, retain)
        self._apply_will(Will(topic, data, qos, retain))

    def clear_will(self) -> None:
        """Remove the Will (from the next connection on)."""
        self._apply_will(None)

    def _apply_will(self, will: Will | None) -> None:
        with self._lock:
            self._will = will
            session = self._session
        if session is not None:
            session.adapter.set_will(will)

    # -- publish ---------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        message: str | bytes,
        qos: int = 0,
        retain: bool = False,
        *,
        message_expiry: int | None = None,
        user_properties: Sequence[tuple[str, str]] | None = None,
    ) -> MQTTPublishHandle:
        """Publish a message.

        While the connection is down (after a loss), QoS 1/2 messages (and QoS 0 with
        ``queue_qos0``) go to the offline queue and leave, in order, after the
        reconnection. When ``max_queued_messages`` QoS 1/2 messages await
        acknowledgement, this waits up to ``publish_timeout`` for room.

        Args:
            topic: Topic name (no wildcards).
            message: ``str`` (UTF-8) or bytes.
            qos: 0, 1 or 2.
            retain: Ask the broker to retain the message.
            message_expiry: MQTT 5: lifetime at the broker in seconds; defaults to
                ``ClientConfig.message_expiry``.
            user_properties: MQTT 5: ``(name, value)`` pairs sent with the message.

        Returns:
            A handle whose ``wait(timeout)`` reports the real delivery outcome.

        Raises:
            ProtocolValidationError: If the topic, QoS or an MQTT 5 option is invalid.
            ProtocolTypeError: If ``message`` is neither ``str`` nor bytes.
            ProtocolNotConnectedError: Before ``connect()``, after ``disconnect()`` or
                after reconnection was given up; for QoS 0 also while reconnecting,
                unless ``queue_qos0`` is set.
            QueueFullError: If the offline queue is full (policy ``"reject"``) or no
                room appeared within ``publish_timeout``.
        """
        payload = check_publish_args(topic, message, qos, retain)
        return self._publish(topic, payload, qos, retain, message_expiry, user_properties)

    def _publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        message_expiry: int | None = None,
        user_properties: Sequence[tuple[str, str]] | None = None,
    ) -> MQTTPublishHandle:
        """Send, queue or refuse a checked message (hook of :meth:`publish`).

        Args:
            topic: A valid topic name.
            payload: The payload.
            qos: 0, 1 or 2.
            retain: A bool.
            message_expiry: As for :meth:`publish`.
            user_properties: As for :meth:`publish`.

        Returns:
            The delivery handle.
        """
        expiry, props = self._publish_options(message_expiry, user_properties)
        if qos and not self._tracker.wait_room(
            self.client_config.max_queued_messages, self.client_config.publish_timeout
        ):
            raise QueueFullError(
                f"{self!r}: {self._tracker.unacknowledged()} publishes await acknowledgement "
                f"(max_queued_messages={self.client_config.max_queued_messages}) and no room "
                f"appeared within publish_timeout={self.client_config.publish_timeout} s"
            )
        handle = self._tracker.new_handle(qos)
        with self._lock:
            state, session = self._state, self._session
            if state is _State.CONNECTED and session is not None:
                if (qos or len(session.window)) and not session.window.admit(
                    qos,
                    lambda: self._held(
                        QueuedPublish(topic, payload, qos, retain, expiry, props, handle)
                    ),
                ):
                    return handle
                status, mid, report = session.adapter.publish(
                    topic, payload, qos, retain, expiry, props
                )
                if report is not None:
                    self._tracker.attach(handle, report)
                    return handle
                if status is not PublishStatus.NOT_CONNECTED:
                    self._tracker.track(mid, handle)
                    return handle
                state = _State.RECONNECTING
            if state in (_State.RECONNECTING, _State.CONNECTING):
                item = QueuedPublish(topic, payload, qos, retain, expiry, props, handle)
                self._enqueue_offline(item)
                return handle
            failure = self._failure
        raise ProtocolNotConnectedError(
            f"{self!r}: publish() to {topic!r} needs a connection; call connect() first"
            + (f" (reconnection was given up: {failure})" if failure is not None else "")
        ) from failure

    def _publish_options(
        self, message_expiry: int | None, user_properties: Sequence[tuple[str, str]] | None
    ) -> tuple[int | None, tuple[tuple[str, str], ...]]:
        if message_expiry is None and user_properties is None:
            return self.client_config.message_expiry, ()
        if self.client_config.protocol_version != MQTT_V5:
            raise ProtocolArgumentError(
                "`message_expiry` and `user_properties` need protocol_version=5"
            )
        if message_expiry is not None and (
            isinstance(message_expiry, bool)
            or not isinstance(message_expiry, int)
            or not 0 <= message_expiry <= 0xFFFFFFFF
        ):
            raise ProtocolArgumentError(
                f"`message_expiry` must be an int between 0 and 4294967295, got {message_expiry!r}"
            )
        props = normalize_user_properties("user_properties", user_properties)
        expiry = message_expiry if message_expiry is not None else self.client_config.message_expiry
        return expiry, props

    def _held(self, item: QueuedPublish) -> QueuedPublish:
        """Count a message that waits for the window (window lock held)."""
        if item.qos:
            self._tracker.hold()
        return item

    def _enqueue_offline(self, item: QueuedPublish) -> None:
        """Queue while disconnected (lock held)."""
        if item.qos == 0 and not self.client_config.queue_qos0:
            raise ProtocolNotConnectedError(
                f"{self!r}: the connection is down; a QoS 0 publish to {item.topic!r} is not "
                "queued (use qos>=1, or ClientConfig(queue_qos0=True))"
            )
        for evicted in self._offline.put(item):
            self._tracker.settle(
                evicted.handle,
                QueueFullError(
                    f"offline queue full: message to {evicted.topic!r} evicted by a newer one "
                    "(overflow_policy='drop_oldest')"
                ),
            )
            logger.warning("%r: offline queue full, evicted a message to %r", self, evicted.topic)

    # -- subscribe -------------------------------------------------------------------

    def subscribe(
        self, topic: str, callback: AnyMessageCallback, *, qos: int | None = None
    ) -> None:
        """Subscribe a callback to a topic filter.

        On a connected client this returns once the broker acknowledged the
        subscription (SUBACK), so a message published afterwards is delivered.
        Otherwise the subscription is registered and sent at the next connection. A
        callback already subscribed to the filter is not added twice. Retained
        messages arrive when a filter is first subscribed; a further callback on an
        already active filter receives new messages only.

        Args:
            topic: Topic filter; ``+``, ``#`` and ``$share/<group>/<filter>`` allowed.
            callback: Called on the dispatcher thread as ``callback(topic, payload)``,
                or as ``callback(message)`` with an :class:`MQTTMessage` (topic,
                payload, QoS, retain flag, MQTT 5 properties) when it takes exactly one
                positional parameter.
            qos: Maximum QoS asked for; defaults to ``ClientConfig.subscribe_qos``.

        Raises:
            ProtocolValidationError: If the filter or QoS is invalid, or the broker
                refused the filter (invalid, shared/wildcard subscriptions unsupported).
            ProtocolAuthenticationError: If the broker refused it as not authorised.
            ProtocolTypeError: If ``callback`` is not callable.
            ProtocolTimeoutError: If no SUBACK arrived within ``ack_timeout``; the
                callback is then not registered.
            ProtocolError: If the broker refused it for another reason.
        """
        super().subscribe(topic, cast(MessageCallback, callback), qos=qos)

    def _subscribe(self, topic: str, callback: MessageCallback, qos: int | None) -> None:
        """Register a checked subscription and await its SUBACK (hook of :meth:`subscribe`).

        Args:
            topic: A valid topic filter.
            callback: A callable.
            qos: 0, 1, 2, or ``None`` for ``ClientConfig.subscribe_qos``.
        """
        wanted = self.client_config.subscribe_qos if qos is None else qos
        with self._sub_lock:
            with self._lock:
                added = self._registry.add(topic, callback, wanted)
                waiter = None
                if added.send:
                    waiter = self._send_subscribe(topic, added.qos, added.subscription_id)
            if waiter is None:
                return
            try:
                reasons = waiter.wait(self.client_config.ack_timeout, f"SUBSCRIBE to {topic!r}")
            except ProtocolTimeoutError:
                self._drop_callback(topic, callback)
                raise
            if reasons is None:
                return
            reason = reasons[0] if reasons else Reason(0x80)
            if reason.is_failure:
                self._drop_callback(topic, callback)
                raise refusal_error(reason, f"SUBSCRIBE to {topic!r}")
            self._registry.set_confirmed(topic, added.subscription_id, True)

    def _send_subscribe(self, topic: str, qos: int, sub_id: int) -> AckWaiter | None:
        """Send SUBSCRIBE if connected (lock held); return the SUBACK waiter."""
        session = self._session
        if self._state is not _State.CONNECTED or session is None:
            return None
        mid = session.adapter.subscribe(topic, qos, sub_id if self._use_sub_ids else None)
        return None if mid is None else session.subacks.expect(mid)

    def _drop_callback(self, topic: str, callback: MessageCallback) -> None:
        with self._lock:
            gone = self._registry.remove(topic, callback)
            session = self._session
            if gone and session is not None and self._state is _State.CONNECTED:
                self._send_unsubscribe_nowait(session, topic)

    def unsubscribe(self, topic: str, callback: AnyMessageCallback) -> None:
        """Remove a callback from a filter; an unknown pair is ignored.

        The callback is not called for any message dispatched after this starts. When
        the last callback of a filter goes, UNSUBSCRIBE is sent and, if connected, its
        UNSUBACK awaited.

        Args:
            topic: The filter it was subscribed with.
            callback: The callback.

        Raises:
            ProtocolTimeoutError: If no UNSUBACK arrived within ``ack_timeout``.
            ProtocolError: If an MQTT 5 broker refused the UNSUBSCRIBE.
        """
        super().unsubscribe(topic, cast(MessageCallback, callback))

    def _unsubscribe(self, topic: str, callback: MessageCallback) -> None:
        """Remove a callback; UNSUBSCRIBE when the filter's last one goes (hook).

        Args:
            topic: The filter it was subscribed with.
            callback: The callback.
        """
        with self._sub_lock:
            with self._lock:
                gone = self._registry.remove(topic, callback)
                if not gone:
                    return
                waiter = None
                session = self._session
                if self._state is _State.CONNECTED and session is not None:
                    mid = session.adapter.unsubscribe(topic)
                    waiter = None if mid is None else session.unsubacks.expect(mid)
                if waiter is None and not self.client_config.clean_session:
                    self._registry.note_offline_removal(topic)
            if waiter is None:
                return
            reasons = waiter.wait(self.client_config.ack_timeout, f"UNSUBSCRIBE from {topic!r}")
            for reason in reasons or ():
                if reason.is_failure:
                    raise refusal_error(reason, f"UNSUBSCRIBE from {topic!r}")

    def subscriptions(self) -> dict[str, list[MessageCallback]]:
        """Return a snapshot of the registered subscriptions: filter -> callbacks.

        Returns:
            A copy that the caller may keep.
        """
        return self._registry.subscriptions()

    # -- blocking consumers ----------------------------------------------------------

    def run_forever(self, timeout: float | None = None) -> None:
        """Block the calling thread while callbacks run, until the client is closed.

        Returns when :meth:`disconnect` is called (from a callback or another thread),
        after ``timeout`` seconds, or on Ctrl-C (the client is then disconnected and
        the ``KeyboardInterrupt`` is not re-raised). Reconnection goes on meanwhile.

        Args:
            timeout: Longest wait in seconds; ``None`` waits until closed.

        Raises:
            ProtocolNotConnectedError: If ``connect()`` was not called first.
            ProtocolError: The error reconnection gave up with (``last_error``).
        """
        with self._lock:
            if self._session is None:
                raise ProtocolNotConnectedError(
                    f"{self!r}: run_forever() needs a connection; call connect() first"
                )
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                with self._cond:
                    if self._session is None:
                        return
                    if self._state is _State.FAILED and self._failure is not None:
                        raise self._failure
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return
                    self._cond.wait(0.5 if left is None else min(0.5, left))
        except KeyboardInterrupt:
            logger.info("%r: interrupted; disconnecting", self)
            self.disconnect()

    def messages(
        self,
        topic: str,
        *,
        qos: int | None = None,
        count: int | None = None,
        timeout: float | None = None,
    ) -> Generator[MQTTMessage, None, None]:
        """Subscribe to a filter and yield its messages as :class:`MQTTMessage` objects.

        The subscription is made at once (before the first message is awaited) and
        removed when the iteration ends, when an exception leaves the loop, or when the
        generator is closed (``close()``, or garbage collection of an unnamed one after
        ``break``). Works connected or not, like :meth:`subscribe`.

        Args:
            topic: Topic filter, as for :meth:`subscribe`.
            qos: Maximum QoS asked for; defaults to ``ClientConfig.subscribe_qos``.
            count: Stop after this many messages (``None``: no limit).
            timeout: Stop after this many seconds without a message (``None``: never).

        Yields:
            The received messages, in arrival order.

        Raises:
            ProtocolArgumentError: If ``count`` is below 1 or ``timeout`` is negative.
        """
        if count is not None and count < 1:
            raise ProtocolArgumentError(f"count must be at least 1 or None, got {count!r}")
        if timeout is not None and timeout < 0:
            raise ProtocolArgumentError(f"timeout must be >= 0 seconds or None, got {timeout!r}")
        stream = MessageStream(count, timeout)
        self.subscribe(topic, stream, qos=qos)
        return self._stream(topic, stream)

    def _stream(self, topic: str, stream: MessageStream) -> Generator[MQTTMessage, None, None]:
        try:
            yield from stream.iterate()
        finally:
            stream.close()
            try:
                self.unsubscribe(topic, stream)
            except ProtocolError as exc:
                logger.warning("%r: unsubscribing %r after iteration failed: %s", self, topic, exc)

    # -- routing (dispatcher thread) -------------------------------------------------

    def _route(self, topic: str, subscription_ids: tuple[int, ...]) -> tuple[MessageCallback, ...]:
        """Return the callbacks of a received message; remove stale broker subscriptions."""
        route = self._registry.route(topic, subscription_ids)
        if self._resumed and (route.stale or route.unexplained):
            try:
                self._remove_stale(topic, route)
            except Exception:  # delivery goes on whatever the clean-up met
                logger.exception("%r: removing stale subscriptions for %r failed", self, topic)
        return route.callbacks

    def _remove_stale(self, topic: str, route: Route) -> None:
        """UNSUBSCRIBE filters the broker kept from an earlier session but nobody wants.

        Filters named by the message's identifiers are removed exactly. A message that
        no identifier explains and that reaches no callback was sent for some
        unregistered filter matching its topic: every such filter of up to
        ``_GUESS_LEVELS`` levels is removed (unsubscribing a filter the broker does not
        hold changes nothing).
        """
        guessed = not route.stale
        exact = not guessed or self.client_config.protocol_version == MQTT_V5
        candidates = (
            self._registry.unregistered_filters(topic, _GUESS_LEVELS)
            if guessed
            else list(route.stale)
        )
        with self._lock:
            session = self._session
            if session is None:
                return
            todo = [f for f in candidates if f not in self._stale_sent and f not in self._registry]
            if len(self._stale_sent) + len(todo) > _STALE_LIMIT:
                logger.warning(
                    "%r: more than %d stale broker subscriptions; connect once with "
                    "clean_session=True to drop the stored session",
                    self,
                    _STALE_LIMIT,
                )
                todo = todo[: max(0, _STALE_LIMIT - len(self._stale_sent))]
            self._stale_sent.update(todo)
            for topic_filter in todo:
                mid = session.adapter.unsubscribe(topic_filter)
                if mid is not None:
                    session.unsubacks.then(mid, _StaleRemoval(topic_filter, exact))
                elif not self.client_config.clean_session:
                    self._registry.note_offline_removal(topic_filter)
        if todo:
            logger.info(
                "%r: message on %r came from a subscription kept by the broker from an earlier "
                "session and no longer registered; unsubscribing %s",
                self,
                topic,
                todo if len(todo) <= 3 else f"{len(todo)} unregistered filters matching it",
            )

    # -- connection events (network thread) ------------------------------------------

    def _on_connected(self, session: Session, session_present: bool) -> None:
        with self._lock:
            if self._session is not session or self._state is _State.CLOSING:
                return
            self._session_present = session_present
            self._resumed = session_present and not self.client_config.clean_session
            self._stale_sent = set()
            limits = session.limits
            session.window.set_limits(
                default_window(
                    self.client_config.max_inflight,
                    self.client_config.protocol_version == MQTT_V5,
                    limits.receive_maximum,
                )
            )
            self._use_sub_ids = (
                self.client_config.protocol_version == MQTT_V5 and limits.subscription_identifiers
            )
            if not session_present:
                self._registry.forget_confirmations()
            for topic_filter in self._registry.take_offline_removals():
                self._send_unsubscribe_nowait(session, topic_filter)
            waiters = self._send_unconfirmed(session)
            if waiters:
                session.restore = RestoreState(
                    waiters, time.monotonic() + self.client_config.ack_timeout
                )
            else:
                self._go_live(session)
        logger.info(
            "%r: connection accepted (session present: %s, restoring %d subscriptions)",
            self,
            session_present,
            len(waiters),
        )

    def _check_restore(self, session: Session) -> None:
        """Go live once the restored subscriptions are acknowledged (network thread)."""
        restore = session.restore
        if restore is None or not restore.finished():
            return
        session.restore = None
        if restore.timed_out():
            logger.warning(
                "%r: restored subscriptions not all acknowledged within ack_timeout=%s s; going on",
                self,
                self.client_config.ack_timeout,
            )
        with self._lock:
            if self._session is session and self._state in (
                _State.CONNECTING,
                _State.RECONNECTING,
            ):
                self._send_unconfirmed(session, skip=restore.filters)
                self._go_live(session)

    def _go_live(self, session: Session) -> None:
        """Flush the offline queue and mark the connection usable (lock held)."""
        self._flush_offline(session)
        self._state = _State.CONNECTED
        self._cond.notify_all()

    def _send_unconfirmed(
        self, session: Session, skip: frozenset[str] = frozenset()
    ) -> list[tuple[str, AckWaiter]]:
        """SUBSCRIBE every filter the broker lacks (lock held); return the waiters."""
        waiters: list[tuple[str, AckWaiter]] = []
        for state in self._registry.snapshot():
            if state.confirmed or state.topic_filter in skip:
                continue
            sub_id = state.subscription_id if self._use_sub_ids else None
            mid = session.adapter.subscribe(state.topic_filter, state.qos, sub_id)
            if mid is None:
                continue
            waiter = AckWaiter()
            session.subacks.then(
                mid, _RestoreAck(self._registry, state.topic_filter, state.subscription_id, waiter)
            )
            waiters.append((state.topic_filter, waiter))
        return waiters

    def _send_unsubscribe_nowait(self, session: Session, topic_filter: str) -> None:
        mid = session.adapter.unsubscribe(topic_filter)
        if mid is not None:
            session.unsubacks.then(mid, _ignore_ack)

    def _flush_offline(self, session: Session) -> None:
        """Send the offline queue in order (lock held)."""
        items = self._offline.pop_all()
        for index, item in enumerate(items):
            if not session.window.admit(item.qos, lambda item=item: self._held(item)):  # type: ignore[misc]
                continue
            status, mid, report = session.adapter.publish(
                item.topic,
                item.payload,
                item.qos,
                item.retain,
                item.message_expiry,
                item.user_properties,
            )
            if status is PublishStatus.NOT_CONNECTED:
                self._offline.push_front(items[index:])
                return
            if report is not None:
                self._tracker.attach(item.handle, report)
            else:
                self._tracker.track(mid, item.handle)
        if items:
            logger.info("%r: flushed %d queued publishes", self, len(items))

    def _on_lost(self, session: Session, reason: Reason | None) -> None:
        with self._lock:
            if self._session is not session or self._state is _State.CLOSING:
                return
            session.restore = None
            self._state = _State.RECONNECTING
            self._cond.notify_all()
        detail = f" ({reason})" if reason is not None else ""
        logger.warning("%r: connection lost%s; reconnecting", self, detail)

    def _on_failed(self, session: Session, error: ProtocolError) -> None:
        with self._lock:
            if self._session is not session or self._state is _State.CLOSING:
                return
            initial = self._state is _State.CONNECTING
            self._state = _State.FAILED
            self._failure = error
            queued, waiting = self._offline.pop_all(), session.window.take_all()
            self._cond.notify_all()
        if initial:
            logger.debug("%r: connect failed: %s", self, error)
        else:
            logger.error(
                "%r: gave up reconnecting (%d queued, %d unacknowledged publishes fail): %s",
                self,
                len(queued),
                self._tracker.unacknowledged(),
                error,
            )
        self._settle_queued(queued, waiting, error)
        self._tracker.fail_all(error)

    def _settle_queued(
        self, queued: list[QueuedPublish], waiting: list[QueuedPublish], error: ProtocolError
    ) -> None:
        """Fail messages that never reached the library (offline queue, window)."""
        for item in queued:
            self._tracker.settle(item.handle, error)
        self._tracker.drop_held([item.handle for item in waiting], error)


class _RestoreAck:
    """Records the SUBACK of a restored subscription (runs on the network thread)."""

    __slots__ = ("_filter", "_registry", "_sub_id", "_waiter")

    def __init__(
        self, registry: SubscriptionRegistry, topic_filter: str, sub_id: int, waiter: AckWaiter
    ) -> None:
        self._registry = registry
        self._filter = topic_filter
        self._sub_id = sub_id
        self._waiter = waiter

    def __call__(self, reasons: list[Reason] | None) -> None:
        self._waiter.settle(reasons)
        if reasons is None:
            return
        failures = [r for r in reasons if r.is_failure]
        if failures or not reasons:
            logger.error(
                "broker refused the restored subscription %r: %s; retried at the next connection",
                self._filter,
                failures[0] if failures else "empty SUBACK",
            )
            return
        self._registry.set_confirmed(self._filter, self._sub_id, True)


def _ignore_ack(reasons: list[Reason] | None) -> None:
    """Completion of an UNSUBSCRIBE nobody waits for."""


class _StaleRemoval:
    """Logs the UNSUBACK of a stale broker subscription (runs on the network thread).

    Args:
        topic_filter: The filter unsubscribed.
        known: Whether a success code means the broker held it: always for a filter
            named by an identifier; for a guessed one only with MQTT 5, whose UNSUBACK
            says "no subscription existed" otherwise.
    """

    __slots__ = ("_filter", "_known")

    def __init__(self, topic_filter: str, known: bool) -> None:
        self._filter = topic_filter
        self._known = known

    def __call__(self, reasons: list[Reason] | None) -> None:
        if not reasons:
            return
        reason = reasons[0]
        if reason.code == 0 and self._known:
            logger.info("broker removed the stale subscription %r", self._filter)
        elif reason.is_failure:
            logger.warning(
                "broker refused to remove the stale subscription %r: %s", self._filter, reason
            )
