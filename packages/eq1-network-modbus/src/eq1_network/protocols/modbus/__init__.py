"""EQ-1 Network Modbus: TCP, RTU and ASCII clients and servers on a sans-I/O codec.

The names below are imported lazily, so that listing protocols (which imports the
plugin module only) never imports the transports::

    from eq1_network.protocols.modbus import ModbusProtocol, ModbusTCPServer, ModbusDevice

Layers, each its own module: :mod:`.pdu` (requests and the decoders of their
answers), :mod:`.framers` (MBAP, RTU, ASCII), :mod:`.values` (typed values in
registers), :mod:`.client` and :mod:`.transports` (the clients), :mod:`.device` and
:mod:`.server` (the server side).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eq1_network.common.lazy import LazyExports

if TYPE_CHECKING:
    from eq1_network.protocols.modbus._spec import ExceptionCode, FunctionCode
    from eq1_network.protocols.modbus._tables import RequestRefusedError
    from eq1_network.protocols.modbus.client import ModbusClient
    from eq1_network.protocols.modbus.device import Faults, ModbusDevice
    from eq1_network.protocols.modbus.errors import ModbusExceptionError
    from eq1_network.protocols.modbus.framers import (
        ASCIIFramer,
        Frame,
        MBAPFramer,
        RTUFramer,
        crc16,
        lrc,
    )
    from eq1_network.protocols.modbus.pdu import DeviceIdentification, Request
    from eq1_network.protocols.modbus.server import ModbusRTUServer, ModbusTCPServer, ServerStats
    from eq1_network.protocols.modbus.transports import (
        ModbusASCIIProtocol,
        ModbusProtocol,
        ModbusRTUOverTCPProtocol,
        ModbusRTUProtocol,
    )
    from eq1_network.protocols.modbus.values import ByteOrder, ValueType

__all__ = [
    "ASCIIFramer",
    "ByteOrder",
    "DeviceIdentification",
    "ExceptionCode",
    "Faults",
    "Frame",
    "FunctionCode",
    "MBAPFramer",
    "ModbusASCIIProtocol",
    "ModbusClient",
    "ModbusDevice",
    "ModbusExceptionError",
    "ModbusProtocol",
    "ModbusRTUOverTCPProtocol",
    "ModbusRTUProtocol",
    "ModbusRTUServer",
    "ModbusTCPServer",
    "RTUFramer",
    "Request",
    "RequestRefusedError",
    "ServerStats",
    "ValueType",
    "crc16",
    "lrc",
]

_EXPORTS = LazyExports(
    __name__,
    globals(),
    {
        "._spec": ("ExceptionCode", "FunctionCode"),
        ".client": ("ModbusClient",),
        ".device": ("Faults", "ModbusDevice"),
        ".errors": ("ModbusExceptionError",),
        ".framers": ("ASCIIFramer", "Frame", "MBAPFramer", "RTUFramer", "crc16", "lrc"),
        ".pdu": ("DeviceIdentification", "Request"),
        ".server": ("ModbusRTUServer", "ModbusTCPServer", "ServerStats"),
        "._tables": ("RequestRefusedError",),
        ".transports": (
            "ModbusASCIIProtocol",
            "ModbusProtocol",
            "ModbusRTUOverTCPProtocol",
            "ModbusRTUProtocol",
        ),
        ".values": ("ByteOrder", "ValueType"),
    },
)
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir
