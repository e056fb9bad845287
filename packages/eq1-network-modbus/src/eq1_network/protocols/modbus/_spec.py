"""Numbers of the Modbus application protocol specification V1.1b3: one owner for each.

Function codes, the limits of each request, the exception codes with their names
and the sizes of the three framings. Every other module of the package takes these
values from here.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "ASCII_MAX_FRAME",
    "EXCEPTION_NAMES",
    "MAX_ADDRESS",
    "MAX_PDU",
    "MAX_READ_BITS",
    "MAX_READ_REGISTERS",
    "MAX_RW_READ_REGISTERS",
    "MAX_RW_WRITE_REGISTERS",
    "MAX_UNIT",
    "MAX_WRITE_BITS",
    "MAX_WRITE_REGISTERS",
    "MBAP_HEADER",
    "MBAP_MAX_FRAME",
    "RTU_MAX_FRAME",
    "ExceptionCode",
    "FunctionCode",
    "exception_name",
]


class FunctionCode(enum.IntEnum):
    """The public function codes this package encodes and decodes."""

    READ_COILS = 0x01
    READ_DISCRETE_INPUTS = 0x02
    READ_HOLDING_REGISTERS = 0x03
    READ_INPUT_REGISTERS = 0x04
    WRITE_SINGLE_COIL = 0x05
    WRITE_SINGLE_REGISTER = 0x06
    READ_EXCEPTION_STATUS = 0x07
    DIAGNOSTICS = 0x08
    WRITE_MULTIPLE_COILS = 0x0F
    WRITE_MULTIPLE_REGISTERS = 0x10
    REPORT_SERVER_ID = 0x11
    MASK_WRITE_REGISTER = 0x16
    READ_WRITE_MULTIPLE_REGISTERS = 0x17
    ENCAPSULATED_INTERFACE = 0x2B


class ExceptionCode(enum.IntEnum):
    """Exception codes a server answers with (the second byte of ``function | 0x80``)."""

    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    ACKNOWLEDGE = 0x05
    SERVER_DEVICE_BUSY = 0x06
    NEGATIVE_ACKNOWLEDGE = 0x07
    MEMORY_PARITY_ERROR = 0x08
    GATEWAY_PATH_UNAVAILABLE = 0x0A
    GATEWAY_TARGET_FAILED_TO_RESPOND = 0x0B


EXCEPTION_NAMES: Final[dict[int, str]] = {
    code.value: code.name.replace("_", " ") for code in ExceptionCode
}
"""Exception code -> the specification's name, e.g. ``2 -> "ILLEGAL DATA ADDRESS"``."""

EXCEPTION_BIT: Final = 0x80
"""Set in the function code of an exception response."""

MEI_READ_DEVICE_ID: Final = 0x0E
"""MEI type of Read Device Identification (function 0x2B)."""

MAX_PDU: Final = 253
"""Largest PDU (function code and data) in bytes."""
MAX_ADDRESS: Final = 0xFFFF
"""Largest data address (addresses are 0-based on the wire)."""
MAX_UNIT: Final = 247
"""Largest individual unit (slave) address on a serial line; 0 is broadcast."""
MAX_READ_BITS: Final = 2000
"""Most coils or discrete inputs one read returns (functions 0x01 and 0x02)."""
MAX_READ_REGISTERS: Final = 125
"""Most registers one read returns (functions 0x03 and 0x04)."""
MAX_WRITE_BITS: Final = 1968
"""Most coils one write sets (function 0x0F)."""
MAX_WRITE_REGISTERS: Final = 123
"""Most registers one write sets (function 0x10)."""
MAX_RW_READ_REGISTERS: Final = 125
"""Most registers read by function 0x17."""
MAX_RW_WRITE_REGISTERS: Final = 121
"""Most registers written by function 0x17."""

MBAP_HEADER: Final = 7
"""Bytes of the MBAP header: transaction id, protocol id, length, unit id."""
MBAP_MAX_FRAME: Final = MBAP_HEADER + MAX_PDU
"""Largest Modbus TCP frame (260 bytes)."""
RTU_MAX_FRAME: Final = 1 + MAX_PDU + 2
"""Largest RTU frame: address, PDU, CRC (256 bytes)."""
ASCII_MAX_FRAME: Final = 1 + 2 * (1 + MAX_PDU + 1) + 2
"""Largest ASCII frame: colon, hex of address, PDU and LRC, CR LF (513 bytes)."""


def exception_name(code: int) -> str:
    """Return the specification's name of an exception code.

    Args:
        code: The exception code.

    Returns:
        For example ``"ILLEGAL DATA ADDRESS"``, or ``"UNKNOWN EXCEPTION 0x.."`` for a
        code the specification does not define.
    """
    return EXCEPTION_NAMES.get(code, f"UNKNOWN EXCEPTION 0x{code:02X}")
