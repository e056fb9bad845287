"""Line settings of a serial port, validated up front.

:class:`SerialSettings` is a frozen value object: every argument of
:class:`~eq1_network.protocols.serial.serial_protocol.SerialProtocol` that
describes the line is checked here, before any device is touched, and a bad
value raises :class:`~eq1_network.common.exceptions.ProtocolConfigurationError`
naming the parameter and the rule.

This module does not import pyserial.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from dataclasses import dataclass
from typing import Final

from eq1_network.common.exceptions import ProtocolConfigurationError

__all__ = [
    "BYTESIZES",
    "DEFAULT_WRITE_TIMEOUT",
    "PARITIES",
    "STANDARD_BAUDRATES",
    "STOPBITS",
    "URL_SCHEMES",
    "SerialSettings",
    "normalize_parity",
]

STANDARD_BAUDRATES: Final = (
    50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400,
    57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000,
    2000000, 2500000, 3000000, 3500000, 4000000,
)  # fmt: skip
"""Rates every POSIX pyserial backend knows by name; others need OS support for custom rates."""

BYTESIZES: Final = (5, 6, 7, 8)
"""Accepted data bits per character."""

STOPBITS: Final = (1, 1.5, 2)
"""Accepted stop bits."""

PARITIES: Final = {"N": "none", "E": "even", "O": "odd", "M": "mark", "S": "space"}
"""Parity letters (pyserial's constants) and their names; either form is accepted."""

URL_SCHEMES: Final = ("loop", "socket", "rfc2217", "spy", "alt", "hwgrep", "cp2110")
"""pyserial URL handlers accepted in ``port`` (``loop://``, ``socket://host:port``, ...)."""

_NETWORK_SCHEMES: Final = ("socket", "rfc2217")

MAX_BAUDRATE: Final = 50_000_000
"""Upper bound of ``baudrate``; larger values are certainly typos."""

DEFAULT_WRITE_TIMEOUT: Final = 10.0
"""Seconds ``send`` may take before it fails, unless ``write_timeout`` says otherwise."""

_PARITY_BY_NAME: Final = {name: letter for letter, name in PARITIES.items()}


def normalize_parity(parity: object) -> str:
    """Return pyserial's one-letter parity constant for ``parity``.

    Args:
        parity: ``"N"``, ``"E"``, ``"O"``, ``"M"``, ``"S"`` or the names ``"none"``,
            ``"even"``, ``"odd"``, ``"mark"``, ``"space"`` (any case).

    Returns:
        The letter.

    Raises:
        ProtocolConfigurationError: If ``parity`` is not one of those.
    """
    if isinstance(parity, str):
        text = parity.strip()
        if text.upper() in PARITIES:
            return text.upper()
        if text.lower() in _PARITY_BY_NAME:
            return _PARITY_BY_NAME[text.lower()]
    choices = ", ".join(f"{k!r} ({v})" for k, v in PARITIES.items())
    raise ProtocolConfigurationError(f"parity must be one of {choices}; got {parity!r}")


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ProtocolConfigurationError(
            f"{name} must be True or False, got {value!r} ({type(value).__name__})"
        )
    return value


def _check_seconds(name: str, value: object, *, allow_none: bool, allow_zero: bool) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise ProtocolConfigurationError(f"{name} must be a number of seconds, got None")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolConfigurationError(
            f"{name} must be a number of seconds, got {value!r} ({type(value).__name__})"
        )
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        rule = "non-negative" if allow_zero else "positive"
        raise ProtocolConfigurationError(f"{name} must be a finite, {rule} number, got {value!r}")
    return seconds


def _check_port(port: object) -> str:
    if isinstance(port, os.PathLike):
        port = os.fspath(port)
    if not isinstance(port, str):
        raise ProtocolConfigurationError(
            "port must be a device name such as '/dev/ttyUSB0' or 'COM3', or a pyserial URL "
            f"such as 'loop://'; got {port!r} ({type(port).__name__})"
        )
    if not port.strip() or port != port.strip():
        raise ProtocolConfigurationError(
            f"port must be a non-empty name without surrounding spaces, got {port!r}"
        )
    if "\x00" in port:
        raise ProtocolConfigurationError(f"port must not contain NUL characters, got {port!r}")
    if "://" in port:
        _check_url(port)
    return port


def _check_url(url: str) -> None:
    scheme = url.split("://", 1)[0].lower()
    if scheme not in URL_SCHEMES:
        raise ProtocolConfigurationError(
            f"port {url!r}: unknown URL scheme {scheme!r}; supported: "
            + ", ".join(f"{s}://" for s in URL_SCHEMES)
        )
    if scheme not in _NETWORK_SCHEMES:
        return
    parts = urllib.parse.urlsplit(url)
    try:
        number = parts.port
    except ValueError:
        number = None
    if not parts.hostname or number is None or not 0 < number < 65536:
        raise ProtocolConfigurationError(
            f"port {url!r} must look like '{scheme}://host:port' with a port number 1-65535"
        )


def _check_baudrate(baudrate: object) -> int:
    if isinstance(baudrate, bool) or not isinstance(baudrate, int):
        raise ProtocolConfigurationError(
            f"baudrate must be an int such as 9600 or 115200, got {baudrate!r} "
            f"({type(baudrate).__name__})"
        )
    if not 0 < baudrate <= MAX_BAUDRATE:
        raise ProtocolConfigurationError(
            f"baudrate must be between 1 and {MAX_BAUDRATE}, got {baudrate}"
        )
    return baudrate


def _check_choice(name: str, value: object, choices: tuple[float, ...]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in choices:
        allowed = ", ".join(str(c) for c in choices)
        raise ProtocolConfigurationError(f"{name} must be one of {allowed}; got {value!r}")


@dataclass(frozen=True)
class SerialSettings:
    """Validated settings of one serial line.

    Args:
        port: Device name (``"/dev/ttyUSB0"``, ``"COM3"``, a path-like object) or a
            pyserial URL (``"loop://"``, ``"socket://host:port"``,
            ``"rfc2217://host:port"``; see :data:`URL_SCHEMES`).
        baudrate: Bits per second, a positive int (see :data:`STANDARD_BAUDRATES`).
        timeout: Default seconds a manager waits for data (``ReqResManager.read``);
            ``None`` lets the caller decide. Reads themselves never block.
        bytesize: Data bits, one of 5, 6, 7, 8.
        parity: One of ``"N"``, ``"E"``, ``"O"``, ``"M"``, ``"S"`` or their names.
        stopbits: One of 1, 1.5, 2.
        rtscts: RTS/CTS hardware flow control.
        dsrdtr: DSR/DTR hardware flow control.
        xonxoff: XON/XOFF software flow control.
        write_timeout: Seconds a ``send`` may take before it fails; ``None`` waits
            without limit (only sensible with flow control you trust).
        exclusive: Lock the device so a second opener fails as busy (POSIX ``flock``;
            Windows ports are always exclusive).

    Raises:
        ProtocolConfigurationError: If any value is invalid; the message names the
            parameter and the rule.
    """

    port: str
    baudrate: int = 9600
    timeout: float | None = 1.0
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    rtscts: bool = False
    dsrdtr: bool = False
    xonxoff: bool = False
    write_timeout: float | None = DEFAULT_WRITE_TIMEOUT
    exclusive: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "port", _check_port(self.port))
        _check_baudrate(self.baudrate)
        set_(
            self,
            "timeout",
            _check_seconds("timeout", self.timeout, allow_none=True, allow_zero=True),
        )
        _check_choice("bytesize", self.bytesize, BYTESIZES)
        set_(self, "parity", normalize_parity(self.parity))
        _check_choice("stopbits", self.stopbits, STOPBITS)
        for name in ("rtscts", "dsrdtr", "xonxoff", "exclusive"):
            _check_bool(name, getattr(self, name))
        set_(
            self,
            "write_timeout",
            _check_seconds("write_timeout", self.write_timeout, allow_none=True, allow_zero=False),
        )

    @property
    def is_url(self) -> bool:
        """Whether ``port`` is a pyserial URL rather than a device name."""
        return "://" in self.port

    @property
    def scheme(self) -> str | None:
        """The URL scheme of ``port`` in lowercase, or ``None`` for a device name."""
        return self.port.split("://", 1)[0].lower() if self.is_url else None

    def describe(self) -> str:
        """Return the line settings in the usual short form, e.g. ``"9600 8N1"``.

        Returns:
            Baud rate, data bits, parity letter and stop bits, plus flow control.
        """
        stop = "1.5" if self.stopbits == 1.5 else str(int(self.stopbits))
        flow = [n for n in ("rtscts", "dsrdtr", "xonxoff") if getattr(self, n)]
        extra = f" {'+'.join(flow)}" if flow else ""
        return f"{self.baudrate} {self.bytesize}{self.parity}{stop}{extra}"
