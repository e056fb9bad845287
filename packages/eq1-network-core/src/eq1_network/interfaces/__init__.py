"""Abstract interfaces every protocol and packet structure implements."""

from eq1_network.interfaces.packet import PacketStructureInterface
from eq1_network.interfaces.protocol import (
    BaseProtocol,
    CompletedPublish,
    MessageCallback,
    ProtocolKind,
    PublishHandle,
    PubSubProtocol,
    ReqResProtocol,
)

__all__ = [
    "BaseProtocol",
    "CompletedPublish",
    "MessageCallback",
    "PacketStructureInterface",
    "ProtocolKind",
    "PubSubProtocol",
    "PublishHandle",
    "ReqResProtocol",
]
