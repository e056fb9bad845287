"""MQTT topic and filter rules shared by every pub/sub protocol."""

from __future__ import annotations

import pytest

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
