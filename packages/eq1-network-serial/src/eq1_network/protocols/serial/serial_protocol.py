"""``SerialProtocol``: the request/response transport over a serial line.

Example::

    from eq1_network import ReqResManager
    from eq1_network.protocols.serial.serial_protocol import SerialProtocol

    ReqResManager.register("serial", SerialProtocol("/dev/ttyUSB0", 9600, timeout=1))
    if ReqResManager.connect("serial"):
        ReqResManager.send("serial", b"AT\\r\\n")
        print(ReqResManager.read("serial"))
        ReqResManager.disconnect("serial")
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
)
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.serial._port import OpenPort
from eq1_network.protocols.serial.settings import DEFAULT_WRITE_TIMEOUT, SerialSettings

if TYPE_CHECKING:
    from eq1_network.urls import ParsedURL

__all__ = ["ConnectionLostCallback", "SerialProtocol"]

logger = get_logger(__name__)

ConnectionLostCallback = Callable[[ProtocolConnectionError], None]
"""Signature of ``on_connection_lost``: called with the error that describes the loss."""


def _device_names() -> list[str]:
    from eq1_network.protocols.serial.ports import list_ports

    return [info.device for info in list_ports()]


class SerialProtocol(ReqResProtocol):
    """A serial port (RS-232/485, USB CDC, a pseudo-terminal or a pyserial URL) as a byte stream.

    ``read()`` never blocks: it returns what is waiting. :meth:`wait_readable` waits
    for data without polling, so ``ReqResManager.read`` answers as soon as bytes
    arrive. ``send`` calls from many threads never interleave. Every method is
    thread-safe.

    ``connect()`` reports failure by **raising** :class:`ProtocolConnectionError`
    (it never returns ``False``): the message names the port and says whether the
    device is missing, access was denied or the port is busy.

    When the device disappears (USB cable pulled, pseudo-terminal peer gone, socket
    peer closed), the loss is detected by the next ``read``, ``send`` or
    ``is_connected`` (Linux reports a hang-up at once; elsewhere the next I/O does):
    the port is closed, ``is_connected()`` turns ``False``, ``read()`` and ``send()``
    raise :class:`ProtocolConnectionError` describing the loss until the next
    ``connect()`` or ``disconnect()``, and ``on_connection_lost`` is called once.
    Calling ``connect()`` again reopens the device once it is back.

    Args:
        port: Device name (``"/dev/ttyUSB0"``, ``"/dev/cu.usbserial-1"``, ``"COM3"``)
            or a pyserial URL (``"loop://"``, ``"socket://host:port"``,
            ``"rfc2217://host:port"``).
        baudrate: Bits per second.
        timeout: Default seconds ``ReqResManager.read`` waits for data; ``None``
            leaves it to the caller. It never makes ``read()`` block.
        bytesize: Data bits: 5, 6, 7 or 8.
        parity: ``"N"``, ``"E"``, ``"O"``, ``"M"``, ``"S"`` or ``"none"``,
            ``"even"``, ``"odd"``, ``"mark"``, ``"space"``.
        stopbits: 1, 1.5 or 2.
        rtscts: RTS/CTS hardware flow control.
        dsrdtr: DSR/DTR hardware flow control.
        xonxoff: XON/XOFF software flow control (do not use with binary data).
        write_timeout: Seconds one ``send`` may take; ``None`` waits without limit.
        exclusive: Refuse to share the device: a second opener gets "port is busy"
            (POSIX advisory ``flock``; Windows ports are always exclusive).
        on_connection_lost: Called once, from the thread that noticed, with the
            error describing a lost device or link; exceptions it raises are logged.

    Raises:
        ProtocolConfigurationError: If any setting is invalid (checked here, before
            any device is touched).
    """

    protocol_name = "serial"

    def __init__(  # noqa: PLR0913 - keyword-only options, one per configuration key
        self,
        port: str | os.PathLike[str],
        baudrate: int = 9600,
        timeout: float | None = 1.0,
        *,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        rtscts: bool = False,
        dsrdtr: bool = False,
        xonxoff: bool = False,
        write_timeout: float | None = DEFAULT_WRITE_TIMEOUT,
        exclusive: bool = True,
        on_connection_lost: ConnectionLostCallback | None = None,
    ) -> None:
        self.settings = SerialSettings(
            port=port,  # type: ignore[arg-type]  # path-like is normalised by the settings
            baudrate=baudrate,
            timeout=timeout,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            rtscts=rtscts,
            dsrdtr=dsrdtr,
            xonxoff=xonxoff,
            write_timeout=write_timeout,
            exclusive=exclusive,
        )
        if on_connection_lost is not None and not callable(on_connection_lost):
            raise ProtocolConfigurationError(
                f"on_connection_lost must be callable or None, got {on_connection_lost!r}"
            )
        self.timeout = self.settings.timeout
        self._on_lost = on_connection_lost
        self._lock = threading.RLock()
        self._port: OpenPort | None = None
        self._lost: str | None = None

    @classmethod
    def url_kwargs(cls, url: ParsedURL) -> dict[str, Any]:
        """Map ``serial:///dev/ttyUSB0?baudrate=9600``, ``serial://COM3``, ``socket://h:p``
        or ``rfc2217://h:p`` to constructor arguments (see ``docs/urls.md``).

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

    @property
    def port(self) -> str:
        """The device name or URL this protocol opens."""
        return self.settings.port

    def __repr__(self) -> str:
        state = "lost" if self._lost else ("open" if self._port is not None else "closed")
        return f"SerialProtocol({self.port!r}, {self.settings.describe()}, {state})"

    # -- connection ----------------------------------------------------------

    def connect(self) -> bool:
        """Open the port; after a loss, reopen it.

        Returns:
            ``True`` (also when already connected).

        Raises:
            ProtocolConnectionError: If the port cannot be opened; the message names the
                port and the reason (no such device, permission denied, port is busy,
                not a serial device, connection refused).
            ProtocolConfigurationError: If the driver rejects a setting.
        """
        with self._lock:
            if self._port is not None and self._lost is None and not self._port.closed:
                return True
            self._release()
            self._port = OpenPort.open(self.settings, _device_names)
            logger.info("opened serial port %r (%s)", self.port, self.settings.describe())
            return True

    def disconnect(self) -> None:
        """Close the port and forget a loss. Does nothing if not connected."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        port, self._port, self._lost = self._port, None, None
        if port is not None:
            port.close()
            logger.info("closed serial port %r", self.port)

    def is_connected(self) -> bool:
        """Tell whether the port is open and the device is still there.

        Returns:
            ``True`` if connected.
        """
        port = self._port
        if port is None or self._lost is not None or port.closed:
            return False
        if port.hung_up():
            error = ProtocolConnectionError(
                f"serial port {self.port!r}: the device or peer hung up"
            )
            self._mark_lost(port, error)
            return False
        return True

    def _mark_lost(self, port: OpenPort, error: ProtocolConnectionError) -> None:
        """Record a loss of ``port`` once: close it, log it, call ``on_connection_lost``."""
        with self._lock:
            if self._port is not port or self._lost is not None:
                return
            self._lost = str(error)
        logger.warning("%s", error)
        port.close()
        callback = self._on_lost
        if callback is not None:
            try:
                callback(error)
            except Exception:
                logger.exception("on_connection_lost callback of %r raised", self)

    def _link_ready(self) -> bool:
        return self._port is not None and self._lost is None

    def _not_connected_error(self, operation: str) -> ProtocolError:
        lost = self._lost
        if lost is not None:
            return ProtocolConnectionError(f"{operation}: {lost}; call connect() again")
        return ProtocolNotConnectedError(
            f"{operation} on serial port {self.port!r} before connect() or after disconnect()"
        )

    # -- data ----------------------------------------------------------------

    def _send_raw(self, data: bytes) -> int:
        """Write all of ``data`` to the line; concurrent sends never interleave.

        ``send()`` raises :class:`~eq1_network.common.exceptions.ProtocolTimeoutError`
        if ``write_timeout`` passed first.
        """
        port = self._port
        if port is None:  # disconnect() ran since send() looked
            raise self._not_connected_error("send()")
        if not data:
            return 0
        try:
            return port.write(data)
        except ProtocolNotConnectedError as exc:
            lost = self._lost
            if lost is not None:  # another thread noticed the loss and closed the port
                raise ProtocolConnectionError(f"send(): {lost}; call connect() again") from exc
            raise
        except ProtocolConnectionError as exc:
            self._mark_lost(port, exc)
            raise

    def _read_raw(self) -> bytes | None:
        """Take the bytes waiting, without blocking.

        After a loss, ``read()`` raises
        :class:`~eq1_network.common.exceptions.ProtocolConnectionError` on every call
        until ``connect()`` or ``disconnect()``.
        """
        port = self._port
        if port is None:
            return None
        if self._lost is not None:
            raise ProtocolConnectionError(f"read(): {self._lost}; call connect() again")
        try:
            return port.read_available()
        except ProtocolConnectionError as exc:
            self._mark_lost(port, exc)
            raise

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        """Wait until data arrives, the link is lost, or ``timeout`` passes.

        On POSIX devices and ``socket://`` this is a ``select``/``poll`` on the
        descriptor; elsewhere a short blocking one-byte read (kept for the next
        ``read``). Either way it returns as soon as a byte arrives; a loss also
        returns ``True`` (``read`` then reports it).
        """
        port = self._port
        if port is None:
            return super()._wait_readable_raw(timeout)
        if self._lost is not None:
            return True
        try:
            return port.wait_readable(timeout)
        except ProtocolConnectionError as exc:
            self._mark_lost(port, exc)
            return True
