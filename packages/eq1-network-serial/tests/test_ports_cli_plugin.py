"""Port discovery, the ``serial-ports`` command and the plugin registration."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from argparse import Namespace

import pytest
from serial.tools import list_ports as pyserial_list_ports
from serial.tools.list_ports_common import ListPortInfo

from eq1_network import ProtocolManager, get_protocol
from eq1_network.cli import main
from eq1_network.common.exceptions import ProtocolValidationError
from eq1_network.interfaces.protocol import ProtocolKind
from eq1_network.protocols.serial.cli import run_serial_ports
from eq1_network.protocols.serial.ports import PortInfo, list_ports
from eq1_network.protocols.serial.serial_protocol import SerialProtocol


def fake_port(device: str, description: str, hwid: str, vid: int | None = None) -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.description = description
    info.hwid = hwid
    info.vid = vid
    info.pid = 0x6001 if vid else None
    info.serial_number = "A50285BI" if vid else None
    return info


@pytest.fixture
def fake_ports(monkeypatch: pytest.MonkeyPatch) -> list[ListPortInfo]:
    ports = [
        fake_port("/dev/ttyUSB0", "FT232R USB UART", "USB VID:PID=0403:6001 SER=A50285BI", 0x0403),
        fake_port("/dev/ttyS0", "ttyS0", "PNP0501"),
    ]
    seen: list[bool] = []

    def comports(include_links: bool = False) -> list[ListPortInfo]:
        seen.append(include_links)
        return list(ports)

    monkeypatch.setattr(pyserial_list_ports, "comports", comports)
    return ports


def test_list_ports_wraps_pyserial(fake_ports: list[ListPortInfo]) -> None:
    found = list_ports()
    assert [p.device for p in found] == ["/dev/ttyS0", "/dev/ttyUSB0"]
    usb = found[1]
    assert usb == PortInfo(
        device="/dev/ttyUSB0",
        name="ttyUSB0",
        description="FT232R USB UART",
        hwid="USB VID:PID=0403:6001 SER=A50285BI",
        vid=0x0403,
        pid=0x6001,
        serial_number="A50285BI",
    )
    assert usb.as_dict()["hwid"].startswith("USB VID:PID=0403:6001")


def test_list_ports_filters_by_pattern(fake_ports: list[ListPortInfo]) -> None:
    assert [p.device for p in list_ports(pattern="0403:6001")] == ["/dev/ttyUSB0"]
    assert [p.device for p in list_ports(pattern="ft232")] == ["/dev/ttyUSB0"]
    assert list_ports(pattern="nothing-like-this") == []
    with pytest.raises(ProtocolValidationError, match="pattern must be a regular expression"):
        list_ports(pattern="(")


def test_list_ports_on_this_machine_returns_port_infos() -> None:
    found = list_ports(include_links=True)
    assert all(isinstance(p, PortInfo) and p.device and p.hwid for p in found)


def test_cli_table(fake_ports: list[ListPortInfo], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serial-ports"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["DEVICE", "DESCRIPTION", "HWID"]
    assert lines[2].startswith("/dev/ttyUSB0") and "FT232R USB UART" in lines[2]
    assert lines[2].endswith("USB VID:PID=0403:6001 SER=A50285BI")


def test_cli_json_and_grep(
    fake_ports: list[ListPortInfo], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serial-ports", "--json", "--all", "--grep", "usb"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["device"] == "/dev/ttyUSB0" and entry["vid"] == 0x0403


def test_cli_reports_a_bad_pattern(
    fake_ports: list[ListPortInfo], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serial-ports", "--grep", "("]) == 1
    assert "pattern must be a regular expression" in capsys.readouterr().err


def test_cli_without_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyserial_list_ports, "comports", lambda include_links=False: [])
    out = io.StringIO()
    assert run_serial_ports(Namespace(json=False, include_links=False, grep=None), out) == 0
    assert out.getvalue() == "no serial ports found\n"


def test_cli_runs_as_a_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eq1_network", "serial-ports", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert isinstance(json.loads(done.stdout), list)


def test_registered_as_serial() -> None:
    assert get_protocol("serial") is SerialProtocol
    [spec] = [s for s in ProtocolManager.specs() if s.name == "serial"]
    assert spec.kind == ProtocolKind.REQRES
    assert spec.distribution == "eq1-network-serial"
    assert "rfc2217" in spec.schemes
    assert SerialProtocol.protocol_name == "serial"


def test_listing_protocols_does_not_import_pyserial() -> None:
    code = (
        "import sys\n"
        "from eq1_network import ProtocolManager\n"
        "import eq1_network.protocols.serial as pkg\n"
        "names = ProtocolManager.available()\n"
        "assert 'serial' in names, names\n"
        "assert 'serial' not in sys.modules, 'pyserial was imported'\n"
        "assert pkg.SerialProtocol.__name__ == 'SerialProtocol'\n"
        "assert 'serial' in sys.modules\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_package_exports() -> None:
    import eq1_network.protocols.serial as pkg

    assert set(pkg.__all__) <= set(dir(pkg))
    assert pkg.list_ports is list_ports
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pkg.Nope  # noqa: B018
