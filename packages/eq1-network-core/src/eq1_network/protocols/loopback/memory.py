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
import threading
from collections.abc import Callable

from eq1_network.common.logging import get_logger
from eq1_network.common.topics import split_shared, topic_matches
from eq1_network.interfaces._pubsub import check_publish_args
from eq1_network.interfaces.protocol import (
    CompletedPublish,
    MessageCallback,
    PublishHandle,
    PubSubProtocol,
)

__all__ = ["MemoryBroker", "MemoryPubSub", "check_publish_args"]

logger = get_logger(__name__)

_Delivery = tuple[MessageCallback, str, bytes]


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

    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> PublishHandle:
        """Deliver a checked message; matching callbacks run before :meth:`publish` returns.

        Every QoS level is delivered at once, so the handle is already complete.

        Args:
            topic: Topic name.
            payload: The payload.
            qos: 0, 1 or 2.
            retain: Keep the message for future subscribers.

        Returns:
            A completed handle.
        """
        self.broker.publish(topic, payload, retain)
        return CompletedPublish()

    def _subscribe(self, topic: str, callback: MessageCallback, qos: int | None) -> None:
        """Add a checked subscription; retained matches are delivered at once if connected.

        The subscription is kept across ``disconnect()``/``connect()``.

        Args:
            topic: Topic filter.
            callback: ``callback(topic, payload)``.
            qos: Accepted for the interface; delivery is always complete.
        """
        with self._lock:
            self._subs.setdefault(topic, []).append(callback)
            connected = self._connected
        if connected:
            for retained_topic, payload in self.broker.retained(topic):
                _call(callback, retained_topic, payload)

    def _unsubscribe(self, topic: str, callback: MessageCallback) -> None:
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
