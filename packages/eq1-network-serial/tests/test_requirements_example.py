"""The requirements document's serial scenario, word for word (port changed), against the modem.

The document imports ``ReqResManager`` from ``app``, its name for the package root;
that root is ``eq1_network`` today, so the test makes ``app`` an alias of it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import eq1_network
from eq1_network import ReqResManager
from eq1_network.protocols.serial.simulator import SimulatedModem

# "현재 구현된 Serial 예시" from the requirements document, unchanged.
REQUIREMENTS_EXAMPLE = """
from app import ReqResManager
from eq1_network.protocols.serial.serial_protocol import SerialProtocol

# 시리얼 프로토콜 설정
serial_protocol = SerialProtocol("COM1", 9600, timeout=1)
ReqResManager.register("serial", serial_protocol)

# 연결 및 통신
if ReqResManager.connect("serial"):
    result = ReqResManager.send("serial", b"AT\\r\\n")
    if result > 0:
        response = ReqResManager.read("serial")
        print(f"Response: {response.decode()}")
    ReqResManager.disconnect("serial")
"""

EXAMPLE_SCRIPT = Path(__file__).resolve().parents[3] / "examples" / "serial_example.py"


def test_requirements_example_verbatim(
    modem: SimulatedModem, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "app", eq1_network)
    code = REQUIREMENTS_EXAMPLE.replace('"COM1"', repr(modem.path))
    assert code.count(repr(modem.path)) == 1
    try:
        exec(compile(code, "requirements-serial-example", "exec"), {})
    finally:
        if "serial" in ReqResManager.names():
            ReqResManager.disconnect("serial")
            ReqResManager.unregister("serial")
    assert capsys.readouterr().out == "Response: \r\nOK\r\n\n"
    assert modem.logic.commands == ["AT"]


def test_requirements_example_with_a_missing_port_raises_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "app", eq1_network)
    code = REQUIREMENTS_EXAMPLE.replace('"COM1"', repr(str(tmp_path / "COM1")))
    try:
        with pytest.raises(eq1_network.ProtocolConnectionError, match="no such device"):
            exec(compile(code, "requirements-serial-example", "exec"), {})
    finally:
        ReqResManager.unregister("serial")


@pytest.mark.skipif(sys.platform == "win32", reason="the example's simulated modem needs a pty")
def test_example_script_starts_its_own_modem() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE_SCRIPT)], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert b"Response: \r\nOK\r\n" in done.stdout
    assert b"simulated modem on /dev/" in done.stdout


def test_example_script_reports_a_missing_port(tmp_path: Path) -> None:
    missing = str(tmp_path / "ttyNONE")
    done = subprocess.run(
        [sys.executable, str(EXAMPLE_SCRIPT), "--port", missing],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "no such device" in done.stderr and missing in done.stderr
