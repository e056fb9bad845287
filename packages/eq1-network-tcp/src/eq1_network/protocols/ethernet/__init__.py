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

from typing import TYPE_CHECKING

from eq1_network.common.lazy import LazyExports

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

_EXPORTS = LazyExports(
    __name__,
    globals(),
    {
        "._json": ("JsonMessage",),
        "._config": ("KeepAlive",),
        "._peer": ("Peer", "PeerMessage"),
        ".tcp_client": ("TCPClient",),
        ".tcp_server": ("TCPServer",),
    },
    moved={"ReconnectPolicy": "eq1_network.ReconnectPolicy", "TLSConfig": "eq1_network.TLSConfig"},
)
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir
