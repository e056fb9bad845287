"""Names and URL schemes of the first-party plugins say what to install when missing."""

from __future__ import annotations

import pytest

from eq1_network import ProtocolManager
from eq1_network.common.exceptions import ProtocolNotFoundError
from eq1_network.plugins import ProtocolRegistry


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch) -> ProtocolRegistry:
    """A registry that sees no installed plugin."""
    registry = ProtocolRegistry(use_entry_points=False)
    monkeypatch.setattr(ProtocolManager, "registry", registry)
    return registry


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("modbus://127.0.0.1:502", "modbus"),
        ("modbus+rtu:///dev/ttyUSB0", "modbus"),
        ("modbus+rtu+tcp://127.0.0.1:4001", "modbus"),
        ("udp://127.0.0.1:5000", "udp"),
        ("udp-listen://127.0.0.1:5000", "udp"),
    ],
)
def test_missing_scheme_names_the_extra(bare: ProtocolRegistry, url: str, extra: str) -> None:
    with pytest.raises(ProtocolNotFoundError, match=rf'pip install "eq1-network\[{extra}\]"'):
        bare.from_url(url)


@pytest.mark.parametrize(("name", "extra"), [("modbus-rtu", "modbus"), ("udp-server", "udp")])
def test_missing_name_names_the_extra(bare: ProtocolRegistry, name: str, extra: str) -> None:
    with pytest.raises(ProtocolNotFoundError, match=rf'pip install "eq1-network\[{extra}\]"'):
        bare.get_protocol(name)


def test_missing_modbus_command_names_the_extra(
    bare: ProtocolRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    from eq1_network.cli import main

    assert main(["modbus", "read", "modbus://127.0.0.1", "holding", "0"]) == 2
    err = capsys.readouterr().err
    assert "'modbus' command comes with eq1-network-modbus" in err
    assert 'pip install "eq1-network[modbus]"' in err
