"""NetworkHandler throughput over TCP on 127.0.0.1, against a raw-socket baseline.

Two measurements, each run in the same invocation as its baseline:

1. One-way streaming of 64-byte typed messages (``BINARY_PACKAGE``) from a
   ``NetworkHandler`` on ``tcp`` to a ``NetworkHandler`` on ``tcp-server`` in another
   process, end to end (first send to last message received). Baseline: a raw socket
   sending one length-prefixed frame per ``sendall`` to a raw receiver process.
2. Request/response round trips per second with ``NetworkHandler.request`` against a
   responding handler in another process. Baseline: raw blocking ping-pong of the same
   frames.

Every loop is bounded by a message count; the whole run takes about a minute. The two
sides alternate round by round, so that changes in the machine's speed (large on shared
virtual machines) affect both; medians and the best round are printed, with the range of
a fixed pure-Python reference loop's time over the rounds as a gauge of that speed.

Usage: ``python benchmarks/bench_network.py [--messages N] [--requests N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import socket
import statistics
import struct
import subprocess
import sys
import textwrap
import time

HOST = "127.0.0.1"
PAYLOAD = bytes(range(64))
FRAME = struct.pack(">I", len(PAYLOAD)) + PAYLOAD

RAW_RECEIVER = textwrap.dedent(
    """
    import socket, struct, sys
    count, mode = int(sys.argv[1]), sys.argv[2]
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    conn, _ = server.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf, got = b"", 0
    while got < count:
        data = conn.recv(1 << 20)
        if not data:
            break
        buf += data
        offset = 0
        while len(buf) - offset >= 4:
            (length,) = struct.unpack_from(">I", buf, offset)
            if len(buf) - offset < 4 + length:
                break
            frame = buf[offset:offset + 4 + length]
            offset += 4 + length
            got += 1
            if mode == "echo":
                conn.sendall(frame)
        buf = buf[offset:]
    print("done", got, flush=True)
    """
)

HANDLER_RECEIVER = textwrap.dedent(
    """
    import sys, threading
    from eq1_network import BINARY_PACKAGE, BinarySendData, MessageType
    from eq1_network import NetworkConfig, NetworkEventType, NetworkHandler
    from eq1_network.testing import free_port
    count, mode = int(sys.argv[1]), sys.argv[2]
    port = free_port()
    done = threading.Event()
    got = 0
    handler = None

    def on_event(event):
        global got
        if event.type is NetworkEventType.RECEIVED:
            if mode == "echo":
                data = event.data
                handler.send_data(BinarySendData(data.value, message_type=MessageType.RESPONSE,
                                                 reply_to=data.sequence))
            got += 1
            if got >= count:
                done.set()

    config = NetworkConfig(protocol="tcp-server", params={"host": "127.0.0.1", "port": port},
                           package=BINARY_PACKAGE, sent_events=False)
    handler = NetworkHandler(config, on_event)
    handler.start()
    print(port, flush=True)
    done.wait(300)
    print("done", got, flush=True)
    handler.stop(timeout=10)
    """
)


def _spawn(script: str, count: int, mode: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(count), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _finish(proc: subprocess.Popen[str], count: int) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    proc.wait(60)
    if line != ["done", str(count)]:
        raise SystemExit(f"receiver reported {line}, expected {count} messages")


def raw_stream(count: int) -> float:
    proc, port = _spawn(RAW_RECEIVER, count, "sink")
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    started = time.perf_counter()
    for _ in range(count):
        sock.sendall(struct.pack(">I", len(PAYLOAD)) + PAYLOAD)
    _finish(proc, count)
    elapsed = time.perf_counter() - started
    sock.close()
    return count / elapsed


def handler_stream(count: int) -> float:
    from eq1_network import BINARY_PACKAGE, BinarySendData, NetworkConfig, NetworkHandler

    proc, port = _spawn(HANDLER_RECEIVER, count, "sink")
    config = NetworkConfig(
        protocol="tcp",
        params={"host": HOST, "port": port},
        package=BINARY_PACKAGE,
        sent_events=False,
        send_queue_size=65536,
    )
    with NetworkHandler(config) as handler:
        started = time.perf_counter()
        for _ in range(count):
            handler.send_data(BinarySendData(PAYLOAD))
        _finish(proc, count)
        elapsed = time.perf_counter() - started
    return count / elapsed


def raw_round_trips(count: int) -> float:
    proc, port = _spawn(RAW_RECEIVER, count, "echo")
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    started = time.perf_counter()
    for _ in range(count):
        sock.sendall(FRAME)
        need = len(FRAME)
        while need:
            need -= len(sock.recv(need))
    elapsed = time.perf_counter() - started
    _finish(proc, count)
    sock.close()
    return count / elapsed


def handler_round_trips(count: int) -> float:
    from eq1_network import BINARY_PACKAGE, BinarySendData, NetworkConfig, NetworkHandler

    proc, port = _spawn(HANDLER_RECEIVER, count, "echo")
    config = NetworkConfig(
        protocol="tcp", params={"host": HOST, "port": port}, package=BINARY_PACKAGE
    )
    with NetworkHandler(config) as handler:
        started = time.perf_counter()
        for _ in range(count):
            handler.request(BinarySendData(PAYLOAD), timeout=30)
        elapsed = time.perf_counter() - started
        _finish(proc, count)
    return count / elapsed


def reference_loop() -> float:
    """Microseconds a fixed pure-Python loop takes now: a gauge of the machine's speed."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        sum(range(1000))
        best = min(best, time.perf_counter() - started)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = [
        ("one-way stream, 64 B typed messages/s", raw_stream, handler_stream, args.messages),
        ("request/response round trips/s", raw_round_trips, handler_round_trips, args.requests),
    ]
    print(f"rounds: {args.rounds} (median reported); payload {len(PAYLOAD)} B; host {HOST}")
    for title, raw, ours, count in rows:
        raw_rates, our_rates, gauge = [], [], []
        for _ in range(args.rounds):
            gauge.append(reference_loop())
            raw_rates.append(raw(count))
            our_rates.append(ours(count))
        raw_med, our_med = statistics.median(raw_rates), statistics.median(our_rates)
        best = max(our_rates)
        best_ratio = max(o / r for o, r in zip(our_rates, raw_rates, strict=True))
        print(
            f"{title}: NetworkHandler {our_med:,.0f}  raw {raw_med:,.0f}  "
            f"ratio {our_med / raw_med:.2f}x  (count {count:,}; medians)\n"
            f"  best round: NetworkHandler {best:,.0f}, ratio {best_ratio:.2f}x; "
            f"reference loop {min(gauge):.1f}-{max(gauge):.1f} us (machine speed)"
        )


if __name__ == "__main__":
    main()
