"""UDP protocols: ``udp`` (:class:`UDPClient`) and ``udp-server`` (:class:`UDPServer`).

Shipped by the ``eq1-network-udp`` distribution and found through the
``eq1_network.protocols`` entry point, so ``get_protocol("udp")`` and
``from_url("udp://127.0.0.1:5000")`` work once it is installed. The classes are
imported on first access, so that listing plugins (which imports :mod:`.plugin`)
stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eq1_network.common.lazy import LazyExports

if TYPE_CHECKING:
    from eq1_network.protocols.udp._inbox import Datagram, Peer
    from eq1_network.protocols.udp._options import MAX_DATAGRAM_IPV4, MAX_DATAGRAM_IPV6
    from eq1_network.protocols.udp.udp_client import UDPClient
    from eq1_network.protocols.udp.udp_server import UDPServer

__all__ = [
    "MAX_DATAGRAM_IPV4",
    "MAX_DATAGRAM_IPV6",
    "Datagram",
    "Peer",
    "UDPClient",
    "UDPServer",
]

_EXPORTS = LazyExports(
    __name__,
    globals(),
    {
        "._inbox": ("Datagram", "Peer"),
        "._options": ("MAX_DATAGRAM_IPV4", "MAX_DATAGRAM_IPV6"),
        ".udp_client": ("UDPClient",),
        ".udp_server": ("UDPServer",),
    },
)
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir
