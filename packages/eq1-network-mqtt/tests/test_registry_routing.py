"""The registry's routing rule: identifiers narrow the choice, the topic decides."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from eq1_network.common.topics import topic_matches
from eq1_network.protocols.mqtt._registry import (
    MAX_SUBSCRIPTION_ID,
    SubscriptionRegistry,
    filters_matching,
    subscription_id_for,
)

Callback = Callable[[str, bytes], None]

LEVEL = st.sampled_from(["a", "b", "c", ""])
TOPICS = st.lists(LEVEL, min_size=1, max_size=5).map("/".join)


@st.composite
def topic_filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(st.sampled_from(["a", "b", "c", "", "+"]), min_size=0, max_size=5))
    if not levels or draw(st.booleans()):
        levels.append("#")
    return "/".join(levels)


def callback(name: str) -> Callback:
    def record(topic: str, payload: bytes) -> None:
        """A named no-op."""

    record.__name__ = name
    return record


def registry_of(filters: list[str]) -> tuple[SubscriptionRegistry, dict[str, Callback]]:
    reg = SubscriptionRegistry()
    callbacks = {f: callback(f) for f in filters}
    for topic_filter, cb in callbacks.items():
        reg.add(topic_filter, cb, 1)
    return reg, callbacks


def ids_of(reg: SubscriptionRegistry) -> dict[str, int]:
    return {s.topic_filter: s.subscription_id for s in reg.snapshot()}


def test_identifier_depends_on_the_filter_only() -> None:
    # Pinned: a resumed session relies on every version of the client computing the same.
    assert subscription_id_for("a/#") == subscription_id_for("a/#")
    assert subscription_id_for("a/#") != subscription_id_for("b/#")
    assert subscription_id_for("plant/+/temperature") == 111_625_185
    assert {ids_of(registry_of(order)[0])["x/#"] for order in (["x/#", "y"], ["y", "x/#"])} == {
        subscription_id_for("x/#")
    }


@given(st.text(min_size=1, max_size=40))
def test_identifier_is_in_range(topic_filter: str) -> None:
    assert 1 <= subscription_id_for(topic_filter) <= MAX_SUBSCRIPTION_ID


@given(TOPICS, topic_filters())
def test_filters_matching_is_exact_and_complete(topic: str, topic_filter: str) -> None:
    found = list(filters_matching(topic, 5))
    assert len(found) == len(set(found))
    assert all(topic_matches(f, topic) for f in found)
    assert (topic_filter in found) == topic_matches(topic_filter, topic)


def test_filters_matching_respects_dollar_topics_and_the_level_cap() -> None:
    assert sorted(filters_matching("$SYS/x", 4)) == [
        "$SYS/#",
        "$SYS/+",
        "$SYS/+/#",
        "$SYS/x",
        "$SYS/x/#",
    ]
    deep = "/".join("abcdefgh")
    capped = list(filters_matching(deep, 3))
    assert "a/b/c/#" in capped and "a/b/c/d/#" not in capped and deep not in capped
    assert len(capped) == 1 + 2 + 4 + 8


@settings(max_examples=300)
@given(
    st.lists(topic_filters(), min_size=1, max_size=6, unique=True),
    TOPICS,
    st.lists(st.integers(1, MAX_SUBSCRIPTION_ID), max_size=3),
    st.data(),
)
def test_a_message_never_reaches_a_filter_that_does_not_match(
    filters: list[str], topic: str, random_ids: list[int], data: st.DataObject
) -> None:
    reg, callbacks = registry_of(filters)
    ids = ids_of(reg)
    chosen = data.draw(st.lists(st.sampled_from(filters), max_size=3))
    carried = tuple(dict.fromkeys([ids[f] for f in chosen] + random_ids))
    allowed = {callbacks[f] for f in filters if topic_matches(f, topic)}
    route = reg.route(topic, carried)
    assert set(route.callbacks) <= allowed
    assert len(route.callbacks) == len(set(route.callbacks))
    assert not set(route.stale) & set(filters)


@given(st.lists(topic_filters(), min_size=1, max_size=6, unique=True), TOPICS)
def test_each_copy_reaches_its_own_filter_once(filters: list[str], topic: str) -> None:
    reg, callbacks = registry_of(filters)
    ids = ids_of(reg)
    matching = [f for f in filters if topic_matches(f, topic)]
    for topic_filter in matching:  # one copy per subscription, as mosquitto sends them
        assert reg.route(topic, (ids[topic_filter],)).callbacks == (callbacks[topic_filter],)
    merged = reg.route(topic, tuple(ids[f] for f in matching))  # or one copy naming all
    assert set(merged.callbacks) == {callbacks[f] for f in matching}
    assert reg.route(topic).callbacks == tuple(callbacks[f] for f in matching)


def test_unknown_identifier_falls_back_to_topic_matching() -> None:
    reg, callbacks = registry_of(["a/#", "a/+", "b/#"])
    route = reg.route("a/1", (7,))  # no filter matching a/1 has identifier 7
    assert route.callbacks == (callbacks["a/#"], callbacks["a/+"])
    assert route.stale == () and not route.unexplained
    wrong = ids_of(reg)["b/#"]  # a registered filter that does not match the topic
    assert reg.route("a/1", (wrong,)).callbacks == (callbacks["a/#"], callbacks["a/+"])
    nothing = reg.route("c/1", (7,))
    assert nothing.callbacks == () and nothing.unexplained


def test_identifier_of_an_unregistered_filter_is_reported_stale() -> None:
    reg, callbacks = registry_of(["a/+", "b/#"])
    route = reg.route("a/1", (subscription_id_for("a/#"),))
    # The copy was sent for the broker's a/# subscription, which nobody wants.
    assert route.callbacks == () and route.stale == ("a/#",) and not route.unexplained
    both = reg.route("a/1", (subscription_id_for("a/#"), ids_of(reg)["a/+"]))
    assert both.callbacks == (callbacks["a/+"],) and both.stale == ("a/#",)
    reg.add("a/#", callbacks["b/#"], 1)  # subscribed again: no longer stale
    assert reg.route("a/1", (subscription_id_for("a/#"),)).callbacks == (callbacks["b/#"],)


def colliding_filters() -> tuple[str, str]:
    seen: dict[int, str] = {}
    for i in itertools.count():
        topic_filter = f"k/{i}/#"
        other = seen.setdefault(subscription_id_for(topic_filter), topic_filter)
        if other != topic_filter:
            return other, topic_filter
    raise AssertionError("unreachable")


def test_colliding_identifiers_are_made_unique_and_still_route_by_topic() -> None:
    one, two = colliding_filters()
    reg, callbacks = registry_of([one, two])
    ids = ids_of(reg)
    assert ids[one] == subscription_id_for(one) and ids[two] != ids[one]
    topic_one, topic_two = one.replace("#", "x"), two.replace("#", "x")
    assert reg.route(topic_one, (ids[one],)).callbacks == (callbacks[one],)
    assert reg.route(topic_two, (ids[two],)).callbacks == (callbacks[two],)
    # A process that registered them the other way round gave `two` the shared value:
    # its copies still reach `two` only.
    assert reg.route(topic_two, (ids[one],)).callbacks == (callbacks[two],)


def test_messages_in_flight_for_a_filter_unsubscribed_here_are_not_stale() -> None:
    reg, callbacks = registry_of(["a/#", "b/#"])
    reg.remove("a/#", callbacks["a/#"])
    late = reg.route("a/1", (subscription_id_for("a/#"),))
    assert late.callbacks == () and late.stale == () and not late.unexplained
    assert not reg.route("a/1").unexplained
    assert reg.route("c/1").unexplained
    reg.add("a/#", callbacks["b/#"], 1)
    reg.remove("a/#", callbacks["b/#"])
    assert not reg.route("a/2").unexplained
