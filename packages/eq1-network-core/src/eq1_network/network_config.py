"""``NetworkConfig``, the configuration of a ``NetworkHandler``, and the protocol it names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.common.policies import OverflowPolicy, ReconnectPolicy
from eq1_network.interfaces.protocol import BaseProtocol, ReqResProtocol
from eq1_network.package import BINARY_PACKAGE, DataPackage
from eq1_network.packets.fragmentation import DEFAULT_REASSEMBLY_BYTES, DEFAULT_REASSEMBLY_TIMEOUT
from eq1_network.packets.send import TypedSendData
from eq1_network.plugins.registry import ProtocolManager
from eq1_network.urls import check_keywords

__all__ = ["NetworkConfig", "create_protocol"]


@dataclass
class NetworkConfig:
    """Configuration of a :class:`~eq1_network.network.NetworkHandler`.

    Args:
        protocol: A protocol name for :func:`~eq1_network.get_protocol` (``"tcp"``,
            ``"loopback"``, ...), an endpoint URL for :func:`~eq1_network.from_url`
            (``"tcp://127.0.0.1:5000?timeout=2"``) or a ready :class:`ReqResProtocol`.
        params: Constructor arguments of the protocol, when ``protocol`` is a name or
            a URL (they replace what the URL says); an unknown one raises
            :class:`ProtocolConfigurationError` naming it and listing the valid ones.
        package: How messages are encoded; ``BINARY_PACKAGE`` by default.
        send_queue_size: Most messages waiting to be written.
        queue_full_policy: What ``send_data`` does when the queue is full:
            ``OverflowPolicy.BLOCK`` (wait up to ``send_timeout``) or ``REJECT``.
        send_timeout: Seconds ``send_data`` waits for room under ``BLOCK``.
        receive_queue: Keep received messages for
            :meth:`~eq1_network.network.NetworkHandler.receive`; ``None`` means "when no
            event callback is given".
        receive_queue_size: Most received messages kept; the receive worker waits
            (and the transport applies back-pressure) when it is full.
        reconnect: Automatic reconnection policy; off (``enabled=False``) by default.
        acknowledged: Acknowledged mode (both ends must use it; needs a typed package).
        ack_state_path: File where the receiver records deliveries across restarts.
        max_unacknowledged: Most messages awaiting acknowledgement before sending pauses.
        sent_events: Emit a SENT event for every message written.
        max_batch: Most queued messages coalesced into one batch.
        max_write_bytes: Most bytes joined into one write.
        reassembly_max_bytes: Most bytes of incomplete split messages held.
        reassembly_timeout: Seconds an incomplete split message is kept.
        peer_frame_timeout: Over a protocol serving many peers: seconds a peer may take
            to finish a frame it began before it is disconnected.
        ack_timeout: Acknowledged mode over a message transport (a protocol whose
            ``max_message_size`` is set, such as UDP): seconds without an
            acknowledgement after which every unacknowledged message is written again.

    Raises:
        ProtocolConfigurationError: If a value is invalid.
    """

    protocol: str | ReqResProtocol
    params: dict[str, Any] = field(default_factory=dict)
    package: DataPackage[Any, Any] = BINARY_PACKAGE
    send_queue_size: int = 10_000
    queue_full_policy: OverflowPolicy = OverflowPolicy.BLOCK
    send_timeout: float = 10.0
    receive_queue: bool | None = None
    receive_queue_size: int = 10_000
    reconnect: ReconnectPolicy = field(default_factory=lambda: ReconnectPolicy(enabled=False))
    acknowledged: bool = False
    ack_state_path: str | Path | None = None
    max_unacknowledged: int = 10_000
    sent_events: bool = True
    max_batch: int = 1024
    max_write_bytes: int = 1 << 20
    reassembly_max_bytes: int = DEFAULT_REASSEMBLY_BYTES
    reassembly_timeout: float = DEFAULT_REASSEMBLY_TIMEOUT
    peer_frame_timeout: float = 30.0
    ack_timeout: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, (str, ReqResProtocol)):
            raise ProtocolConfigurationError(
                "NetworkConfig.protocol must be a protocol name or a ReqResProtocol, "
                f"got {type(self.protocol).__name__}"
            )
        if not isinstance(self.package, DataPackage):
            raise ProtocolConfigurationError(
                f"NetworkConfig.package must be a DataPackage, got {type(self.package).__name__}"
            )
        _check_policies(self)
        for name in (
            "send_queue_size",
            "receive_queue_size",
            "max_unacknowledged",
            "max_batch",
            "max_write_bytes",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProtocolConfigurationError(
                    f"NetworkConfig.{name} must be a positive int, got {value!r}"
                )
        if self.send_timeout < 0:
            raise ProtocolConfigurationError(
                f"NetworkConfig.send_timeout must be non-negative, got {self.send_timeout}"
            )
        if not self.ack_timeout > 0:
            raise ProtocolConfigurationError(
                "NetworkConfig.ack_timeout must be a positive number of seconds, "
                f"got {self.ack_timeout!r}"
            )
        if not self.peer_frame_timeout > 0:
            raise ProtocolConfigurationError(
                "NetworkConfig.peer_frame_timeout must be a positive number of seconds, "
                f"got {self.peer_frame_timeout!r}"
            )
        typed = issubclass(self.package.send_data_class, TypedSendData)
        if self.acknowledged and not typed:
            raise ProtocolConfigurationError(
                "acknowledged mode needs a package of typed messages (TEXT_PACKAGE, "
                "BINARY_PACKAGE, INT_PACKAGE, JSON_PACKAGE or ANY_PACKAGE)"
            )


def _check_policies(config: NetworkConfig) -> None:
    policy = OverflowPolicy.coerce("NetworkConfig.queue_full_policy", config.queue_full_policy)
    if policy is OverflowPolicy.DROP_OLDEST:
        raise ProtocolConfigurationError(
            "NetworkConfig.queue_full_policy must be OverflowPolicy.BLOCK or REJECT "
            "(a message accepted by send_data is never dropped), got DROP_OLDEST"
        )
    object.__setattr__(config, "queue_full_policy", policy)
    if not isinstance(config.reconnect, ReconnectPolicy):
        raise ProtocolConfigurationError(
            "NetworkConfig.reconnect must be a ReconnectPolicy, "
            f"got {type(config.reconnect).__name__}"
        )


def create_protocol(config: NetworkConfig) -> ReqResProtocol:
    """Make the protocol ``config.protocol`` names (or return it, when it is one).

    Args:
        config: The handler's configuration.

    Returns:
        The protocol, not yet connected.

    Raises:
        ProtocolNotFoundError: If the protocol name is unknown.
        ProtocolConfigurationError: If a parameter is unknown or invalid, or the
            protocol is not a request/response protocol.
    """
    spec = config.protocol
    if isinstance(spec, ReqResProtocol):
        return spec
    if "://" in spec:
        protocol: BaseProtocol = ProtocolManager.from_url(spec, **config.params)
    else:
        factory = ProtocolManager.get_protocol(spec)
        check_keywords(factory, config.params, where=f"NetworkConfig(protocol={spec!r}).params")
        protocol = factory(**config.params)
    if not isinstance(protocol, ReqResProtocol):
        raise ProtocolConfigurationError(
            f"NetworkHandler needs a request/response protocol; {spec!r} is "
            f"{type(protocol).__name__}"
        )
    return protocol
