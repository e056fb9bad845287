"""Fixtures of the Modbus tests: independent peers on 127.0.0.1 and socat pty pairs.

Each peer is a process of its own (a libmodbus C server built once per session, a
pymodbus server, mbpoll), started by the fixture and stopped by PID when the test ends.
The data every server holds, and each peer's quirks, are described in
``modbus_peers.py``. A missing gcc, libmodbus, socat or mbpoll skips the test, and fails
it when ``EQ1_REQUIRE_PEERS`` is set.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from modbus_peers import (
    ModbusPeer,
    PeerFactory,
    build_libmodbus_server,
)

from eq1_network.testing import allow_interrupts, require_executable

POSIX = sys.platform != "win32"


@pytest.fixture
def posix() -> None:
    """Skip on Windows, which has no pseudo-terminals."""
    if not POSIX:
        pytest.skip("needs POSIX pseudo-terminals (not available on Windows)")


@pytest.fixture(scope="session")
def libmodbus_server_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The libmodbus test server, compiled once per session (``peers/libmodbus_server.c``)."""
    if not POSIX:
        pytest.skip("the libmodbus test server is built with gcc on POSIX")
    return build_libmodbus_server(tmp_path_factory.getbasetemp() / "modbus-peers")


@pytest.fixture
def modbus_peers(tmp_path: Path) -> Iterator[PeerFactory]:
    """A factory for pymodbus peers and pty pairs, all stopped when the test ends.

    For libmodbus peers too, use :func:`modbus_peers_all` (it builds the C server).
    """
    factory = PeerFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def modbus_peers_all(tmp_path: Path, libmodbus_server_exe: Path) -> Iterator[PeerFactory]:
    """A factory for libmodbus and pymodbus peers and pty pairs, all stopped at the end."""
    factory = PeerFactory(tmp_path, libmodbus_server_exe)
    yield factory
    factory.close()


@pytest.fixture
def libmodbus_tcp(modbus_peers_all: PeerFactory) -> ModbusPeer:
    """libmodbus 3.1.6 Modbus TCP server, unit 1 pattern, ``.address`` = (127.0.0.1, port)."""
    return modbus_peers_all.libmodbus_tcp(unit=1)


@pytest.fixture
def libmodbus_rtu(posix: None, modbus_peers_all: PeerFactory) -> ModbusPeer:
    """libmodbus 3.1.6 RTU slave, unit 1, 19200 8N1; ``.device`` is the client's pty end."""
    return modbus_peers_all.libmodbus_rtu(unit=1)


@pytest.fixture
def pymodbus_tcp(modbus_peers: PeerFactory) -> ModbusPeer:
    """pymodbus 3.16 Modbus TCP server with units 1 and 2; ``.address`` = (127.0.0.1, port)."""
    return modbus_peers.pymodbus_tcp(units=(1, 2))


@pytest.fixture
def pymodbus_rtu_over_tcp(modbus_peers: PeerFactory) -> ModbusPeer:
    """pymodbus 3.16 server speaking RTU frames over TCP (a serial gateway), units 1 and 2."""
    return modbus_peers.pymodbus_tcp(units=(1, 2), framer="rtu")


@pytest.fixture
def pymodbus_rtu(posix: None, modbus_peers: PeerFactory) -> ModbusPeer:
    """pymodbus 3.16 RTU server, units 1 and 2, on a pty pair; ``.device`` is the client's end."""
    return modbus_peers.pymodbus_serial("rtu", units=(1, 2))


@pytest.fixture
def pymodbus_ascii(posix: None, modbus_peers: PeerFactory) -> ModbusPeer:
    """pymodbus 3.16 ASCII server, units 1 and 2, on a pty pair; ``.device`` is the client's end."""
    return modbus_peers.pymodbus_serial("ascii", units=(1, 2))


@pytest.fixture
def pty_pair_ends(posix: None, modbus_peers: PeerFactory) -> tuple[Path, Path]:
    """A fresh socat pty pair ``(server_end, client_end)``, stopped when the test ends."""
    return modbus_peers.pty_pair()


@pytest.fixture
def mbpoll_exe() -> str:
    """mbpoll's path (build argv with ``modbus_peers.mbpoll_argv``)."""
    return require_executable("mbpoll", "polling the Modbus servers under test")


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT its handler back in a run started with it ignored (Ctrl-C tests)."""
    allow_interrupts()
