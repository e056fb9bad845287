"""Client-side Modbus PDUs: request builders and the decoders of their responses.

Each builder checks its arguments against the specification's limits (raising
:class:`~eq1_network.common.exceptions.ProtocolArgumentError` that names the
argument and the rule before anything is sent) and returns a :class:`Request`:
the request PDU plus the function that turns the response PDU into a value.
Decoders raise :class:`~eq1_network.common.exceptions.MalformedPacketError` for a
response that does not answer the request, and
:class:`~eq1_network.protocols.modbus.errors.ModbusExceptionError` for an
exception response. No I/O happens here.

Example::

    >>> request = read_holding_registers(0, 2)
    >>> request.pdu.hex(" ")
    '03 00 00 00 02'
    >>> request.decode(bytes.fromhex("03 04 00 0a 00 0b"))
    [10, 11]
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Sequence
from typing import Generic, NamedTuple, TypeVar

from eq1_network.common.exceptions import MalformedPacketError, ProtocolArgumentError
from eq1_network.protocols.modbus._spec import (
    EXCEPTION_BIT,
    MAX_ADDRESS,
    MAX_PDU,
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    MAX_RW_READ_REGISTERS,
    MAX_RW_WRITE_REGISTERS,
    MAX_WRITE_BITS,
    MAX_WRITE_REGISTERS,
    MEI_READ_DEVICE_ID,
    FunctionCode,
)
from eq1_network.protocols.modbus.errors import ModbusExceptionError
from eq1_network.protocols.modbus.values import pack_bits, unpack_bits

__all__ = [
    "DeviceIdentification",
    "Request",
    "check_exception",
    "diagnostics",
    "mask_write_register",
    "raw",
    "read_coils",
    "read_device_identification",
    "read_discrete_inputs",
    "read_exception_status",
    "read_holding_registers",
    "read_input_registers",
    "read_write_registers",
    "report_server_id",
    "write_coil",
    "write_coils",
    "write_register",
    "write_registers",
]

T = TypeVar("T")
_HH = struct.Struct(">HH")
_FHH = struct.Struct(">BHH")


class Request(Generic[T]):
    """One request PDU and the decoder of its response.

    Attributes:
        pdu: Function code and data.
        decode: Turns the response PDU into the result; raises on a mismatch.
        writes: Whether the request changes the server's state (not retried
            unless the client opts in; allowed as a broadcast).
    """

    __slots__ = ("decode", "pdu", "writes")

    def __init__(self, pdu: bytes, decode: Callable[[bytes], T], writes: bool = False) -> None:
        self.pdu = pdu
        self.decode = decode
        self.writes = writes

    def __repr__(self) -> str:
        return f"Request(pdu={self.pdu.hex(' ')!r}, writes={self.writes})"

    @property
    def function_code(self) -> int:
        """The request's function code."""
        return self.pdu[0]


class DeviceIdentification(NamedTuple):
    """One response of Read Device Identification (function 0x2B / MEI 0x0E).

    Attributes:
        conformity: The server's conformity level byte.
        more_follows: Whether further objects need another request.
        next_object: The object id to ask for next when ``more_follows``.
        objects: Object id -> value bytes.
    """

    conformity: int
    more_follows: bool
    next_object: int
    objects: dict[int, bytes]


def _int(name: str, value: object, low: int, high: int, rule: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolArgumentError(f"{name}={value!r} must be an int from {low} to {high}")
    if not low <= value <= high:
        raise ProtocolArgumentError(f"{name}={value!r} must be from {low} to {high}{rule}")
    return int(value)


def _span(address: int, count: int, limit: int, what: str) -> tuple[int, int]:
    if (
        type(address) is int
        and type(count) is int
        and 0 <= address
        and 1 <= count <= limit
        and address + count <= MAX_ADDRESS + 1
    ):
        return address, count
    address = _int("address", address, 0, MAX_ADDRESS)
    count = _int("count", count, 1, limit, f" ({what} per request)")
    if address + count - 1 > MAX_ADDRESS:
        raise ProtocolArgumentError(
            f"address={address} with count={count} runs past address {MAX_ADDRESS}; "
            "lower the count or the address"
        )
    return address, count


def _malformed(function: int, why: str, pdu: bytes) -> MalformedPacketError:
    return MalformedPacketError(
        f"response to function 0x{function:02X} {why}: {pdu[:16].hex(' ')}"
        + (" ..." if len(pdu) > 16 else "")
    )


def check_exception(pdu: bytes, unit: int | None = None) -> None:
    """Raise the server's exception if ``pdu`` is an exception response.

    Args:
        pdu: A response PDU.
        unit: The unit that answered, for the message.

    Raises:
        ModbusExceptionError: If the function code has bit 0x80 set.
        MalformedPacketError: If the PDU is empty or an exception PDU lacks its code.
    """
    if not pdu:
        raise MalformedPacketError("empty response PDU")
    if pdu[0] & EXCEPTION_BIT:
        if len(pdu) != 2:
            raise _malformed(pdu[0] & 0x7F, "is an exception PDU of the wrong size", pdu)
        raise ModbusExceptionError(pdu[0] & 0x7F, pdu[1], unit)


def _expect(function: int, pdu: bytes, size: int | None = None) -> None:
    check_exception(pdu)
    if pdu[0] != function:
        raise _malformed(function, f"has function code 0x{pdu[0]:02X}", pdu)
    if size is not None and len(pdu) != size:
        raise _malformed(function, f"is {len(pdu)} bytes, expected {size}", pdu)


def _read_bits(function: FunctionCode, address: int, count: int) -> Request[list[bool]]:
    address, count = _span(address, count, MAX_READ_BITS, "bits")
    return Request(bytes((function,)) + _HH.pack(address, count), _bits_decoder(function, count))


@functools.lru_cache(maxsize=1024)
def _bits_decoder(function: int, count: int) -> Callable[[bytes], list[bool]]:
    def decode(pdu: bytes) -> list[bool]:
        size = (count + 7) // 8
        _expect(function, pdu, 2 + size)
        if pdu[1] != size:
            raise _malformed(function, f"has byte count {pdu[1]}, expected {size}", pdu)
        return unpack_bits(pdu[2:], count)

    return decode


def _read_regs(function: FunctionCode, address: int, count: int) -> Request[list[int]]:
    address, count = _span(address, count, MAX_READ_REGISTERS, "registers")
    return Request(_FHH.pack(function, address, count), _registers_decoder(function, count))


@functools.lru_cache(maxsize=1024)
def _registers_decoder(function: int, count: int) -> Callable[[bytes], list[int]]:
    unpack = struct.Struct(f">{count}H").unpack_from
    size = 2 + 2 * count

    def decode(pdu: bytes) -> list[int]:
        if len(pdu) == size and pdu[0] == function and pdu[1] == size - 2:
            return list(unpack(pdu, 2))
        _expect(function, pdu, size)
        raise _malformed(function, f"has byte count {pdu[1]}, expected {size - 2}", pdu)

    return decode


def read_coils(address: int, count: int = 1) -> Request[list[bool]]:
    """Build Read Coils (0x01): ``count`` coils from ``address`` (1 to 2000)."""
    return _read_bits(FunctionCode.READ_COILS, address, count)


def read_discrete_inputs(address: int, count: int = 1) -> Request[list[bool]]:
    """Build Read Discrete Inputs (0x02): ``count`` inputs from ``address`` (1 to 2000)."""
    return _read_bits(FunctionCode.READ_DISCRETE_INPUTS, address, count)


def read_holding_registers(address: int, count: int = 1) -> Request[list[int]]:
    """Build Read Holding Registers (0x03): ``count`` registers (1 to 125)."""
    return _read_regs(FunctionCode.READ_HOLDING_REGISTERS, address, count)


def read_input_registers(address: int, count: int = 1) -> Request[list[int]]:
    """Build Read Input Registers (0x04): ``count`` registers (1 to 125)."""
    return _read_regs(FunctionCode.READ_INPUT_REGISTERS, address, count)


def _echo_decoder(function: int, request: bytes) -> Callable[[bytes], None]:
    def decode(pdu: bytes) -> None:
        _expect(function, pdu, len(request))
        if pdu != request:
            raise _malformed(function, "does not echo the request", pdu)

    return decode


def _prefix_decoder(function: int, request: bytes) -> Callable[[bytes], None]:
    def decode(pdu: bytes) -> None:
        _expect(function, pdu, 5)
        if pdu != request[:5]:
            raise _malformed(function, "does not echo the address and quantity", pdu)

    return decode


def write_coil(address: int, value: bool) -> Request[None]:
    """Build Write Single Coil (0x05): sets one coil on (``True``) or off."""
    address = _int("address", address, 0, MAX_ADDRESS)
    if not isinstance(value, (bool, int)) or value not in (0, 1):
        raise ProtocolArgumentError(f"value={value!r} must be a bool (True: on, False: off)")
    pdu = bytes((FunctionCode.WRITE_SINGLE_COIL,)) + _HH.pack(address, 0xFF00 if value else 0)
    return Request(pdu, _echo_decoder(pdu[0], pdu), writes=True)


def write_register(address: int, value: int) -> Request[None]:
    """Build Write Single Register (0x06): ``value`` from 0 to 65535."""
    address = _int("address", address, 0, MAX_ADDRESS)
    value = _int("value", value, 0, 0xFFFF, " (one unsigned 16-bit register)")
    pdu = bytes((FunctionCode.WRITE_SINGLE_REGISTER,)) + _HH.pack(address, value)
    return Request(pdu, _echo_decoder(pdu[0], pdu), writes=True)


def write_coils(address: int, values: Sequence[bool]) -> Request[None]:
    """Build Write Multiple Coils (0x0F): 1 to 1968 coils from ``address``."""
    values = list(values)
    if not 1 <= len(values) <= MAX_WRITE_BITS:
        raise ProtocolArgumentError(
            f"values holds {len(values)} coils: 1 to {MAX_WRITE_BITS} are allowed per request"
        )
    address, count = _span(address, len(values), MAX_WRITE_BITS, "coils")
    for i, value in enumerate(values):
        if not isinstance(value, (bool, int)) or value not in (0, 1):
            raise ProtocolArgumentError(f"values[{i}]={value!r} must be a bool")
    size = (count + 7) // 8
    pdu = (
        bytes((FunctionCode.WRITE_MULTIPLE_COILS,))
        + _HH.pack(address, count)
        + bytes((size,))
        + pack_bits(values)
    )
    return Request(pdu, _prefix_decoder(pdu[0], pdu), writes=True)


def _registers(name: str, values: Sequence[int], limit: int) -> list[int]:
    values = list(values)
    if not 1 <= len(values) <= limit:
        raise ProtocolArgumentError(
            f"{name} holds {len(values)} registers: 1 to {limit} are allowed per request"
        )
    for i, value in enumerate(values):
        _int(f"{name}[{i}]", value, 0, 0xFFFF, " (unsigned 16-bit registers)")
    return values


def write_registers(address: int, values: Sequence[int]) -> Request[None]:
    """Build Write Multiple Registers (0x10): 1 to 123 registers from ``address``."""
    values = _registers("values", values, MAX_WRITE_REGISTERS)
    address, count = _span(address, len(values), MAX_WRITE_REGISTERS, "registers")
    pdu = (
        bytes((FunctionCode.WRITE_MULTIPLE_REGISTERS,))
        + _HH.pack(address, count)
        + bytes((2 * count,))
        + struct.pack(f">{count}H", *values)
    )
    return Request(pdu, _prefix_decoder(pdu[0], pdu), writes=True)


def mask_write_register(address: int, and_mask: int, or_mask: int) -> Request[None]:
    """Build Mask Write Register (0x16): ``(current & and_mask) | (or_mask & ~and_mask)``."""
    address = _int("address", address, 0, MAX_ADDRESS)
    and_mask = _int("and_mask", and_mask, 0, 0xFFFF)
    or_mask = _int("or_mask", or_mask, 0, 0xFFFF)
    pdu = bytes((FunctionCode.MASK_WRITE_REGISTER,)) + struct.pack(
        ">HHH", address, and_mask, or_mask
    )
    return Request(pdu, _echo_decoder(pdu[0], pdu), writes=True)


def read_write_registers(
    read_address: int, read_count: int, write_address: int, values: Sequence[int]
) -> Request[list[int]]:
    """Build Read/Write Multiple Registers (0x17): the write happens before the read."""
    try:
        read_address, read_count = _span(
            read_address, read_count, MAX_RW_READ_REGISTERS, "registers read"
        )
    except ProtocolArgumentError as exc:
        raise ProtocolArgumentError(f"read_{exc}") from None
    values = _registers("values", values, MAX_RW_WRITE_REGISTERS)
    try:
        write_address, count = _span(write_address, len(values), MAX_RW_WRITE_REGISTERS, "written")
    except ProtocolArgumentError as exc:
        raise ProtocolArgumentError(f"write_{exc}") from None
    pdu = (
        bytes((FunctionCode.READ_WRITE_MULTIPLE_REGISTERS,))
        + struct.pack(">HHHHB", read_address, read_count, write_address, count, 2 * count)
        + struct.pack(f">{count}H", *values)
    )
    return Request(pdu, _registers_decoder(pdu[0], read_count), writes=True)


def read_exception_status() -> Request[int]:
    """Build Read Exception Status (0x07, serial line): returns the status byte."""
    function = FunctionCode.READ_EXCEPTION_STATUS

    def decode(pdu: bytes) -> int:
        _expect(function, pdu, 2)
        return pdu[1]

    return Request(bytes((function,)), decode)


def diagnostics(sub_function: int, data: bytes = b"\x00\x00") -> Request[bytes]:
    """Build Diagnostics (0x08): returns the data field of the answer.

    Sub-function 0 (Return Query Data) echoes ``data``; the counters (0x0B to 0x12)
    take ``b"\\x00\\x00"`` and return the counter as two bytes.
    """
    sub_function = _int("sub_function", sub_function, 0, 0xFFFF)
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_PDU - 3:
        raise ProtocolArgumentError(f"data must be bytes of at most {MAX_PDU - 3} bytes")
    function = FunctionCode.DIAGNOSTICS
    pdu = bytes((function,)) + sub_function.to_bytes(2, "big") + bytes(data)

    def decode(response: bytes) -> bytes:
        _expect(function, response)
        if response[1:3] != pdu[1:3]:
            raise _malformed(function, "answers another sub-function", response)
        if sub_function == 0 and response != pdu:
            raise _malformed(function, "does not echo the query data", response)
        return response[3:]

    return Request(pdu, decode, writes=sub_function not in (0x00, *range(0x0B, 0x13)))


def report_server_id() -> Request[bytes]:
    """Build Report Server ID (0x11): returns the device-specific data (id, run status, ...)."""
    function = FunctionCode.REPORT_SERVER_ID

    def decode(pdu: bytes) -> bytes:
        _expect(function, pdu)
        if len(pdu) < 2 or pdu[1] != len(pdu) - 2:
            raise _malformed(function, "has a wrong byte count", pdu)
        return pdu[2:]

    return Request(bytes((function,)), decode)


def read_device_identification(
    read_code: int = 1, object_id: int = 0
) -> Request[DeviceIdentification]:
    """Build Read Device Identification (0x2B / 0x0E): one page of objects.

    Args:
        read_code: 1 basic, 2 regular, 3 extended (stream access), 4 one object.
        object_id: The first object to return.
    """
    read_code = _int("read_code", read_code, 1, 4)
    object_id = _int("object_id", object_id, 0, 0xFF)
    function = FunctionCode.ENCAPSULATED_INTERFACE
    pdu = bytes((function, MEI_READ_DEVICE_ID, read_code, object_id))

    def decode(response: bytes) -> DeviceIdentification:
        _expect(function, response)
        if len(response) < 7 or response[1] != MEI_READ_DEVICE_ID:
            raise _malformed(function, "is not a device identification answer", response)
        objects: dict[int, bytes] = {}
        offset = 7
        for _ in range(response[6]):
            if offset + 2 > len(response) or offset + 2 + response[offset + 1] > len(response):
                raise _malformed(function, "ends inside an object", response)
            size = response[offset + 1]
            objects[response[offset]] = response[offset + 2 : offset + 2 + size]
            offset += 2 + size
        if offset != len(response):
            raise _malformed(function, "has bytes after its last object", response)
        return DeviceIdentification(response[3], response[4] == 0xFF, response[5], objects)

    return Request(pdu, decode)


def raw(pdu: bytes, *, writes: bool = True) -> Request[bytes]:
    """Build a request from a ready PDU (vendor function codes); returns the response PDU.

    Args:
        pdu: Function code and data, 1 to 253 bytes.
        writes: Whether the request changes state (the default, to be safe with retries).
    """
    if not isinstance(pdu, (bytes, bytearray)) or not 1 <= len(pdu) <= MAX_PDU:
        raise ProtocolArgumentError(f"pdu must be 1 to {MAX_PDU} bytes (function code and data)")
    function = pdu[0]

    def decode(response: bytes) -> bytes:
        _expect(function, response)
        return response

    return Request(bytes(pdu), decode, writes=writes)
