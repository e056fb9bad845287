"""The Modbus-specific exception: a server's exception response."""

from __future__ import annotations

from eq1_network.common.exceptions import ProtocolError
from eq1_network.protocols.modbus._spec import exception_name

__all__ = ["ModbusExceptionError"]


class ModbusExceptionError(ProtocolError):
    """The server answered a request with an exception response (``function | 0x80``).

    The request reached the server and was refused; the link is fine and the next
    request may succeed.

    Attributes:
        function_code: The function code of the refused request (without ``0x80``).
        exception_code: The server's exception code, e.g. ``2``.
        unit: The unit that answered, when known.
    """

    def __init__(self, function_code: int, exception_code: int, unit: int | None = None) -> None:
        self.function_code = function_code
        self.exception_code = exception_code
        self.unit = unit
        where = "" if unit is None else f" from unit {unit}"
        super().__init__(
            f"Modbus exception {exception_code} ({exception_name(exception_code)}){where} "
            f"for function 0x{function_code:02X}"
        )

    @property
    def name(self) -> str:
        """The specification's name of :attr:`exception_code`, e.g. ``"ILLEGAL DATA ADDRESS"``."""
        return exception_name(self.exception_code)

    def __reduce__(self) -> tuple[type[ModbusExceptionError], tuple[int, int, int | None]]:
        return (type(self), (self.function_code, self.exception_code, self.unit))
