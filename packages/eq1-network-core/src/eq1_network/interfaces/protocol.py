"""Protocol interfaces: :class:`BaseProtocol`, :class:`ReqResProtocol`, :class:`PubSubProtocol`.

Transports implement one of these and nothing else: they move bytes and never
parse application data. Every interface name is imported from this module; each
interface is defined in a private module of its own.
"""

from __future__ import annotations

from eq1_network.interfaces._base_protocol import BaseProtocol, ProtocolKind
from eq1_network.interfaces._multi_peer import MultiPeerProtocol, serves_many_peers
from eq1_network.interfaces._pubsub_protocol import (
    CompletedPublish,
    MessageCallback,
    PublishHandle,
    PubSubProtocol,
)
from eq1_network.interfaces._reqres_protocol import ReqResProtocol, has_readiness_wait

__all__ = [
    "BaseProtocol",
    "CompletedPublish",
    "MessageCallback",
    "MultiPeerProtocol",
    "ProtocolKind",
    "PubSubProtocol",
    "PublishHandle",
    "ReqResProtocol",
    "has_readiness_wait",
    "serves_many_peers",
]
