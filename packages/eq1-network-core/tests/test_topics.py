"""MQTT topic and filter rules shared by every pub/sub protocol."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eq1_network.common.exceptions import ProtocolValidationError
from eq1_network.common.topics import (
    split_shared,
    topic_matches,
    validate_topic,
    validate_topic_filter,
)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("+/+", "a/b", True),
        ("+", "", True),
        ("a/+/c", "a//c", True),
        ("#", "$SYS/uptime", False),
        ("+/uptime", "$SYS/uptime", False),
        ("$SYS/#", "$SYS/uptime", True),
        ("$share/g1/a/+", "a/b", True),
        ("a/b/c", "a/b", False),
    ],
)
def test_topic_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize("bad", ["", "a/+", "a/#", "nul\x00", 3, "x" * 70000])
def test_validate_topic_rejects(bad: object) -> None:
    with pytest.raises(ProtocolValidationError):
        validate_topic(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", ["a/#/b", "a/b#", "a+/b", "", "$share/g", "$share//a", "$share/g+/a"]
)
def test_validate_filter_rejects(bad: str) -> None:
    with pytest.raises(ProtocolValidationError):
        validate_topic_filter(bad)


@pytest.mark.parametrize("good", ["a/#", "#", "+/+/x", "a/b", "$share/grp/a/#", "$SYS/+"])
def test_validate_filter_accepts(good: str) -> None:
    assert validate_topic_filter(good) == good
    assert validate_topic("plain/topic") == "plain/topic"


def test_split_shared() -> None:
    shared = split_shared("$share/workers/jobs/+")
    assert (shared.group, shared.topic_filter) == ("workers", "jobs/+")
    plain = split_shared("jobs/+")
    assert (plain.group, plain.topic_filter) == (None, "jobs/+")
    assert "workers" in repr(shared)


@pytest.mark.parametrize("validate", [validate_topic, validate_topic_filter])
@pytest.mark.parametrize("bad", ["\ud800", "a/\udfff/b", "x" * 10 + "\udc80"])
def test_lone_surrogates_are_refused_as_invalid_utf8(
    validate: Callable[[str], str], bad: str
) -> None:
    with pytest.raises(ProtocolValidationError, match="must be valid UTF-8") as caught:
        validate(bad)
    assert "topic" in str(caught.value) and "surrogate" in str(caught.value)


FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any code point, lone surrogates included (the default alphabet leaves them out).
any_char = st.characters(exclude_categories=())
topic_like = st.one_of(
    st.text(any_char, max_size=40),
    st.lists(
        st.sampled_from(["+", "#", "$share", "$SYS", "", "a", "\x00", "\ud800", "\U0001f600"])
        | st.text(any_char, max_size=4),
        max_size=8,
    ).map("/".join),
)


@FUZZ
@given(text=topic_like)
def test_validate_topic_raises_nothing_but_validation_errors(text: str) -> None:
    try:
        result = validate_topic(text)
    except ProtocolValidationError:
        return
    assert result == text
    assert result.encode("utf-8").decode("utf-8") == text
    assert "+" not in text and "#" not in text
    assert topic_matches("#", text) or text.startswith("$")


@FUZZ
@given(text=topic_like)
def test_validate_topic_filter_raises_nothing_but_validation_errors(text: str) -> None:
    try:
        result = validate_topic_filter(text)
    except ProtocolValidationError:
        return
    assert result == text
    assert result.encode("utf-8").decode("utf-8") == text
    assert isinstance(topic_matches(text, "a/b"), bool)
