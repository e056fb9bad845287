"""What every Modbus framer shares: the :class:`Frame` record, CRC-16, LRC, argument checks.

:mod:`eq1_network.protocols.modbus.framers` re-exports :class:`Frame`, :func:`crc16`
and :func:`lrc`; import them from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from eq1_network.common.exceptions import ProtocolArgumentError
from eq1_network.protocols.modbus._spec import MAX_PDU

__all__ = ["CRC_TABLE", "Frame", "check_pdu", "check_unit", "crc16", "lrc", "make_frame"]


class Frame(NamedTuple):
    """One received application data unit.

    Attributes:
        unit: The unit (slave) address; ``0`` is broadcast.
        pdu: The protocol data unit: function code and data.
        transaction_id: The MBAP transaction identifier (``0`` for RTU and ASCII).
    """

    unit: int
    pdu: bytes
    transaction_id: int = 0


make_frame: Callable[[type[Frame], tuple[int, bytes, int]], Frame] = tuple.__new__
"""``make_frame(Frame, (unit, pdu, transaction_id))``: a :class:`Frame` built without
the Python-level ``__new__`` of named tuples (the framers' inner loops build many)."""


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC_TABLE = _crc_table()
"""CRC-16/MODBUS of each byte value, for table-driven CRC loops."""


def crc16(data: bytes) -> int:
    """Return the CRC-16/MODBUS of ``data`` (sent low byte first).

    Args:
        data: The bytes, e.g. an RTU frame without its CRC.

    Returns:
        The CRC as an integer; ``crc16(bytes.fromhex("01030000000A")) == 0xCDC5``.
    """
    crc = 0xFFFF
    table = CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def lrc(data: bytes) -> int:
    """Return the longitudinal redundancy check of Modbus ASCII.

    Args:
        data: The address and PDU bytes.

    Returns:
        The two's complement of the 8-bit sum of ``data``.
    """
    return -sum(data) & 0xFF


def check_unit(unit: int) -> None:
    if type(unit) is not int or not 0 <= unit <= 255:
        raise ProtocolArgumentError(f"unit={unit!r} must be an int from 0 to 255")


def check_pdu(pdu: bytes) -> None:
    if not 1 <= len(pdu) <= MAX_PDU:
        raise ProtocolArgumentError(
            f"pdu of {len(pdu)} bytes: a Modbus PDU holds 1 to {MAX_PDU} bytes "
            "(function code and data)"
        )
