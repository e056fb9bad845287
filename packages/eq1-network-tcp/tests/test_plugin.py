"""Discovery through the entry point, legacy imports, and the ``tcp-echo`` command."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from eq1_network import ProtocolManager, get_protocol
from eq1_network.interfaces.protocol import ProtocolKind, ReqResProtocol
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.testing import read_exactly

TIMEOUT = 20.0


def test_entry_point_registers_tcp_and_tcp_server() -> None:
    assert get_protocol("tcp") is TCPClient
    assert get_protocol("tcp-server") is TCPServer
    specs = {s.name: s for s in ProtocolManager.specs()}
    for name in ("tcp", "tcp-server"):
        assert specs[name].kind == ProtocolKind.REQRES
        assert specs[name].distribution == "eq1-network-tcp"
        assert specs[name].version == "0.1.0"
    assert issubclass(TCPClient, ReqResProtocol) and issubclass(TCPServer, ReqResProtocol)


def test_package_exports_and_lazy_attributes() -> None:
    import eq1_network.protocols.ethernet as ethernet

    assert ethernet.TCPClient is TCPClient
    assert ethernet.TCPServer is TCPServer
    assert "TLSConfig" in dir(ethernet)
    try:
        ethernet.NoSuchThing  # noqa: B018 - the attribute access is the test
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("unknown attributes must raise AttributeError")


def test_listing_protocols_does_not_import_the_transport() -> None:
    """The plugin module is light: listing plugins imports neither class nor ssl."""
    code = (
        "import sys\n"
        "from eq1_network import ProtocolManager\n"
        "names = [s.name for s in ProtocolManager.specs()]\n"
        "assert 'tcp' in names and 'tcp-server' in names, names\n"
        "heavy = [m for m in ('eq1_network.protocols.ethernet.tcp_client',\n"
        "                     'eq1_network.protocols.ethernet.tcp_server') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_cli_lists_the_plugin() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "eq1_network", "plugins"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "tcp-server" in out.stdout and "eq1-network-tcp" in out.stdout


def test_cli_tcp_echo_serves_until_its_duration_ends(clients: list[TCPClient]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "eq1_network", "tcp-echo", "--port", "0", "--duration", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        client = TCPClient("127.0.0.1", port, timeout=TIMEOUT)
        clients.append(client)
        client.connect()
        client.send(b"echo me")
        assert read_exactly(client, 7, TIMEOUT) == b"echo me"
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()


def test_cli_tcp_echo_stops_by_itself() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "eq1_network", "tcp-echo", "--port", "0", "--duration", "0.2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("listening on 127.0.0.1:")


def test_create_through_the_registry(echo_server: Any) -> None:
    client = ProtocolManager.create("tcp", "127.0.0.1", echo_server.port, timeout=TIMEOUT)
    assert isinstance(client, TCPClient)
    with client:
        client.send(b"via registry")
        assert read_exactly(client, 12, TIMEOUT) == b"via registry"
