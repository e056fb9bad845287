"""The subscription registry: topic filters, their callbacks and their broker state.

Several callbacks may share one filter; the broker sees one subscription per filter,
made when the first callback arrives and removed when the last one leaves. Each filter
gets a subscription identifier, used with MQTT 5 brokers to route a message to exactly
the subscriptions it matched. Lookups by topic are cached; the cache is dropped on
every change. The lock is a leaf: no callback runs and nothing else is called while it
is held.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from eq1_network.common.topics import topic_matches
from eq1_network.interfaces.protocol import MessageCallback

__all__ = ["AddResult", "FilterState", "SubscriptionRegistry"]

_CACHE_LIMIT = 4096
_MAX_SUBSCRIPTION_ID = 268_435_455


@dataclass(frozen=True)
class AddResult:
    """What :meth:`SubscriptionRegistry.add` changed.

    Attributes:
        send: Whether a SUBSCRIBE must be sent (new filter or higher QoS).
        qos: The filter's QoS after the change.
        subscription_id: The filter's subscription identifier.
    """

    send: bool
    qos: int
    subscription_id: int


@dataclass(frozen=True)
class FilterState:
    """A snapshot of one registered filter.

    Attributes:
        topic_filter: The filter as subscribed.
        qos: The QoS to ask for.
        subscription_id: Its subscription identifier.
        confirmed: Whether the broker acknowledged it in the current session.
    """

    topic_filter: str
    qos: int
    subscription_id: int
    confirmed: bool


@dataclass
class _Entry:
    callbacks: tuple[MessageCallback, ...]
    qos: int
    subscription_id: int
    confirmed: bool = False


class SubscriptionRegistry:
    """Thread-safe map of topic filter -> callbacks, with broker-side state."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._by_id: dict[int, str] = {}
        self._next_id = 1
        self._cache: dict[str, tuple[MessageCallback, ...]] = {}
        self._offline_removed: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, topic_filter: str, callback: MessageCallback, qos: int) -> AddResult:
        """Register a callback; a callback already on the filter is not added twice.

        Args:
            topic_filter: A valid topic filter.
            callback: The callback.
            qos: The QoS wanted for this filter.

        Returns:
            What the broker must be told.
        """
        with self._lock:
            self._cache = {}
            self._offline_removed.discard(topic_filter)
            entry = self._entries.get(topic_filter)
            if entry is None:
                entry = _Entry((callback,), qos, self._new_id())
                self._entries[topic_filter] = entry
                self._by_id[entry.subscription_id] = topic_filter
                return AddResult(True, qos, entry.subscription_id)
            if callback not in entry.callbacks:
                entry.callbacks = (*entry.callbacks, callback)
            if qos > entry.qos:
                entry.qos = qos
                entry.confirmed = False
                return AddResult(True, qos, entry.subscription_id)
            return AddResult(False, entry.qos, entry.subscription_id)

    def _new_id(self) -> int:
        sub_id = self._next_id
        self._next_id = 1 if sub_id >= _MAX_SUBSCRIPTION_ID else sub_id + 1
        return sub_id

    def remove(self, topic_filter: str, callback: MessageCallback) -> bool | None:
        """Remove a callback from a filter.

        Args:
            topic_filter: The filter it was registered with.
            callback: The callback.

        Returns:
            ``None`` if the pair was not registered, ``True`` if the filter lost its
            last callback (the broker must be told), ``False`` otherwise.
        """
        with self._lock:
            entry = self._entries.get(topic_filter)
            if entry is None or callback not in entry.callbacks:
                return None
            self._cache = {}
            entry.callbacks = tuple(cb for cb in entry.callbacks if cb is not callback)
            if entry.callbacks:
                return False
            del self._entries[topic_filter]
            self._by_id.pop(entry.subscription_id, None)
            return True

    def discard_filter(self, topic_filter: str, subscription_id: int) -> None:
        """Drop a filter and all its callbacks (after the broker refused it).

        Args:
            topic_filter: The filter.
            subscription_id: Its identifier when it was sent; a newer entry is kept.
        """
        with self._lock:
            entry = self._entries.get(topic_filter)
            if entry is not None and entry.subscription_id == subscription_id:
                self._cache = {}
                del self._entries[topic_filter]
                self._by_id.pop(subscription_id, None)

    def callbacks_for(
        self, topic: str, subscription_ids: tuple[int, ...] = ()
    ) -> tuple[MessageCallback, ...]:
        """Return the callbacks a message must reach.

        Args:
            topic: The message's topic name.
            subscription_ids: MQTT 5 subscription identifiers carried by the message;
                when present they select the filters exactly.

        Returns:
            The callbacks, in subscription order, without duplicates.
        """
        if subscription_ids:
            return self._by_subscription_ids(subscription_ids)
        hit = self._cache.get(topic)
        if hit is not None:
            return hit
        with self._lock:
            found: list[MessageCallback] = []
            for topic_filter, entry in self._entries.items():
                if topic_matches(topic_filter, topic):
                    found.extend(cb for cb in entry.callbacks if cb not in found)
            result = tuple(found)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache = {}
            self._cache[topic] = result
            return result

    def _by_subscription_ids(
        self, subscription_ids: tuple[int, ...]
    ) -> tuple[MessageCallback, ...]:
        with self._lock:
            found: list[MessageCallback] = []
            for sub_id in subscription_ids:
                topic_filter = self._by_id.get(sub_id)
                if topic_filter is not None:
                    entry = self._entries[topic_filter]
                    found.extend(cb for cb in entry.callbacks if cb not in found)
            return tuple(found)

    def snapshot(self) -> list[FilterState]:
        """Return the registered filters.

        Returns:
            One :class:`FilterState` per filter, in registration order.
        """
        with self._lock:
            return [
                FilterState(f, e.qos, e.subscription_id, e.confirmed)
                for f, e in self._entries.items()
            ]

    def subscriptions(self) -> dict[str, list[MessageCallback]]:
        """Return filter -> callbacks, as a copy.

        Returns:
            The mapping.
        """
        with self._lock:
            return {f: list(e.callbacks) for f, e in self._entries.items()}

    def set_confirmed(self, topic_filter: str, subscription_id: int, confirmed: bool) -> None:
        """Record whether the broker holds a filter in the current session.

        Args:
            topic_filter: The filter.
            subscription_id: Its identifier when sent; ignored if the entry changed since.
            confirmed: The new state.
        """
        with self._lock:
            entry = self._entries.get(topic_filter)
            if entry is not None and entry.subscription_id == subscription_id:
                entry.confirmed = confirmed

    def forget_confirmations(self) -> None:
        """Mark every filter unconfirmed (the broker kept no session)."""
        with self._lock:
            for entry in self._entries.values():
                entry.confirmed = False
            self._offline_removed.clear()

    def note_offline_removal(self, topic_filter: str) -> None:
        """Remember a filter removed while disconnected, to unsubscribe a kept session.

        Args:
            topic_filter: The filter.
        """
        with self._lock:
            self._offline_removed.add(topic_filter)

    def take_offline_removals(self) -> list[str]:
        """Return and forget the filters removed while disconnected.

        Returns:
            The filters, sorted.
        """
        with self._lock:
            removed = sorted(self._offline_removed)
            self._offline_removed.clear()
            return removed
