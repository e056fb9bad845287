"""Received messages as objects, and the two callback forms.

A subscription callback is called either as ``callback(topic, payload)`` (two
positional parameters, the :data:`~eq1_network.interfaces.protocol.MessageCallback`
form every protocol supports) or as ``callback(message)`` with an :class:`MQTTMessage`
when it takes exactly one positional parameter. :class:`MessageStream` and
:func:`subscription_messages` turn a subscription into an iterator of messages.
"""

from __future__ import annotations

import inspect
import queue
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import MessageCallback

__all__ = [
    "AnyMessageCallback",
    "MQTTMessage",
    "MessageCallbackWithMessage",
    "MessageStream",
    "subscription_messages",
    "takes_message",
    "to_properties",
]

logger = get_logger(__name__)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class MQTTMessage:
    """One received PUBLISH.

    Attributes:
        topic: Topic name the message was published to.
        payload: Payload bytes.
        qos: QoS it was delivered with (0, 1 or 2; at most the subscription's QoS).
        retain: ``True`` if the broker sent it from its retained store (on subscribe).
        properties: MQTT 5 properties, by snake_case name (``content_type``,
            ``response_topic``, ``correlation_data``, ``message_expiry_interval``,
            ``user_properties`` as a list of ``(name, value)`` pairs, ...); empty with
            MQTT 3.1.1 or when the message has none.
    """

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8 (invalid bytes replaced)."""
        return self.payload.decode("utf-8", errors="replace")


MessageCallbackWithMessage = Callable[[MQTTMessage], None]
AnyMessageCallback = MessageCallback | MessageCallbackWithMessage
# What the network thread records per message besides topic, payload and ids:
# (qos, retain, paho properties or None).
MessageMeta = tuple[int, bool, Any]


def to_properties(props: Any) -> Mapping[str, Any]:
    """Convert paho's PUBLISH ``Properties`` to a read-only dict by snake_case name.

    Args:
        props: A paho ``Properties`` object, or ``None``.

    Returns:
        The properties that are set; an empty mapping for ``None``.
    """
    if props is None:
        return _EMPTY
    found: dict[str, Any] = {}
    for name in getattr(props, "names", {}):
        attribute = name.replace(" ", "")
        if hasattr(props, attribute):
            key = name.lower().replace(" ", "_")
            if key == "user_property":
                key = "user_properties"
            found[key] = getattr(props, attribute)
    return MappingProxyType(found) if found else _EMPTY


def takes_message(callback: Callable[..., Any]) -> bool:
    """Tell whether a callback wants ``callback(message)`` rather than ``(topic, payload)``.

    Args:
        callback: The subscription callback.

    Returns:
        ``True`` if it takes exactly one positional parameter without a default and
        no ``*args``; ``False`` otherwise (also when its signature cannot be read).
    """
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return False
    required = [p for p in parameters if p.kind in positional and p.default is p.empty]
    return len(required) == 1


_END = object()


class MessageStream:
    """An iterator over the messages of one subscription (see ``MQTTProtocol.messages``).

    Messages are queued by the dispatcher thread and taken by the iterating thread.
    Iteration ends after ``count`` messages, after ``timeout`` seconds without a
    message, or when :meth:`close` is called; leaving it also unsubscribes.

    Args:
        count: Stop after this many messages (``None``: no limit).
        timeout: Stop when no message arrived for this many seconds (``None``: wait
            forever).

    Raises:
        ProtocolArgumentError: If ``count`` is below 1 or ``timeout`` is negative.
    """

    def __init__(self, count: int | None, timeout: float | None) -> None:
        if count is not None and count < 1:
            raise ProtocolArgumentError(f"count must be at least 1 or None, got {count!r}")
        if timeout is not None and timeout < 0:
            raise ProtocolArgumentError(f"timeout must be >= 0 seconds or None, got {timeout!r}")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._count = count
        self._timeout = timeout
        self._closed = False

    def __call__(self, message: MQTTMessage) -> None:
        """Take one message (the subscription callback)."""
        if not self._closed:
            self._queue.put(message)

    def close(self) -> None:
        """End the iteration; a waiting ``next()`` returns at once."""
        self._closed = True
        self._queue.put(_END)

    def iterate(self) -> Iterator[MQTTMessage]:
        """Yield messages until the count, the idle timeout or :meth:`close`."""
        taken = 0
        while self._count is None or taken < self._count:
            item = self._get()
            if item is _END:
                return
            taken += 1
            yield item

    def _get(self) -> Any:
        """Wait for the next item in short slices, so Ctrl-C is seen promptly."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if wait <= 0:
                return _END
            try:
                return self._queue.get(timeout=wait)
            except queue.Empty:
                continue


def subscription_messages(
    owner: object,
    topic: str,
    stream: MessageStream,
    unsubscribe: Callable[[str, MessageStream], None],
) -> Generator[MQTTMessage, None, None]:
    """Yield a subscribed stream's messages; close and unsubscribe it when that ends.

    Args:
        owner: The protocol, named in messages.
        topic: The filter the stream is subscribed to.
        stream: The stream.
        unsubscribe: The protocol's ``unsubscribe``.

    Yields:
        The stream's messages, in arrival order.
    """
    try:
        yield from stream.iterate()
    finally:
        stream.close()
        try:
            unsubscribe(topic, stream)
        except ProtocolError as exc:
            logger.warning("%r: unsubscribing %r after iteration failed: %s", owner, topic, exc)
