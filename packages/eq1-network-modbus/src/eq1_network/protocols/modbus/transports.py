"""The four Modbus clients: TCP, RTU, ASCII and RTU over TCP.

Each is a :class:`~eq1_network.protocols.modbus.client.ModbusClient` over one of the
library's transports, so reconnection, TLS and keep-alive (TCP) and port locking
and device-loss detection (serial) come from those transports' own options.

Example::

    from eq1_network.protocols.modbus import ModbusProtocol

    with ModbusProtocol("127.0.0.1", 1502, unit=1) as plc:
        temperatures = plc.read_input_registers(0, 4)
        plc.write_register(10, 250)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar

from eq1_network.common.policies import ReconnectPolicy
from eq1_network.protocols.ethernet._tls import TLSOption
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.modbus._stream_engine import StreamEngine
from eq1_network.protocols.modbus._transaction import BusEngine, IdPolicy
from eq1_network.protocols.modbus.client import ModbusClient
from eq1_network.protocols.modbus.framers import ASCIIFramer, MBAPFramer, RTUFramer
from eq1_network.protocols.serial.serial_protocol import SerialProtocol

if TYPE_CHECKING:
    from eq1_network.urls import ParsedURL

__all__ = [
    "ModbusASCIIProtocol",
    "ModbusProtocol",
    "ModbusRTUOverTCPProtocol",
    "ModbusRTUProtocol",
]


def _check_outstanding(max_outstanding: int) -> int:
    from eq1_network.common.exceptions import ProtocolConfigurationError

    if isinstance(max_outstanding, bool) or not isinstance(max_outstanding, int):
        raise ProtocolConfigurationError(f"max_outstanding={max_outstanding!r} must be an int")
    if not 1 <= max_outstanding <= 256:
        raise ProtocolConfigurationError(
            f"max_outstanding={max_outstanding} must be from 1 to 256 requests"
        )
    return max_outstanding


class ModbusProtocol(ModbusClient):
    """Modbus TCP client (MBAP framing) over ``TCPClient``.

    Args:
        host: Server address.
        port: Server port (502 by default).
        timeout: Seconds to wait for each answer (and for the connection).
        unit: Default unit identifier (1; gateways route by it, most servers ignore it).
        max_outstanding: Requests that may wait for answers at once on this
            connection, matched by transaction id (1: one at a time). Above 1,
            received data is acknowledged at once (``TCPClient``'s ``quickack``).
        transaction_ids: ``"strict"`` (answers must carry their request's id; late
            answers to timed-out requests are dropped) or ``"lenient"`` (also accept
            0 or id + 1, for gateways that do not echo the id).
        retries: Extra attempts of a read that timed out.
        retry_writes: Retry writes too.
        connect_timeout: Seconds for the connection; ``None`` uses ``timeout``.
        tls: ``None`` for plain TCP, or the TLS settings ``TCPClient`` takes
            (Modbus/TCP Security, usually port 802).
        reconnect: The transport's reconnection policy.
        keepalive: TCP keep-alive.
    """

    protocol_name: ClassVar[str] = "modbus"

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
        self,
        host: str,
        port: int = 502,
        timeout: float | None = 1.0,
        *,
        unit: int = 1,
        max_outstanding: int = 1,
        transaction_ids: IdPolicy = "strict",
        retries: int = 1,
        retry_writes: bool = False,
        connect_timeout: float | None = None,
        tls: TLSOption = None,
        reconnect: ReconnectPolicy | bool | None = None,
        keepalive: bool = True,
    ) -> None:
        link = TCPClient(
            host,
            port,
            timeout,
            connect_timeout=connect_timeout,
            tls=tls,
            reconnect=reconnect,
            keepalive=keepalive,
            # Pipelined answers must not wait for delayed acknowledgements.
            quickack=max_outstanding != 1,
        )
        framer = MBAPFramer()
        engine = StreamEngine(
            link,
            framer,
            max_outstanding=_check_outstanding(max_outstanding),
            id_policy=transaction_ids,
        )
        super().__init__(
            link,
            framer,
            engine,
            unit=unit,
            timeout=timeout,
            retries=retries,
            retry_writes=retry_writes,
        )
        self.host, self.port = link.host, link.port
        self.max_outstanding = engine.max_outstanding
        self.transaction_ids: IdPolicy = transaction_ids

    @property
    def stale_answers(self) -> int:
        """Answers dropped because their request had timed out (or never existed)."""
        engine = self._engine
        return engine.stale if isinstance(engine, StreamEngine) else 0


class ModbusRTUOverTCPProtocol(ModbusClient):
    """Modbus RTU frames over a TCP connection (serial device servers, gateways).

    Args:
        host: Gateway address.
        port: Gateway port.
        timeout: Seconds to wait for each answer.
        unit: Default unit address on the serial line behind the gateway.
        retries: Extra attempts of a read that timed out.
        retry_writes: Retry writes too.
        silence: Seconds of quiet that end a partial frame; ``None`` keeps it.
        broadcast_delay: Quiet time after a broadcast.
        connect_timeout: Seconds for the connection; ``None`` uses ``timeout``.
        reconnect: The transport's reconnection policy.
    """

    protocol_name: ClassVar[str] = "modbus-rtu-tcp"

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
        self,
        host: str,
        port: int,
        timeout: float | None = 1.0,
        *,
        unit: int = 1,
        retries: int = 1,
        retry_writes: bool = False,
        silence: float | None = None,
        broadcast_delay: float = 0.1,
        connect_timeout: float | None = None,
        reconnect: ReconnectPolicy | bool | None = None,
    ) -> None:
        link = TCPClient(host, port, timeout, connect_timeout=connect_timeout, reconnect=reconnect)
        framer = RTUFramer(side="client")
        super().__init__(
            link,
            framer,
            BusEngine(link, framer, silence=silence),
            unit=unit,
            timeout=timeout,
            retries=retries,
            retry_writes=retry_writes,
            broadcast_delay=broadcast_delay,
        )
        self.host, self.port = link.host, link.port


class _SerialModbus(ModbusClient):
    """Shared constructor of the RTU and ASCII clients."""

    _framer_class: ClassVar[type[RTUFramer] | type[ASCIIFramer]] = RTUFramer

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
        self,
        port: str | os.PathLike[str],
        baudrate: int = 19200,
        timeout: float | None = 1.0,
        *,
        unit: int = 1,
        parity: str = "N",
        bytesize: int = 8,
        stopbits: float = 1,
        retries: int = 1,
        retry_writes: bool = False,
        echo: bool = False,
        silence: float | None = None,
        broadcast_delay: float = 0.1,
        exclusive: bool = True,
        **serial_options: Any,
    ) -> None:
        link = SerialProtocol(
            port,
            baudrate,
            timeout,
            parity=parity,
            bytesize=bytesize,
            stopbits=stopbits,
            exclusive=exclusive,
            **serial_options,
        )
        framer = self._framer_class(side="client")
        super().__init__(
            link,
            framer,
            BusEngine(link, framer, echo=echo, silence=silence),
            unit=unit,
            timeout=timeout,
            retries=retries,
            retry_writes=retry_writes,
            broadcast_delay=broadcast_delay,
        )
        self.port = link.port
        self.baudrate = baudrate

    @classmethod
    def url_kwargs(cls, url: ParsedURL) -> dict[str, Any]:
        """Map ``modbus+rtu:///dev/ttyUSB0?baudrate=19200&parity=E&unit=1`` to arguments.

        The device is named as in ``serial://`` URLs (three slashes before a path,
        ``modbus+rtu://COM3`` for a name); query parameters map to the constructor.

        Args:
            url: The parsed URL.

        Returns:
            The keyword arguments.

        Raises:
            ProtocolConfigurationError: If the device is missing or a parameter is
                unknown or ill-typed.
        """
        from eq1_network.protocols.serial._url import serial_url_kwargs

        return serial_url_kwargs(cls, url)


class ModbusRTUProtocol(_SerialModbus):
    """Modbus RTU client on a serial port (one transaction at a time per port).

    Args:
        port: The device, e.g. ``"/dev/ttyUSB0"`` or ``"COM3"``.
        baudrate: Bits per second (19200 by default, as the specification says).
        timeout: Seconds to wait for each answer; a silent unit raises
            ``ProtocolTimeoutError`` and the port stays open for the other units.
        unit: Default unit address, 1 to 247 (0 broadcasts a write).
        parity: ``"N"``, ``"E"`` or ``"O"``.
        bytesize: Data bits.
        stopbits: Stop bits.
        retries: Extra attempts of a read that timed out.
        retry_writes: Retry writes too.
        echo: The adapter echoes what is sent (2-wire RS-485): skip the echo.
        silence: Seconds of quiet that end a partial frame (the specification's
            3.5 characters, or more for USB adapters that batch bytes); ``None``
            keeps a partial frame until the transaction ends.
        broadcast_delay: Quiet time after a broadcast, so that devices can act.
        exclusive: Lock the port against other processes.
        **serial_options: Further ``SerialProtocol`` options (``rtscts``, ...).
    """

    protocol_name: ClassVar[str] = "modbus-rtu"
    _framer_class = RTUFramer


class ModbusASCIIProtocol(_SerialModbus):
    """Modbus ASCII client on a serial port (``:`` hex LRC CR LF frames).

    Takes the arguments of :class:`ModbusRTUProtocol`. The specification's default
    character format for ASCII is 7 data bits with even parity; pass
    ``bytesize=7, parity="E"`` for devices that use it.
    """

    protocol_name: ClassVar[str] = "modbus-ascii"
    _framer_class = ASCIIFramer
