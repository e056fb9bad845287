"""What both Modbus servers share: units, answering a frame, faults and the I/O thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolConnectionError,
    ProtocolTypeError,
    ProtocolUsageError,
)
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.modbus._spec import ExceptionCode
from eq1_network.protocols.modbus.device import Faults, ModbusDevice, exception_pdu
from eq1_network.protocols.modbus.framers import ASCIIFramer, Frame, MBAPFramer, RTUFramer

__all__ = [
    "POLL",
    "Framer",
    "ModbusServerBase",
    "ServerStats",
    "Units",
    "check_units",
    "corrupt",
    "make_framer",
]

logger = get_logger(__name__)

Units = Mapping[int, ModbusDevice] | ModbusDevice
"""The ``units`` argument: unit id -> device, or one device."""

POLL = 0.1
"""Seconds the I/O thread waits for data before it looks at the stop flag again."""
_JOIN_TIMEOUT = 5.0


class Framer(Protocol):
    """What the servers need of a framer."""

    dropped: int

    def encode(self, unit: int, pdu: bytes, transaction_id: int = 0) -> bytes: ...
    def feed(self, data: bytes) -> list[Frame]: ...


@dataclass
class ServerStats:
    """What a server has seen since it was made.

    Attributes:
        requests: Valid frames received (any unit, broadcasts included).
        answers: Answers sent.
        broadcasts: Broadcast requests (unit 0) executed on every unit.
        unknown_unit: Requests for a unit the server does not have.
        dropped_bytes: Bytes discarded by the framers (bad CRC/LRC, bad MBAP header,
            noise, partial frames ended by a silence).
        bad_frames: Reads that contained discarded bytes (each counts once).
        failures: Requests whose handling raised (answered SERVER DEVICE FAILURE).
    """

    requests: int = 0
    answers: int = 0
    broadcasts: int = 0
    unknown_unit: int = 0
    dropped_bytes: int = 0
    bad_frames: int = 0
    failures: int = 0


def check_units(units: Units, *, serial: bool) -> tuple[dict[int, ModbusDevice], bool]:
    """Return ``(unit -> device, serves every unit)`` from the ``units`` argument."""
    if isinstance(units, ModbusDevice):
        return ({1: units}, False) if serial else ({}, True)
    if not isinstance(units, Mapping) or not units:
        raise ProtocolTypeError(
            f"units must be a ModbusDevice or a non-empty mapping of unit id -> ModbusDevice, "
            f"got {units!r}"
        )
    low, high = (1, 247) if serial else (0, 255)
    checked: dict[int, ModbusDevice] = {}
    for unit, device in units.items():
        if isinstance(unit, bool) or not isinstance(unit, int) or not low <= unit <= high:
            raise ProtocolArgumentError(
                f"units: unit id {unit!r} must be an int in {low}..{high}"
                + (" (0 is the broadcast address on a serial line)" if serial else "")
            )
        if not isinstance(device, ModbusDevice):
            raise ProtocolTypeError(f"units[{unit}] must be a ModbusDevice, got {device!r}")
        checked[unit] = device
    return checked, False


class ModbusServerBase(ReqResProtocol):
    """What both servers share: units, answering a frame, faults, the I/O thread.

    A server is a :class:`~eq1_network.interfaces.ReqResProtocol`, so a manager can
    hold it: ``connect()`` starts it and ``disconnect()`` stops it. It answers
    requests by itself: ``read()`` never returns data and ``send()`` raises; change
    what it answers through its devices.
    """

    timeout: float | None = None

    _thread_name = "eq1-modbus-server"

    def __init__(self, units: Units, *, serial: bool) -> None:
        self._units, self._any_unit = check_units(units, serial=serial)
        self._single = units if isinstance(units, ModbusDevice) else None
        every = [self._single] if self._single is not None else list(self._units.values())
        self._devices = list({id(device): device for device in every}.values())
        self._stats = ServerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def units(self) -> Mapping[int, ModbusDevice]:
        """Unit id -> device (empty when one device answers every unit id)."""
        return dict(self._units)

    @property
    def stats(self) -> ServerStats:
        """A copy of the server's counters."""
        return replace(self._stats)

    @property
    def dropped(self) -> int:
        """Bytes discarded as invalid by the framers (see :attr:`stats`)."""
        return self._stats.dropped_bytes

    def is_running(self) -> bool:
        """Tell whether the I/O thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        """Open the transport and start the I/O thread; does nothing if running.

        Raises:
            ProtocolConnectionError: If the transport cannot be opened (port in use,
                missing serial device, ...).
        """
        with self._lock:
            if self.is_running():
                return
            self._open()
            self._stop.clear()
            thread = threading.Thread(target=self._run_guarded, name=self._thread_name, daemon=True)
            self._thread = thread
            thread.start()

    def stop(self) -> None:
        """Stop the I/O thread (bounded wait) and close the transport; idempotent."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            if thread is not None and thread is not threading.current_thread():
                thread.join(_JOIN_TIMEOUT)
                if thread.is_alive():
                    logger.warning("%s did not stop within %g s", thread.name, _JOIN_TIMEOUT)
            self._close()

    def connect(self) -> bool:
        """Start the server (see :meth:`start`).

        Returns:
            ``True``.
        """
        self.start()
        return True

    def disconnect(self) -> None:
        """Stop the server (see :meth:`stop`)."""
        self.stop()

    def is_connected(self) -> bool:
        """Tell whether the server runs (see :meth:`is_running`)."""
        return self.is_running()

    def _link_ready(self) -> bool:
        return self.is_running()

    def _read_raw(self) -> bytes | None:
        """Nothing to read: the server answers requests by itself."""
        return None

    def _send_raw(self, data: bytes) -> int:
        raise ProtocolUsageError(
            f"send() on {self!r}: a Modbus server answers requests by itself; change what "
            "it answers through its devices (device.holding_registers[0] = 1, faults, callbacks)"
        )

    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError

    def _run_guarded(self) -> None:
        while not self._stop.is_set():
            try:
                self._run()
            except ProtocolConnectionError as exc:
                logger.warning("%s: %s", self, exc)
                self._stop.wait(POLL)
            except Exception:
                logger.exception("%s: unexpected error in the I/O loop; it goes on", self)
                self._stop.wait(POLL)

    # -- requests ----------------------------------------------------------------------

    def _feed(self, framer: Framer, data: bytes) -> list[Frame]:
        """Frames completed by ``data``; discarded bytes are counted on the devices too."""
        before = framer.dropped
        frames = framer.feed(data)
        self._count_drops(framer.dropped - before)
        return frames

    def _count_drops(self, dropped: int) -> None:
        if dropped > 0:
            self._stats.dropped_bytes += dropped
            self._stats.bad_frames += 1
            for device in self._devices:
                device.count_bus(errors=1)

    def _answer(self, frame: Frame) -> tuple[bytes | None, Faults]:
        """Execute one request; return the response PDU (or ``None``) and the unit's faults."""
        stats = self._stats
        stats.requests += 1
        for each in self._devices:
            each.count_bus(messages=1)
        device = self._single if self._any_unit else self._units.get(frame.unit)
        if device is None:
            if frame.unit == 0:
                self._broadcast(frame.pdu)
                return None, Faults()
            stats.unknown_unit += 1
            return self._unknown_unit(frame), Faults()
        faults = device.faults
        try:
            return device.handle(frame.pdu), faults
        except Exception:
            stats.failures += 1
            logger.exception("%s: unit %d failed on %s", self, frame.unit, frame.pdu.hex(" "))
            return exception_pdu(frame.pdu[0], ExceptionCode.SERVER_DEVICE_FAILURE), faults

    def _broadcast(self, pdu: bytes) -> None:
        self._stats.broadcasts += 1
        for device in self._devices:
            try:
                device.handle(pdu, broadcast=True)
            except Exception:
                logger.exception("%s: broadcast %s failed", self, pdu.hex(" "))

    def _unknown_unit(self, frame: Frame) -> bytes | None:
        return None

    def _emit(self, send: Callable[[bytes], object], adu: bytes, faults: Faults) -> bool:
        """Send one answer with the unit's faults applied; ``False`` if stopped meanwhile."""
        if faults.delay and self._stop.wait(faults.delay):
            return False
        data = faults.garbage + adu
        size = faults.chunk_size or len(data)
        for start in range(0, len(data), size):
            if start and faults.chunk_delay and self._stop.wait(faults.chunk_delay):
                return False
            send(data[start : start + size])
        self._stats.answers += 1
        return True


def corrupt(adu: bytes, framing: str) -> bytes:
    """The answer with a wrong CRC (RTU) or LRC (ASCII); MBAP has no checksum."""
    if framing == "rtu":
        return adu[:-1] + bytes((adu[-1] ^ 0x5A,))
    if framing == "ascii":
        wrong = int(adu[-4:-2], 16) ^ 0x5A
        return adu[:-4] + f"{wrong:02X}".encode() + adu[-2:]
    return adu


def make_framer(framing: str) -> Framer:
    if framing == "rtu":
        return RTUFramer(side="server")
    if framing == "ascii":
        return ASCIIFramer(side="server")
    return MBAPFramer()
