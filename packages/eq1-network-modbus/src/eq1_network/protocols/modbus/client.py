"""The Modbus client base: a raw PDU face and the typed calls Modbus users know.

:class:`ModbusClient` is a :class:`~eq1_network.interfaces.protocol.ReqResProtocol`
over one of the library's byte transports (``TCPClient`` or ``SerialProtocol``),
with a framer and a transaction engine. Its two faces:

- Raw: :meth:`send` frames one request PDU for the configured unit and sends it;
  :meth:`read` returns one complete, validated response PDU (an exception PDU is
  returned as it is). This is what ``ReqResManager`` and the workers use.
- Typed: :meth:`read_holding_registers`, :meth:`write_coils`, ... send a request,
  wait for its answer (matched by transaction id or by unit and function) and
  decode it, raising :class:`~eq1_network.protocols.modbus.errors.ModbusExceptionError`
  for an exception response. They are thread-safe.

Do not mix the raw face with typed calls on one client at the same time: both read
the same link.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolConfigurationError,
    ProtocolTimeoutError,
)
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.modbus import pdu as _pdu
from eq1_network.protocols.modbus._spec import MAX_UNIT
from eq1_network.protocols.modbus._stream_engine import StreamEngine
from eq1_network.protocols.modbus._transaction import BusEngine, Framer
from eq1_network.protocols.modbus._typed_values import RegisterTable, TypedValueCalls
from eq1_network.protocols.modbus.errors import ModbusExceptionError

__all__ = ["ModbusClient", "RegisterTable"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

_MAX_ID_PAGES = 256
_MAX_KEPT_READS = 256
"""Most read requests (per kind) a client keeps for reuse by the typed read calls."""


def _check_unit(name: str, unit: object, *, broadcast: bool) -> int:
    low = 0 if broadcast else 1
    if isinstance(unit, bool) or not isinstance(unit, int) or not low <= unit <= 255:
        raise ProtocolArgumentError(
            f"{name}={unit!r} must be an int from {low} to 255 "
            f"(1 to {MAX_UNIT} on a serial line; 0 is broadcast, for writes only)"
        )
    return unit


def _keep(kept: dict[K, T], key: K, request: T) -> T:
    """Store a freshly built request for reuse, while there is room, and return it."""
    if len(kept) < _MAX_KEPT_READS:
        kept[key] = request
    return request


class ModbusClient(TypedValueCalls, ReqResProtocol):
    """Base of the Modbus clients: a link, a framer and a transaction engine.

    Args:
        link: The byte transport (not yet connected).
        framer: The framer matching the transport.
        engine: The transaction engine over ``link`` and ``framer``.
        unit: Default unit (slave) address of every call.
        timeout: Seconds to wait for each answer.
        retries: Extra attempts of a read whose answer timed out.
        retry_writes: Retry writes too (only if repeating a write is harmless).
        broadcast_delay: Seconds the bus is left quiet after a broadcast, so that
            devices can act on it (serial lines only).

    Attributes:
        unit: Default unit address.
        timeout: Seconds to wait for each answer.
        retries: Extra attempts of a read that timed out.
        retry_writes: Whether writes are retried too.
    """

    def __init__(
        self,
        link: ReqResProtocol,
        framer: Framer,
        engine: StreamEngine | BusEngine,
        *,
        unit: int,
        timeout: float | None,
        retries: int,
        retry_writes: bool,
        broadcast_delay: float = 0.1,
    ) -> None:
        self._link = link
        self._framer = framer
        self._engine = engine
        self.unit = _check_unit("unit", unit, broadcast=True)
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ProtocolConfigurationError(f"timeout={timeout!r} must be a positive number")
        self.timeout = timeout
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ProtocolConfigurationError(f"retries={retries!r} must be an int >= 0")
        self.retries = retries
        self.retry_writes = bool(retry_writes)
        if broadcast_delay < 0:
            raise ProtocolConfigurationError(f"broadcast_delay={broadcast_delay!r} must be >= 0")
        self.broadcast_delay = broadcast_delay
        self._answers: collections.deque[bytes] = collections.deque()
        self._raw_tid = 0
        self._exchange: Callable[[int, bytes, float], bytes] = (
            engine.executor() if isinstance(engine, StreamEngine) else engine.execute
        )
        # Read requests by (function, address, count): built, and so checked, once.
        self._register_reads: dict[tuple[int, int, int], _pdu.Request[list[int]]] = {}
        self._bit_reads: dict[tuple[int, int, int], _pdu.Request[list[bool]]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._link!r}, unit={self.unit})"

    @property
    def link(self) -> ReqResProtocol:
        """The byte transport underneath (for its own options and statistics)."""
        return self._link

    @property
    def dropped(self) -> int:
        """Bytes the framer discarded as invalid (bad CRC, LRC or header, noise)."""
        return self._framer.dropped

    # -- connection -----------------------------------------------------------

    def connect(self) -> bool:
        """Connect the transport.

        Returns:
            ``True`` once connected.

        Raises:
            ProtocolConnectionError: If the transport cannot connect.
        """
        self._framer.reset()
        self._answers.clear()
        return self._link.connect()

    def disconnect(self) -> None:
        """Close the transport; does nothing when not connected."""
        self._link.disconnect()

    def is_connected(self) -> bool:
        """Tell whether the transport is connected."""
        return self._link.is_connected()

    # -- raw face -------------------------------------------------------------

    def _send_raw(self, data: bytes) -> int:
        self._raw_tid = (self._raw_tid + 1) & 0xFFFF
        self._framer.expect_answer_to(data)
        self._link.send(self._framer.encode(self.unit, data, self._raw_tid))
        return len(data)

    def _read_raw(self) -> bytes | None:
        if not self._answers:
            ok, data = self._link.read()
            if not ok or not data:
                return None
            self._answers.extend(frame.pdu for frame in self._framer.feed(data))
        return self._answers.popleft() if self._answers else None

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        return bool(self._answers) or self._link.wait_readable(timeout)

    def _read_within_raw(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while not self._answers:
            data = self._link.read_within(max(deadline - time.monotonic(), 0.0))
            if data:
                self._answers.extend(frame.pdu for frame in self._framer.feed(data))
            elif time.monotonic() >= deadline:
                return None
        return self._answers.popleft()

    def _link_ready(self) -> bool:
        return self._link.is_connected()

    # -- transactions ---------------------------------------------------------

    def execute(self, request: _pdu.Request[T], *, unit: int | None = None) -> T:
        """Send one request, wait for its answer and decode it.

        Reads are retried ``retries`` times on a timeout; writes only with
        ``retry_writes``. Unit 0 (broadcast) sends a write without waiting for an
        answer and returns ``None``.

        Args:
            request: A request built by :mod:`eq1_network.protocols.modbus.pdu`.
            unit: The unit; ``None`` uses :attr:`unit`.

        Returns:
            The decoded answer.

        Raises:
            ModbusExceptionError: If the server answered with an exception.
            ProtocolTimeoutError: If no answer came after every attempt.
            ProtocolConnectionError: If the link broke.
            MalformedPacketError: If the answer does not fit the request.
            ProtocolArgumentError: If ``unit`` is out of range, or 0 for a read.
        """
        target = self.unit if unit is None else _check_unit("unit", unit, broadcast=True)
        timeout = self.timeout or 1.0
        if target == 0:
            return self._broadcast(request, timeout)
        try:
            answer = self._exchange(target, request.pdu, timeout)
        except ProtocolTimeoutError:
            if not self.retries or (request.writes and not self.retry_writes):
                raise
            answer = self._retry(request, target, timeout)
        try:
            return request.decode(answer)
        except ModbusExceptionError as exc:
            raise ModbusExceptionError(exc.function_code, exc.exception_code, target) from None

    def _retry(self, request: _pdu.Request[T], target: int, timeout: float) -> bytes:
        """Repeat a request that timed out, ``retries`` times at most."""
        for attempt in range(self.retries):
            try:
                return self._exchange(target, request.pdu, timeout)
            except ProtocolTimeoutError:
                if attempt + 1 == self.retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def execute_many(
        self, requests: Sequence[_pdu.Request[T]], *, unit: int | None = None
    ) -> list[T]:
        """Run several requests, pipelined on a Modbus TCP client.

        With ``max_outstanding`` above 1, the requests go out in windows of that
        many, each window in one write, and the answers are matched by transaction
        id; otherwise (and on a serial line) they run one after the other. No
        request is retried: a timeout fails the whole call.

        Args:
            requests: Requests built by :mod:`eq1_network.protocols.modbus.pdu`.
            unit: The unit; ``None`` uses :attr:`unit`. Broadcast is not allowed.

        Returns:
            The decoded answers, in the order of ``requests``.

        Raises:
            ModbusExceptionError: If the server refused one of them (the first such).
            ProtocolTimeoutError: If an answer did not come in time.
            ProtocolArgumentError: If ``unit`` is out of range or 0.
        """
        target = self.unit if unit is None else _check_unit("unit", unit, broadcast=False)
        timeout = 1.0 if self.timeout is None else self.timeout
        if not isinstance(self._engine, StreamEngine):
            return [self.execute(request, unit=target) for request in requests]
        answers = self._engine.execute_many(target, [r.pdu for r in requests], timeout)
        results: list[T] = []
        for request, answer in zip(requests, answers, strict=True):
            try:
                results.append(request.decode(answer))
            except ModbusExceptionError as exc:
                raise ModbusExceptionError(exc.function_code, exc.exception_code, target) from None
        return results

    def _broadcast(self, request: _pdu.Request[T], timeout: float) -> T:
        if not request.writes:
            raise ProtocolArgumentError(
                f"unit=0 (broadcast) is for writes only; function 0x{request.function_code:02X} "
                "reads and would get no answer"
            )
        if isinstance(self._engine, BusEngine):
            self._engine.send_only(0, request.pdu, timeout)
            time.sleep(self.broadcast_delay)
        else:
            self._link.send(self._framer.encode(0, request.pdu, 0))
        return None  # type: ignore[return-value]  # broadcasts are writes: T is None

    # -- typed face -----------------------------------------------------------

    # The four reads reuse the request built for the same arguments: a kept request is
    # taken only for exact ints, so a bool or float argument is still refused.

    def read_coils(self, address: int, count: int = 1, *, unit: int | None = None) -> list[bool]:
        """Read ``count`` coils (function 0x01) from ``address`` (0-based)."""
        key = (1, address, count)
        request = self._bit_reads.get(key)
        if request is None or type(address) is not int or type(count) is not int:
            request = _keep(self._bit_reads, key, _pdu.read_coils(address, count))
        return self.execute(request, unit=unit)

    def read_discrete_inputs(
        self, address: int, count: int = 1, *, unit: int | None = None
    ) -> list[bool]:
        """Read ``count`` discrete inputs (function 0x02) from ``address``."""
        key = (2, address, count)
        request = self._bit_reads.get(key)
        if request is None or type(address) is not int or type(count) is not int:
            request = _keep(self._bit_reads, key, _pdu.read_discrete_inputs(address, count))
        return self.execute(request, unit=unit)

    def read_holding_registers(
        self, address: int, count: int = 1, *, unit: int | None = None
    ) -> list[int]:
        """Read ``count`` holding registers (function 0x03) from ``address``."""
        key = (3, address, count)
        request = self._register_reads.get(key)
        if request is None or type(address) is not int or type(count) is not int:
            request = _keep(self._register_reads, key, _pdu.read_holding_registers(address, count))
        return self.execute(request, unit=unit)

    def read_input_registers(
        self, address: int, count: int = 1, *, unit: int | None = None
    ) -> list[int]:
        """Read ``count`` input registers (function 0x04) from ``address``."""
        key = (4, address, count)
        request = self._register_reads.get(key)
        if request is None or type(address) is not int or type(count) is not int:
            request = _keep(self._register_reads, key, _pdu.read_input_registers(address, count))
        return self.execute(request, unit=unit)

    def write_coil(self, address: int, value: bool, *, unit: int | None = None) -> None:
        """Set one coil (function 0x05)."""
        self.execute(_pdu.write_coil(address, value), unit=unit)

    def write_register(self, address: int, value: int, *, unit: int | None = None) -> None:
        """Write one holding register (function 0x06), ``value`` 0 to 65535."""
        self.execute(_pdu.write_register(address, value), unit=unit)

    def write_coils(self, address: int, values: Sequence[bool], *, unit: int | None = None) -> None:
        """Set coils from ``address`` (function 0x0F)."""
        self.execute(_pdu.write_coils(address, values), unit=unit)

    def write_registers(
        self, address: int, values: Sequence[int], *, unit: int | None = None
    ) -> None:
        """Write holding registers from ``address`` (function 0x10)."""
        self.execute(_pdu.write_registers(address, values), unit=unit)

    def mask_write_register(
        self, address: int, and_mask: int, or_mask: int, *, unit: int | None = None
    ) -> None:
        """Change bits of one register (function 0x16)."""
        self.execute(_pdu.mask_write_register(address, and_mask, or_mask), unit=unit)

    def read_write_registers(
        self,
        read_address: int,
        read_count: int,
        write_address: int,
        values: Sequence[int],
        *,
        unit: int | None = None,
    ) -> list[int]:
        """Write registers, then read registers, in one transaction (function 0x17)."""
        request = _pdu.read_write_registers(read_address, read_count, write_address, values)
        return self.execute(request, unit=unit)

    def read_exception_status(self, *, unit: int | None = None) -> int:
        """Read the eight exception status outputs (function 0x07, serial devices)."""
        return self.execute(_pdu.read_exception_status(), unit=unit)

    def diagnostics(
        self, sub_function: int, data: bytes = b"\x00\x00", *, unit: int | None = None
    ) -> bytes:
        """Run a diagnostics sub-function (function 0x08); returns the answer's data."""
        return self.execute(_pdu.diagnostics(sub_function, data), unit=unit)

    def report_server_id(self, *, unit: int | None = None) -> bytes:
        """Return the device-specific data of Report Server ID (function 0x11)."""
        return self.execute(_pdu.report_server_id(), unit=unit)

    def read_device_identification(
        self, read_code: int = 1, object_id: int = 0, *, unit: int | None = None
    ) -> dict[int, bytes]:
        """Read device identification objects (0x2B/0x0E), following "more follows".

        Args:
            read_code: 1 basic, 2 regular, 3 extended, 4 one object.
            object_id: The first object.
            unit: The unit; ``None`` uses :attr:`unit`.

        Returns:
            Object id -> value, e.g. ``{0: b"VendorName", 1: b"ProductCode", 2: b"1.0"}``.
        """
        objects: dict[int, bytes] = {}
        for _ in range(_MAX_ID_PAGES):
            page = self.execute(_pdu.read_device_identification(read_code, object_id), unit=unit)
            objects.update(page.objects)
            if not page.more_follows or read_code == 4 or page.next_object <= object_id:
                break
            object_id = page.next_object
        return objects
