"""TCP protocols: ``tcp`` (:class:`TCPClient`) and ``tcp-server`` (:class:`TCPServer`).

Shipped by the ``eq1-network-tcp`` distribution and found through the
``eq1_network.protocols`` entry point, so ``get_protocol("tcp")`` works once it is
installed. The classes live in their legacy modules
(``eq1_network.protocols.ethernet.tcp_client``, ``...tcp_server``) and are also
reachable from this package; they are imported on first access, so that listing
plugins (which imports :mod:`.plugin`) stays cheap.

``ReconnectPolicy`` and ``TLSConfig`` are the core types :class:`eq1_network.ReconnectPolicy`
and :class:`eq1_network.TLSConfig`; reaching them through this package still works but
emits a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eq1_network.common.policies import ReconnectPolicy, TLSConfig
    from eq1_network.protocols.ethernet._config import KeepAlive
    from eq1_network.protocols.ethernet._json import JsonMessage
    from eq1_network.protocols.ethernet._peer import Peer, PeerMessage
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
    "Peer": "_peer",
    "PeerMessage": "_peer",
    "TCPClient": "tcp_client",
    "TCPServer": "tcp_server",
}


_MOVED = frozenset({"ReconnectPolicy", "TLSConfig"})


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"eq1_network.protocols.ethernet.{name} is deprecated and will be removed in a "
            f"future release; use eq1_network.{name} instead (the same class)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("eq1_network.common.policies"), name)
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
