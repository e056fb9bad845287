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

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, cast

from eq1_network.common.exceptions import ProtocolError, ProtocolTypeError
from eq1_network.interfaces._pubsub import check_publish_args
from eq1_network.interfaces.protocol import MessageCallback, PubSubProtocol
from eq1_network.protocols.mqtt._adapter import PahoAdapter, Will
from eq1_network.protocols.mqtt._connection import Connection
from eq1_network.protocols.mqtt._messages import (
    AnyMessageCallback,
    MessageStream,
    MQTTMessage,
    subscription_messages,
)
from eq1_network.protocols.mqtt._publisher import Publisher
from eq1_network.protocols.mqtt._session import AdapterFactory
from eq1_network.protocols.mqtt._state import ClientState, State
from eq1_network.protocols.mqtt._subscriptions import Subscriptions
from eq1_network.protocols.mqtt._tracking import MQTTPublishHandle, PublishTracker
from eq1_network.protocols.mqtt.config import BrokerConfig, ClientConfig

if TYPE_CHECKING:
    from eq1_network.urls import ParsedURL

__all__ = ["BrokerConfig", "ClientConfig", "MQTTMessage", "MQTTProtocol", "MQTTPublishHandle"]


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
        self._shared = shared = ClientState()
        tracker = PublishTracker()
        self._publisher = Publisher(self, shared, client_config, tracker)
        self._subscriptions = Subscriptions(self, shared, client_config)
        self._connection = Connection(
            self,
            shared,
            broker_config,
            client_config,
            self.client_id,
            tracker,
            self._publisher,
            self._subscriptions,
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
            f"state={self._shared.state.value!r})"
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
        return self._connection.connect(self._adapter_factory)

    def disconnect(self) -> None:
        """Disconnect cleanly (DISCONNECT is sent, so the Will is not published).

        Waits up to ``drain_timeout`` for unacknowledged publishes, then fails the
        handles of those still pending (and of messages in the offline queue) with
        :class:`ProtocolNotConnectedError`, delivers messages already received, and
        stops the threads. Subscriptions stay registered for the next ``connect()``.
        Calling it when not connected does nothing.
        """
        self._connection.disconnect()

    def is_connected(self) -> bool:
        """Tell whether the connection is up (CONNACK accepted, not yet lost).

        Returns:
            ``True`` if connected.
        """
        return self._shared.state is State.CONNECTED

    def wait_until_connected(self, timeout: float) -> bool:
        """Wait until the connection is up, e.g. after an automatic reconnection.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if connected.
        """
        return self._connection.wait_until_connected(timeout)

    @property
    def session_present(self) -> bool:
        """Whether the broker resumed a stored session at the last connection."""
        return self._connection.session_present

    @property
    def last_error(self) -> ProtocolError | None:
        """Why the connection was given up, or ``None``."""
        return self._shared.failure

    @property
    def offline_queue_length(self) -> int:
        """Publishes waiting in the offline queue for the connection to return."""
        return self._publisher.queued

    @property
    def reconnect_count(self) -> int:
        """Reconnection attempts made during the current connection lifetime."""
        session = self._shared.session
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
        self._connection.apply_will(Will(topic, data, qos, retain))

    def clear_will(self) -> None:
        """Remove the Will (from the next connection on)."""
        self._connection.apply_will(None)

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
        """Send, queue or refuse a checked message (hook of :meth:`publish`)."""
        return self._publisher.publish(topic, payload, qos, retain, message_expiry, user_properties)

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
        """Register a checked subscription and await its SUBACK (hook of :meth:`subscribe`)."""
        self._subscriptions.subscribe(topic, callback, qos)

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
        """Remove a callback; UNSUBSCRIBE when the filter's last one goes (hook)."""
        self._subscriptions.unsubscribe(topic, callback)

    def subscriptions(self) -> dict[str, list[MessageCallback]]:
        """Return a snapshot of the registered subscriptions: filter -> callbacks.

        Returns:
            A copy that the caller may keep.
        """
        return self._subscriptions.snapshot()

    # -- blocking consumers ----------------------------------------------------------

    def run_forever(self, timeout: float | None = None) -> None:
        """Block the calling thread while callbacks run, until the client is closed.

        Returns when :meth:`disconnect` is called (from a callback or another thread),
        after ``timeout`` seconds, or on Ctrl-C (the client is then disconnected and
        the ``KeyboardInterrupt`` is not re-raised). Reconnection goes on meanwhile.
        When :meth:`disconnect` ended the connection before this call (a callback
        handled a stop message first, say), it returns at once.

        Args:
            timeout: Longest wait in seconds; ``None`` waits until closed.

        Raises:
            ProtocolNotConnectedError: If the client was never connected (or its last
                ``connect()`` failed).
            ProtocolError: The error reconnection gave up with (``last_error``).
        """
        self._connection.run(timeout)

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
        stream = MessageStream(count, timeout)
        self.subscribe(topic, stream, qos=qos)
        return subscription_messages(self, topic, stream, self.unsubscribe)
