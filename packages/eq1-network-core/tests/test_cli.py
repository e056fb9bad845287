"""The eq1-network command line."""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from typing import Any

import pytest

from eq1_network import ProtocolTimeoutError, __version__, cli, hookimpl
from eq1_network.demo import run_demo
from eq1_network.plugins import ProtocolRegistry


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"eq1-network {__version__}"


def test_plugins_lists_builtin_protocols(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plugins"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "KIND", "DISTRIBUTION", "VERSION", "SUMMARY"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert rows["loopback"][1:3] == ["reqres", "eq1-network-core"]
    assert rows["memory"][1:3] == ["pubsub", "eq1-network-core"]


def test_demo_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-v", "demo", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "read b'Hello Server!'" in out and "b'OK part=42'" in out and "demo OK" in out


def test_demo_result() -> None:
    result = run_demo(timeout=10)
    assert result.response == result.request == b"Hello Server!"
    assert (result.topic, result.message) == ("vision/cam1/result", b"OK part=42")


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "plugins" in capsys.readouterr().out


def test_protocol_errors_become_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_demo(timeout: float) -> Any:
        raise ProtocolTimeoutError("no reply")

    monkeypatch.setattr("eq1_network.demo.run_demo", failing_demo)
    assert cli.main(["demo"]) == 1
    assert "error: no reply" in capsys.readouterr().err


def test_plugins_add_sub_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = ProtocolRegistry(use_entry_points=False)
    module = types.ModuleType("cli_plugin")

    @hookimpl
    def eq1_network_add_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
        hello = subparsers.add_parser("hello")
        hello.set_defaults(handler=lambda args: 7)

    module.eq1_network_add_cli_commands = eq1_network_add_cli_commands  # type: ignore[attr-defined]
    broken = types.ModuleType("broken_cli_plugin")

    @hookimpl
    def eq1_network_add_cli_commands_broken(subparsers: Any) -> None:
        raise RuntimeError("cannot add")

    broken.eq1_network_add_cli_commands = eq1_network_add_cli_commands_broken  # type: ignore[attr-defined]
    pm = registry.plugin_manager()
    pm.register(module)
    pm.register(broken)
    monkeypatch.setattr(cli.ProtocolManager, "registry", registry)
    assert cli.main(["hello"]) == 7
    assert cli.main(["plugins"]) == 0


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eq1_network", "plugins"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "loopback" in done.stdout
