"""Modbus servers (simulators): :class:`ModbusTCPServer` and :class:`ModbusRTUServer`.

Each server runs one named daemon I/O thread that reads requests, hands each PDU to
the :class:`~eq1_network.protocols.modbus.device.ModbusDevice` of the addressed unit
and sends the answer. The TCP server runs over the TCP plugin's ``TCPServer`` (many
clients, one framer per connection); the RTU server over the serial plugin's
``SerialProtocol``. Example::

    device = ModbusDevice(holding_registers=100)
    with ModbusTCPServer("127.0.0.1", 0, units={1: device}) as server:
        host, port = server.address  # the port the system picked
        ...
"""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, Literal

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.protocols.modbus._server_base import (
    POLL,
    Framer,
    ModbusServerBase,
    ServerStats,
    Units,
    corrupt,
    make_framer,
)
from eq1_network.protocols.modbus._spec import ExceptionCode
from eq1_network.protocols.modbus.device import exception_pdu
from eq1_network.protocols.modbus.framers import ASCIIFramer, Frame, RTUFramer
from eq1_network.protocols.serial.serial_protocol import SerialProtocol

if TYPE_CHECKING:
    from eq1_network.protocols.ethernet import Peer

__all__ = ["ModbusRTUServer", "ModbusTCPServer", "ServerStats", "Units"]

logger = get_logger(__name__)

_RECONNECT_PAUSE = 1.0


class ModbusTCPServer(ModbusServerBase):
    """A Modbus TCP server answering many clients, for several unit ids.

    Each connection has its own framer, so requests split across TCP segments, or
    several in one segment, are all answered, in order. The answer echoes the
    request's transaction id and unit id.

    ``start()``/``stop()``, ``with server:`` and, as a
    :class:`~eq1_network.interfaces.ReqResProtocol`, ``connect()``/``disconnect()``
    run and stop it; ``read()`` never returns data and ``send()`` raises, because the
    server answers by itself.

    **Units.** With one device, it answers every unit id. With a mapping, a request
    for unit 0 that is not in the mapping is a broadcast: writes are executed on
    every device and nothing is answered. A request for another unknown unit is
    answered with GATEWAY TARGET DEVICE FAILED TO RESPOND (``unknown_unit="gateway"``,
    as a gateway would) or not at all (``"ignore"``, the client times out).

    Args:
        host: Address to listen on.
        port: Port to listen on; 0 lets the system pick one (see :attr:`address`).
        units: Unit id (0..255) -> device, or one device for every unit id.
        framer: ``"mbap"`` (Modbus TCP), or ``"rtu"``/``"ascii"`` frames over TCP
            (what a serial gateway in transparent mode speaks).
        unknown_unit: ``"gateway"`` or ``"ignore"``, see above.
        max_clients: Most simultaneous clients; ``None`` for no limit.
        write_timeout: Seconds a client may take to accept an answer before it is
            dropped.

    Raises:
        ProtocolArgumentError: If an argument is out of range.
        ProtocolTypeError: If an argument has the wrong type.
    """

    protocol_name = "modbus-tcp-server"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 502,
        *,
        units: Units,
        framer: Literal["mbap", "rtu", "ascii"] = "mbap",
        unknown_unit: Literal["gateway", "ignore"] = "gateway",
        max_clients: int | None = None,
        write_timeout: float = 10.0,
    ) -> None:
        super().__init__(units, serial=False)
        if framer not in ("mbap", "rtu", "ascii"):
            raise ProtocolArgumentError(f"framer must be 'mbap', 'rtu' or 'ascii', got {framer!r}")
        if unknown_unit not in ("gateway", "ignore"):
            raise ProtocolArgumentError(
                f"unknown_unit must be 'gateway' or 'ignore', got {unknown_unit!r}"
            )
        self.framer = framer
        self.unknown_unit = unknown_unit
        self._tcp = TCPServer(
            host,
            port,
            timeout=None,
            write_timeout=write_timeout,
            max_clients=max_clients,
            on_disconnect=self._forget,
        )
        self._framers: dict[int, Framer] = {}
        self._thread_name = f"eq1-modbus-tcp-server-{self._tcp.where}"

    def __repr__(self) -> str:
        return f"ModbusTCPServer({self._tcp.where}, framer={self.framer!r})"

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``; after :meth:`start`, the port actually bound."""
        return self._tcp.host, self._tcp.port

    @property
    def clients(self) -> int:
        """The number of connected clients."""
        return len(self._tcp.peers())

    def _open(self) -> None:
        self._tcp.connect()
        self._thread_name = f"eq1-modbus-tcp-server-{self._tcp.where}"
        logger.info("Modbus TCP server on %s (%s)", self._tcp.where, self.framer)

    def _close(self) -> None:
        self._tcp.disconnect()
        self._framers.clear()

    def _forget(self, peer: Peer) -> None:
        self._framers.pop(peer.id, None)

    def _unknown_unit(self, frame: Frame) -> bytes | None:
        if self.unknown_unit == "ignore":
            return None
        return exception_pdu(frame.pdu[0], ExceptionCode.GATEWAY_TARGET_FAILED_TO_RESPOND)

    def _run(self) -> None:
        tcp = self._tcp
        while not self._stop.is_set():
            message = tcp.receive(POLL)
            if message is None:
                continue
            peer = message.peer
            framer = self._framers.get(peer.id)
            if framer is None:
                framer = self._framers[peer.id] = make_framer(self.framer)
            for frame in self._feed(framer, message.data):
                if self._stop.is_set():
                    return
                response, faults = self._answer(frame)
                if response is None:
                    continue
                adu = framer.encode(frame.unit, response, frame.transaction_id)
                if faults.bad_crc:
                    adu = corrupt(adu, self.framer)
                try:
                    self._emit(functools.partial(tcp.send_to, peer), adu, faults)
                except ProtocolError as exc:
                    logger.info("%s: answer to client %s not sent: %s", self, peer, exc)
                    break


class ModbusRTUServer(ModbusServerBase):
    """A Modbus RTU (or ASCII) server on a serial line, for several unit ids.

    Frames are found by their length and CRC (or LRC), not by timing, so a pty or a
    USB adapter that batches bytes works; bytes that start no valid frame are
    dropped and counted. Requests for units the server does not have are not
    answered (another device on the bus may answer them). Unit 0 is broadcast:
    writes are executed on every device and nothing is answered.

    The line is opened by :meth:`start`; if it is lost (device unplugged), the I/O
    thread tries to reopen it every second until :meth:`stop`. As for
    :class:`ModbusTCPServer`, ``connect()``/``disconnect()`` start and stop it.

    Args:
        port: Serial device or pyserial URL, e.g. ``"/dev/ttyUSB0"``.
        baudrate: Bits per second.
        units: Unit id (1..247) -> device, or one device as unit 1.
        parity: ``"N"``, ``"E"`` or ``"O"`` (the specification's default is even).
        bytesize: Data bits.
        stopbits: Stop bits.
        framer: ``"rtu"`` or ``"ascii"``.
        frame_silence: Seconds of silence after which a partial frame is dropped;
            ``None`` keeps it (a valid frame after it is still found).
        exclusive: Refuse to share the serial device with another program.

    Raises:
        ProtocolArgumentError: If an argument is out of range.
        ProtocolConfigurationError: If a serial setting is invalid.
        ProtocolTypeError: If an argument has the wrong type.
    """

    protocol_name = "modbus-rtu-server"

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
        self,
        port: str | os.PathLike[str],
        baudrate: int = 19200,
        *,
        units: Units,
        parity: str = "N",
        bytesize: int = 8,
        stopbits: float = 1,
        framer: Literal["rtu", "ascii"] = "rtu",
        frame_silence: float | None = None,
        exclusive: bool = True,
    ) -> None:
        super().__init__(units, serial=True)
        if framer not in ("rtu", "ascii"):
            raise ProtocolArgumentError(f"framer must be 'rtu' or 'ascii', got {framer!r}")
        if frame_silence is not None and not 0 < frame_silence <= 60:
            raise ProtocolArgumentError(
                f"frame_silence must be None or 0..60 seconds, got {frame_silence!r}"
            )
        self.framer = framer
        self.frame_silence = frame_silence
        self._serial = SerialProtocol(
            port,
            baudrate,
            timeout=None,
            parity=parity,
            bytesize=bytesize,
            stopbits=stopbits,
            exclusive=exclusive,
        )
        self._framer = make_framer(framer)
        self._thread_name = f"eq1-modbus-{framer}-server-{self._serial.port}"

    def __repr__(self) -> str:
        return f"ModbusRTUServer({self._serial.port!r}, framer={self.framer!r})"

    @property
    def port(self) -> str:
        """The serial device the server listens on."""
        return self._serial.port

    def _open(self) -> None:
        self._serial.connect()
        self._framer = make_framer(self.framer)
        logger.info("Modbus %s server on %s", self.framer.upper(), self._serial.port)

    def _close(self) -> None:
        self._serial.disconnect()

    def _run(self) -> None:
        serial = self._serial
        last_byte = time.monotonic()
        slice_ = POLL if self.frame_silence is None else min(POLL, self.frame_silence / 2)
        while not self._stop.is_set():
            if not serial.is_connected() and not self._reopen():
                continue
            if not serial.wait_readable(slice_):
                self._on_silence(time.monotonic() - last_byte)
                continue
            ok, data = serial.read()
            if not ok or not data:
                continue
            last_byte = time.monotonic()
            for frame in self._feed(self._framer, data):
                if self._stop.is_set():
                    return
                self._serve(frame)

    def _serve(self, frame: Frame) -> None:
        response, faults = self._answer(frame)
        if response is None or frame.unit == 0:
            return
        adu = self._framer.encode(frame.unit, response)
        if faults.bad_crc:
            adu = corrupt(adu, self.framer)
        try:
            self._emit(self._serial.send, adu, faults)
        except ProtocolError as exc:
            logger.warning("%s: answer not sent: %s", self, exc)

    def _on_silence(self, silent_for: float) -> None:
        framer = self._framer
        limit = self.frame_silence
        if limit is None or silent_for < limit or not isinstance(framer, RTUFramer | ASCIIFramer):
            return
        if framer.pending():
            self._count_drops(framer.discard_partial())

    def _reopen(self) -> bool:
        try:
            self._serial.connect()
        except ProtocolError as exc:
            logger.debug("%s: cannot reopen the line yet: %s", self, exc)
            self._stop.wait(_RECONNECT_PAUSE)
            return False
        logger.info("%s: line reopened", self)
        self._framer = make_framer(self.framer)
        return True
