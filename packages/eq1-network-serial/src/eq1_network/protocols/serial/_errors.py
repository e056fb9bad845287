"""Translation of pyserial and OS errors into the EQ-1 Network exception hierarchy.

pyserial reports almost everything as ``SerialException``, sometimes with an
``errno`` and sometimes with the number only inside the message (URL handlers,
Windows). :func:`classify` recovers the reason once, here, so the protocol
raises :class:`~eq1_network.common.exceptions.ProtocolConnectionError` with a
message that says what went wrong and what to try.
"""

from __future__ import annotations

import errno
import re
import sys
from collections.abc import Callable
from typing import Final

from eq1_network.common.exceptions import ProtocolConnectionError

__all__ = ["OpenFailure", "classify", "open_error"]

_ERRNO_IN_TEXT: Final = re.compile(r"\[Errno (\d+)\]|\((\d+), '")
_WINERROR_IN_TEXT: Final = re.compile(r"\[WinError (\d+)\]")


class OpenFailure:
    """Names of the reasons an open can fail, as used in messages and tests."""

    MISSING: Final = "no such device"
    PERMISSION: Final = "permission denied"
    BUSY: Final = "port is busy"
    NOT_SERIAL: Final = "not a serial device"
    REFUSED: Final = "connection refused"
    UNREACHABLE: Final = "host unreachable or timed out"
    OTHER: Final = "open failed"


_BY_ERRNO: Final = {
    errno.ENOENT: OpenFailure.MISSING,
    errno.ENODEV: OpenFailure.MISSING,
    errno.ENXIO: OpenFailure.MISSING,
    errno.EACCES: OpenFailure.PERMISSION,
    errno.EPERM: OpenFailure.PERMISSION,
    errno.EBUSY: OpenFailure.BUSY,
    errno.EAGAIN: OpenFailure.BUSY,
    errno.EWOULDBLOCK: OpenFailure.BUSY,
    errno.EISDIR: OpenFailure.NOT_SERIAL,
    errno.ENOTTY: OpenFailure.NOT_SERIAL,
    errno.ECONNREFUSED: OpenFailure.REFUSED,
    errno.EHOSTUNREACH: OpenFailure.UNREACHABLE,
    errno.ENETUNREACH: OpenFailure.UNREACHABLE,
    errno.ETIMEDOUT: OpenFailure.UNREACHABLE,
}


_BY_WINERROR: Final = {
    2: OpenFailure.MISSING,  # ERROR_FILE_NOT_FOUND
    3: OpenFailure.MISSING,  # ERROR_PATH_NOT_FOUND
    5: OpenFailure.PERMISSION,  # ERROR_ACCESS_DENIED (also: port in use)
    32: OpenFailure.BUSY,  # ERROR_SHARING_VIOLATION
    10051: OpenFailure.UNREACHABLE,  # WSAENETUNREACH
    10060: OpenFailure.UNREACHABLE,  # WSAETIMEDOUT
    10061: OpenFailure.REFUSED,  # WSAECONNREFUSED
    10065: OpenFailure.UNREACHABLE,  # WSAEHOSTUNREACH
}


def _winerror_of(exc: BaseException) -> int | None:
    number = getattr(exc, "winerror", None)
    if isinstance(number, int):
        return number
    match = _WINERROR_IN_TEXT.search(str(exc))
    return int(match.group(1)) if match else None


def _errno_of(exc: BaseException) -> int | None:
    number = getattr(exc, "errno", None)
    if isinstance(number, int):
        return number
    match = _ERRNO_IN_TEXT.search(str(exc))
    if match:
        return int(match.group(1) or match.group(2))
    return None


def classify(exc: BaseException) -> str:
    """Return the :class:`OpenFailure` reason behind an exception raised by an open.

    Args:
        exc: What pyserial (or the OS) raised.

    Returns:
        One of the :class:`OpenFailure` strings.
    """
    winerror = _winerror_of(exc)
    if winerror is not None and winerror in _BY_WINERROR:
        return _BY_WINERROR[winerror]
    number = _errno_of(exc)
    if number is not None and number in _BY_ERRNO:
        return _BY_ERRNO[number]
    text = str(exc).lower()
    if "could not exclusively lock" in text:
        return OpenFailure.BUSY
    if "inappropriate ioctl" in text:
        return OpenFailure.NOT_SERIAL
    return OpenFailure.OTHER


def _hint(reason: str, available: Callable[[], list[str]]) -> str:
    if reason == OpenFailure.MISSING:
        try:
            names = available()
        except Exception:  # noqa: BLE001 - the hint is optional; the error is what matters
            names = []
        found = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        return f"; ports found: {found}" if names else "; no serial ports were found"
    if reason == OpenFailure.PERMISSION:
        if sys.platform == "win32":
            return "; on Windows this usually means another program has the port open"
        return "; check the device's permissions (on Linux, membership of the 'dialout' group)"
    if reason == OpenFailure.BUSY:
        return "; another program or another SerialProtocol holds it (exclusive access)"
    return ""


def open_error(
    port: str, exc: BaseException, available: Callable[[], list[str]]
) -> ProtocolConnectionError:
    """Build the error raised when ``port`` cannot be opened.

    Args:
        port: The device name or URL.
        exc: The exception pyserial raised.
        available: Returns the device names present now; used to help with a
            missing device.

    Returns:
        A :class:`ProtocolConnectionError` whose message names the port, the reason
        and a hint; the caller raises it ``from exc``.
    """
    reason = classify(exc)
    return ProtocolConnectionError(
        f"cannot open serial port {port!r}: {reason} ({exc}){_hint(reason, available)}"
    )
