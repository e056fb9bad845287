"""The data tables of a :class:`~eq1_network.protocols.modbus.device.ModbusDevice`.

A :class:`DataTable` holds coils or discrete inputs (bits) or holding or input
registers (16-bit values), addressed from 0, behind the device's lock. The
application reads and writes it like a list of fixed length; requests from the bus
go through :meth:`DataTable.read_request` and :meth:`DataTable.write_request`, which
also run the callbacks registered for the addresses involved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, overload

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolTypeError
from eq1_network.protocols.modbus._spec import MAX_ADDRESS, ExceptionCode, exception_name

__all__ = [
    "TABLE_NAMES",
    "DataTable",
    "ReadCallback",
    "RequestRefusedError",
    "TableName",
    "WriteCallback",
    "table_values",
]

TableName = Literal["coils", "discrete_inputs", "holding_registers", "input_registers"]
"""The four data tables of the Modbus data model."""

TABLE_NAMES: tuple[TableName, ...] = (
    "coils",
    "discrete_inputs",
    "holding_registers",
    "input_registers",
)

ReadCallback = Callable[[int], "int | bool | None"]
"""``callback(address)``: the value to answer for ``address``, or ``None`` for the stored one."""

WriteCallback = Callable[[int, int], None]
"""``callback(address, value)``: called before ``value`` is stored; raise
:class:`RequestRefusedError` to refuse the write."""

_TABLE_SIZE = MAX_ADDRESS + 1


class RequestRefusedError(Exception):
    """Raised by a device callback to answer the request with a Modbus exception.

    A read or write callback raises it to refuse the request: the device answers
    ``function | 0x80, exception_code`` and stores nothing of that request.

    Args:
        exception_code: The exception code to answer, e.g.
            ``ExceptionCode.ILLEGAL_DATA_VALUE`` (1..255).
        reason: Why, for the server's log.

    Raises:
        ProtocolArgumentError: If ``exception_code`` is not in 1..255.
    """

    def __init__(self, exception_code: int, reason: str = "") -> None:
        if not isinstance(exception_code, int) or not 1 <= exception_code <= 0xFF:
            raise ProtocolArgumentError(
                f"exception_code must be an int in 1..255 (e.g. ExceptionCode.ILLEGAL_DATA_VALUE), "
                f"got {exception_code!r}"
            )
        self.exception_code = int(exception_code)
        self.reason = reason
        text = f"request refused with {exception_name(self.exception_code)}"
        super().__init__(f"{text}: {reason}" if reason else text)


def table_values(name: str, spec: int | Sequence[int | bool], *, bits: bool) -> list[int]:
    """Turn a table argument (a size or initial values) into the stored list.

    Args:
        name: The argument's name, for messages.
        spec: A size (the table holds zeros) or the initial values.
        bits: Whether the table holds bits.

    Returns:
        The values, bits as 0/1.

    Raises:
        ProtocolArgumentError: If the size or a value is out of range.
        ProtocolTypeError: If ``spec`` is neither an int nor a sequence.
    """
    if isinstance(spec, bool) or isinstance(spec, (str, bytes)):
        raise ProtocolTypeError(
            f"{name} must be a size (int) or a sequence of initial values, got {spec!r}"
        )
    if isinstance(spec, int):
        if not 0 <= spec <= _TABLE_SIZE:
            raise ProtocolArgumentError(
                f"{name} size must be in 0..{_TABLE_SIZE} (the Modbus address space), got {spec}"
            )
        return [0] * spec
    if not isinstance(spec, Sequence):
        raise ProtocolTypeError(
            f"{name} must be a size (int) or a sequence of initial values, "
            f"got {type(spec).__name__}"
        )
    if len(spec) > _TABLE_SIZE:
        raise ProtocolArgumentError(
            f"{name} holds {len(spec)} values; at most {_TABLE_SIZE} fit the Modbus address space"
        )
    return [_check_value(name, value, bits=bits) for value in spec]


def _check_value(name: str, value: object, *, bits: bool) -> int:
    if bits:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return int(value)
        raise ProtocolArgumentError(f"{name}: a bit must be True/False or 0/1, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF:
        return value
    raise ProtocolArgumentError(
        f"{name}: a register holds an int in 0..65535, got {value!r}; "
        "encode signed or wider values with the values helpers"
    )


class DataTable:
    """One data table of a device, used like a list of fixed length.

    ``table[i]`` reads and ``table[i] = v`` writes one value, slices read or write
    several (a slice assignment keeps the length). Bits read as ``bool`` and take
    ``True``/``False`` or ``0``/``1``; registers read as ``int`` and take 0..65535.
    Every access holds the device's lock, so it never sees half of a request.
    Writes by the application do not call the write callbacks.

    Args:
        name: The table's name (``"coils"``, ...).
        values: The initial values (owned by the table from now on).
        bits: Whether the table holds bits.
        lock: The device's lock.
    """

    def __init__(
        self, name: TableName, values: list[int], *, bits: bool, lock: threading.RLock
    ) -> None:
        self.name = name
        self.bits = bits
        self._values = values
        self._lock = lock
        self._on_read: dict[int | None, ReadCallback] = {}
        self._on_write: dict[int | None, WriteCallback] = {}

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"DataTable({self.name!r}, size={len(self._values)})"

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> list[int]: ...
    def __getitem__(self, index: int | slice) -> int | list[int]:
        with self._lock:
            got = self._values[index]
        if isinstance(got, list):
            return [bool(v) for v in got] if self.bits else got
        return bool(got) if self.bits else got

    @overload
    def __setitem__(self, index: int, value: int | bool) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[int | bool]) -> None: ...
    def __setitem__(self, index: int | slice, value: object) -> None:
        if isinstance(index, slice):
            if not isinstance(value, Iterable):
                raise ProtocolTypeError(f"{self.name}[a:b] takes an iterable of values")
            new = [_check_value(self.name, v, bits=self.bits) for v in value]
            with self._lock:
                if len(range(*index.indices(len(self._values)))) != len(new):
                    raise ProtocolArgumentError(
                        f"{self.name}[a:b] = values must keep the table's size: "
                        f"give exactly as many values as the slice covers"
                    )
                self._values[index] = new
            return
        checked = _check_value(self.name, value, bits=self.bits)
        with self._lock:
            self._values[index] = checked

    def __iter__(self) -> Iterator[int]:
        return iter(self[:])

    # -- callbacks ---------------------------------------------------------------

    def set_callback(
        self,
        kind: Literal["read", "write"],
        callback: ReadCallback | WriteCallback | None,
        addresses: int | Iterable[int] | None,
    ) -> None:
        """Register (or with ``None`` remove) a callback for some or all addresses.

        Args:
            kind: ``"read"`` or ``"write"``.
            callback: The callback, or ``None`` to remove.
            addresses: One address, several, or ``None`` for every address without
                a callback of its own.

        Raises:
            ProtocolTypeError: If ``callback`` is not callable.
            ProtocolArgumentError: If an address is outside the table.
        """
        if callback is not None and not callable(callback):
            raise ProtocolTypeError(f"{kind} callback must be callable or None, got {callback!r}")
        keys: list[int | None]
        if addresses is None:
            keys = [None]
        else:
            keys = list(_addresses(addresses))
            for address in keys:
                if not isinstance(address, int) or not 0 <= address < len(self._values):
                    raise ProtocolArgumentError(
                        f"{kind} callback address {address!r} is outside {self.name} "
                        f"(0..{len(self._values) - 1})"
                    )
        target: dict[int | None, Any] = self._on_read if kind == "read" else self._on_write
        with self._lock:
            for key in keys:
                if callback is None:
                    target.pop(key, None)
                else:
                    target[key] = callback

    # -- requests (called with the device's lock held) ------------------------------

    def check_range(self, address: int, count: int) -> None:
        """Refuse with ILLEGAL DATA ADDRESS unless ``address .. address+count-1`` exist."""
        if address + count > len(self._values):
            raise RequestRefusedError(
                ExceptionCode.ILLEGAL_DATA_ADDRESS,
                f"{self.name} {address}..{address + count - 1} outside 0..{len(self._values) - 1}",
            )

    def read_request(self, address: int, count: int) -> list[int]:
        """Values for a read request, with the read callbacks applied.

        Raises:
            RequestRefusedError: If the range is outside the table, or a callback refused.
            ValueError: If a callback returned an invalid value.
        """
        self.check_range(address, count)
        values = self._values[address : address + count]
        callbacks = self._on_read
        if callbacks:
            default = callbacks.get(None)
            for offset in range(count):
                callback = callbacks.get(address + offset, default)
                if callback is None:
                    continue
                got = callback(address + offset)
                if got is not None:
                    values[offset] = _check_value(
                        f"read callback of {self.name}[{address + offset}]", got, bits=self.bits
                    )
        return values

    def write_request(self, address: int, values: Sequence[int]) -> None:
        """Store the values of a write request after its write callbacks agreed.

        Raises:
            RequestRefusedError: If the range is outside the table, or a callback refused
                (then nothing is stored).
        """
        self.check_range(address, len(values))
        callbacks = self._on_write
        if callbacks:
            default = callbacks.get(None)
            for offset, value in enumerate(values):
                callback = callbacks.get(address + offset, default)
                if callback is not None:
                    callback(address + offset, bool(value) if self.bits else value)
        self._values[address : address + len(values)] = values


def _addresses(addresses: int | Iterable[int]) -> Iterable[int]:
    if isinstance(addresses, int) and not isinstance(addresses, bool):
        return (addresses,)
    if isinstance(addresses, Iterable):
        return addresses
    raise ProtocolTypeError(
        f"addresses must be an int, an iterable of ints or None, got {addresses!r}"
    )
