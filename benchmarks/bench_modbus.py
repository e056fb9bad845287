"""Modbus round trips: our clients against a raw-socket loop and pymodbus's clients.

Lanes, each reading 10 holding registers (FC 03) per request, all in one run:

TCP, against the libmodbus 3.1.6 test server (built from the tests' C source with gcc):

1. ``raw``: a minimal blocking MBAP loop on a plain socket (the floor).
2. ``ModbusProtocol``: ``read_holding_registers(0, 10)``, one request at a time.
3. ``pymodbus``: pymodbus's ``ModbusTcpClient.read_holding_registers``.
4. ``pipelined``: ``ModbusProtocol(max_outstanding=8).execute_many`` of 8 requests.

RTU over a socat pseudo-terminal pair, against the pymodbus RTU test server:

5. ``ModbusRTUProtocol`` vs 6. pymodbus's ``ModbusSerialClient`` (RTU framer).

The lanes of a group alternate round by round and medians are printed with the
ratios the project tracks. Every loop is bounded by a request count.

``--blocks B`` adds a finer TCP measurement of lanes 1 and 2, for machines whose speed
drifts during a run: B blocks of ``--block-size`` requests each, each block of
``ModbusProtocol`` right after one of the raw loop (each on its own connection to its own
server), and the median of the B paired ratios.

Usage: ``python benchmarks/bench_modbus.py [--requests N] [--rtu-requests N] [--rounds R]
[--blocks B] [--block-size N]``
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from eq1_network.protocols.modbus import ModbusProtocol, ModbusRTUProtocol, pdu

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "packages" / "eq1-network-modbus" / "tests" / "peers"
HOST = "127.0.0.1"
REQUEST = bytes.fromhex("0001 0000 0006 01 03 0000 000a")
ANSWER_SIZE = 9 + 20


def start(argv: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start a peer and return it with the rest of its ``READY`` line."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if not line or line[0] != "READY":
        process.kill()
        raise SystemExit(f"peer {argv[0]} did not start: {line}")
    return process, line[1]


def libmodbus_server(folder: Path) -> tuple[subprocess.Popen[str], int]:
    exe = folder / "libmodbus_server"
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libmodbus"], capture_output=True, text=True
    ).stdout.split() or ["-I/usr/include/modbus", "-lmodbus"]
    subprocess.run(
        ["gcc", "-O2", "-o", str(exe), str(PEERS / "libmodbus_server.c"), *flags], check=True
    )
    process, port = start([str(exe), "tcp", "0", "1"])
    return process, int(port)


def raw_connection(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def raw_round_trips(sock: socket.socket, n: int) -> float:
    """Run ``n`` round trips of the raw MBAP loop; return the seconds taken."""
    started = time.perf_counter()
    for _ in range(n):
        sock.sendall(REQUEST)
        got = sock.recv(512)
        while len(got) < ANSWER_SIZE:
            got += sock.recv(512)
    return time.perf_counter() - started


def raw_lane(port: int, n: int) -> float:
    with raw_connection(port) as sock:
        return n / raw_round_trips(sock, n)


def ours_lane(port: int, n: int) -> float:
    with ModbusProtocol(HOST, port, timeout=5.0) as client:
        started = time.perf_counter()
        for _ in range(n):
            client.read_holding_registers(0, 10)
        return n / (time.perf_counter() - started)


def pipelined_lane(port: int, n: int) -> float:
    requests = [pdu.read_holding_registers(0, 10)] * 8
    with ModbusProtocol(HOST, port, timeout=5.0, max_outstanding=8) as client:
        started = time.perf_counter()
        for _ in range(n // 8):
            client.execute_many(requests)
        return (n // 8 * 8) / (time.perf_counter() - started)


def pymodbus_lane(port: int, n: int) -> float:
    from pymodbus.client import ModbusTcpClient

    client = ModbusTcpClient(HOST, port=port, timeout=5)
    assert client.connect()
    started = time.perf_counter()
    for _ in range(n):
        client.read_holding_registers(0, count=10, device_id=1)
    elapsed = time.perf_counter() - started
    client.close()
    return n / elapsed


def rtu_lanes(folder: Path, n: int) -> dict[str, Callable[[], float]]:
    server_end, client_end = folder / "server", folder / "client"
    socat = subprocess.Popen(
        [
            "socat",
            f"pty,raw,echo=0,link={server_end}",
            f"pty,raw,echo=0,link={client_end}",
        ]
    )
    deadline = time.monotonic() + 10
    while not (server_end.exists() and client_end.exists()):
        if time.monotonic() > deadline:
            raise SystemExit("socat did not create the pty pair")
        time.sleep(0.01)
    server, _ = start(
        [sys.executable, str(PEERS / "pymodbus_server.py"), "--framer", "rtu", "--device",
         str(server_end), "--units", "1"]
    )  # fmt: skip
    CLEANUP.extend([server, socat])

    def ours() -> float:
        with ModbusRTUProtocol(str(client_end), timeout=5.0) as client:
            started = time.perf_counter()
            for _ in range(n):
                client.read_holding_registers(0, 10)
            return n / (time.perf_counter() - started)

    def theirs() -> float:
        from pymodbus.client import ModbusSerialClient

        client = ModbusSerialClient(str(client_end), baudrate=19200, timeout=5)
        assert client.connect()
        count = max(n // 20, 20)  # it waits a baud-derived time per request
        started = time.perf_counter()
        for _ in range(count):
            client.read_holding_registers(0, count=10, device_id=1)
        elapsed = time.perf_counter() - started
        client.close()
        return count / elapsed

    return {"ModbusRTUProtocol": ours, "pymodbus RTU": theirs}


CLEANUP: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []


def paired_blocks(folder: Path, port: int, blocks: int, size: int) -> None:
    """Print the median ratio ModbusProtocol / raw loop over adjacent pairs of blocks."""
    other, other_port = libmodbus_server(folder)  # libmodbus serves one connection at a time
    CLEANUP.append(other)
    ratios: list[float] = []
    with raw_connection(other_port) as sock, ModbusProtocol(HOST, port, timeout=5.0) as client:
        read = client.read_holding_registers
        for _ in range(blocks):
            raw = raw_round_trips(sock, size)
            started = time.perf_counter()
            for _ in range(size):
                read(0, 10)
            ratios.append(raw / (time.perf_counter() - started))
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"TCP, {blocks} paired blocks of {size} requests: ModbusProtocol / raw median "
          f"{statistics.median(ratios):.3f}x (quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}; "
          "target >= 0.8)")  # fmt: skip


def rounds(lanes: dict[str, Callable[[], float]], count: int) -> dict[str, float]:
    results: dict[str, list[float]] = {name: [] for name in lanes}
    for _ in range(count):
        for name, lane in lanes.items():
            results[name].append(lane())
    for name, values in results.items():
        print(f"  {name:<20} median {statistics.median(values):>9,.0f} req/s  "
              f"best {max(values):>9,.0f}")  # fmt: skip
    return {name: statistics.median(values) for name, values in results.items()}


def ratio(label: str, ours: float, theirs: float, target: float) -> None:
    """Print one ratio of medians with the project's target."""
    print(f"  {label:<30} {ours / theirs:6.2f}x  (target >= {target:g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rtu-requests", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=0)
    parser.add_argument("--block-size", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, port = libmodbus_server(folder)
        CLEANUP.append(server)
        try:
            n = args.requests
            print(f"TCP, FC03 x10 registers, libmodbus server, {n} requests per lane and round")
            tcp = rounds(
                {
                    "raw socket": lambda: raw_lane(port, n),
                    "ModbusProtocol": lambda: ours_lane(port, n),
                    "pymodbus": lambda: pymodbus_lane(port, n),
                    "pipelined (8)": lambda: pipelined_lane(port, n),
                },
                args.rounds,
            )
            ratio("ModbusProtocol / raw", tcp["ModbusProtocol"], tcp["raw socket"], 0.8)
            ratio("ModbusProtocol / pymodbus", tcp["ModbusProtocol"], tcp["pymodbus"], 1.3)
            ratio("pipelined / depth 1", tcp["pipelined (8)"], tcp["ModbusProtocol"], 1.8)
            if args.blocks >= 2:
                paired_blocks(folder, port, args.blocks, args.block_size)
            print(f"RTU over a pty, pymodbus RTU server, {args.rtu_requests} requests (ours)")
            rtu = rounds(rtu_lanes(folder, args.rtu_requests), args.rounds)
            ratio("RTU: ours / pymodbus client", rtu["ModbusRTUProtocol"], rtu["pymodbus RTU"], 10)
        finally:
            for process in CLEANUP:
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    main()
