"""TCP protocols: ``tcp`` (:class:`TCPClient`) and ``tcp-server`` (:class:`TCPServer`).

Shipped by the ``eq1-network-tcp`` distribution and found through the
``eq1_network.protocols`` entry point, so ``get_protocol("tcp")`` works once it is
installed. The classes live in their legacy modules
(``eq1_network.protocols.ethernet.tcp_client``, ``...tcp_server``) and are also
reachable from this package; they are imported on first access, so that listing
plugins (which imports :mod:`.plugin`) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eq1_network.protocols.ethernet._config import KeepAlive, ReconnectPolicy
    from eq1_network.protocols.ethernet._json import JsonMessage
    from eq1_network.protocols.ethernet._peer import Peer, PeerMessage
    from eq1_network.protocols.ethernet._tls import TLSConfig
    from eq1_network.protocols.ethernet.tcp_client import TCPClient
    from eq1_network.protocols.ethernet.tcp_server import TCPServer

__all__ = [
    "JsonMessage",
    "KeepAlive",
    "Peer",
    "PeerMessage",
    "ReconnectPolicy",
    "TCPClient",
    "TCPServer",
    "TLSConfig",
]

_HOMES = {
    "JsonMessage": "_json",
    "KeepAlive": "_config",
    "ReconnectPolicy": "_config",
    "Peer": "_peer",
    "PeerMessage": "_peer",
    "TLSConfig": "_tls",
    "TCPClient": "tcp_client",
    "TCPServer": "tcp_server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
