"""MQTT topic names and topic filters (OASIS MQTT 3.1.1 section 4.7, MQTT 5 section 4.8.2).

Shared by every publish/subscribe implementation so that ``+``, ``#``, ``$``-topics
and ``$share/<group>/<filter>`` behave the same in the in-memory broker and in the
MQTT plugin.
"""

from __future__ import annotations

from eq1_network.common.exceptions import ProtocolArgumentError

__all__ = [
    "SharedFilter",
    "split_shared",
    "topic_matches",
    "validate_topic",
    "validate_topic_filter",
]

_MAX_TOPIC_BYTES = 65535
_SHARE_PREFIX = "$share/"


def _check_common(text: str, what: str) -> None:
    if not isinstance(text, str):
        raise ProtocolArgumentError(f"{what} must be a str, got {type(text).__name__}")
    if not text:
        raise ProtocolArgumentError(f"{what} must not be empty")
    if "\x00" in text:
        raise ProtocolArgumentError(f"{what} {text!r} must not contain NUL characters")
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolArgumentError(
            f"{what} {text!r} must be valid UTF-8: it contains the lone surrogate "
            f"{text[exc.start]!r} at index {exc.start}, which UTF-8 cannot encode; "
            "remove or replace it"
        ) from None
    if len(encoded) > _MAX_TOPIC_BYTES:
        raise ProtocolArgumentError(f"{what} is longer than {_MAX_TOPIC_BYTES} bytes")


def validate_topic(topic: str) -> str:
    """Check a topic name used for publishing.

    Args:
        topic: The topic name.

    Returns:
        The topic, unchanged.

    Raises:
        ProtocolValidationError: If it is empty, longer than 65,535 bytes in UTF-8, or
            contains ``+``, ``#``, NUL or a lone surrogate (not valid UTF-8).
    """
    _check_common(topic, "topic")
    if "+" in topic or "#" in topic:
        raise ProtocolArgumentError(
            f"topic {topic!r} must not contain the wildcards '+' or '#' when publishing"
        )
    return topic


class SharedFilter:
    """A topic filter split into its optional shared-subscription group and the filter proper.

    Attributes:
        group: The share group name, or ``None`` for an ordinary subscription.
        topic_filter: The filter that topics are matched against.
    """

    __slots__ = ("group", "topic_filter")

    def __init__(self, group: str | None, topic_filter: str) -> None:
        self.group = group
        self.topic_filter = topic_filter

    def __repr__(self) -> str:
        return f"SharedFilter(group={self.group!r}, topic_filter={self.topic_filter!r})"


def split_shared(topic_filter: str) -> SharedFilter:
    """Split ``$share/<group>/<filter>`` into group and filter.

    Args:
        topic_filter: A topic filter, shared or not.

    Returns:
        The group (``None`` when not shared) and the filter proper.

    Raises:
        ProtocolValidationError: If a ``$share`` filter has no group or no filter.
    """
    if not topic_filter.startswith(_SHARE_PREFIX):
        return SharedFilter(None, topic_filter)
    rest = topic_filter[len(_SHARE_PREFIX) :]
    group, sep, inner = rest.partition("/")
    if not sep or not group or not inner or "+" in group or "#" in group:
        raise ProtocolArgumentError(
            f"shared subscription {topic_filter!r} must look like '$share/<group>/<filter>'"
        )
    return SharedFilter(group, inner)


def validate_topic_filter(topic_filter: str) -> str:
    """Check a topic filter used for subscribing.

    Args:
        topic_filter: The filter, possibly ``$share/<group>/<filter>``.

    Returns:
        The filter, unchanged.

    Raises:
        ProtocolValidationError: If a wildcard is misplaced (``#`` not last or not a whole
            level, ``+`` not a whole level), the filter is empty, longer than 65,535 bytes in
            UTF-8, or contains NUL or a lone surrogate (not valid UTF-8).
    """
    _check_common(topic_filter, "topic filter")
    levels = split_shared(topic_filter).topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ProtocolArgumentError(
                f"topic filter {topic_filter!r}: '#' must be a whole level and the last one"
            )
        if "+" in level and level != "+":
            raise ProtocolArgumentError(
                f"topic filter {topic_filter!r}: '+' must occupy a whole level"
            )
    return topic_filter


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Tell whether a topic name matches a topic filter.

    ``$share/<group>/`` prefixes are ignored; topics that start with ``$`` are not
    matched by a filter whose first level is a wildcard.

    Args:
        topic_filter: A valid topic filter.
        topic: A topic name.

    Returns:
        ``True`` if the topic matches.
    """
    filter_levels = split_shared(topic_filter).topic_filter.split("/")
    topic_levels = topic.split("/")
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)
