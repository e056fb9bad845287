"""Typed values over register calls: :meth:`read_value`, :meth:`write_value` and the float32 pair.

A mixin of :class:`~eq1_network.protocols.modbus.client.ModbusClient`: it turns values
into registers with :mod:`.values` and relies only on the client's register calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from eq1_network.common.exceptions import ProtocolArgumentError
from eq1_network.protocols.modbus import values as _values

__all__ = ["RegisterTable", "TypedValueCalls"]

RegisterTable = Literal["holding", "input"]
"""Which register table a typed value is read from."""


class TypedValueCalls:
    """Read and write int, float and string values stored in consecutive registers."""

    def read_holding_registers(
        self, address: int, count: int = 1, *, unit: int | None = None
    ) -> list[int]:
        """Read ``count`` holding registers (function 0x03) from ``address``."""
        raise NotImplementedError

    def read_input_registers(
        self, address: int, count: int = 1, *, unit: int | None = None
    ) -> list[int]:
        """Read ``count`` input registers (function 0x04) from ``address``."""
        raise NotImplementedError

    def write_registers(
        self, address: int, values: Sequence[int], *, unit: int | None = None
    ) -> None:
        """Write holding registers from ``address`` (function 0x10)."""
        raise NotImplementedError

    def read_value(
        self,
        address: int,
        type: _values.ValueType,
        *,
        order: _values.ByteOrder = "ABCD",
        table: RegisterTable = "holding",
        unit: int | None = None,
    ) -> float:
        """Read one typed value stored in consecutive registers.

        Args:
            address: The first register.
            type: ``"int16"``, ``"uint32"``, ``"float32"``, ... (see :mod:`.values`).
            order: Byte and word order: ``"ABCD"``, ``"CDAB"``, ``"BADC"``, ``"DCBA"``.
            table: ``"holding"`` or ``"input"`` registers.
            unit: The unit; ``None`` uses :attr:`unit`.

        Returns:
            The value (``int`` for integer types, ``float`` for float types).
        """
        count = _values.register_count(type)
        if table == "holding":
            registers = self.read_holding_registers(address, count, unit=unit)
        elif table == "input":
            registers = self.read_input_registers(address, count, unit=unit)
        else:
            raise ProtocolArgumentError(f"table={table!r} must be 'holding' or 'input'")
        return _values.decode(registers, type, order)

    def write_value(
        self,
        address: int,
        value: float,
        type: _values.ValueType,
        *,
        order: _values.ByteOrder = "ABCD",
        unit: int | None = None,
    ) -> None:
        """Write one typed value into consecutive holding registers (function 0x10)."""
        self.write_registers(address, _values.encode(value, type, order), unit=unit)

    def read_float32(
        self,
        address: int,
        *,
        order: _values.ByteOrder = "ABCD",
        table: RegisterTable = "holding",
        unit: int | None = None,
    ) -> float:
        """Read a 32-bit float from two registers (see :meth:`read_value`)."""
        return float(self.read_value(address, "float32", order=order, table=table, unit=unit))

    def write_float32(
        self,
        address: int,
        value: float,
        *,
        order: _values.ByteOrder = "ABCD",
        unit: int | None = None,
    ) -> None:
        """Write a 32-bit float into two holding registers."""
        self.write_value(address, value, "float32", order=order, unit=unit)
