"""UDP protocols: ``udp`` (:class:`UDPClient`) and ``udp-server`` (:class:`UDPServer`).

Shipped by the ``eq1-network-udp`` distribution and found through the
``eq1_network.protocols`` entry point, so ``get_protocol("udp")`` and
``from_url("udp://127.0.0.1:5000")`` work once it is installed. The classes are
imported on first access, so that listing plugins (which imports :mod:`.plugin`)
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

_HOMES = {
    "Datagram": "_inbox",
    "MAX_DATAGRAM_IPV4": "_options",
    "MAX_DATAGRAM_IPV6": "_options",
    "Peer": "_inbox",
    "UDPClient": "udp_client",
    "UDPServer": "udp_server",
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
