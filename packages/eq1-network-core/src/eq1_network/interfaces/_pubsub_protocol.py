"""The publish/subscribe interface, :class:`PubSubProtocol`, and its publish handles."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from eq1_network.interfaces import _pubsub
from eq1_network.interfaces._base_protocol import BaseProtocol

__all__ = ["CompletedPublish", "MessageCallback", "PubSubProtocol", "PublishHandle"]

MessageCallback = Callable[[str, bytes], None]
"""Signature of a subscription callback: ``callback(topic, payload)``."""


@runtime_checkable
class PublishHandle(Protocol):
    """What :meth:`PubSubProtocol.publish` returns: a way to learn the real outcome."""

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the delivery outcome.

        Args:
            timeout: Longest wait in seconds; ``None`` waits without a limit.

        Returns:
            ``True`` once the message was delivered as its QoS level promises,
            ``False`` if the timeout passed first.
        """
        ...

    def is_published(self) -> bool:
        """Tell whether delivery has completed, without waiting.

        Returns:
            ``True`` if complete.
        """
        ...


class CompletedPublish:
    """A :class:`PublishHandle` for a publish that completed synchronously."""

    __slots__ = ()

    def wait(self, timeout: float | None = None) -> bool:
        """Return at once: the publish is complete.

        Args:
            timeout: Ignored.

        Returns:
            Always ``True``.
        """
        return True

    def is_published(self) -> bool:
        """Tell that the publish is complete.

        Returns:
            Always ``True``.
        """
        return True


class PubSubProtocol(BaseProtocol):
    """Publish/subscribe transport.

    The public methods check their arguments here, once, for every transport: topic
    names and filters (MQTT rules, :mod:`eq1_network.common.topics`), QoS 0-2, the
    payload type (``str`` is encoded as UTF-8, bytes-like becomes ``bytes``) and that a
    callback is callable. A transport implements the hooks :meth:`_publish`,
    :meth:`_subscribe` and :meth:`_unsubscribe`, which receive checked arguments and do
    not check them again. A transport with extra options (MQTT's ``message_expiry``,
    say) may override :meth:`publish` with a wider signature that calls
    :func:`~eq1_network.interfaces._pubsub.check_publish_args` and its hook.

    Overriding ``publish``/``subscribe``/``unsubscribe`` without implementing the
    hooks is deprecated: such a class still works, but defining it emits a
    :class:`DeprecationWarning`.

    ``connect()`` reports failure by raising
    :class:`~eq1_network.common.exceptions.ProtocolConnectionError` (or a subclass);
    it returns ``True`` otherwise.

    Callbacks have the signature ``callback(topic: str, payload: bytes)``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _pubsub.adapt_overrides(cls, PubSubProtocol)

    def publish(
        self, topic: str, message: str | bytes, qos: int = 0, retain: bool = False
    ) -> PublishHandle:
        """Publish a message.

        Args:
            topic: Topic name (no wildcards).
            message: Payload; ``str`` is encoded as UTF-8.
            qos: Quality of service, 0, 1 or 2.
            retain: Ask the broker to keep the message for future subscribers.

        Returns:
            A handle whose ``wait(timeout)`` reports the delivery outcome.

        Raises:
            ProtocolValidationError: If the topic or QoS is invalid.
            ProtocolTypeError: If ``message`` is neither ``str`` nor bytes-like, or
                ``retain`` is not a bool.
            ProtocolNotConnectedError: If the protocol is not connected (checked after
                the arguments).
        """
        payload = _pubsub.check_publish_args(topic, message, qos, retain)
        if not self.is_connected():
            raise _pubsub.not_connected(self, topic)
        return self._publish(topic, payload, qos, retain)

    def subscribe(self, topic: str, callback: MessageCallback, *, qos: int | None = None) -> None:
        """Subscribe a callback to a topic filter.

        Subscribing while not connected is allowed; whether the subscription is kept
        for the next connection is the transport's rule.

        Args:
            topic: Topic filter; ``+``, ``#`` and ``$share/<group>/<filter>`` are allowed.
            callback: Called as ``callback(topic, payload)`` for each matching message.
            qos: Maximum QoS asked for; ``None`` means the transport's default.

        Raises:
            ProtocolValidationError: If the filter or QoS is invalid.
            ProtocolTypeError: If ``callback`` is not callable.
        """
        _pubsub.check_subscribe_args(topic, callback, qos)
        self._subscribe(topic, callback, qos)

    def unsubscribe(self, topic: str, callback: MessageCallback) -> None:
        """Remove a callback from a topic filter.

        A pair that is not subscribed (an invalid filter included) is ignored.

        Args:
            topic: The filter it was subscribed with.
            callback: The callback to remove.
        """
        self._unsubscribe(topic, callback)

    @abc.abstractmethod
    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> PublishHandle:
        """Send a checked message (hook of :meth:`publish`).

        Args:
            topic: A valid topic name.
            payload: The payload as bytes.
            qos: 0, 1 or 2.
            retain: A bool.

        Returns:
            The delivery handle.
        """

    @abc.abstractmethod
    def _subscribe(self, topic: str, callback: MessageCallback, qos: int | None) -> None:
        """Register a checked subscription (hook of :meth:`subscribe`).

        Args:
            topic: A valid topic filter.
            callback: A callable.
            qos: 0, 1, 2, or ``None`` for the transport's default.
        """

    @abc.abstractmethod
    def _unsubscribe(self, topic: str, callback: MessageCallback) -> None:
        """Remove a subscription (hook of :meth:`unsubscribe`); ignore unknown pairs.

        Args:
            topic: The filter as given by the caller.
            callback: The callback.
        """
