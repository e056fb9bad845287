"""A device that disappears is detected and reported, and is reopened when it returns."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from eq1_network import ReqResManager
from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
)
from eq1_network.protocols.serial.at import AtClient
from eq1_network.protocols.serial.serial_protocol import SerialProtocol
from eq1_network.protocols.serial.simulator import EchoLogic, SimulatedModem, VirtualSerialDevice
from eq1_network.testing import read_exactly

TIMEOUT = 20.0
LINUX = sys.platform.startswith("linux")


def detect_loss(proto: SerialProtocol) -> ProtocolConnectionError:
    """Wait for the loss the portable way: a readiness wait, then the read that reports it."""
    assert proto.wait_readable(TIMEOUT) is True
    with pytest.raises(ProtocolConnectionError) as info:
        proto.read()
    assert not isinstance(info.value, ProtocolNotConnectedError)
    return info.value


def test_unplugged_modem_is_detected_reported_and_reopened(modem: SimulatedModem) -> None:
    lost: list[ProtocolConnectionError] = []
    proto = SerialProtocol(modem.path, 115200, on_connection_lost=lost.append)
    proto.connect()
    assert AtClient(proto, timeout=TIMEOUT).command("AT").ok

    modem.vanish()
    if LINUX:  # Linux reports the hang-up at once, without any I/O
        assert proto.is_connected() is False
    error = detect_loss(proto)
    assert modem.path in str(error)
    assert proto.is_connected() is False
    assert "lost" in repr(proto)
    assert len(lost) == 1 and modem.path in str(lost[0])

    with pytest.raises(ProtocolConnectionError, match="call connect"):
        proto.read()
    with pytest.raises(ProtocolConnectionError, match="call connect") as info:
        proto.send(b"AT\r")
    assert not isinstance(info.value, ProtocolNotConnectedError)
    assert proto.wait_readable(TIMEOUT) is True  # at once: read() has news

    with pytest.raises(ProtocolConnectionError, match="no such device"):
        proto.connect()

    modem.reappear()
    assert proto.connect() is True
    assert proto.is_connected() is True
    assert AtClient(proto, timeout=TIMEOUT).command("AT+CSQ").values("+CSQ") == ["20,99"]
    assert len(lost) == 1
    proto.disconnect()


def test_disconnect_after_a_loss_clears_it(modem: SimulatedModem) -> None:
    proto = SerialProtocol(modem.path)
    proto.connect()
    modem.vanish()
    detect_loss(proto)
    proto.disconnect()
    assert proto.read() == (False, None)
    with pytest.raises(ProtocolNotConnectedError):
        proto.send(b"x")


def test_vanishing_in_the_middle_of_a_command(modem: SimulatedModem) -> None:
    with SerialProtocol(modem.path) as proto:
        at = AtClient(proto, timeout=TIMEOUT * 3)
        with pytest.raises(ProtocolConnectionError):
            at.command("AT+VANISH")
        assert proto.is_connected() is False
        modem.reappear()
        proto.connect()
        # The same client goes on after the reconnection: nothing stale is waited for.
        assert at.command("AT").ok


def test_a_reader_waiting_in_the_manager_gets_the_loss_not_a_timeout(
    modem: SimulatedModem,
) -> None:
    manager = ReqResManager.isolated()
    manager.register("modem", SerialProtocol(modem.path))
    manager.connect("modem")
    outcome: list[BaseException] = []
    waiting = threading.Event()

    def reader() -> None:
        waiting.set()
        try:
            manager.read("modem", timeout=TIMEOUT * 3)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    assert waiting.wait(TIMEOUT)
    modem.vanish()
    thread.join(TIMEOUT * 2)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], ProtocolConnectionError)
    assert not isinstance(outcome[0], ProtocolTimeoutError)
    manager.disconnect("modem")


def test_a_failing_loss_callback_is_logged(
    modem: SimulatedModem, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(error: ProtocolConnectionError) -> None:
        raise RuntimeError("callback bug")

    proto = SerialProtocol(modem.path, on_connection_lost=broken)
    proto.connect()
    modem.vanish()
    detect_loss(proto)
    assert "on_connection_lost callback" in caplog.text and "callback bug" in caplog.text


def test_socat_pair_disappears_and_comes_back(socat_pair: Any) -> None:
    a, b = socat_pair.links
    echo = VirtualSerialDevice(EchoLogic(), attach=b)
    echo.start()
    proto = SerialProtocol(a, 115200, timeout=TIMEOUT)
    proto.connect()
    proto.send(b"before")
    assert read_exactly(proto, 6, TIMEOUT) == b"before"

    socat_pair.stop()
    detect_loss(proto)
    assert proto.is_connected() is False
    echo.close()
    with pytest.raises(ProtocolConnectionError, match="no such device"):
        proto.connect()

    socat_pair.start()
    echo = VirtualSerialDevice(EchoLogic(), attach=b)
    echo.start()
    assert proto.connect() is True
    proto.send(b"after")
    assert read_exactly(proto, 5, TIMEOUT) == b"after"
    proto.disconnect()
    echo.close()


def test_socket_peer_going_away_is_a_loss(tcp_echo: Any) -> None:
    lost: list[ProtocolConnectionError] = []
    proto = SerialProtocol(tcp_echo.url, on_connection_lost=lost.append)
    proto.connect()
    proto.send(b"ping")
    assert read_exactly(proto, 4, TIMEOUT) == b"ping"
    tcp_echo.drop_clients()
    detect_loss(proto)
    assert len(lost) == 1 and proto.is_connected() is False
    assert proto.connect() is True
    proto.send(b"again")
    assert read_exactly(proto, 5, TIMEOUT) == b"again"
    proto.disconnect()


def test_sending_to_a_vanished_device_raises(modem: SimulatedModem) -> None:
    proto = SerialProtocol(modem.path)
    proto.connect()
    modem.vanish()
    with pytest.raises(ProtocolConnectionError):
        for _ in range(100):  # the first write may still land in a kernel buffer
            proto.send(b"AT\r")
    assert proto.is_connected() is False
    proto.disconnect()
