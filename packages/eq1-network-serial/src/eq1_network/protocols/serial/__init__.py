"""EQ-1 Network serial ports: ``SerialProtocol``, AT commands and port discovery.

The names below are imported lazily, so that importing this package (which the
plugin registry does when it lists protocols) never imports pyserial::

    from eq1_network.protocols.serial import AtClient, SerialProtocol, list_ports
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eq1_network.common.lazy import LazyExports

if TYPE_CHECKING:
    from eq1_network.protocols.serial.at import AtClient, AtResponse
    from eq1_network.protocols.serial.at_parser import AtParser, AtStatus, Unsolicited
    from eq1_network.protocols.serial.ports import PortInfo, list_ports
    from eq1_network.protocols.serial.serial_protocol import SerialProtocol
    from eq1_network.protocols.serial.settings import SerialSettings

__all__ = [
    "AtClient",
    "AtParser",
    "AtResponse",
    "AtStatus",
    "PortInfo",
    "SerialProtocol",
    "SerialSettings",
    "Unsolicited",
    "list_ports",
]

_EXPORTS = LazyExports(
    __name__,
    globals(),
    {
        ".at": ("AtClient", "AtResponse"),
        ".at_parser": ("AtParser", "AtStatus", "Unsolicited"),
        ".ports": ("PortInfo", "list_ports"),
        ".serial_protocol": ("SerialProtocol",),
        ".settings": ("SerialSettings",),
    },
)
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir
