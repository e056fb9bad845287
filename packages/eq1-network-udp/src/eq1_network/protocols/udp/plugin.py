"""Registers ``udp`` and ``udp-server`` through the ``eq1_network.protocols`` entry point.

This module is imported whenever protocols are listed, so it imports nothing of
the transport itself: factories are ``"module:Class"`` strings.
"""

from __future__ import annotations

from eq1_network.interfaces.protocol import ProtocolKind
from eq1_network.plugins import ProtocolSpec, hookimpl

__all__ = ["eq1_network_register_protocols"]


@hookimpl
def eq1_network_register_protocols() -> list[ProtocolSpec]:
    """Return the specs of ``udp`` and ``udp-server``.

    Returns:
        The two specs.
    """
    return [
        ProtocolSpec(
            name="udp",
            factory="eq1_network.protocols.udp.udp_client:UDPClient",
            kind=ProtocolKind.REQRES,
            schemes=("udp",),
            summary="UDP client: one datagram per send and per read (broadcast, multicast)",
        ),
        ProtocolSpec(
            name="udp-server",
            factory="eq1_network.protocols.udp.udp_server:UDPServer",
            kind=ProtocolKind.REQRES,
            schemes=("udp-listen",),
            summary="UDP server: replies to each sender; bounded queue; multicast groups",
        ),
    ]
