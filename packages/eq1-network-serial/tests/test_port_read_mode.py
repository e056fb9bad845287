"""The port adapter keeps VMIN=1 on its descriptor across reconfigurations."""

from __future__ import annotations

import time
from typing import Any

import pytest

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolNotConnectedError
from eq1_network.protocols.serial._port import OpenPort
from eq1_network.protocols.serial.settings import SerialSettings

DEADLINE = 20.0


def _vmin(port: OpenPort) -> int:
    import termios

    cc = termios.tcgetattr(port._fd)[6]
    return int(cc[termios.VMIN])


def _receive(port: OpenPort, size: int) -> bytes:
    data = b""
    deadline = time.monotonic() + DEADLINE
    while len(data) < size and time.monotonic() < deadline:
        port.wait_readable(0.5)
        data += port.read_available()
    return data


@pytest.fixture
def open_pair(socat_pair: Any) -> Any:
    a, b = socat_pair.links
    ports = [OpenPort.open(SerialSettings(port=str(link)), list) for link in (a, b)]
    yield ports
    for port in ports:
        port.close()


def test_vmin_is_set_again_after_every_reconfiguration(open_pair: Any) -> None:
    port, peer = open_pair
    if not port._direct_read:
        pytest.skip("the descriptor read mode is used on Linux only")
    assert _vmin(port) == 1
    port._serial.baudrate = 19200  # what a pyserial setting does on its own
    assert _vmin(port) == 0
    port.reconfigure(baudrate=38400, xonxoff=True)
    assert _vmin(port) == 1
    assert (port._serial.baudrate, port._serial.xonxoff) == (38400, True)
    assert port.read_available() == b""  # idle: EAGAIN, not a hang-up
    peer.write(b"after")
    assert _receive(port, 5) == b"after"


def test_reconfigure_reports_a_refused_value_and_keeps_the_read_mode(open_pair: Any) -> None:
    port, _ = open_pair
    with pytest.raises(ProtocolConfigurationError, match="bytesize=3"):
        port.reconfigure(bytesize=3)
    with pytest.raises(ProtocolConfigurationError, match="parity='E'"):
        port.reconfigure(parity="E")  # pseudo-terminals refuse parity
    with pytest.raises(ProtocolConfigurationError, match="no setting 'speed'"):
        port.reconfigure(speed=9600)
    if port._direct_read:
        assert _vmin(port) == 1
    port.close()
    with pytest.raises(ProtocolNotConnectedError):
        port.reconfigure(baudrate=9600)
