"""The bounded queue of publishes accepted while the connection is down.

Bounded by message count and payload bytes. The overflow policy is either
``"reject"`` (the new publish raises :class:`QueueFullError`, nothing queued is lost) or
``"drop_oldest"`` (the oldest messages are evicted and returned to the caller, which
fails their handles). Not thread-safe by itself: the client state lock guards it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from eq1_network.common.exceptions import QueueFullError
from eq1_network.common.policies import OverflowPolicy
from eq1_network.protocols.mqtt._tracking import MQTTPublishHandle
from eq1_network.protocols.mqtt.config import UserProperties

__all__ = ["OfflineQueue", "QueuedPublish"]


@dataclass(frozen=True)
class QueuedPublish:
    """One publish waiting for the connection.

    Attributes:
        topic: Topic name.
        payload: Payload bytes.
        qos: 0, 1 or 2.
        retain: Retain flag.
        message_expiry: MQTT 5 Message Expiry Interval, or ``None``.
        user_properties: MQTT 5 user properties.
        handle: The handle returned to the publisher.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    message_expiry: int | None
    user_properties: UserProperties
    handle: MQTTPublishHandle


class OfflineQueue:
    """FIFO of :class:`QueuedPublish` bounded by count and bytes.

    Args:
        max_messages: Most messages kept.
        max_bytes: Most payload bytes kept.
        policy: ``OverflowPolicy.REJECT`` or ``OverflowPolicy.DROP_OLDEST``.
    """

    def __init__(self, max_messages: int, max_bytes: int, policy: OverflowPolicy) -> None:
        self._items: deque[QueuedPublish] = deque()
        self._bytes = 0
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._drop_oldest = policy == OverflowPolicy.DROP_OLDEST

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Payload bytes currently queued."""
        return self._bytes

    def put(self, item: QueuedPublish) -> list[QueuedPublish]:
        """Append a publish, applying the overflow policy.

        Args:
            item: The publish.

        Returns:
            The messages evicted to make room (``"drop_oldest"`` only), oldest first.

        Raises:
            QueueFullError: If the item cannot fit: always under ``"reject"`` when full,
                and under either policy when its payload alone exceeds ``max_bytes``.
        """
        size = len(item.payload)
        if size > self._max_bytes:
            raise QueueFullError(
                f"offline queue: a {size}-byte payload exceeds "
                f"offline_queue_max_bytes={self._max_bytes}"
            )
        evicted: list[QueuedPublish] = []
        while self._items and self._is_full(size):
            if not self._drop_oldest:
                raise QueueFullError(
                    f"offline queue full ({len(self._items)} messages, {self._bytes} bytes; "
                    f"limits {self._max_messages} messages, {self._max_bytes} bytes) while "
                    "the connection is down; the publish was not accepted"
                )
            oldest = self._items.popleft()
            self._bytes -= len(oldest.payload)
            evicted.append(oldest)
        self._items.append(item)
        self._bytes += size
        return evicted

    def _is_full(self, incoming: int) -> bool:
        return len(self._items) >= self._max_messages or self._bytes + incoming > self._max_bytes

    def pop_all(self) -> list[QueuedPublish]:
        """Remove and return every queued publish, oldest first.

        Returns:
            The publishes.
        """
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        return items

    def push_front(self, items: Iterable[QueuedPublish]) -> None:
        """Put publishes back at the head, keeping their order (bounds are not applied).

        Args:
            items: Publishes taken by :meth:`pop_all` and not sent, oldest first.
        """
        for item in reversed(list(items)):
            self._items.appendleft(item)
            self._bytes += len(item.payload)
