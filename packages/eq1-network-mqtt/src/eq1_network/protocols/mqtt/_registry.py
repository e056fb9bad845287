"""The subscription registry: topic filters, their callbacks and their broker state.

Several callbacks may share one filter; the broker sees one subscription per filter,
made when the first callback arrives and removed when the last one leaves.

Routing rule: a message reaches only callbacks whose filter matches its topic. MQTT 5
subscription identifiers narrow the choice (each copy of a message names the
subscriptions it was sent for) but never override the topic check.

Identifiers are derived from the filter (:func:`subscription_id_for`), so a process that
resumes a stored session gives each filter the identifier an earlier process gave it.
An identifier that names no registered filter whose filter matches the topic is
resolved by searching the filters that match the topic for one with that identifier
(:func:`filters_matching`): a registered one receives the copy, an unregistered one is
reported as stale (the broker kept it from an earlier session) unless this process
unsubscribed it lately (its messages may still be in flight), and when no filter is
found the message falls back to topic matching.

Lookups are cached; the cache is dropped on every change. The lock is a leaf: no
callback runs and nothing else is called while it is held.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product

from eq1_network.common.topics import topic_matches
from eq1_network.interfaces.protocol import MessageCallback

__all__ = [
    "AddResult",
    "FilterState",
    "Route",
    "SubscriptionRegistry",
    "filters_matching",
    "subscription_id_for",
]

_CACHE_LIMIT = 4096
_ID_MEMO_LIMIT = 1024
_RECENT_LIMIT = 1024
MAX_SUBSCRIPTION_ID = 268_435_455
"""The largest subscription identifier MQTT 5 allows (a 4-byte variable integer)."""
ID_SEARCH_LEVELS = 10
"""Most non-``#`` levels of a filter searched for when resolving an unknown identifier."""


def subscription_id_for(topic_filter: str) -> int:
    """Return the subscription identifier a filter is given when nothing else holds it.

    The value depends on the filter text only (a BLAKE2b digest reduced to the range
    MQTT 5 allows), so it is the same in every process and Python version.

    Args:
        topic_filter: The filter, as subscribed.

    Returns:
        An identifier between 1 and 268,435,455.
    """
    digest = hashlib.blake2b(topic_filter.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % MAX_SUBSCRIPTION_ID + 1


def filters_matching(topic: str, max_levels: int) -> Iterator[str]:
    """Yield the non-shared topic filters that match a topic name.

    Each level is either the topic's own level or ``+``, optionally cut short by ``#``.
    Filters with more than ``max_levels`` levels before ``#`` are left out, which bounds
    the count at about ``3 * 2**max_levels``.

    Args:
        topic: A topic name.
        max_levels: Most levels (other than a final ``#``) of the filters yielded.

    Yields:
        Each matching filter once.
    """
    levels = topic.split("/")
    dollar = topic.startswith("$")
    for depth in range(min(len(levels), max_levels) + 1):
        choices = [(level, "+") for level in levels[:depth]]
        for prefix in product(*choices):
            if dollar and depth and prefix[0] == "+":
                continue
            if depth == len(levels):
                yield "/".join(prefix)
            if not (dollar and depth == 0):
                yield "/".join((*prefix, "#"))


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


@dataclass(frozen=True)
class Route:
    """Where one received message goes.

    Attributes:
        callbacks: The callbacks to call, in subscription order, without duplicates.
        stale: Unregistered filters whose identifier the message carried and that this
            process did not unsubscribe lately: the broker holds them from an earlier
            session.
        unexplained: ``True`` when the message reaches no callback, no identifier it
            carried was traced to a filter (no identifiers, or unknown ones) and no filter
            this process unsubscribed lately matches its topic.
    """

    callbacks: tuple[MessageCallback, ...]
    stale: tuple[str, ...] = ()
    unexplained: bool = False


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
        self._cache: dict[str, Route] = {}
        self._routes: dict[tuple[str, tuple[int, ...]], Route] = {}
        self._id_memo: dict[int, tuple[str, ...]] = {}
        self._offline_removed: set[str] = set()
        self._recently_removed: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, topic_filter: object) -> bool:
        return topic_filter in self._entries

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
            self._changed()
            self._offline_removed.discard(topic_filter)
            self._recently_removed.pop(topic_filter, None)
            entry = self._entries.get(topic_filter)
            if entry is None:
                entry = _Entry((callback,), qos, self._assign_id(topic_filter))
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

    def _assign_id(self, topic_filter: str) -> int:
        """The filter's own identifier, or the next free one if another filter holds it."""
        sub_id = subscription_id_for(topic_filter)
        while sub_id in self._by_id:
            sub_id = sub_id % MAX_SUBSCRIPTION_ID + 1
        return sub_id

    def _changed(self) -> None:
        self._cache = {}
        self._routes = {}

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
            self._changed()
            entry.callbacks = tuple(cb for cb in entry.callbacks if cb is not callback)
            if entry.callbacks:
                return False
            del self._entries[topic_filter]
            self._by_id.pop(entry.subscription_id, None)
            if len(self._recently_removed) >= _RECENT_LIMIT:
                del self._recently_removed[next(iter(self._recently_removed))]
            self._recently_removed[topic_filter] = None
            return True

    # -- routing ---------------------------------------------------------------------

    def callbacks_for(
        self, topic: str, subscription_ids: tuple[int, ...] = ()
    ) -> tuple[MessageCallback, ...]:
        """Return the callbacks a message must reach (see :meth:`route`).

        Args:
            topic: The message's topic name.
            subscription_ids: MQTT 5 subscription identifiers carried by the message.

        Returns:
            The callbacks, in subscription order, without duplicates.
        """
        if subscription_ids:
            return self.route(topic, subscription_ids).callbacks
        return self._topic_route(topic).callbacks

    def route(self, topic: str, subscription_ids: tuple[int, ...] = ()) -> Route:
        """Decide which callbacks a message reaches.

        Only callbacks of filters matching ``topic`` are ever chosen. Without
        identifiers, every matching filter's callbacks are. With identifiers, the
        filters they name are (a copy per subscription reaches each callback once); an
        identifier naming no matching registered filter is resolved as the module
        docstring says, falling back to every matching filter.

        Args:
            topic: The message's topic name.
            subscription_ids: MQTT 5 subscription identifiers carried by the message.

        Returns:
            The callbacks, and any stale broker-side filters the identifiers revealed.
        """
        if not subscription_ids:
            return self._topic_route(topic)
        key = (topic, subscription_ids)
        hit = self._routes.get(key)
        if hit is not None:
            return hit
        route = self._route_by_ids(topic, subscription_ids)
        with self._lock:
            if len(self._routes) >= _CACHE_LIMIT:
                self._routes = {}
            self._routes[key] = route
        return route

    def _route_by_ids(self, topic: str, subscription_ids: tuple[int, ...]) -> Route:
        chosen: list[str] = []
        unknown: list[int] = []
        with self._lock:
            for sub_id in subscription_ids:
                topic_filter = self._by_id.get(sub_id)
                if topic_filter is not None and topic_matches(topic_filter, topic):
                    chosen.append(topic_filter)
                else:
                    unknown.append(sub_id)
        found: list[str] = []
        fallback = False
        for sub_id in unknown:
            hits = self._filters_with_id(sub_id, topic)
            fallback = fallback or not hits
            found.extend(hits)
        with self._lock:
            unwanted = [f for f in found if f not in self._entries]
            stale = [f for f in unwanted if f not in self._recently_removed]
            callbacks = self._collect([*chosen, *found])
        if fallback:
            extra = [cb for cb in self._topic_route(topic).callbacks if cb not in callbacks]
            callbacks = (*callbacks, *extra)
        unexplained = fallback and not callbacks and not unwanted
        if unexplained:
            with self._lock:
                unexplained = not self._removed_here(topic)
        return Route(callbacks, tuple(dict.fromkeys(stale)), unexplained)

    def _removed_here(self, topic: str) -> bool:
        """Whether a filter unsubscribed by this process matches the topic (lock held)."""
        return any(topic_matches(f, topic) for f in self._recently_removed)

    def _collect(self, filters: list[str]) -> tuple[MessageCallback, ...]:
        found: list[MessageCallback] = []
        for topic_filter in filters:
            entry = self._entries.get(topic_filter)
            if entry is not None:
                found.extend(cb for cb in entry.callbacks if cb not in found)
        return tuple(found)

    def _filters_with_id(self, sub_id: int, topic: str) -> tuple[str, ...]:
        """Filters matching ``topic`` whose own identifier is ``sub_id`` (usually one)."""
        known = self._id_memo.get(sub_id, ())
        hits = tuple(f for f in known if topic_matches(f, topic))
        if hits:
            return hits
        hits = tuple(
            f for f in filters_matching(topic, ID_SEARCH_LEVELS) if subscription_id_for(f) == sub_id
        )
        if hits:
            with self._lock:
                if len(self._id_memo) >= _ID_MEMO_LIMIT:
                    self._id_memo = {}
                self._id_memo[sub_id] = tuple(dict.fromkeys((*known, *hits)))
        return hits

    def _topic_route(self, topic: str) -> Route:
        hit = self._cache.get(topic)
        if hit is not None:
            return hit
        with self._lock:
            found: list[MessageCallback] = []
            for topic_filter, entry in self._entries.items():
                if topic_matches(topic_filter, topic):
                    found.extend(cb for cb in entry.callbacks if cb not in found)
            route = Route(tuple(found), (), not found and not self._removed_here(topic))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache = {}
            self._cache[topic] = route
            return route

    def unregistered_filters(self, topic: str, max_levels: int) -> list[str]:
        """Return the filters matching ``topic`` that are not registered.

        Args:
            topic: A topic name.
            max_levels: See :func:`filters_matching`.

        Returns:
            The filters, most specific first.
        """
        candidates = list(filters_matching(topic, max_levels))
        with self._lock:
            return [f for f in reversed(candidates) if f not in self._entries]

    # -- broker state ----------------------------------------------------------------

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
