"""The simulated devices: the sans-I/O modem logic, and its runner on a pseudo-terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.protocols.serial.simulator import (
    EchoLogic,
    ModemLogic,
    Reply,
    SimulatedModem,
    Vanish,
    VirtualSerialDevice,
)
from eq1_network.testing import read_exactly


def data_of(actions: list[Reply | Vanish]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Reply))


def test_commands_end_with_cr_and_a_following_lf_is_ignored() -> None:
    logic = ModemLogic()
    assert logic.receive(b"A") == []
    assert data_of(logic.receive(b"T\r\n")) == b"\r\nOK\r\n"
    assert data_of(logic.receive(b"at+csq\r")) == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert logic.commands == ["AT", "at+csq"]
    assert data_of(logic.receive(b"\r")) == b""


def test_echo_repeats_the_command_line() -> None:
    logic = ModemLogic(echo=True)
    assert data_of(logic.receive(b"AT\r")) == b"AT\r\r\nOK\r\n"
    logic.receive(b"ATE0\r")
    assert logic.echo is False and data_of(logic.receive(b"AT\r")) == b"\r\nOK\r\n"


def test_slow_reply_is_delayed() -> None:
    actions = ModemLogic().receive(b"AT+SLOW=250\r")
    assert actions == [Reply(b"\r\n+SLOW: 250\r\n"), Reply(b"\r\nOK\r\n", delay=0.25)]


def test_prompt_payload_and_cancel() -> None:
    logic = ModemLogic()
    assert data_of(logic.receive(b'AT+CMGS="1"\r')) == b"\r\n> "
    assert logic.receive(b"he") == []
    assert data_of(logic.receive(b"llo\x1a")) == b"\r\n+CMGS: 5\r\n\r\nOK\r\n"
    assert logic.payloads == [b"hello"]
    logic.receive(b'AT+CMGS="1"\r')
    assert data_of(logic.receive(b"abc\x1b")) == b"\r\nOK\r\n"
    assert logic.payloads == [b"hello"]


def test_vanish_unknown_and_no_reply() -> None:
    logic = ModemLogic()
    assert logic.receive(b"AT+VANISH\r") == [Vanish()]
    assert logic.receive(b"AT+NOREPLY\r") == []
    assert data_of(logic.receive(b"AT+WHAT\r")) == b"\r\nERROR\r\n"
    assert logic.urc("RING") == b"\r\nRING\r\n"
    assert EchoLogic().receive(b"\x00\xff") == [Reply(b"\x00\xff")]


def test_overlong_command_is_cut() -> None:
    logic = ModemLogic()
    logic.receive(b"AT+ECHO=" + b"x" * 10000 + b"\r")
    assert len(logic.commands[0]) == 4096


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pseudo-terminals")
class TestDevice:
    def test_link_follows_the_device_across_vanish_and_reappear(self, tmp_path: Path) -> None:
        link = tmp_path / "dev"
        with SimulatedModem(link=link) as modem:
            first = os.readlink(link)
            assert modem.present and modem.path == str(link)
            modem.vanish()
            assert not link.exists() and not modem.present
            modem.reappear()
            assert link.exists() and os.readlink(link).startswith("/dev/")
            assert first.startswith("/dev/")
        assert not link.exists()

    def test_without_link_the_path_is_the_terminal(self) -> None:
        with VirtualSerialDevice(EchoLogic()) as device:
            assert device.path.startswith("/dev/")
            assert device.start() == device.path

    def test_bad_arguments(self, tmp_path: Path) -> None:
        with pytest.raises(ProtocolConfigurationError, match="either link or attach"):
            VirtualSerialDevice(EchoLogic(), link=tmp_path / "a", attach=tmp_path / "b")
        device = VirtualSerialDevice(EchoLogic(), attach=tmp_path / "b")
        with pytest.raises(ProtocolConfigurationError, match="created by the simulator"):
            device.vanish()
        device.close()

    def test_echo_device_with_pyserial(self) -> None:
        from eq1_network.protocols.serial.serial_protocol import SerialProtocol

        with VirtualSerialDevice(EchoLogic()) as device, SerialProtocol(device.path) as proto:
            payload = b"raw \x00\xff bytes"
            proto.send(payload)
            assert read_exactly(proto, len(payload), 20.0) == payload
            assert bytes(device.received) == payload
