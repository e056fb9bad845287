"""Every line setting is validated in the constructor, with a message naming the rule."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.protocols.serial.serial_protocol import SerialProtocol
from eq1_network.protocols.serial.settings import (
    STANDARD_BAUDRATES,
    SerialSettings,
    normalize_parity,
)

BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"baudrate": 0}, "baudrate must be between 1 and"),
    ({"baudrate": -9600}, "baudrate must be between 1 and"),
    ({"baudrate": 10**9}, "baudrate must be between 1 and"),
    ({"baudrate": "9600"}, "baudrate must be an int"),
    ({"baudrate": 9600.0}, "baudrate must be an int"),
    ({"baudrate": True}, "baudrate must be an int"),
    ({"bytesize": 9}, "bytesize must be one of 5, 6, 7, 8"),
    ({"bytesize": 4}, "bytesize must be one of 5, 6, 7, 8"),
    ({"bytesize": "8"}, "bytesize must be one of"),
    ({"parity": "X"}, "parity must be one of"),
    ({"parity": 0}, "parity must be one of"),
    ({"parity": "evenish"}, "parity must be one of"),
    ({"stopbits": 3}, "stopbits must be one of 1, 1.5, 2"),
    ({"stopbits": 0}, "stopbits must be one of"),
    ({"stopbits": True}, "stopbits must be one of"),
    ({"rtscts": "yes"}, "rtscts must be True or False"),
    ({"rtscts": 1}, "rtscts must be True or False"),
    ({"dsrdtr": None}, "dsrdtr must be True or False"),
    ({"xonxoff": "off"}, "xonxoff must be True or False"),
    ({"exclusive": 0}, "exclusive must be True or False"),
    ({"timeout": -1}, "timeout must be a finite, non-negative number"),
    ({"timeout": math.nan}, "timeout must be a finite"),
    ({"timeout": math.inf}, "timeout must be a finite"),
    ({"timeout": "1"}, "timeout must be a number of seconds"),
    ({"write_timeout": 0}, "write_timeout must be a finite, positive number"),
    ({"write_timeout": -0.5}, "write_timeout must be a finite, positive"),
    ({"write_timeout": "10"}, "write_timeout must be a number of seconds"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_SETTINGS)
def test_bad_line_setting_is_refused_before_any_device_is_touched(
    kwargs: dict[str, Any], message: str
) -> None:
    # The port does not exist: the error must be about the setting, not the device.
    with pytest.raises(ProtocolConfigurationError, match=message):
        SerialProtocol("/dev/eq1-no-such-device", **kwargs)


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("", "port must be a non-empty name"),
        ("  ", "port must be a non-empty name"),
        (" /dev/ttyUSB0", "without surrounding spaces"),
        ("/dev/tty\x00USB0", "must not contain NUL"),
        (None, "port must be a device name"),
        (3, "port must be a device name"),
        ("foo://bar", "unknown URL scheme 'foo'"),
        ("socket://127.0.0.1", r"must look like 'socket://host:port'"),
        ("socket://:7000", r"must look like 'socket://host:port'"),
        ("socket://127.0.0.1:notaport", r"must look like 'socket://host:port'"),
        ("rfc2217://127.0.0.1:70000", "port number 1-65535"),
    ],
)
def test_bad_port_is_refused(port: Any, message: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=message):
        SerialProtocol(port)


def test_bad_callback_is_refused() -> None:
    with pytest.raises(ProtocolConfigurationError, match="on_connection_lost must be callable"):
        SerialProtocol("loop://", on_connection_lost="print")  # type: ignore[arg-type]


def test_configuration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        SerialProtocol("loop://", bytesize=9)


@pytest.mark.parametrize(
    ("given", "letter"),
    [("N", "N"), ("e", "E"), ("odd", "O"), ("MARK", "M"), (" space ", "S"), ("None", "N")],
)
def test_parity_letters_and_names(given: str, letter: str) -> None:
    assert normalize_parity(given) == letter
    assert SerialProtocol("loop://", parity=given).settings.parity == letter


def test_defaults_follow_the_requirements_example() -> None:
    proto = SerialProtocol("COM1", 9600, timeout=1)
    assert proto.port == "COM1"
    assert proto.timeout == 1.0
    assert proto.settings.describe() == "9600 8N1"
    assert proto.is_connected() is False
    assert "COM1" in repr(proto) and "closed" in repr(proto)


def test_every_valid_combination_is_accepted(tmp_path: Path) -> None:
    for baudrate in STANDARD_BAUDRATES:
        assert SerialProtocol("loop://", baudrate).settings.baudrate == baudrate
    settings = SerialSettings(
        port=str(tmp_path / "tty"),
        baudrate=250000,
        timeout=None,
        bytesize=7,
        parity="even",
        stopbits=1.5,
        rtscts=True,
        dsrdtr=True,
        xonxoff=True,
        write_timeout=None,
        exclusive=False,
    )
    assert settings.describe() == "250000 7E1.5 rtscts+dsrdtr+xonxoff"
    assert settings.is_url is False and settings.scheme is None


def test_path_like_port_is_accepted(tmp_path: Path) -> None:
    assert SerialProtocol(tmp_path / "ttyX").port == str(tmp_path / "ttyX")


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("loop://", "loop"),
        ("LOOP://", "loop"),
        ("socket://127.0.0.1:7000", "socket"),
        ("rfc2217://127.0.0.1:2217?ign_set_control", "rfc2217"),
        ("spy://loop://", "spy"),
    ],
)
def test_pyserial_urls_are_accepted(url: str, scheme: str) -> None:
    settings = SerialProtocol(url).settings
    assert settings.is_url and settings.scheme == scheme
