"""The requirements document's TCP example with ReqResManager against a socat echo server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eq1_network import ReqResManager
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.testing import free_port

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tcp_example.py"


@pytest.fixture
def manager() -> type[ReqResManager]:
    mgr = ReqResManager.isolated()
    yield mgr
    mgr.disconnect_all()


def test_document_example_against_socat(
    socat_echo: int, manager: type[ReqResManager], capsys: pytest.CaptureFixture[str]
) -> None:
    # As in the document, with the echo server's port and the loopback address.
    tcp_client = TCPClient("127.0.0.1", socat_echo, timeout=1)
    manager.register("tcp_client", tcp_client)

    tcp_server = TCPServer("127.0.0.1", free_port(), timeout=1)
    manager.register("tcp_server", tcp_server)

    assert manager.connect("tcp_client")
    result = manager.send("tcp_client", b"Hello Server!")
    assert result == 13
    response = manager.read("tcp_client", timeout=20)
    while len(response) < result:
        response += manager.read("tcp_client", timeout=20)
    print(f"Response: {response.decode()}")
    manager.disconnect("tcp_client")

    assert capsys.readouterr().out == "Response: Hello Server!\n"
    assert manager.is_connected("tcp_client") is False
    assert manager.is_connected("tcp_server") is False


@pytest.mark.parametrize("peer", ["own-server", "socat"])
def test_example_script_runs(peer: str, socat_echo: int) -> None:
    assert EXAMPLE.is_file()
    args = [sys.executable, str(EXAMPLE)]
    if peer == "socat":
        args += ["--port", str(socat_echo)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "Response: Hello Server!" in out.stdout
    assert "JSON response: {'command': 'status', 'line': 3}" in out.stdout
