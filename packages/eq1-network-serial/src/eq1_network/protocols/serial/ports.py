"""Serial port discovery: :func:`list_ports` wraps ``serial.tools.list_ports``.

Only real devices the OS enumerates are listed (USB adapters, on-board UARTs,
Bluetooth SPP ports...). Pseudo-terminals and pyserial URLs are not devices and
never appear.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from eq1_network.common.exceptions import ProtocolArgumentError
from eq1_network.common.logging import get_logger
from serial.tools import list_ports as _list_ports
from serial.tools.list_ports_common import ListPortInfo

__all__ = ["PortInfo", "list_ports"]

logger = get_logger(__name__)


@dataclass(frozen=True)
class PortInfo:
    """One serial port found on this machine.

    Attributes:
        device: What to pass to ``SerialProtocol``: ``"/dev/ttyUSB0"``, ``"COM3"``.
        name: Short name (``"ttyUSB0"``).
        description: Human-readable description, ``"n/a"`` when the OS has none.
        hwid: Hardware id, e.g. ``"USB VID:PID=0403:6001 SER=A50285BI LOCATION=1-1"``.
        vid: USB vendor id, or ``None``.
        pid: USB product id, or ``None``.
        serial_number: USB serial number, or ``None``.
        manufacturer: USB manufacturer string, or ``None``.
        product: USB product string, or ``None``.
        location: USB location (bus-port path), or ``None``.
        interface: USB interface description, or ``None``.
    """

    device: str
    name: str
    description: str
    hwid: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None
    product: str | None = None
    location: str | None = None
    interface: str | None = None

    @classmethod
    def from_pyserial(cls, info: ListPortInfo) -> PortInfo:
        """Copy the fields of a pyserial ``ListPortInfo``.

        Args:
            info: What ``serial.tools.list_ports.comports()`` returned.

        Returns:
            The port info.
        """
        return cls(
            device=info.device,
            name=info.name or info.device,
            description=info.description or "n/a",
            hwid=info.hwid or "n/a",
            vid=info.vid,
            pid=info.pid,
            serial_number=info.serial_number,
            manufacturer=info.manufacturer,
            product=info.product,
            location=info.location,
            interface=info.interface,
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict.

        Returns:
            Field name to value.
        """
        return asdict(self)


def list_ports(*, include_links: bool = False, pattern: str | None = None) -> list[PortInfo]:
    """List the serial ports present, sorted by device name.

    Args:
        include_links: Also list symbolic links to ports (``/dev/serial/by-id/...``)
            on POSIX.
        pattern: A regular expression searched (case-insensitively) in the device
            name, description and hardware id; only matching ports are returned.

    Returns:
        The ports; empty when none is found.

    Raises:
        ProtocolValidationError: If ``pattern`` is not a valid regular expression.
    """
    matcher = None
    if pattern is not None:
        try:
            matcher = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ProtocolArgumentError(
                f"pattern must be a regular expression: {pattern!r}: {exc}"
            ) from exc
    found = [PortInfo.from_pyserial(info) for info in _list_ports.comports(include_links)]
    if matcher is not None:
        found = [
            p for p in found if any(matcher.search(f) for f in (p.device, p.description, p.hwid))
        ]
    logger.debug("found %d serial ports", len(found))
    return sorted(found, key=lambda p: p.device)
