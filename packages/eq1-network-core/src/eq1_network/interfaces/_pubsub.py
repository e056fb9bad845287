"""Argument checks and hook wiring behind :class:`~eq1_network.interfaces.PubSubProtocol`.

The checks live here, once, so that every publish/subscribe transport validates topics,
QoS, payloads and callbacks the same way; transports receive checked arguments in their
``_publish``/``_subscribe``/``_unsubscribe`` hooks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolNotConnectedError,
    ProtocolTypeError,
)
from eq1_network.common.topics import validate_topic, validate_topic_filter

__all__ = [
    "adapt_overrides",
    "check_publish_args",
    "check_qos",
    "check_subscribe_args",
    "not_connected",
]

_TOPIC_CACHE_LIMIT = 16384
# Topic names already validated. Validity depends on the text alone, so one
# process-wide cache serves every client; it is emptied when it reaches its limit.
_valid_topics: set[str] = set()

_HOOKS = (("publish", "_publish"), ("subscribe", "_subscribe"), ("unsubscribe", "_unsubscribe"))


def check_qos(qos: object, what: str = "qos") -> None:
    """Check a QoS level.

    Args:
        qos: The value to check.
        what: The parameter's name, for the message.

    Raises:
        ProtocolValidationError: If it is not 0, 1 or 2 (a bool is refused).
    """
    if isinstance(qos, bool) or qos not in (0, 1, 2):
        raise ProtocolArgumentError(f"{what} must be 0, 1 or 2, got {qos!r}")


def check_publish_args(topic: str, message: str | bytes, qos: int, retain: bool) -> bytes:
    """Validate publish arguments and return the payload as bytes.

    A topic that passed once is remembered, so publishing ``bytes`` or ``str`` with an
    int QoS and a bool ``retain`` to it again costs a few type checks only.

    Args:
        topic: Topic name (no wildcards).
        message: ``str`` (encoded as UTF-8) or bytes-like payload.
        qos: 0, 1 or 2.
        retain: A bool.

    Returns:
        The payload as bytes.

    Raises:
        ProtocolValidationError: If the topic or QoS is invalid, or ``message`` is
            text UTF-8 cannot encode (a lone surrogate).
        ProtocolTypeError: If ``message`` or ``retain`` has the wrong type.
    """
    if (
        type(topic) is str
        and topic in _valid_topics
        and type(qos) is int
        and 0 <= qos <= 2
        and type(retain) is bool
    ):
        if type(message) is bytes:
            return message
        if type(message) is str:
            return _utf8(message)
    validate_topic(topic)
    check_qos(qos)
    if not isinstance(retain, bool):
        raise ProtocolTypeError(f"retain must be a bool, got {type(retain).__name__}")
    if isinstance(message, str):
        payload = _utf8(message)
    elif isinstance(message, (bytes, bytearray, memoryview)):
        payload = bytes(message)
    else:
        raise ProtocolTypeError(
            f"message must be str or bytes, got {type(message).__name__}; "
            "encode other data (json.dumps(...).encode(), struct.pack(...)) first"
        )
    if len(_valid_topics) >= _TOPIC_CACHE_LIMIT:
        _valid_topics.clear()
    _valid_topics.add(topic)
    return payload


def _utf8(message: str) -> bytes:
    try:
        return message.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolArgumentError(
            f"message must be text UTF-8 can encode ({exc.reason} at index {exc.start}); "
            "pass bytes for binary payloads"
        ) from None


def check_subscribe_args(topic: str, callback: object, qos: int | None) -> None:
    """Validate subscribe arguments.

    Args:
        topic: Topic filter; ``+``, ``#`` and ``$share/<group>/<filter>`` are allowed.
        callback: Must be callable.
        qos: 0, 1, 2, or ``None`` for the transport's default.

    Raises:
        ProtocolValidationError: If the filter or QoS is invalid.
        ProtocolTypeError: If ``callback`` is not callable.
    """
    validate_topic_filter(topic)
    if not callable(callback):
        raise ProtocolTypeError(
            f"callback must be callable as callback(topic, payload), got {type(callback).__name__}"
        )
    if qos is not None:
        check_qos(qos)


def not_connected(protocol: object, topic: str) -> ProtocolNotConnectedError:
    """Build the error of a publish on a client that is not connected.

    Args:
        protocol: The client, shown by its ``repr``.
        topic: The topic published to.

    Returns:
        The error to raise.
    """
    return ProtocolNotConnectedError(
        f"{protocol!r}: publish() to {topic!r} needs a connection; call connect() first"
    )


def _legacy_hook(public: str) -> Callable[..., Any]:
    """Hook for a class that overrides ``public`` itself: it forwards to that method."""

    def hook(self: Any, topic: str, arg: Any, *rest: Any) -> Any:
        method = getattr(self, public)
        return method(topic, arg, *rest) if public == "publish" else method(topic, arg)

    hook.__name__ = f"_{public}"
    hook.__doc__ = f"Forward to the subclass's own ``{public}()`` (deprecated style)."
    return hook


def adapt_overrides(cls: type, base: type) -> None:
    """Accept a subclass that overrides the public methods instead of the hooks.

    For each of ``publish``/``subscribe``/``unsubscribe`` that ``cls`` overrides while
    the matching hook is still abstract, the hook is filled in (forwarding to the
    override) and a :class:`DeprecationWarning` names the hooks to implement.

    Args:
        cls: The new subclass.
        base: :class:`~eq1_network.interfaces.PubSubProtocol`.
    """
    legacy = []
    for public, hook in _HOOKS:
        if getattr(cls, public) is getattr(base, public):
            continue
        if not getattr(getattr(cls, hook, None), "__isabstractmethod__", False):
            continue
        setattr(cls, hook, _legacy_hook(public))
        legacy.append(f"{public}()")
    if legacy:
        warnings.warn(
            f"{cls.__module__}.{cls.__qualname__} overrides {', '.join(legacy)} of "
            "PubSubProtocol; this is deprecated: implement the hooks _publish(), "
            "_subscribe() and _unsubscribe() instead, and the base class checks the "
            "arguments before calling them",
            DeprecationWarning,
            stacklevel=4,
        )
