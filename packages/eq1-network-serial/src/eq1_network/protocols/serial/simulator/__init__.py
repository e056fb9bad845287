"""Simulated serial devices for tests and demonstrations (POSIX pseudo-terminals).

Example::

    from eq1_network.protocols.serial.serial_protocol import SerialProtocol
    from eq1_network.protocols.serial.simulator import SimulatedModem

    with SimulatedModem() as modem:
        with SerialProtocol(modem.path, 9600) as port:
            port.send(b"AT\\r")   # the modem answers b"\\r\\nOK\\r\\n"

See :mod:`.logic` for the commands :class:`SimulatedModem` understands.
"""

from __future__ import annotations

import os

from eq1_network.protocols.serial.simulator.device import VirtualSerialDevice
from eq1_network.protocols.serial.simulator.logic import (
    Action,
    DeviceLogic,
    EchoLogic,
    ModemLogic,
    Reply,
    Vanish,
)

__all__ = [
    "Action",
    "DeviceLogic",
    "EchoLogic",
    "ModemLogic",
    "Reply",
    "SimulatedModem",
    "Vanish",
    "VirtualSerialDevice",
]


class SimulatedModem(VirtualSerialDevice):
    """An AT modem (:class:`ModemLogic`) on a pseudo-terminal.

    Args:
        echo: Start with command echo on.
        link: Stable symbolic link to the device (see :class:`VirtualSerialDevice`).
        attach: Serve an existing terminal instead of creating one.
    """

    logic: ModemLogic

    def __init__(
        self,
        *,
        echo: bool = False,
        link: str | os.PathLike[str] | None = None,
        attach: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(ModemLogic(echo=echo), link=link, attach=attach)

    def send_urc(self, text: str) -> None:
        """Send an unsolicited result code now, e.g. ``send_urc("RING")``.

        Args:
            text: The code.
        """
        self.inject(self.logic.urc(text))
