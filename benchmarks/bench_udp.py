"""Benchmark of the UDP plugin against raw sockets, on 127.0.0.1, with 64-byte datagrams.

1. One way: datagrams per second that ``UDPClient.send`` hands to the kernel, against a
   raw connected socket's ``send`` loop. The peer is a sink process that reads and
   counts; the count it received is printed too (the kernel drops what a slower
   reader cannot take, for both sides alike).
2. Round trips per second: ``UDPClient.send`` + ``UDPClient.read_within`` against a raw
   ``send`` + blocking ``recv`` (bounded by ``SO_RCVTIMEO``; Linux), with a raw echo
   server in its own process. A datagram
   lost on the way is waited for up to 1 s and counted as lost (none on a quiet
   machine).

Both sides run in alternating short rounds in the same run, so machine noise affects
them alike; the medians are compared. Target: >= 0.8x raw for both. Every phase is
bounded in count and time.

Usage::

    python benchmarks/bench_udp.py [--count 200000] [--duration 6] [--rounds 12]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable

from eq1_network.protocols.udp import UDPClient

PAYLOAD = bytes(range(64))
HOST = "127.0.0.1"
BUFFER = 4 << 20
WARMUP = 500


def serve(kind: str) -> None:
    """Run a peer in this process: ``echo`` answers each datagram, ``sink`` counts them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
    sock.bind((HOST, 0))
    sock.settimeout(1.0)
    print(sock.getsockname()[1], flush=True)
    received = 0
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 30:  # ends 30 s after the last datagram
        try:
            data, sender = sock.recvfrom(65_536)
        except TimeoutError:
            continue
        idle_since = time.monotonic()
        if data == b"stop":
            sock.sendto(str(received).encode(), sender)
            return
        received += 1
        if kind == "echo":
            sock.sendto(data, sender)


def start_peer(kind: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def stop_peer(proc: subprocess.Popen[str], port: int) -> int:
    """Stop a peer; return how many datagrams it received."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(b"stop", (HOST, port))
        try:
            count = int(sock.recv(64))
        except TimeoutError:
            count = -1
    proc.wait(10)
    return count


def raw_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
    sock.connect((HOST, port))
    return sock


def library_client(port: int) -> UDPClient:
    client = UDPClient(HOST, port, receive_buffer=BUFFER)
    client.connect()
    return client


def measure(one: Callable[[], object], count: int, duration: float) -> float:
    """Run ``one`` up to ``count`` times or ``duration`` seconds; return calls per second."""
    done = 0
    started = time.perf_counter()
    deadline = started + duration
    while done < count:
        for _ in range(100):
            one()
        done += 100
        if time.perf_counter() >= deadline:
            break
    return done / (time.perf_counter() - started)


def rounds_of(
    sides: dict[str, Callable[[], object]], count: int, duration: float, rounds: int
) -> dict[str, list[float]]:
    for one in sides.values():
        for _ in range(WARMUP):
            one()
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, one in sides.items():
            rates[name].append(measure(one, count // rounds, duration / rounds / len(sides)))
    return rates


def one_way(count: int, duration: float, rounds: int) -> tuple[dict[str, list[float]], int]:
    proc, port = start_peer("sink")
    raw, client = raw_socket(port), library_client(port)
    send_raw, send_lib = raw.send, client.send
    try:
        rates = rounds_of(
            {"raw": lambda: send_raw(PAYLOAD), "UDPClient": lambda: send_lib(PAYLOAD)},
            count,
            duration,
            rounds,
        )
    finally:
        raw.close()
        client.disconnect()
        received = stop_peer(proc, port)
    return rates, received


def round_trips(count: int, duration: float, rounds: int) -> tuple[dict[str, list[float]], int]:
    proc, port = start_peer("echo")
    raw, client = raw_socket(port), library_client(port)
    # A blocking recv bounded by SO_RCVTIMEO: one system call per read, as UDPClient does
    # (settimeout() would add a poll before each recv).
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", 1, 0))
    lost = 0

    def raw_one() -> None:
        nonlocal lost
        raw.send(PAYLOAD)
        try:
            raw.recv(65_536)
        except BlockingIOError:
            lost += 1

    def lib_one() -> None:
        nonlocal lost
        client.send(PAYLOAD)
        if client.read_within(1.0) is None:
            lost += 1

    try:
        rates = rounds_of({"raw": raw_one, "UDPClient": lib_one}, count, duration, rounds)
    finally:
        raw.close()
        client.disconnect()
        stop_peer(proc, port)
    return rates, lost


def report(title: str, rates: dict[str, list[float]]) -> dict[str, float]:
    raw, lib = statistics.median(rates["raw"]), statistics.median(rates["UDPClient"])
    print(f"{title}: raw {raw:,.0f}/s, UDPClient {lib:,.0f}/s, ratio {lib / raw:.2f}x")
    return {"raw": raw, "UDPClient": lib, "ratio": lib / raw}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000, help="most calls per side")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=12, help="alternating rounds")
    parser.add_argument("--serve", choices=("echo", "sink"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    sent, received = one_way(args.count, args.duration, args.rounds)
    trips, lost = round_trips(args.count, args.duration, args.rounds)
    results = {
        "one_way_datagrams_per_s": report("one way, 64 B datagrams", sent),
        "round_trips_per_s": report("round trips, 64 B", trips),
        "sink_received": received,
        "round_trips_lost": lost,
    }
    print(f"sink received {received:,} datagrams; {lost} round trip(s) lost")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
