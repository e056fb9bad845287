"""The function codes a :class:`~eq1_network.protocols.modbus.device.ModbusDevice` answers.

Each function decodes one request PDU, checks it as the specification's state
diagrams do (quantity first: ILLEGAL DATA VALUE, then the address range: ILLEGAL
DATA ADDRESS), executes it on the device and returns the response PDU. A refusal is
raised as :class:`RequestRefusedError`. The device calls them with its lock held.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING

from eq1_network.protocols.modbus._identity import (
    COUNTER_SUB_FUNCTIONS,
    DiagnosticCounters,
    conformity_level,
    stream_objects,
)
from eq1_network.protocols.modbus._spec import (
    EXCEPTION_BIT,
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    MAX_RW_READ_REGISTERS,
    MAX_RW_WRITE_REGISTERS,
    MAX_WRITE_BITS,
    MAX_WRITE_REGISTERS,
    MEI_READ_DEVICE_ID,
    ExceptionCode,
    FunctionCode,
)
from eq1_network.protocols.modbus._tables import RequestRefusedError
from eq1_network.protocols.modbus.values import pack_bits, unpack_bits

if TYPE_CHECKING:
    from eq1_network.protocols.modbus.device import ModbusDevice

__all__ = [
    "diagnostics",
    "exception_pdu",
    "mask_write",
    "read_bits",
    "read_device_identification",
    "read_exception_status",
    "read_registers",
    "read_write",
    "report_server_id",
    "write_coil",
    "write_coils",
    "write_register",
    "write_registers",
]

_VALUE = ExceptionCode.ILLEGAL_DATA_VALUE
_ADDRESS = ExceptionCode.ILLEGAL_DATA_ADDRESS
_FUNCTION = ExceptionCode.ILLEGAL_FUNCTION
_COIL_ON, _COIL_OFF = 0xFF00, 0x0000


def exception_pdu(function_code: int, exception_code: int) -> bytes:
    """The exception response PDU ``function | 0x80, exception_code``."""
    return bytes(((function_code | EXCEPTION_BIT) & 0xFF, exception_code))


def read_bits(device: ModbusDevice, pdu: bytes) -> bytes:
    """Functions 01/02: read coils or discrete inputs."""
    address, count = _fields(pdu, ">HH")
    _check_count(count, MAX_READ_BITS)
    table = device.coils if pdu[0] == FunctionCode.READ_COILS else device.discrete_inputs
    packed = pack_bits(table.read_request(address, count))
    return bytes((pdu[0], len(packed))) + packed


def read_registers(device: ModbusDevice, pdu: bytes) -> bytes:
    """Functions 03/04: read holding or input registers."""
    address, count = _fields(pdu, ">HH")
    _check_count(count, MAX_READ_REGISTERS)
    table = (
        device.holding_registers
        if pdu[0] == FunctionCode.READ_HOLDING_REGISTERS
        else device.input_registers
    )
    values = table.read_request(address, count)
    return bytes((pdu[0], 2 * count)) + struct.pack(f">{count}H", *values)


def write_coil(device: ModbusDevice, pdu: bytes) -> bytes:
    """Function 05: write one coil (0xFF00 on, 0x0000 off); the answer echoes the request."""
    address, value = _fields(pdu, ">HH")
    if value not in (_COIL_ON, _COIL_OFF):
        raise RequestRefusedError(_VALUE, f"coil value 0x{value:04X} is not 0xFF00 or 0x0000")
    device.coils.write_request(address, [int(value == _COIL_ON)])
    return pdu


def write_register(device: ModbusDevice, pdu: bytes) -> bytes:
    """Function 06: write one holding register; the answer echoes the request."""
    address, value = _fields(pdu, ">HH")
    device.holding_registers.write_request(address, [value])
    return pdu


def write_coils(device: ModbusDevice, pdu: bytes) -> bytes:
    """Function 0F: write several coils."""
    address, count, byte_count = _head(pdu, ">HHB")
    _check_count(count, MAX_WRITE_BITS)
    if byte_count != (count + 7) // 8 or len(pdu) != 6 + byte_count:
        raise RequestRefusedError(_VALUE, "byte count does not match the coil count")
    device.coils.write_request(address, unpack_bits(pdu[6:], count))
    return pdu[:5]


def write_registers(device: ModbusDevice, pdu: bytes) -> bytes:
    """Function 10: write several holding registers."""
    address, count, byte_count = _head(pdu, ">HHB")
    _check_count(count, MAX_WRITE_REGISTERS)
    if byte_count != 2 * count or len(pdu) != 6 + byte_count:
        raise RequestRefusedError(_VALUE, "byte count does not match the register count")
    device.holding_registers.write_request(address, struct.unpack_from(f">{count}H", pdu, 6))
    return pdu[:5]


def mask_write(device: ModbusDevice, pdu: bytes) -> bytes:
    """Function 16: ``(current AND and_mask) OR (or_mask AND NOT and_mask)``."""
    address, and_mask, or_mask = _fields(pdu, ">HHH")
    table = device.holding_registers
    table.check_range(address, 1)
    current = int(table[address])
    table.write_request(address, [(current & and_mask) | (or_mask & ~and_mask & 0xFFFF)])
    return pdu


def read_write(device: ModbusDevice, pdu: bytes) -> bytes:
    """Function 17: write registers, then read registers, in one request."""
    read_address, read_count, write_address, write_count, byte_count = _head(pdu, ">HHHHB")
    _check_count(read_count, MAX_RW_READ_REGISTERS)
    _check_count(write_count, MAX_RW_WRITE_REGISTERS)
    if byte_count != 2 * write_count or len(pdu) != 10 + byte_count:
        raise RequestRefusedError(_VALUE, "byte count does not match the write count")
    table = device.holding_registers
    table.check_range(read_address, read_count)
    values = struct.unpack_from(f">{write_count}H", pdu, 10)
    table.write_request(write_address, values)
    read = table.read_request(read_address, read_count)
    return bytes((pdu[0], 2 * read_count)) + struct.pack(f">{read_count}H", *read)


def read_exception_status(device: ModbusDevice, pdu: bytes) -> bytes:
    """Function 07: the device's exception status byte."""
    _fields(pdu, ">")
    return bytes((pdu[0], device.exception_status))


def report_server_id(device: ModbusDevice, pdu: bytes) -> bytes:
    """Function 11: the server id, then the run indicator (0xFF: ON)."""
    _fields(pdu, ">")
    data = device.server_id + b"\xff"
    return bytes((pdu[0], len(data))) + data


def diagnostics(counters: DiagnosticCounters, pdu: bytes) -> bytes:
    """Function 08: return query data, restart communications, the counters."""
    (sub_function,) = _head(pdu, ">H")
    if sub_function == 0x00:
        return pdu
    (data,) = _fields(pdu, ">HH")[1:]
    if sub_function in COUNTER_SUB_FUNCTIONS:
        _check_zero(data)
        return pdu[:3] + struct.pack(">H", counters.by_sub_function(sub_function))
    if sub_function == 0x01:  # restart communications: echo, clear the counters
        if data not in (_COIL_OFF, _COIL_ON):
            raise RequestRefusedError(_VALUE, "restart data must be 0x0000 or 0xFF00")
        counters.clear()
        return pdu
    if sub_function == 0x02:  # diagnostic register (none kept: 0)
        _check_zero(data)
        return pdu[:3] + b"\x00\x00"
    if sub_function in (0x0A, 0x14):  # clear counters / clear overrun counter
        _check_zero(data)
        if sub_function == 0x0A:
            counters.clear()
        else:
            counters.overruns = 0
        return pdu
    raise RequestRefusedError(_FUNCTION, f"diagnostics sub-function 0x{sub_function:04X}")


def read_device_identification(objects: Mapping[int, bytes], pdu: bytes) -> bytes:
    """Function 2B/0E: identification streams and individual objects."""
    if len(pdu) < 2 or pdu[1] != MEI_READ_DEVICE_ID:
        raise RequestRefusedError(_FUNCTION, "only MEI type 0x0E is served")
    if len(pdu) != 4 or not 1 <= pdu[2] <= 4:
        raise RequestRefusedError(_VALUE, "read device id code must be 1..4")
    code, object_id = pdu[2], pdu[3]
    head = pdu[:3] + bytes((conformity_level(objects),))
    if code == 4:
        value = objects.get(object_id)
        if value is None:
            raise RequestRefusedError(_ADDRESS, f"no identification object 0x{object_id:02X}")
        return head + bytes((0x00, 0x00, 1, object_id, len(value))) + value
    tail, _ = stream_objects(objects, code, object_id)
    return head + tail


def _fields(pdu: bytes, layout: str) -> tuple[int, ...]:
    """Unpack a fixed-size request after its function code; a wrong size is ILLEGAL DATA VALUE."""
    if len(pdu) != 1 + struct.calcsize(layout):
        raise RequestRefusedError(_VALUE, f"request of {len(pdu)} bytes has the wrong length")
    return struct.unpack_from(layout, pdu, 1)


def _head(pdu: bytes, layout: str) -> tuple[int, ...]:
    """Unpack the fixed head of a variable-size request; too short is ILLEGAL DATA VALUE."""
    if len(pdu) < 1 + struct.calcsize(layout):
        raise RequestRefusedError(_VALUE, f"request of {len(pdu)} bytes is too short")
    return struct.unpack_from(layout, pdu, 1)


def _check_count(count: int, limit: int) -> None:
    if not 1 <= count <= limit:
        raise RequestRefusedError(_VALUE, f"quantity {count} outside 1..{limit}")


def _check_zero(data: int) -> None:
    if data != 0:
        raise RequestRefusedError(_VALUE, f"diagnostics data 0x{data:04X} must be 0x0000")
