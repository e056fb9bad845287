"""SerialProtocol passes the request/response contract over every kind of port it opens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eq1_network.common.exceptions import ProtocolTimeoutError
from eq1_network.protocols.serial.serial_protocol import SerialProtocol
from eq1_network.protocols.serial.simulator import EchoLogic, VirtualSerialDevice
from eq1_network.testing import ReqResContract, read_exactly


class ReadWhileSending:
    """Replaces the contract's "send 64 KiB, then read" for peers that hold less in flight.

    socat's pseudo-terminals plus their echo hold about 40 KiB (a real null-modem
    cable holds less still), so the payload is sent from a thread while the test reads.
    """

    timeout: float

    def test_round_trip_large_payload(self, protocol: SerialProtocol) -> None:
        assert protocol.connect() is True
        payload = bytes(i % 251 for i in range(64 * 1024))
        errors: list[BaseException] = []

        def send() -> None:
            try:
                protocol.send(payload)
            except BaseException as exc:
                errors.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        got = read_exactly(protocol, len(payload), self.timeout)
        sender.join(self.timeout)
        assert not sender.is_alive()
        assert not errors
        assert got == payload


class TestLoopUrl(ReqResContract):
    """``loop://``: pyserial's in-process loop-back (no descriptor: short-read waits)."""

    @pytest.fixture
    def protocol(self) -> Iterator[SerialProtocol]:
        proto = SerialProtocol("loop://", 115200, timeout=5)
        yield proto
        proto.disconnect()

    def test_round_trip_large_payload(self, protocol: SerialProtocol) -> None:
        # loop:// buffers at most 4096 bytes, so a sender with no reader fills it; the
        # contract's 64 KiB echo is replaced by the largest payload loop:// can hold.
        self.connected(protocol)
        payload = bytes(i % 251 for i in range(4096))
        assert self.echo(protocol, payload) == payload

    def test_overfilling_loop_times_out(self) -> None:
        proto = SerialProtocol("loop://", 115200, write_timeout=0.2)
        with proto:
            with pytest.raises(ProtocolTimeoutError, match="write_timeout"):
                proto.send(bytes(8192))


class TestOpenptyEcho(ReqResContract):
    """A pseudo-terminal from ``os.openpty()`` whose other end echoes (simulator thread)."""

    @pytest.fixture
    def protocol(self, posix: None, tmp_path: Path) -> Iterator[SerialProtocol]:
        device = VirtualSerialDevice(EchoLogic(), link=tmp_path / "echo")
        proto = SerialProtocol(device.start(), 115200, timeout=5)
        yield proto
        proto.disconnect()
        device.close()


class TestSocatPairEcho(ReadWhileSending, ReqResContract):
    """A socat null-modem pair; the echo device is attached to the far end."""

    @pytest.fixture
    def protocol(self, socat_pair: Any) -> Iterator[SerialProtocol]:
        a, b = socat_pair.links
        device = VirtualSerialDevice(EchoLogic(), attach=b)
        device.start()
        proto = SerialProtocol(a, 115200, timeout=5)
        yield proto
        proto.disconnect()
        device.close()


class TestSocatPipeEcho(ReadWhileSending, ReqResContract):
    """``socat pty,raw,echo=0 PIPE``: socat itself echoes, a peer written elsewhere."""

    @pytest.fixture
    def protocol(self, socat_echo: Any) -> Iterator[SerialProtocol]:
        proto = SerialProtocol(socat_echo.links[0], 115200, timeout=5)
        yield proto
        proto.disconnect()


class TestSocketUrl(ReqResContract):
    """``socket://127.0.0.1:port`` to a TCP echo server (descriptor: select waits)."""

    @pytest.fixture
    def protocol(self, tcp_echo: Any) -> Iterator[SerialProtocol]:
        proto = SerialProtocol(tcp_echo.url, timeout=5)
        yield proto
        proto.disconnect()


@pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")
class TestRfc2217Url(ReqResContract):
    """``rfc2217://127.0.0.1:port`` to pyserial's RFC 2217 port manager over ``loop://``."""

    @pytest.fixture
    def protocol(self, rfc2217_echo: Any) -> Iterator[SerialProtocol]:
        proto = SerialProtocol(rfc2217_echo.url, 115200, timeout=5)
        yield proto
        proto.disconnect()

    def test_line_settings_reach_the_server(self, rfc2217_echo: Any) -> None:
        proto = SerialProtocol(rfc2217_echo.url, 19200, parity="even", stopbits=2, timeout=5)
        with proto:
            proto.send(b"settings")
            assert read_exactly(proto, 8, self.timeout) == b"settings"
