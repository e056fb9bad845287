"""Independent Modbus peers for the tests: a libmodbus C server, a pymodbus server, mbpoll.

Every peer runs in its own process, started on 127.0.0.1 (the kernel picks a free
port: both servers bind port 0 and print the bound port) or on one end of a socat
pseudo-terminal pair, and is stopped by its PID. Readiness is a ``READY`` line the
peer prints once it listens; nothing waits a fixed time.

Data pattern (both servers, every unit id ``u``, ``k = u - 1``, ``i`` = protocol
address, 0-based, tables of :data:`TABLE_SIZE` entries unless told otherwise)::

    coils[i]             = (i + k) % 2 == 0
    discrete_inputs[i]   = (i + k) % 3 == 0
    holding_registers[i] = 10000 * k + i          (unit 1: i,  unit 2: 10000 + i)
    input_registers[i]   = 10000 * k + 1000 + i   (unit 1: 1000 + i, unit 2: 11000 + i)

:func:`coils`, :func:`discrete_inputs`, :func:`holding_registers` and
:func:`input_registers` return the expected values. An address at or past the table
size is answered with exception 02 (ILLEGAL DATA ADDRESS) by both servers.

Peer behaviour worth knowing (measured; most of it pinned by ``test_peers.py``):

- libmodbus 3.1.6 (``tests/peers/libmodbus_server.c``): one unit id per process; its
  TCP server ignores the unit id of a request (answers any, echoing it) and serves one
  connection at a time (a second client waits until the first leaves); several
  requests in one TCP segment are all answered, in order. FC 2B, 08 and unknown codes
  get exception 01 only after a 0.5 s pause during which it discards its input (a
  request sent meanwhile is lost). FC 07 is never answered (it waits for more request
  bytes), which blocks the whole TCP server until that client disconnects. FC 11
  answers ``11 0A B4 FF "LMB3.1.6"``. Its RTU slave ignores requests for other units
  but then may swallow the next frame sent within about 0.5 s.
- pymodbus 3.16.1 (``tests/peers/pymodbus_server.py``): several unit ids per process
  (default 1 and 2) and a device identification (:data:`IDENTITY`, FC 2B and FC 11).
  It answers only the first request of each chunk it reads, TCP segment or serial
  read alike: the rest of the chunk is dropped. An unknown function code gets
  ``80 01`` (function byte 0x80, not fc | 0x80) on TCP and no answer on a serial line.
  A unit id it lacks gets exception 04 (SERVER DEVICE FAILURE), even on a serial line
  and even with ``ignore_missing_devices``; the serial peers here therefore drop such
  requests themselves (``bus=True``, the default for serial peers) and take unit 0 as
  a broadcast. Its ``SimData`` addresses are protocol addresses; the deprecated
  ``ModbusSequentialDataBlock`` is 1-based (block address 1 = protocol address 0).
  ``serve_forever()`` raises if ``listen()`` ran first: the script calls
  ``serve_forever(background=True)`` and prints its ready line after it.
- mbpoll: references are 1-based unless ``-0``; parity defaults to even (``-P none``
  for 8N1); it polls forever unless ``-1``. :func:`mbpoll_argv` sets all three.
- A pty ignores the baud rate: nothing here depends on serial timing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eq1_network.protocols.modbus import (
    ModbusASCIIProtocol,
    ModbusClient,
    ModbusProtocol,
    ModbusRTUOverTCPProtocol,
    ModbusRTUProtocol,
)
from eq1_network.testing import (
    DEFAULT_TIMEOUT,
    PeerProcess,
    SocatProcess,
    pty_pair,
    require_executable,
    require_peers,
)

HOST = "127.0.0.1"
TABLE_SIZE = 100
"""Entries in each of the four tables of every unit, unless a peer is started with another size."""
PEERS_DIR = Path(__file__).parent / "peers"
LIBMODBUS_SOURCE = PEERS_DIR / "libmodbus_server.c"
PYMODBUS_SCRIPT = PEERS_DIR / "pymodbus_server.py"
IDENTITY = {
    "VendorName": "EQ1 test peer",
    "ProductCode": "PYMB",
    "MajorMinorRevision": "3.16",
    "VendorUrl": "http://127.0.0.1/",
    "ProductName": "pymodbus peer",
    "ModelName": "simulator",
    "UserApplicationName": "eq1 tests",
}
"""Device identification of the pymodbus peer (object ids 0..6 in this order)."""
SERIAL_FRAMERS = ("rtu", "ascii")


# --- the data pattern ---------------------------------------------------------------


def coils(unit: int, address: int = 0, count: int = TABLE_SIZE) -> list[bool]:
    """Expected coils ``address .. address + count - 1`` of ``unit``."""
    return [(i + unit - 1) % 2 == 0 for i in range(address, address + count)]


def discrete_inputs(unit: int, address: int = 0, count: int = TABLE_SIZE) -> list[bool]:
    """Expected discrete inputs ``address .. address + count - 1`` of ``unit``."""
    return [(i + unit - 1) % 3 == 0 for i in range(address, address + count)]


def holding_registers(unit: int, address: int = 0, count: int = TABLE_SIZE) -> list[int]:
    """Expected holding registers ``address .. address + count - 1`` of ``unit``."""
    return [(10000 * (unit - 1) + i) & 0xFFFF for i in range(address, address + count)]


def input_registers(unit: int, address: int = 0, count: int = TABLE_SIZE) -> list[int]:
    """Expected input registers ``address .. address + count - 1`` of ``unit``."""
    return [(10000 * (unit - 1) + 1000 + i) & 0xFFFF for i in range(address, address + count)]


# --- the peers ----------------------------------------------------------------------


@dataclass
class ModbusPeer:
    """A running Modbus server process and where to reach it.

    Attributes:
        name: ``"libmodbus"`` or ``"pymodbus"``.
        framer: ``"socket"`` (MBAP over TCP), ``"rtu"`` or ``"ascii"``.
        units: The unit ids it serves (libmodbus over TCP answers any unit id).
        process: The server process (stop it with :meth:`stop`).
        host: ``127.0.0.1`` for TCP peers, ``None`` for serial ones.
        port: The bound TCP port, ``None`` for serial peers.
        device: The client's end of the pty pair (serial peers), ``None`` for TCP.
        server_device: The server's end of the pty pair (serial peers).
        socat: The pty pair of a serial peer, when this object owns it.
    """

    name: str
    framer: str
    units: tuple[int, ...]
    process: PeerProcess
    host: str | None = None
    port: int | None = None
    device: Path | None = None
    server_device: Path | None = None
    socat: SocatProcess | None = field(default=None, repr=False)

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of a TCP peer."""
        assert self.host is not None and self.port is not None, f"{self.name} is not on TCP"
        return self.host, self.port

    @property
    def pid(self) -> int | None:
        """The server's process id."""
        return self.process.pid

    def stop(self) -> None:
        """Stop the server (and the pty pair it owns) by PID; idempotent."""
        self.process.stop()
        if self.socat is not None:
            self.socat.stop()


def _missing(message: str) -> None:
    """Skip the test, or fail it under ``EQ1_REQUIRE_PEERS``."""
    if require_peers():
        pytest.fail(f"{message} (EQ1_REQUIRE_PEERS is set, so this cannot be skipped)")
    pytest.skip(message)


def _libmodbus_flags() -> list[str]:
    """Compiler flags for libmodbus from pkg-config, or the Debian defaults."""
    if shutil.which("pkg-config"):
        found = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libmodbus"],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 0:
            return found.stdout.split()
    if not Path("/usr/include/modbus/modbus.h").exists():
        _missing("libmodbus headers are not installed (apt-get install libmodbus-dev)")
    return ["-I/usr/include/modbus", "-lmodbus"]


def build_libmodbus_server(folder: Path) -> Path:
    """Compile ``peers/libmodbus_server.c`` into ``folder`` (reused while the source is unchanged).

    Skips the test when gcc or libmodbus is missing (fails under ``EQ1_REQUIRE_PEERS``).

    Args:
        folder: Where the executable goes (a session temporary folder).

    Returns:
        The executable's path; its name carries a hash of the source.
    """
    gcc = require_executable("gcc", "building the libmodbus test server")
    source = LIBMODBUS_SOURCE.read_bytes()
    exe = folder / f"libmodbus_server-{hashlib.sha256(source).hexdigest()[:12]}"
    if exe.exists():
        return exe
    folder.mkdir(parents=True, exist_ok=True)
    flags = _libmodbus_flags()
    argv = [gcc, "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-O2"]
    built = subprocess.run(
        [*argv, "-o", str(exe), str(LIBMODBUS_SOURCE), *flags],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if built.returncode != 0:
        if "modbus.h" in built.stderr or "lmodbus" in built.stderr:
            _missing(f"libmodbus is not usable for building the test server:\n{built.stderr}")
        raise AssertionError(f"building the libmodbus test server failed:\n{built.stderr}")
    return exe


def _ready(process: PeerProcess) -> str:
    """Wait for the ``READY <where>`` line and return ``<where>`` (stops the peer on failure)."""
    try:
        return process.wait_line(r"^READY (\S+)", DEFAULT_TIMEOUT).group(1)
    except AssertionError:
        process.stop()
        raise


def start_libmodbus_tcp(
    exe: Path, log: Path, *, unit: int = 1, size: int = TABLE_SIZE
) -> ModbusPeer:
    """Start the libmodbus server on 127.0.0.1 with a free port and wait until it listens."""
    process = PeerProcess([exe, "tcp", "0", str(unit), str(size)], log=log).start()
    port = int(_ready(process))
    return ModbusPeer("libmodbus", "socket", (unit,), process, host=HOST, port=port)


def start_libmodbus_rtu(
    exe: Path, log: Path, server_device: Path, *, unit: int = 1, size: int = TABLE_SIZE
) -> ModbusPeer:
    """Start the libmodbus RTU slave (19200 8N1) on ``server_device`` and wait until it is open."""
    process = PeerProcess([exe, "rtu", server_device, str(unit), str(size)], log=log).start()
    _ready(process)
    return ModbusPeer("libmodbus", "rtu", (unit,), process, server_device=server_device)


def start_pymodbus(
    log: Path,
    *,
    framer: str = "socket",
    units: Sequence[int] = (1, 2),
    server_device: Path | None = None,
    size: int = TABLE_SIZE,
    bus: bool | None = None,
) -> ModbusPeer:
    """Start the pymodbus server: on TCP (``server_device`` None) or on a serial device.

    Args:
        log: The server's log file.
        framer: ``"socket"`` (MBAP), ``"rtu"`` or ``"ascii"``; ``"rtu"`` without a device
            is RTU framing over TCP (a serial gateway).
        units: Unit ids it serves, each with the pattern's data.
        server_device: The server's end of a pty pair, for a serial server.
        size: Entries per table.
        bus: Behave as a device on a shared bus: requests for other unit ids get no
            answer (pymodbus itself answers them with exception 04) and unit 0 is a
            broadcast (executed, never answered). Defaults to ``True`` on a serial
            device, ``False`` on TCP.

    Returns:
        The running peer.
    """
    argv: list[str | Path] = [sys.executable, PYMODBUS_SCRIPT, "--framer", framer]
    argv += ["--units", ",".join(str(u) for u in units), "--size", str(size)]
    argv += ["--port", "0"] if server_device is None else ["--device", server_device]
    if bus if bus is not None else server_device is not None:
        argv += ["--silent-unknown", "--broadcast"]
    process = PeerProcess(argv, log=log).start()
    where = _ready(process)
    if server_device is None:
        return ModbusPeer("pymodbus", framer, tuple(units), process, host=HOST, port=int(where))
    return ModbusPeer("pymodbus", framer, tuple(units), process, server_device=server_device)


class PeerFactory:
    """Starts peers and pty pairs for one test and stops all of them at its end.

    Args:
        folder: The test's temporary folder (pty links and logs go there).
        libmodbus_exe: The built libmodbus server; ``None`` when the test uses no
            libmodbus peer (then :meth:`libmodbus_tcp` and :meth:`libmodbus_rtu` fail).
    """

    def __init__(self, folder: Path, libmodbus_exe: Path | None = None) -> None:
        self.folder = folder
        self.libmodbus_exe = libmodbus_exe
        self._count = 0
        self._peers: list[ModbusPeer] = []
        self._pairs: list[SocatProcess] = []

    def _next(self, stem: str) -> Path:
        self._count += 1
        return self.folder / f"{stem}-{self._count}"

    def pty_pair(self) -> tuple[Path, Path]:
        """Start a fresh socat pty pair; return ``(server_end, client_end)``."""
        folder = self._next("pty")
        folder.mkdir()
        pair = pty_pair(folder, ("server", "client")).start()
        self._pairs.append(pair)
        return pair.links[0], pair.links[1]

    def _exe(self) -> Path:
        assert self.libmodbus_exe is not None, "this factory was made without libmodbus"
        return self.libmodbus_exe

    def _keep(self, peer: ModbusPeer, client_end: Path | None = None) -> ModbusPeer:
        peer.device = client_end
        self._peers.append(peer)
        return peer

    def libmodbus_tcp(self, *, unit: int = 1, size: int = TABLE_SIZE) -> ModbusPeer:
        """Start a libmodbus TCP server (it answers any unit id with ``unit``'s data)."""
        log = self._next("libmodbus-tcp").with_suffix(".log")
        return self._keep(start_libmodbus_tcp(self._exe(), log, unit=unit, size=size))

    def libmodbus_rtu(
        self, *, unit: int = 1, size: int = TABLE_SIZE, pair: tuple[Path, Path] | None = None
    ) -> ModbusPeer:
        """Start a libmodbus RTU slave on a new pty pair, or on the server end of ``pair``."""
        server_end, client_end = pair or self.pty_pair()
        log = self._next("libmodbus-rtu").with_suffix(".log")
        peer = start_libmodbus_rtu(self._exe(), log, server_end, unit=unit, size=size)
        return self._keep(peer, client_end)

    def pymodbus_tcp(
        self,
        *,
        units: Sequence[int] = (1, 2),
        framer: str = "socket",
        size: int = TABLE_SIZE,
        bus: bool = False,
    ) -> ModbusPeer:
        """Start a pymodbus TCP server (``framer="rtu"``: RTU frames over TCP).

        With ``bus``, unknown unit ids get no answer and unit 0 is a broadcast.
        """
        log = self._next(f"pymodbus-tcp-{framer}").with_suffix(".log")
        peer = start_pymodbus(log, framer=framer, units=units, size=size, bus=bus)
        return self._keep(peer)

    def pymodbus_serial(
        self,
        framer: str = "rtu",
        *,
        units: Sequence[int] = (1, 2),
        size: int = TABLE_SIZE,
        pair: tuple[Path, Path] | None = None,
        bus: bool = True,
    ) -> ModbusPeer:
        """Start a pymodbus RTU or ASCII server on a new pty pair or ``pair``'s server end.

        With ``bus`` (the default), unknown unit ids get no answer and unit 0 is a
        broadcast, as on a real bus; ``bus=False`` keeps pymodbus's own behaviour.
        """
        assert framer in SERIAL_FRAMERS, f"framer must be one of {SERIAL_FRAMERS}, not {framer!r}"
        server_end, client_end = pair or self.pty_pair()
        log = self._next(f"pymodbus-{framer}").with_suffix(".log")
        peer = start_pymodbus(
            log, framer=framer, units=units, server_device=server_end, size=size, bus=bus
        )
        return self._keep(peer, client_end)

    def close(self) -> None:
        """Stop every peer, then every pty pair, by PID."""
        for peer in reversed(self._peers):
            peer.stop()
        for pair in reversed(self._pairs):
            pair.stop()


# --- mbpoll ---------------------------------------------------------------------------

MBPOLL_TABLES = {"coils": "0", "discrete": "1", "input": "3", "holding": "4"}


def mbpoll_argv(
    exe: str,
    target: str | Path,
    *,
    table: str = "holding",
    address: int = 0,
    count: int = 1,
    unit: int = 1,
    port: int | None = None,
    rtu: bool = False,
    baudrate: int = 19200,
    timeout: float = 1.0,
    values: Sequence[int] = (),
) -> list[str]:
    """Build the argv of one mbpoll poll (a read, or a write when ``values`` are given).

    Addresses are protocol addresses (``-0``), the poll runs once (``-1``) and serial
    lines are 8N1 (``-P none``; mbpoll's default is even parity).

    Args:
        exe: mbpoll's path.
        target: Host (TCP) or serial device (RTU).
        table: ``"coils"``, ``"discrete"``, ``"input"`` or ``"holding"``.
        address: First protocol address (0-based).
        count: Number of values to read (ignored for a write: mbpoll counts ``values``).
        unit: Unit (slave) id.
        port: TCP port (TCP only).
        rtu: Poll a serial device in RTU mode instead of TCP.
        baudrate: Serial baud rate (RTU only; a pty ignores it).
        timeout: Answer timeout in seconds (mbpoll accepts 0.01 to 10).
        values: Values to write (coils: 0 or 1).

    Returns:
        The argument list for :func:`subprocess.run`.
    """
    argv = [exe, "-1", "-0", "-a", str(unit), "-t", MBPOLL_TABLES[table]]
    argv += ["-r", str(address), "-o", f"{timeout:g}"]
    if not values:
        argv += ["-c", str(count)]
    if rtu:
        argv += ["-m", "rtu", "-b", str(baudrate), "-P", "none", "-d", "8", "-s", "1"]
    else:
        argv += ["-m", "tcp", "-p", str(port if port is not None else 502)]
    argv.append(str(target))
    if values:
        argv += ["--", *(str(v) for v in values)]
    return argv


def run_mbpoll(
    argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run one mbpoll poll (bounded by ``timeout`` seconds) and return its result."""
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=timeout)


def parse_mbpoll(stdout: str) -> dict[int, int]:
    """Read the ``[address]: value`` lines mbpoll prints for a read.

    Returns:
        Protocol address (with ``-0``) to value; register values as printed (signed
        16-bit integers unless a hex or float type was asked for), coils as 0/1.
    """
    found: dict[int, int] = {}
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("[") and "]:" in line:
            ref, _, value = line[1:].partition("]:")
            found[int(ref)] = int(value.split()[0])
    return found


def client_for(peer: ModbusPeer, **options: object) -> ModbusClient:
    """Return an unconnected client of the right kind for ``peer``."""
    options.setdefault("timeout", DEFAULT_TIMEOUT)
    if peer.framer == "socket":
        assert peer.port is not None
        return ModbusProtocol(HOST, peer.port, **options)  # type: ignore[arg-type]
    if peer.device is None:  # RTU frames over TCP
        assert peer.port is not None
        return ModbusRTUOverTCPProtocol(HOST, peer.port, **options)  # type: ignore[arg-type]
    cls = ModbusRTUProtocol if peer.framer == "rtu" else ModbusASCIIProtocol
    return cls(str(peer.device), **options)  # type: ignore[arg-type]
