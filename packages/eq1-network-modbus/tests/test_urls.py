"""Modbus URLs: every row of the docs/urls.md table, and the errors of bad ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import eq1_network
from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.protocols.modbus import (
    ModbusASCIIProtocol,
    ModbusProtocol,
    ModbusRTUOverTCPProtocol,
    ModbusRTUProtocol,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "urls.md"

EXPECTED: dict[str, tuple[type, dict[str, object]]] = {
    "modbus://192.168.0.10:502?unit=1": (
        ModbusProtocol,
        {"host": "192.168.0.10", "port": 502, "unit": 1},
    ),
    "modbus://plc:502?unit=3&max_outstanding=8&timeout=0.5": (
        ModbusProtocol,
        {"host": "plc", "unit": 3, "max_outstanding": 8, "timeout": 0.5},
    ),
    "modbus+rtu:///dev/ttyUSB0?baudrate=19200&parity=E&unit=1": (
        ModbusRTUProtocol,
        {"port": "/dev/ttyUSB0", "baudrate": 19200, "unit": 1},
    ),
    "modbus+ascii://COM3?baudrate=9600&bytesize=7&parity=E": (
        ModbusASCIIProtocol,
        {"port": "COM3", "baudrate": 9600, "unit": 1},
    ),
    "modbus+rtu+tcp://10.0.0.7:4001?unit=5": (
        ModbusRTUOverTCPProtocol,
        {"host": "10.0.0.7", "port": 4001, "unit": 5},
    ),
}


def documented() -> list[str]:
    rows = re.findall(r"^\| `([a-z0-9+.\-]+://[^`]*)` \|", DOCS.read_text("utf-8"), re.MULTILINE)
    return [url for url in rows if url.startswith("modbus")]


def test_every_documented_modbus_url_builds_its_client() -> None:
    assert sorted(documented()) == sorted(EXPECTED)
    for url, (kind, attributes) in EXPECTED.items():
        proto = eq1_network.from_url(url)
        assert type(proto) is kind, url
        assert {name: getattr(proto, name) for name in attributes} == attributes, url
        assert not proto.is_connected()


def test_default_port_and_tcp_alias() -> None:
    proto = eq1_network.from_url("modbus+tcp://127.0.0.1")
    assert isinstance(proto, ModbusProtocol)
    assert (proto.port, proto.unit, proto.transaction_ids) == (502, 1, "strict")


def test_serial_line_settings_reach_the_port() -> None:
    proto = eq1_network.from_url("modbus+rtu:///dev/ttyS9?baudrate=9600&parity=E&stopbits=2")
    assert isinstance(proto, ModbusRTUProtocol)
    assert "9600 8E2" in repr(proto.link)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("modbus://127.0.0.1?unti=1", "unti"),
        ("modbus://127.0.0.1?unit=300", "unit=300"),
        ("modbus://127.0.0.1?max_outstanding=0", "max_outstanding"),
        ("modbus://127.0.0.1?transaction_ids=loose", "transaction_ids"),
        ("modbus+rtu://", "device"),
        ("modbus+rtu:///dev/ttyS0?unit=x", "unit"),
    ],
)
def test_bad_urls_name_the_parameter(url: str, message: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=message):
        eq1_network.from_url(url)
