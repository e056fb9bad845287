"""``memory``: an in-process publish/subscribe broker with MQTT topic semantics.

Instances created without a broker share one process-wide :class:`MemoryBroker`, so
two ``MemoryPubSub()`` objects talk to each other. Delivery is synchronous: the
publisher's thread calls the matching callbacks, never while a lock is held, so a
callback may publish or subscribe itself. ``+``/``#`` wildcards, ``$``-topics,
retained messages and ``$share/<group>/<filter>`` (one member of a group receives
each message, round robin) behave as in MQTT.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable

from eq1_network.common.exceptions import (
    ProtocolNotConnectedError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.common.topics import (
    split_shared,
    topic_matches,
    validate_topic,
    validate_topic_filter,
)
from eq1_network.interfaces.protocol import (
    CompletedPublish,
    MessageCallback,
    PublishHandle,
    PubSubProtocol,
)

__all__ = ["MemoryBroker", "MemoryPubSub", "check_publish_args"]

logger = logging.getLogger(__name__)

_Delivery = tuple[MessageCallback, str, bytes]


def check_publish_args(topic: str, message: str | bytes, qos: int, retain: bool) -> bytes:
    """Validate publish arguments the way every pub/sub protocol should.

    Args:
        topic: Topic name.
        message: ``str`` (encoded as UTF-8) or bytes-like payload.
        qos: 0, 1 or 2.
        retain: A bool.

    Returns:
        The payload as bytes.

    Raises:
        ProtocolValidationError: If the topic or QoS is invalid.
        ProtocolTypeError: If message or retain has the wrong type.
    """
    validate_topic(topic)
    if isinstance(qos, bool) or qos not in (0, 1, 2):
        raise ProtocolValidationError(f"qos must be 0, 1 or 2, got {qos!r}")
    if not isinstance(retain, bool):
        raise ProtocolTypeError(f"retain must be a bool, got {type(retain).__name__}")
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise ProtocolTypeError(f"message must be str or bytes, got {type(message).__name__}")


class MemoryBroker:
    """The in-process broker that :class:`MemoryPubSub` clients attach to."""

    _default: MemoryBroker | None = None
    _default_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: list[MemoryPubSub] = []
        self._retained: dict[str, bytes] = {}
        self._share_counters: dict[tuple[str, str], itertools.count[int]] = {}

    @classmethod
    def default(cls) -> MemoryBroker:
        """Return the process-wide broker shared by instances created without one.

        Returns:
            The broker.
        """
        with cls._default_lock:
            if cls._default is None:
                cls._default = cls()
            return cls._default

    def attach(self, client: MemoryPubSub) -> None:
        """Connect a client to the broker."""
        with self._lock:
            if client not in self._clients:
                self._clients.append(client)

    def detach(self, client: MemoryPubSub) -> None:
        """Disconnect a client from the broker."""
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def retained(self, topic_filter: str) -> list[tuple[str, bytes]]:
        """Return the retained messages whose topic matches a filter.

        Args:
            topic_filter: The filter.

        Returns:
            ``(topic, payload)`` pairs, sorted by topic.
        """
        with self._lock:
            return sorted(
                (t, p) for t, p in self._retained.items() if topic_matches(topic_filter, t)
            )

    def publish(self, topic: str, payload: bytes, retain: bool) -> int:
        """Deliver a message to every matching subscription.

        Args:
            topic: The topic name.
            payload: The payload.
            retain: Store (or, with an empty payload, clear) the retained message.

        Returns:
            The number of callbacks called.
        """
        with self._lock:
            if retain:
                if payload:
                    self._retained[topic] = payload
                else:
                    self._retained.pop(topic, None)
            deliveries = self._match(topic, payload)
        for callback, _, _ in deliveries:
            _call(callback, topic, payload)
        return len(deliveries)

    def _match(self, topic: str, payload: bytes) -> list[_Delivery]:
        deliveries: list[_Delivery] = []
        groups: dict[tuple[str, str], list[_Delivery]] = {}
        for client in self._clients:
            for topic_filter, callbacks in client.subscriptions().items():
                if not topic_matches(topic_filter, topic):
                    continue
                shared = split_shared(topic_filter)
                items = [(cb, topic, payload) for cb in callbacks]
                if shared.group is None:
                    deliveries.extend(items)
                else:
                    key = (shared.group, shared.topic_filter)
                    groups.setdefault(key, []).append(items[0])
        for key, members in groups.items():
            counter = self._share_counters.setdefault(key, itertools.count())
            deliveries.append(members[next(counter) % len(members)])
        return deliveries


def _call(callback: Callable[[str, bytes], None], topic: str, payload: bytes) -> None:
    try:
        callback(topic, payload)
    except Exception:
        logger.exception("subscriber callback %r raised on topic %r", callback, topic)


class MemoryPubSub(PubSubProtocol):
    """A publish/subscribe client of an in-process :class:`MemoryBroker`.

    Subscriptions are kept across ``disconnect()``/``connect()``; messages are
    delivered only while connected.

    Args:
        broker: The broker to use; the process-wide default when ``None``.
        client_id: A name for logs; generated when ``None``.
    """

    protocol_name = "memory"
    _ids = itertools.count(1)

    def __init__(self, broker: MemoryBroker | None = None, *, client_id: str | None = None) -> None:
        self.broker = broker if broker is not None else MemoryBroker.default()
        self.client_id = client_id or f"memory-{next(self._ids)}"
        self._lock = threading.Lock()
        self._subs: dict[str, list[MessageCallback]] = {}
        self._connected = False

    def __repr__(self) -> str:
        return f"MemoryPubSub(client_id={self.client_id!r}, connected={self._connected})"

    def connect(self) -> bool:
        """Attach to the broker.

        Returns:
            ``True``.
        """
        with self._lock:
            self._connected = True
        self.broker.attach(self)
        return True

    def disconnect(self) -> None:
        """Detach from the broker; subscriptions are kept for the next ``connect()``."""
        with self._lock:
            self._connected = False
        self.broker.detach(self)

    def is_connected(self) -> bool:
        """Tell whether attached to the broker.

        Returns:
            ``True`` if connected.
        """
        return self._connected

    def subscriptions(self) -> dict[str, list[MessageCallback]]:
        """Return a snapshot of the subscriptions: filter -> callbacks.

        Returns:
            A copy that the caller may keep.
        """
        with self._lock:
            return {f: list(cbs) for f, cbs in self._subs.items()}

    def publish(
        self, topic: str, message: str | bytes, qos: int = 0, retain: bool = False
    ) -> PublishHandle:
        """Publish a message to the broker; matching callbacks run before this returns.

        Args:
            topic: Topic name.
            message: Payload; ``str`` is encoded as UTF-8.
            qos: 0, 1 or 2 (delivery is always complete).
            retain: Keep the message for future subscribers.

        Returns:
            A completed handle.

        Raises:
            ProtocolNotConnectedError: If not connected.
            ProtocolValidationError: If the topic or QoS is invalid.
            ProtocolTypeError: If the message is neither str nor bytes.
        """
        payload = check_publish_args(topic, message, qos, retain)
        if not self._connected:
            raise ProtocolNotConnectedError(f"{self!r}: publish() before connect()")
        self.broker.publish(topic, payload, retain)
        return CompletedPublish()

    def subscribe(self, topic: str, callback: MessageCallback) -> None:
        """Subscribe ``callback`` to a topic filter; retained matches are delivered at once.

        Args:
            topic: Topic filter.
            callback: ``callback(topic, payload)``.

        Raises:
            ProtocolValidationError: If the filter is invalid.
            ProtocolTypeError: If the callback is not callable.
        """
        validate_topic_filter(topic)
        if not callable(callback):
            raise ProtocolTypeError(f"callback must be callable, got {type(callback).__name__}")
        with self._lock:
            self._subs.setdefault(topic, []).append(callback)
            connected = self._connected
        if connected:
            for retained_topic, payload in self.broker.retained(topic):
                _call(callback, retained_topic, payload)

    def unsubscribe(self, topic: str, callback: MessageCallback) -> None:
        """Remove one callback from a filter; unknown pairs are ignored.

        Args:
            topic: Topic filter it was subscribed with.
            callback: The callback.
        """
        with self._lock:
            callbacks = self._subs.get(topic)
            if callbacks and callback in callbacks:
                callbacks.remove(callback)
                if not callbacks:
                    del self._subs[topic]
