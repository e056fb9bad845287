"""PubSubManager: publish/subscribe protocols by name."""

from __future__ import annotations

from typing import ClassVar, cast

from eq1_network.interfaces.protocol import (
    BaseProtocol,
    MessageCallback,
    PublishHandle,
    PubSubProtocol,
)
from eq1_network.manager._base import ManagerBase

__all__ = ["PubSubManager"]


class PubSubManager(ManagerBase[PubSubProtocol]):
    """Publish/subscribe protocols registered by name; every method is thread-safe.

    Example:
        >>> from eq1_network import PubSubManager, get_protocol
        >>> mgr = PubSubManager.isolated()
        >>> mgr.register("bus", get_protocol("memory")())
        >>> mgr.connect("bus")
        True
        >>> got = []
        >>> mgr.subscribe("bus", "sensors/+", lambda topic, payload: got.append(payload))
        >>> mgr.publish("bus", "sensors/t1", "21.5").wait(1.0)
        True
        >>> got
        [b'21.5']
        >>> mgr.disconnect("bus")
    """

    _family: ClassVar[type[BaseProtocol]] = PubSubProtocol  # type: ignore[type-abstract]

    @classmethod
    def register(cls, name: str, protocol: PubSubProtocol | str) -> None:
        """Register a publish/subscribe protocol under a name.

        Args:
            name: Any non-empty name, e.g. ``"mqtt"``.
            protocol: The protocol instance, or an endpoint URL (``"mqtt://broker:1883"``)
                from which an unconnected one is built.

        Raises:
            ProtocolTypeError: If ``protocol`` is not a :class:`PubSubProtocol`.
            ProtocolNotFoundError: If no protocol handles the URL's scheme.
            ProtocolConfigurationError: If the URL does not fit the protocol.
            ProtocolValidationError: If the name is already registered.
        """
        cls._table.add(name, protocol)

    @classmethod
    def get(cls, name: str) -> PubSubProtocol:
        """Return the protocol registered under ``name``.

        Args:
            name: The registered name.

        Returns:
            The protocol.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        return cast(PubSubProtocol, cls._table.get(name))

    @classmethod
    def publish(
        cls, name: str, topic: str, message: str | bytes, qos: int = 0, retain: bool = False
    ) -> PublishHandle:
        """Publish through the protocol registered under ``name``.

        Args:
            name: The registered name.
            topic: Topic name.
            message: Payload; ``str`` is encoded as UTF-8.
            qos: 0, 1 or 2.
            retain: Keep the message for future subscribers.

        Returns:
            The protocol's publish handle.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        return cls.get(name).publish(topic, message, qos=qos, retain=retain)

    @classmethod
    def subscribe(cls, name: str, topic: str, callback: MessageCallback) -> None:
        """Subscribe a callback through the protocol registered under ``name``.

        Args:
            name: The registered name.
            topic: Topic filter.
            callback: ``callback(topic, payload)``.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        cls.get(name).subscribe(topic, callback)

    @classmethod
    def unsubscribe(cls, name: str, topic: str, callback: MessageCallback) -> None:
        """Unsubscribe a callback through the protocol registered under ``name``.

        Args:
            name: The registered name.
            topic: Topic filter it was subscribed with.
            callback: The callback.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        cls.get(name).unsubscribe(topic, callback)
