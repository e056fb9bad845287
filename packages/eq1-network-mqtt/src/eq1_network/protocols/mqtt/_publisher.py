"""Publishing: send a checked message now, hold it for the window, queue it, or refuse it.

:class:`Publisher` decides from the connection state. Connected, a message goes to the
client library unless the in-flight window (``_window``) makes it wait; while the
connection is being made or remade, QoS 1/2 messages (and QoS 0 with ``queue_qos0``) go
to the offline queue (``_offline_queue``), which :meth:`Publisher.flush_offline` sends in
order once the connection is live; otherwise the message is refused. Handles and the
count of unacknowledged messages belong to :class:`PublishTracker` (``_tracking``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolError,
    ProtocolNotConnectedError,
    QueueFullError,
)
from eq1_network.common.logging import get_logger
from eq1_network.protocols.mqtt._adapter_parts import NOT_CONNECTED
from eq1_network.protocols.mqtt._offline_queue import OfflineQueue, QueuedPublish
from eq1_network.protocols.mqtt._state import ClientState, State
from eq1_network.protocols.mqtt._tracking import MQTTPublishHandle, PublishTracker
from eq1_network.protocols.mqtt.config import MQTT_V5, ClientConfig, normalize_user_properties

if TYPE_CHECKING:
    from eq1_network.protocols.mqtt._session import Session

__all__ = ["Publisher"]

logger = get_logger(__name__)

_CONNECTED = State.CONNECTED  # bound once, as _adapter_parts.SENT


class Publisher:
    """The publishing side of one client.

    Args:
        owner: The protocol, named in messages.
        shared: The client's connection state.
        config: Client configuration.
        tracker: The client's publish tracker.
    """

    def __init__(
        self, owner: object, shared: ClientState, config: ClientConfig, tracker: PublishTracker
    ) -> None:
        self._owner = owner
        self._shared = shared
        self._config = config
        self._tracker = tracker
        self._offline = OfflineQueue(
            config.offline_queue_max_messages,
            config.offline_queue_max_bytes,
            config.overflow_policy,
        )

    @property
    def queued(self) -> int:
        """Publishes waiting in the offline queue."""
        return len(self._offline)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        message_expiry: int | None = None,
        user_properties: Sequence[tuple[str, str]] | None = None,
    ) -> MQTTPublishHandle:
        """Send, queue or refuse a checked message.

        Args:
            topic: A valid topic name.
            payload: The payload.
            qos: 0, 1 or 2.
            retain: A bool.
            message_expiry: MQTT 5 expiry in seconds, or ``None`` for the configured one.
            user_properties: MQTT 5 ``(name, value)`` pairs, or ``None``.

        Returns:
            The delivery handle.
        """
        if not qos and message_expiry is None and user_properties is None:
            sent = self._send_qos0_now(topic, payload, retain)
            if sent is not None:
                return sent
        expiry, props = self._options(message_expiry, user_properties)
        tracker, config = self._tracker, self._config
        if qos and not tracker.wait_room(config.max_queued_messages, config.publish_timeout):
            raise self._no_room()
        handle = tracker.new_handle(qos)
        shared = self._shared
        with shared.lock:
            state, session = shared.state, shared.session
            if state is _CONNECTED and session is not None:
                if (qos or len(session.window)) and not self._admit(
                    session, (topic, payload, qos, retain, expiry, props, handle)
                ):
                    return handle
                status, mid, report = session.adapter.publish(
                    topic, payload, qos, retain, expiry, props
                )
                if report is not None:
                    tracker.attach(handle, report)
                    return handle
                if status is not NOT_CONNECTED:
                    tracker.track(mid, handle)
                    return handle
                state = State.RECONNECTING
            if state in (State.RECONNECTING, State.CONNECTING):
                self._enqueue_offline(
                    QueuedPublish(topic, payload, qos, retain, expiry, props, handle)
                )
                return handle
            failure = shared.failure
        raise self._not_connected(topic, failure) from failure

    def _send_qos0_now(self, topic: str, payload: bytes, retain: bool) -> MQTTPublishHandle | None:
        """Send a QoS 0 message without options at once, when connected and nothing waits.

        The common case of :meth:`publish`, in fewer steps. Returns ``None``, having
        sent nothing, when the client is not connected or messages wait for the
        in-flight window (a QoS 0 message must not overtake them); :meth:`publish`
        then takes its general path.
        """
        shared = self._shared
        with shared.lock:
            session = shared.session
            if shared.state is not _CONNECTED or session is None or len(session.window):
                return None
            _, _, report = session.adapter.publish(
                topic, payload, 0, retain, self._config.message_expiry, ()
            )
        if report is None:  # the connection was gone: nothing was sent
            return None
        return MQTTPublishHandle(self._tracker, 0, report)

    def _no_room(self) -> QueueFullError:
        config = self._config
        return QueueFullError(
            f"{self._owner!r}: {self._tracker.unacknowledged()} publishes await acknowledgement "
            f"(max_queued_messages={config.max_queued_messages}) and no room "
            f"appeared within publish_timeout={config.publish_timeout} s"
        )

    def _not_connected(
        self, topic: str, failure: ProtocolError | None
    ) -> ProtocolNotConnectedError:
        return ProtocolNotConnectedError(
            f"{self._owner!r}: publish() to {topic!r} needs a connection; call connect() first"
            + (f" (reconnection was given up: {failure})" if failure is not None else "")
        )

    def _options(
        self, message_expiry: int | None, user_properties: Sequence[tuple[str, str]] | None
    ) -> tuple[int | None, tuple[tuple[str, str], ...]]:
        if message_expiry is None and user_properties is None:
            return self._config.message_expiry, ()
        if self._config.protocol_version != MQTT_V5:
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
        expiry = message_expiry if message_expiry is not None else self._config.message_expiry
        return expiry, props

    def _admit(self, session: Session, fields: tuple[Any, ...]) -> bool:
        """Tell whether the window lets a message go now; if not, it holds it (lock held).

        Args:
            session: The live session.
            fields: The message's :class:`QueuedPublish` fields, built into one only
                if the window holds it.
        """
        return session.window.admit(fields[2], lambda: self._held(QueuedPublish(*fields)))

    def _held(self, item: QueuedPublish) -> QueuedPublish:
        """Count a message that waits for the window (window lock held)."""
        if item.qos:
            self._tracker.hold()
        return item

    def _enqueue_offline(self, item: QueuedPublish) -> None:
        """Queue while disconnected (state lock held)."""
        if item.qos == 0 and not self._config.queue_qos0:
            raise ProtocolNotConnectedError(
                f"{self._owner!r}: the connection is down; a QoS 0 publish to {item.topic!r} is "
                "not queued (use qos>=1, or ClientConfig(queue_qos0=True))"
            )
        for evicted in self._offline.put(item):
            self._tracker.settle(
                evicted.handle,
                QueueFullError(
                    f"offline queue full: message to {evicted.topic!r} evicted by a newer one "
                    "(overflow_policy='drop_oldest')"
                ),
            )
            logger.warning(
                "%r: offline queue full, evicted a message to %r", self._owner, evicted.topic
            )

    def flush_offline(self, session: Session) -> None:
        """Send the offline queue in order (state lock held).

        Args:
            session: The session that just went live.
        """
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
            if status is NOT_CONNECTED:
                self._offline.push_front(items[index:])
                return
            if report is not None:
                self._tracker.attach(item.handle, report)
            else:
                self._tracker.track(mid, item.handle)
        if items:
            logger.info("%r: flushed %d queued publishes", self._owner, len(items))

    def take_unsent(self, session: Session) -> tuple[list[QueuedPublish], list[QueuedPublish]]:
        """Remove the messages that never reached the library (state lock held).

        Args:
            session: The ending session, whose window may hold messages.

        Returns:
            ``(offline queue, window)`` messages, oldest first.
        """
        return self._offline.pop_all(), session.window.take_all()

    def fail_unsent(
        self, queued: list[QueuedPublish], waiting: list[QueuedPublish], error: ProtocolError
    ) -> None:
        """Fail the handles of messages taken by :meth:`take_unsent`.

        Args:
            queued: Messages from the offline queue.
            waiting: Messages from the window.
            error: The failure to report.
        """
        for item in queued:
            self._tracker.settle(item.handle, error)
        self._tracker.drop_held([item.handle for item in waiting], error)
