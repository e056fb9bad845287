"""Request/response round trips per second over a pseudo-terminal pair.

Compares ``ReqResManager`` + ``SerialProtocol`` with bare pyserial
(``write`` + ``read(n)``) in the same run, against the same echo peer, with
32-byte requests by default. The pair is ``socat pty,raw,echo=0 pty,raw,echo=0``
when socat is installed (else ``os.openpty()``); the echo peer runs in its own
process so it does not compete with the measured client for the GIL.

Each side runs ``--rounds`` times, alternating; the medians are compared and the
ratio (ours / bare pyserial) is printed. Every run is bounded by ``--count`` round
trips and ``--duration`` seconds. POSIX only.

    python benchmarks/bench_serial.py
    python benchmarks/bench_serial.py --count 20000 --duration 20 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import serial

from eq1_network import ReqResManager
from eq1_network.protocols.serial.serial_protocol import SerialProtocol

TIMEOUT = 10.0


def echo_peer(where: str) -> None:
    """Echo every byte on a terminal until it hangs up (runs in a subprocess).

    Args:
        where: A terminal path, or ``fd:N`` for an inherited descriptor.
    """
    import tty

    if where.startswith("fd:"):
        fd = int(where[3:])
    else:
        fd = os.open(where, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    print("ready", flush=True)
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]


class Peer:
    """The pseudo-terminal pair and the echo process behind it."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        if kind == "socat":
            a, b = folder / "ttyA", folder / "ttyB"
            self.procs.append(
                subprocess.Popen(
                    ["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                    stderr=subprocess.DEVNULL,
                )
            )
            deadline = time.monotonic() + TIMEOUT
            while not (a.exists() and b.exists()):
                if time.monotonic() > deadline or self.procs[0].poll() is not None:
                    raise SystemExit("socat did not create the pseudo-terminal pair")
                time.sleep(0.01)
            self.client_path, peer_path = str(a), str(b)
        else:
            master, slave = os.openpty()
            self._fds = (master, slave)
            self.client_path = os.ttyname(slave)
            peer_path = f"fd:{master}"
        echo = subprocess.Popen(
            [sys.executable, __file__, "--echo-peer", peer_path],
            stdout=subprocess.PIPE,
            pass_fds=self._fds[:1] if kind == "openpty" else (),
        )
        self.procs.append(echo)
        assert echo.stdout is not None
        if echo.stdout.readline().strip() != b"ready":
            raise SystemExit("the echo peer did not start")

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(TIMEOUT)
            if proc.stdout is not None:
                proc.stdout.close()
        for fd in getattr(self, "_fds", ()):
            os.close(fd)


def request(i: int, size: int) -> bytes:
    return (i.to_bytes(8, "big") * (size // 8 + 1))[:size]


Result = tuple[int, float, float]
"""Round trips, wall-clock seconds, client CPU seconds."""


def run_bare(path: str, args: argparse.Namespace) -> Result:
    port = serial.Serial(path, args.baudrate, timeout=TIMEOUT)
    try:
        return measure(args, lambda req: (port.write(req), port.read(len(req)))[1])
    finally:
        port.close()


def run_eq1(path: str, args: argparse.Namespace) -> Result:
    manager = ReqResManager.isolated()
    manager.register("bench", SerialProtocol(path, args.baudrate, timeout=TIMEOUT))
    manager.connect("bench")

    def round_trip(req: bytes) -> bytes:
        manager.send("bench", req)
        got = manager.read("bench")
        while len(got) < len(req):
            got += manager.read("bench")
        return got

    try:
        return measure(args, round_trip)
    finally:
        manager.disconnect("bench")


def measure(args: argparse.Namespace, round_trip: Callable[[bytes], bytes]) -> Result:
    for i in range(min(200, args.count)):  # warm-up
        if round_trip(request(i, args.size)) != request(i, args.size):
            raise SystemExit("echo mismatch during warm-up")
    done = 0
    cpu = time.process_time()
    started = time.perf_counter()
    stop_at = started + args.duration
    while done < args.count and time.perf_counter() < stop_at:
        req = request(done, args.size)
        if round_trip(req) != req:
            raise SystemExit(f"echo mismatch at round trip {done}")
        done += 1
    return done, time.perf_counter() - started, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="round trips per run (max)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run (max)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side")
    parser.add_argument("--size", type=int, default=32, help="request size in bytes")
    parser.add_argument("--baudrate", type=int, default=115200, help="ignored by ptys")
    parser.add_argument("--pair", choices=("auto", "socat", "openpty"), default="auto")
    parser.add_argument("--echo-peer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_peer:
        echo_peer(args.echo_peer)
        return 0
    if sys.platform == "win32":
        raise SystemExit("needs POSIX pseudo-terminals")
    if args.count < 1 or args.duration <= 0 or args.rounds < 1 or args.size < 1:
        raise SystemExit("--count, --duration, --rounds and --size must be positive")
    kind = args.pair
    if kind == "auto":
        kind = "socat" if shutil.which("socat") else "openpty"
    with tempfile.TemporaryDirectory(prefix="eq1-bench-serial-") as folder:
        peer = Peer(kind, Path(folder))
        try:
            names = ("bare pyserial", "ReqResManager+SerialProtocol")
            rates: dict[str, list[float]] = {name: [] for name in names}
            cpu_us: dict[str, list[float]] = {name: [] for name in names}
            for _ in range(args.rounds):
                for name, run in zip(names, (run_bare, run_eq1), strict=True):
                    count, seconds, cpu = run(peer.client_path, args)
                    rates[name].append(count / seconds)
                    cpu_us[name].append(cpu / count * 1e6)
        finally:
            peer.close()
    print(f"pair: {kind}; {args.size}-byte requests; {args.rounds} runs of each side")
    for name, values in rates.items():
        runs = ", ".join(f"{v:,.0f}" for v in values)
        cpu = statistics.median(cpu_us[name])
        print(
            f"{name:30s} median {statistics.median(values):8,.0f} round trips/s  ({runs}); "
            f"client CPU {cpu:.1f} us per round trip"
        )
    ratio = statistics.median(rates["ReqResManager+SerialProtocol"]) / statistics.median(
        rates["bare pyserial"]
    )
    print(f"ratio (ours / bare pyserial): {ratio:.2f}x  (target >= 0.8x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
