"""EQ-1 Network serial ports: ``SerialProtocol``, AT commands and port discovery.

The names below are imported lazily, so that importing this package (which the
plugin registry does when it lists protocols) never imports pyserial::

    from eq1_network.protocols.serial import AtClient, SerialProtocol, list_ports
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

_HOMES = {
    "AtClient": "at",
    "AtResponse": "at",
    "AtParser": "at_parser",
    "AtStatus": "at_parser",
    "Unsolicited": "at_parser",
    "PortInfo": "ports",
    "list_ports": "ports",
    "SerialProtocol": "serial_protocol",
    "SerialSettings": "settings",
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
