"""URLs of the serial protocol: serial:// devices, pyserial's socket:// and rfc2217://."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import eq1_network
from eq1_network import ProtocolConfigurationError
from eq1_network.protocols.serial import SerialProtocol

SECRET = "serial-Pa55word"
DEADLINE = 30.0


def _serial(url: str) -> SerialProtocol:
    proto = eq1_network.from_url(url)
    assert isinstance(proto, SerialProtocol) and not proto.is_connected()
    return proto


def test_device_path_and_line_settings() -> None:
    proto = _serial(
        "serial:///dev/ttyUSB0?baudrate=9600&parity=E&stopbits=1&bytesize=7&rtscts=true"
        "&timeout=250ms&write_timeout=none"
    )
    s = proto.settings
    assert (proto.port, s.baudrate, s.parity, s.stopbits, s.bytesize) == (
        "/dev/ttyUSB0",
        9600,
        "E",
        1,
        7,
    )
    assert (s.rtscts, s.timeout, s.write_timeout) == (True, 0.25, None)


def test_windows_port_name_keeps_its_case() -> None:
    proto = _serial("serial://COM3?baudrate=115200")
    assert (proto.port, proto.settings.baudrate) == ("COM3", 115200)


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("socket://127.0.0.1:7000?timeout=2", "socket://127.0.0.1:7000"),
        ("rfc2217://device.local:2217", "rfc2217://device.local:2217"),
        ("rfc2217://[::1]:2217", "rfc2217://[::1]:2217"),
    ],
)
def test_pyserial_network_urls_are_passed_as_the_port(url: str, port: str) -> None:
    assert _serial(url).port == port


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("serial://", "needs a device"),
        ("serial://dev/ttyUSB0", "three slashes"),
        ("serial://COM3:5", "takes no port number"),
        ("socket://127.0.0.1", "needs a host and a port"),
        ("serial:///dev/x?baud=9600", r"unknown parameter 'baud'; valid parameters: baudrate"),
        ("serial:///dev/x?baudrate=fast", r"parameter 'baudrate' must be int"),
        ("serial:///dev/x?parity=Q", "parity"),
        ("serial:///dev/x?port=COM1", "unknown parameter 'port'"),
        (f"socket://u:{SECRET}@127.0.0.1:7000", "takes no user name or password"),
    ],
)
def test_bad_serial_urls(url: str, message: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=message) as info:
        eq1_network.from_url(url)
    assert SECRET not in str(info.value)


@pytest.fixture
def echo_port() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(DEADLINE)
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(0.2)
            while not stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()
        thread.join(DEADLINE)


def test_socket_url_talks_to_a_peer(echo_port: int) -> None:
    proto = _serial(f"socket://127.0.0.1:{echo_port}?timeout=1")
    with proto:
        proto.send(b"AT\r\n")
        received = b""
        deadline = time.monotonic() + DEADLINE
        while received != b"AT\r\n" and time.monotonic() < deadline:
            proto.wait_readable(0.5)
            ok, data = proto.read()
            if ok and data:
                received += data
        assert received == b"AT\r\n"


def test_serial_schemes_are_registered() -> None:
    schemes = eq1_network.ProtocolManager.registry.schemes()
    assert {schemes[s].name for s in ("serial", "socket", "rfc2217")} == {"serial"}
    assert schemes["serial"].distribution == "eq1-network-serial"


DOCS = Path(__file__).resolve().parents[3] / "docs" / "urls.md"


def documented(schemes: tuple[str, ...]) -> list[str]:
    """The URLs of the docs/urls.md grammar table whose scheme is one of ``schemes``."""
    import re

    rows = re.findall(r"^\| `([a-z0-9+.\-]+://[^`]*)` \|", DOCS.read_text("utf-8"), re.MULTILINE)
    return [url for url in rows if url.partition("://")[0] in schemes]


SERIAL_TABLE: dict[str, dict[str, object]] = {
    "serial:///dev/ttyUSB0?baudrate=9600&parity=E&stopbits=1": {
        "port": "/dev/ttyUSB0",
        "settings.baudrate": 9600,
        "settings.parity": "E",
        "settings.stopbits": 1,
    },
    "serial://COM3?baudrate=115200": {"port": "COM3", "settings.baudrate": 115200},
    "socket://127.0.0.1:7000": {"port": "socket://127.0.0.1:7000"},
    "rfc2217://127.0.0.1:2217": {"port": "rfc2217://127.0.0.1:2217"},
}


def test_every_documented_serial_url_round_trips() -> None:
    assert sorted(documented(("serial", "socket", "rfc2217"))) == sorted(SERIAL_TABLE)
    for url, attributes in SERIAL_TABLE.items():
        proto = _serial(url)
        found = {}
        for dotted in attributes:
            value: object = proto
            for part in dotted.split("."):
                value = getattr(value, part)
            found[dotted] = value
        assert found == attributes, url
