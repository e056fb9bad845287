"""``ModbusDevice``: the data model of a Modbus server, answering request PDUs (no I/O).

A device holds the four tables of the Modbus data model, device identification and
diagnostic counters, and turns one request PDU into one response PDU with
:meth:`ModbusDevice.handle`. The servers in :mod:`eq1_network.protocols.modbus.server`
feed it from TCP connections or a serial line; tests can call it directly::

    device = ModbusDevice(holding_registers=[1, 2, 3], coils=16)
    device.handle(bytes.fromhex("03 0000 0002"))  # -> b"\\x03\\x04\\x00\\x01\\x00\\x02"
    device.holding_registers[2] = 7               # the application updates a value
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolTypeError
from eq1_network.common.logging import get_logger
from eq1_network.protocols.modbus import _functions
from eq1_network.protocols.modbus._functions import exception_pdu
from eq1_network.protocols.modbus._identity import DiagnosticCounters, identification_objects
from eq1_network.protocols.modbus._spec import EXCEPTION_BIT, MAX_PDU, ExceptionCode, FunctionCode
from eq1_network.protocols.modbus._tables import (
    TABLE_NAMES,
    DataTable,
    ReadCallback,
    RequestRefusedError,
    TableName,
    WriteCallback,
    table_values,
)

__all__ = [
    "BROADCAST_FUNCTIONS",
    "exception_pdu",
    "DataTable",
    "DiagnosticCounters",
    "Faults",
    "FunctionHandler",
    "ModbusDevice",
    "ReadCallback",
    "RequestRefusedError",
    "TableName",
    "WriteCallback",
]

logger = get_logger(__name__)

FunctionHandler = Callable[[bytes], "bytes | None"]
"""``handler(pdu)`` of a custom function code: the response PDU, or ``None`` for no answer."""

BROADCAST_FUNCTIONS = frozenset(
    {
        FunctionCode.WRITE_SINGLE_COIL,
        FunctionCode.WRITE_SINGLE_REGISTER,
        FunctionCode.WRITE_MULTIPLE_COILS,
        FunctionCode.WRITE_MULTIPLE_REGISTERS,
        FunctionCode.MASK_WRITE_REGISTER,
    }
)
"""Functions a broadcast (unit 0) executes; other broadcast requests are ignored."""

_DEVICE_FUNCTIONS: dict[int, Callable[[ModbusDevice, bytes], bytes]] = {
    0x01: _functions.read_bits,
    0x02: _functions.read_bits,
    0x03: _functions.read_registers,
    0x04: _functions.read_registers,
    0x05: _functions.write_coil,
    0x06: _functions.write_register,
    0x07: _functions.read_exception_status,
    0x0F: _functions.write_coils,
    0x10: _functions.write_registers,
    0x11: _functions.report_server_id,
    0x16: _functions.mask_write,
    0x17: _functions.read_write,
}
"""Function code -> handler taking the device; 08 and 2B are bound to the device's state."""


@dataclass(frozen=True)
class Faults:
    """Misbehaviour a device shows on purpose, to test clients. The default is none.

    Replace the whole object to change it while a server runs
    (``device.faults = Faults(delay=0.5)``); the server reads it once per request.
    ``silent`` and ``exception`` act in :meth:`ModbusDevice.handle`; the others act
    where the server frames and sends the answer.

    Attributes:
        delay: Seconds the server waits before answering. The server's single I/O
            thread waits, so other clients and units wait too.
        exception: Answer every request with this exception code instead.
        silent: Neither execute nor answer requests (a dead unit).
        garbage: Bytes sent just before each answer.
        bad_crc: Corrupt the CRC (RTU) or LRC (ASCII) of each answer; Modbus TCP has
            no checksum, so the TCP server ignores it.
        chunk_size: Send each answer in pieces of this many bytes (0: at once).
        chunk_delay: Seconds between two pieces.

    Raises:
        ProtocolArgumentError: If a value is out of range.
    """

    delay: float = 0.0
    exception: int | None = None
    silent: bool = False
    garbage: bytes = b""
    bad_crc: bool = False
    chunk_size: int = 0
    chunk_delay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("delay", "chunk_delay"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 60:
                raise ProtocolArgumentError(f"Faults.{name} must be 0..60 seconds, got {value!r}")
        if self.exception is not None and (
            not isinstance(self.exception, int) or not 1 <= self.exception <= 0xFF
        ):
            raise ProtocolArgumentError(
                f"Faults.exception must be an exception code 1..255 or None, got {self.exception!r}"
            )
        if not isinstance(self.garbage, bytes):
            raise ProtocolTypeError(f"Faults.garbage must be bytes, got {self.garbage!r}")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 0:
            raise ProtocolArgumentError(
                f"Faults.chunk_size must be an int >= 0 (0: no split), got {self.chunk_size!r}"
            )


NO_FAULTS = Faults()


class ModbusDevice:
    """A Modbus server's data model (a unit), answering request PDUs.

    Functions answered: 01, 02, 03, 04 (reads), 05, 06, 0F, 10 (writes), 07 (read
    exception status), 08 (diagnostics: 00 return query data, 01 restart
    communications, 02 diagnostic register, 0A clear counters, 0B..12 counters, 14
    clear overrun), 11 (report server id), 16 (mask write register), 17 (read/write
    registers), 2B/0E (read device identification: basic, regular, extended
    streams with "more follows", and individual objects), and any code given to
    :meth:`set_function`. Other codes are answered with ILLEGAL FUNCTION; counts
    outside the specification's limits and malformed requests with ILLEGAL DATA
    VALUE; addresses outside a table with ILLEGAL DATA ADDRESS.

    **Threads.** Every method is thread-safe. :meth:`handle` holds :attr:`lock`
    (a re-entrant lock) for the whole request, so a request never sees half of an
    update made through the tables, and callbacks run under it (they may use the
    tables). Hold ``device.lock`` to make several updates appear at once.

    **Callbacks.** :meth:`on_read` and :meth:`on_write` register callbacks for
    addresses of a table, called on the server's I/O thread while a request is
    served; keep them short. A callback that raises :class:`RequestRefusedError`
    makes the device answer with its exception code and store nothing of the
    request; any other exception is logged and answered with SERVER DEVICE FAILURE.

    Args:
        coils: Size of the coil table (all off), or its initial values.
        discrete_inputs: Size or initial values of the discrete inputs.
        holding_registers: Size or initial values (0..65535) of the holding registers.
        input_registers: Size or initial values of the input registers.
        identification: Device identification objects, id (0..255) -> text or bytes;
            objects 0..2 (vendor name, product code, revision) default to this
            library's.
        server_id: The server id answered by function 0x11 (a run indicator of ON
            follows it).
        exception_status: The byte answered by function 0x07.

    Raises:
        ProtocolArgumentError: If a size or value is out of range.
        ProtocolTypeError: If an argument has the wrong type.
    """

    def __init__(
        self,
        *,
        coils: int | Sequence[int | bool] = 0,
        discrete_inputs: int | Sequence[int | bool] = 0,
        holding_registers: int | Sequence[int] = 0,
        input_registers: int | Sequence[int] = 0,
        identification: Mapping[int, str | bytes] | None = None,
        server_id: bytes | str = b"EQ1",
        exception_status: int = 0,
    ) -> None:
        self.lock = threading.RLock()
        specs = (coils, discrete_inputs, holding_registers, input_registers)
        self._tables: dict[str, DataTable] = {}
        for name, spec in zip(TABLE_NAMES, specs, strict=True):
            bits = name in ("coils", "discrete_inputs")
            values = table_values(name, spec, bits=bits)
            self._tables[name] = DataTable(name, values, bits=bits, lock=self.lock)
        self._identification = identification_objects(identification)
        self.server_id = server_id
        self.exception_status = exception_status
        self.faults: Faults = NO_FAULTS
        self._counters = DiagnosticCounters()
        self._custom: dict[int, FunctionHandler] = {}
        self._functions: dict[int, Callable[[bytes], bytes]] = {
            code: functools.partial(function, self) for code, function in _DEVICE_FUNCTIONS.items()
        }
        self._functions[0x08] = functools.partial(_functions.diagnostics, self._counters)
        self._functions[0x2B] = functools.partial(
            _functions.read_device_identification, self._identification
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(table)}" for name, table in self._tables.items())
        return f"ModbusDevice({sizes})"

    # -- data ----------------------------------------------------------------------

    @property
    def coils(self) -> DataTable:
        """The coils (read/write bits, functions 01, 05, 0F)."""
        return self._tables["coils"]

    @property
    def discrete_inputs(self) -> DataTable:
        """The discrete inputs (read-only bits on the bus, function 02)."""
        return self._tables["discrete_inputs"]

    @property
    def holding_registers(self) -> DataTable:
        """The holding registers (read/write, functions 03, 06, 10, 16, 17)."""
        return self._tables["holding_registers"]

    @property
    def input_registers(self) -> DataTable:
        """The input registers (read-only on the bus, function 04)."""
        return self._tables["input_registers"]

    def table(self, name: TableName) -> DataTable:
        """Return a table by name.

        Raises:
            ProtocolArgumentError: If ``name`` is not one of the four tables.
        """
        try:
            return self._tables[name]
        except (KeyError, TypeError):
            raise ProtocolArgumentError(
                f"table must be one of {', '.join(TABLE_NAMES)}; got {name!r}"
            ) from None

    @property
    def identification(self) -> Mapping[int, bytes]:
        """The device identification objects, by id (read-only)."""
        return MappingProxyType(self._identification)

    @property
    def server_id(self) -> bytes:
        """The server id answered by function 0x11."""
        return self._server_id

    @server_id.setter
    def server_id(self, value: bytes | str) -> None:
        data = value.encode() if isinstance(value, str) else value
        if not isinstance(data, bytes) or len(data) > MAX_PDU - 3:
            raise ProtocolArgumentError(
                f"server_id must be str or bytes of at most {MAX_PDU - 3} bytes, got {value!r}"
            )
        self._server_id = data

    @property
    def exception_status(self) -> int:
        """The byte answered by function 0x07 (0..255)."""
        return self._exception_status

    @exception_status.setter
    def exception_status(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
            raise ProtocolArgumentError(f"exception_status must be an int 0..255, got {value!r}")
        self._exception_status = value

    @property
    def counters(self) -> DiagnosticCounters:
        """A copy of the diagnostic counters."""
        with self.lock:
            return DiagnosticCounters(**vars(self._counters))

    def count_bus(self, messages: int = 0, errors: int = 0) -> None:
        """Add bus traffic seen by the server to the diagnostic counters.

        Args:
            messages: Frames seen on the bus, for any unit.
            errors: Frames dropped as corrupt.
        """
        with self.lock:
            self._counters.bus_messages += messages
            self._counters.bus_errors += errors

    # -- callbacks -------------------------------------------------------------------

    def on_read(
        self,
        table: TableName,
        callback: ReadCallback | None,
        addresses: int | Iterable[int] | None = None,
    ) -> None:
        """Call ``callback(address)`` when a request reads ``addresses`` of ``table``.

        The callback returns the value to answer (a bool or 0/1 for bits, 0..65535
        for registers; it is not stored), or ``None`` to answer the stored value.

        Args:
            table: The table.
            callback: The callback; ``None`` removes the callbacks of ``addresses``.
            addresses: An address or several; ``None`` for every address without a
                callback of its own.

        Raises:
            ProtocolArgumentError: If the table is unknown or an address is outside it.
            ProtocolTypeError: If ``callback`` is not callable.
        """
        self.table(table).set_callback("read", callback, addresses)

    def on_write(
        self,
        table: Literal["coils", "holding_registers"],
        callback: WriteCallback | None,
        addresses: int | Iterable[int] | None = None,
    ) -> None:
        """Call ``callback(address, value)`` before a request writes ``addresses``.

        The callback runs for each address of the request, in order, before any of
        them is stored; raising :class:`RequestRefusedError` refuses the whole
        request. Bits are passed as ``bool``.

        Args:
            table: ``"coils"`` or ``"holding_registers"`` (the others are read-only).
            callback: The callback; ``None`` removes the callbacks of ``addresses``.
            addresses: An address or several; ``None`` for every address without a
                callback of its own.

        Raises:
            ProtocolArgumentError: If the table is not writable or an address is
                outside it.
            ProtocolTypeError: If ``callback`` is not callable.
        """
        if table not in ("coils", "holding_registers"):
            raise ProtocolArgumentError(
                f"on_write table must be 'coils' or 'holding_registers' (the others are "
                f"read-only on the bus); got {table!r}"
            )
        self.table(table).set_callback("write", callback, addresses)

    def set_function(self, function_code: int, handler: FunctionHandler | None) -> None:
        """Answer ``function_code`` with ``handler(pdu)`` (or restore the default with ``None``).

        The handler receives the whole request PDU and returns the response PDU (or
        ``None`` for no answer); it runs under :attr:`lock`. A built-in function
        may be replaced too.

        Raises:
            ProtocolArgumentError: If ``function_code`` is not in 1..127.
            ProtocolTypeError: If ``handler`` is not callable.
        """
        if isinstance(function_code, bool) or not isinstance(function_code, int):
            raise ProtocolTypeError(f"function_code must be an int, got {function_code!r}")
        if not 1 <= function_code <= 0x7F:
            raise ProtocolArgumentError(f"function_code must be in 1..127, got {function_code}")
        if handler is not None and not callable(handler):
            raise ProtocolTypeError(f"handler must be callable or None, got {handler!r}")
        with self.lock:
            if handler is None:
                self._custom.pop(function_code, None)
            else:
                self._custom[function_code] = handler

    # -- requests ----------------------------------------------------------------------

    def handle(self, pdu: bytes, *, broadcast: bool = False) -> bytes | None:
        """Execute one request PDU and return the response PDU.

        Args:
            pdu: The request: function code and data.
            broadcast: The request was sent to unit 0: only the write functions of
                :data:`BROADCAST_FUNCTIONS` are executed, and nothing is answered.

        Returns:
            The response PDU (an exception response is ``function | 0x80, code``), or
            ``None`` when nothing must be answered (broadcast, ``Faults.silent``, an
            empty PDU, or a custom handler that returned ``None``).
        """
        if not pdu:
            return None
        faults = self.faults
        with self.lock:
            counters = self._counters
            if faults.silent:
                counters.no_responses += 1
                return None
            counters.server_messages += 1
            function_code = pdu[0]
            if broadcast and function_code not in BROADCAST_FUNCTIONS:
                counters.no_responses += 1
                return None
            if faults.exception is not None:
                response: bytes | None = exception_pdu(function_code, faults.exception)
            else:
                response = self._execute(function_code, bytes(pdu))
            if broadcast or response is None:
                counters.no_responses += 1
                return None
            if response and response[0] & EXCEPTION_BIT:
                counters.exceptions += 1
            return response

    def _execute(self, function_code: int, pdu: bytes) -> bytes | None:
        custom = self._custom.get(function_code)
        try:
            if custom is not None:
                return _checked_answer(function_code, custom(pdu))
            function = self._functions.get(function_code)
            if function is None:
                return exception_pdu(function_code, ExceptionCode.ILLEGAL_FUNCTION)
            return function(pdu)
        except RequestRefusedError as refusal:
            if refusal.reason:
                logger.debug("function 0x%02X refused: %s", function_code, refusal)
            return exception_pdu(function_code, refusal.exception_code)
        except Exception:
            logger.exception(
                "%r failed to serve function 0x%02X (answered SERVER DEVICE FAILURE)",
                self,
                function_code,
            )
            return exception_pdu(function_code, ExceptionCode.SERVER_DEVICE_FAILURE)


def _checked_answer(function_code: int, answer: object) -> bytes | None:
    """The answer of a custom handler, or SERVER DEVICE FAILURE if it is not a PDU."""
    if answer is None:
        return None
    if isinstance(answer, (bytes, bytearray, memoryview)) and 1 <= len(answer) <= MAX_PDU:
        return bytes(answer)
    logger.error(
        "handler of function 0x%02X returned %r; expected a PDU of 1..%d bytes or None "
        "(answered SERVER DEVICE FAILURE)",
        function_code,
        answer,
        MAX_PDU,
    )
    return exception_pdu(function_code, ExceptionCode.SERVER_DEVICE_FAILURE)
