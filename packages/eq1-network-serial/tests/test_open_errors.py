"""connect() says which port failed and why: missing, permission denied, busy, not serial."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
import serial

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
)
from eq1_network.protocols.serial import _errors
from eq1_network.protocols.serial._errors import OpenFailure, classify
from eq1_network.protocols.serial.serial_protocol import SerialProtocol


def test_missing_device(tmp_path: Path) -> None:
    path = tmp_path / "ttyUSB9"
    proto = SerialProtocol(path)
    with pytest.raises(ProtocolConnectionError) as info:
        proto.connect()
    message = str(info.value)
    assert str(path) in message and "no such device" in message
    assert "ports found" in message or "no serial ports were found" in message
    assert proto.is_connected() is False
    assert isinstance(info.value, ConnectionError)


def test_regular_file_is_not_a_serial_device(posix: None, tmp_path: Path) -> None:
    path = tmp_path / "notatty"
    path.write_bytes(b"")
    with pytest.raises(ProtocolConnectionError, match="not a serial device") as info:
        SerialProtocol(path).connect()
    assert str(path) in str(info.value)


def test_directory_is_not_a_serial_device(posix: None, tmp_path: Path) -> None:
    with pytest.raises(ProtocolConnectionError, match="not a serial device"):
        SerialProtocol(tmp_path).connect()


def test_refused_socket_url() -> None:
    listener = __import__("socket").create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with pytest.raises(ProtocolConnectionError, match="connection refused") as info:
        SerialProtocol(f"socket://127.0.0.1:{port}").connect()
    assert f"127.0.0.1:{port}" in str(info.value)


class _FailingPort:
    """Stands in for a pyserial port whose open() fails as given."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.timeout: float | None = None

    def open(self) -> None:
        raise self.exc

    fileno = serial.Serial.fileno


@pytest.mark.parametrize(
    ("exc", "reason", "hint"),
    [
        (
            serial.SerialException(errno.EACCES, "could not open port: [Errno 13] denied"),
            "permission denied",
            "permissions",
        ),
        (
            serial.SerialException(errno.EBUSY, "could not open port: [Errno 16] busy"),
            "port is busy",
            "exclusive access",
        ),
        (
            serial.SerialException(
                "could not open port 'COM7': PermissionError(13, 'Access is denied.', None, 5)"
            ),
            "permission denied",
            "",
        ),
        (
            serial.SerialException(
                "could not open port 'COM9': FileNotFoundError(2, 'The system cannot find "
                "the file specified.', None, 2)"
            ),
            "no such device",
            "",
        ),
        (serial.SerialException("something odd"), "open failed", ""),
    ],
)
def test_open_failures_are_classified(
    monkeypatch: pytest.MonkeyPatch, exc: BaseException, reason: str, hint: str
) -> None:
    monkeypatch.setattr(serial, "serial_for_url", lambda *a, **k: _FailingPort(exc))
    monkeypatch.setattr(
        "eq1_network.protocols.serial.serial_protocol._device_names", lambda: ["COM1"]
    )
    with pytest.raises(ProtocolConnectionError) as info:
        SerialProtocol("COM7").connect()
    message = str(info.value)
    assert message.startswith(f"cannot open serial port 'COM7': {reason}")
    assert hint in message
    assert info.value.__cause__ is exc


def test_settings_the_driver_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        serial, "serial_for_url", lambda *a, **k: _FailingPort(ValueError("Invalid baud rate"))
    )
    with pytest.raises(ProtocolConfigurationError, match=r"rejected the settings 123 8N1"):
        SerialProtocol("/dev/ttyS0", 123).connect()


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (OSError(errno.ENOENT, "x"), OpenFailure.MISSING),
        (OSError(errno.ENXIO, "x"), OpenFailure.MISSING),
        (OSError(errno.EPERM, "x"), OpenFailure.PERMISSION),
        (OSError(errno.EAGAIN, "x"), OpenFailure.BUSY),
        (serial.SerialException("Could not exclusively lock port"), OpenFailure.BUSY),
        (serial.SerialException("(25, 'Inappropriate ioctl for device')"), OpenFailure.NOT_SERIAL),
        (
            serial.SerialException(f"[Errno {errno.EHOSTUNREACH}] No route to host"),
            OpenFailure.UNREACHABLE,
        ),
        (
            serial.SerialException("Could not open port socket://h:1: [WinError 10061] refused"),
            OpenFailure.REFUSED,
        ),
        (
            serial.SerialException("could not open port 'COM4': [WinError 32] in use"),
            OpenFailure.BUSY,
        ),
        (RuntimeError("?"), OpenFailure.OTHER),
    ],
)
def test_classify(exc: BaseException, reason: str) -> None:
    assert classify(exc) == reason


def test_missing_port_hint_survives_a_failing_port_listing() -> None:
    def broken() -> list[str]:
        raise OSError("no sysfs")

    error = _errors.open_error("/dev/x", OSError(errno.ENOENT, "gone"), broken)
    assert "no serial ports were found" in str(error)
    many: Any = lambda: [f"/dev/ttyS{i}" for i in range(12)]  # noqa: E731
    assert str(_errors.open_error("/dev/x", OSError(errno.ENOENT, "gone"), many)).endswith(
        "/dev/ttyS9, ..."
    )
