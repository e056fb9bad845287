"""Benchmark of the TCP plugin against raw sockets, on 127.0.0.1.

1. Request/response round trips per second with 64-byte payloads:
   ``ReqResManager`` + ``TCPClient`` talking to a ``TCPServer`` that echoes, against
   a raw-socket ping-pong (blocking ``sendall``/``recv`` client and echo server).
   The server echoes in two ways, both measured: in callback mode (``on_data``
   returns the reply) and through its request/response view
   (``wait_readable``/``read``/``send`` on the serving thread).
   Each server runs in its own process, as it would in deployment; all sides
   alternate in short rounds so that machine noise affects them alike. Target: >= 0.8x.
   For reference, a pair of minimal stand-ins with the same layering but none of the
   library's guarantees (no locks, back-pressure, TLS or loss handling) runs in the same
   rounds: it shows how close to raw the interpreter lets such a design come.
2. Memory per idle connection: a server process holds N connected clients (opened
   by a separate process) and reports its resident-set growth per connection, for
   ``TCPServer`` (one I/O thread) and for a raw thread-per-client server.
   Target: <= 2 KiB per connection for ``TCPServer``. Linux only (reads /proc).

Every phase is bounded in count and time; the defaults finish in well under a
minute. Numbers from a shared or busy machine vary from run to run.

Usage::

    python benchmarks/bench_tcp.py [--count 100000] [--duration 8] [--rounds 16]
                                   [--clients 1000] [--skip-rss]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import ClassVar

PAYLOAD = bytes(range(64))
HOST = "127.0.0.1"
WARMUP = 500


# -- 1. round trips --------------------------------------------------------------


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def serve_raw() -> None:
    """Child process: raw blocking echo server for one client; prints its port."""
    listener = socket.create_server((HOST, 0))
    print(listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
    listener.close()


def serve_callback() -> None:
    """Child process: TCPServer echoing in callback mode (``on_data`` returns the reply)."""
    from eq1_network.protocols.ethernet.tcp_server import TCPServer

    left = threading.Event()
    server = TCPServer(
        HOST,
        0,
        timeout=10,
        on_disconnect=lambda peer: left.set(),
        on_data=lambda peer, data: data,
    )
    server.connect()
    print(server.port, flush=True)
    left.wait(600)
    server.disconnect()


def serve_view() -> None:
    """Child process: TCPServer echoing through its request/response view."""
    from eq1_network.protocols.ethernet.tcp_server import TCPServer

    left = threading.Event()
    server = TCPServer(HOST, 0, timeout=10, on_disconnect=lambda peer: left.set())
    server.connect()
    print(server.port, flush=True)
    deadline = time.monotonic() + 600
    while not left.is_set() and time.monotonic() < deadline:
        if not server.wait_readable(0.2):
            continue
        ok, data = server.read()
        if ok and data:
            server.send(data)
    server.disconnect()


class MinimalServer:
    """Reference only: the request/response view of an epoll server with no guarantees.

    Same layering as ``TCPServer`` (``wait_readable``/``read``/``send`` over one epoll
    loop) but single-threaded, without locks, back-pressure, TLS or loss handling. It
    shows how close to raw the interpreter allows such a design to come.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.epoll = select.epoll()
        self.epoll.register(self.listener.fileno(), select.EPOLLIN)
        self.conns: dict[int, socket.socket] = {}
        self.items: deque[tuple[socket.socket, bytes]] = deque()
        self.last: socket.socket | None = None
        self.left = False

    def wait_readable(self, timeout: float) -> bool:
        if self.items:
            return True
        for fd, _ in self.epoll.poll(timeout):
            if fd == self.listener.fileno():
                conn, _ = self.listener.accept()
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conns[conn.fileno()] = conn
                self.epoll.register(conn.fileno(), select.EPOLLIN)
                continue
            conn = self.conns[fd]
            try:
                data = conn.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                self.epoll.unregister(fd)
                del self.conns[fd]
                conn.close()
                self.left = True
                continue
            self.items.append((conn, data))
        return bool(self.items)

    def read(self) -> tuple[bool, bytes | None]:
        if not self.items:
            return False, None
        self.last, data = self.items.popleft()
        return True, data

    def send(self, data: bytes) -> int:
        assert self.last is not None
        return self.last.send(data)


def serve_minimal() -> None:
    """Child process: the minimal reference server, echoing like ``serve_view``."""
    server = MinimalServer()
    print(server.port, flush=True)
    deadline = time.monotonic() + 600
    while not server.left and time.monotonic() < deadline:
        if not server.wait_readable(0.2):
            continue
        ok, data = server.read()
        if ok and data:
            server.send(data)


def start_server(kind: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def raw_client(port: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """Raw blocking client: ``sendall`` then ``recv`` until the echo is complete."""
    client = socket.create_connection((HOST, port))
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.settimeout(10)

    def one() -> None:
        client.sendall(PAYLOAD)
        recv_exactly(client, len(PAYLOAD))

    return one, client.close


def eq1_client(port: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """ReqResManager + TCPClient: ``send`` then ``read`` until the echo is complete."""
    from eq1_network import ReqResManager
    from eq1_network.protocols.ethernet.tcp_client import TCPClient

    manager = ReqResManager.isolated()
    manager.register("bench", TCPClient(HOST, port, timeout=10))
    manager.connect("bench")

    def one() -> None:
        manager.send("bench", PAYLOAD)
        got = manager.read("bench")
        while len(got) < len(PAYLOAD):
            got += manager.read("bench")

    return one, lambda: manager.disconnect("bench")


class MinimalClient:
    """Reference only: ``read``/``wait_readable`` over a bare non-blocking socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.poller = select.poll()
        self.poller.register(self.sock.fileno(), select.POLLIN)

    def send(self, data: bytes) -> int:
        return self.sock.send(data)

    def read(self) -> tuple[bool, bytes | None]:
        try:
            return True, self.sock.recv(65536)
        except BlockingIOError:
            return False, None

    def wait_readable(self, timeout: float) -> bool:
        return bool(self.poller.poll(timeout * 1000))


class MinimalManager:
    """Reference only: a name -> client table with ``send`` and a wait-then-read ``read``."""

    table: ClassVar[dict[str, MinimalClient]] = {}

    @classmethod
    def send(cls, name: str, data: bytes) -> int:
        return cls.table[name].send(data)

    @classmethod
    def read(cls, name: str, timeout: float = 10.0) -> bytes:
        client = cls.table[name]
        deadline = time.monotonic() + timeout
        client.wait_readable(timeout)
        while True:
            ok, data = client.read()
            if ok and data:
                return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no reply")
            client.wait_readable(remaining)


def minimal_client(port: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """The minimal reference pair's client side."""
    MinimalManager.table["bench"] = client = MinimalClient(port)

    def one() -> None:
        MinimalManager.send("bench", PAYLOAD)
        got = MinimalManager.read("bench")
        while len(got) < len(PAYLOAD):
            got += MinimalManager.read("bench")

    return one, client.sock.close


SIDES = (
    ("raw", "raw socket ping-pong", "raw"),
    ("callback", "ReqResManager+TCPClient -> TCPServer(on_data)", "eq1"),
    ("view", "ReqResManager+TCPClient -> TCPServer read/send", "eq1"),
    ("minimal", "reference: minimal stand-ins", "minimal"),
)
"""(server kind, label, client kind) of each side, the raw baseline first."""


def round_trips(count: int, duration: float, rounds: int) -> dict[str, list[float]]:
    """Alternate short rounds of every side, so machine noise hits them alike.

    Returns:
        Round-trip rates of each round, by side label.
    """
    clients = {"raw": raw_client, "eq1": eq1_client, "minimal": minimal_client}
    procs: list[subprocess.Popen[str]] = []
    closers: list[Callable[[], None]] = []
    sides: list[tuple[str, Callable[[], None]]] = []
    try:
        for kind, label, client in SIDES:
            if kind == "minimal" and not hasattr(select, "epoll"):
                continue  # the minimal reference pair is written for Linux
            proc, port = start_server(kind)
            procs.append(proc)
            one, close = clients[client](port)
            closers.append(close)
            sides.append((label, one))
        for _, one in sides:
            for _ in range(WARMUP):
                one()
        rates: dict[str, list[float]] = {label: [] for label, _ in sides}
        for _ in range(rounds):
            for label, one in sides:
                rates[label].append(measure(one, count // rounds, duration / rounds))
    finally:
        for close in closers:
            close()
        for proc in procs:
            proc.wait(30)
    return rates


def measure(one: Callable[[], None], count: int, duration: float) -> float:
    done = 0
    started = time.perf_counter()
    deadline = started + duration
    while done < count:
        one()
        done += 1
        if done % 64 == 0 and time.perf_counter() > deadline:
            break
    return done / (time.perf_counter() - started)


# -- 2. memory per idle connection ----------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def raise_fd_limit(needed: int) -> int:
    """Raise RLIMIT_NOFILE towards ``needed``; return the soft limit in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def hold_clients(port: int, count: int) -> None:
    """Child process: open ``count`` connections, report, hold them until stdin closes."""
    raise_fd_limit(count + 64)
    socks = [socket.create_connection((HOST, port), timeout=30) for _ in range(count)]
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()
    for sock in socks:
        sock.close()


class ThreadPerClientServer:
    """The comparison server: one blocking thread per client."""

    def __init__(self) -> None:
        self.listener = socket.create_server((HOST, 0), backlog=socket.SOMAXCONN)
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)

    def count(self) -> int:
        with self.lock:
            return len(self.conns)

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()


def rss_per_connection(kind: str, count: int) -> dict[str, float]:
    """Child process: run one server kind, connect ``count`` idle clients, measure."""
    raise_fd_limit(count + 64)
    if kind == "tcpserver":
        from eq1_network.protocols.ethernet.tcp_server import TCPServer

        server = TCPServer(HOST, 0)
        server.connect()
        port, connected, close = server.port, lambda: len(server.peers()), server.disconnect
    else:
        raw = ThreadPerClientServer()
        port, connected, close = raw.port, raw.count, raw.close
    gc.collect()
    time.sleep(0.2)  # let the I/O thread settle before the baseline sample
    before = rss_bytes()
    holder = subprocess.Popen(
        [sys.executable, __file__, "--hold-clients", str(port), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        if holder.stdout.readline().strip() != "ready":
            raise RuntimeError("client process failed")
        deadline = time.monotonic() + 60
        while connected() < count and time.monotonic() < deadline:
            time.sleep(0.05)
        accepted = connected()
        gc.collect()
        after = rss_bytes()
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(60)
        close()
    return {"accepted": accepted, "per_connection": (after - before) / max(accepted, 1)}


def run_rss_child(kind: str, count: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-server", kind, "--clients", str(count)],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- main ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100000, help="round trips per side, at most")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per side, at most")
    parser.add_argument("--rounds", type=int, default=16, help="alternating rounds per side")
    parser.add_argument("--clients", type=int, default=1000, help="idle connections")
    parser.add_argument("--skip-rss", action="store_true", help="skip the memory phase")
    parser.add_argument("--hold-clients", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--serve", choices=("raw", "callback", "view", "minimal"), help=argparse.SUPPRESS
    )
    parser.add_argument("--rss-server", choices=("tcpserver", "threads"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        servers = {
            "raw": serve_raw,
            "callback": serve_callback,
            "view": serve_view,
            "minimal": serve_minimal,
        }
        servers[args.serve]()
        return 0
    if args.hold_clients:
        hold_clients(*args.hold_clients)
        return 0
    if args.rss_server:
        print(json.dumps(rss_per_connection(args.rss_server, args.clients)))
        return 0

    print(
        f"round trips, {len(PAYLOAD)}-byte payload, client and server in separate processes, "
        f"{args.rounds} alternating rounds, at most {args.count} or {args.duration:g} s per side"
    )
    rates = round_trips(args.count, args.duration, max(args.rounds, 1))
    raw_rates = rates.pop(SIDES[0][1])
    raw = statistics.median(raw_rates)
    print(f"  {SIDES[0][1]:47} {raw:8.0f} round trips/s (median)")
    for label, side_rates in rates.items():
        median = statistics.median(side_rates)
        best = max(ours / base for ours, base in zip(side_rates, raw_rates, strict=True))
        target = "" if label.startswith("reference") else ", target >= 0.8x"
        print(
            f"  {label:47} {median:8.0f} round trips/s, {median / raw:.2f}x "
            f"(best round {best:.2f}x{target})"
        )
    print("  (the reference has the same layering as the library but none of its guarantees)")

    if args.skip_rss:
        return 0
    if not sys.platform.startswith("linux"):
        print("memory phase skipped: it reads /proc, which only Linux has")
        return 0
    limit = raise_fd_limit(args.clients + 64)
    clients = min(args.clients, max(limit - 64, 1))
    print(f"resident memory per idle connection, {clients} clients in another process")
    ours_rss = run_rss_child("tcpserver", clients)
    threads_rss = run_rss_child("threads", clients)
    rows = (("TCPServer (one I/O thread)", ours_rss), ("thread per client", threads_rss))
    for label, result in rows:
        print(
            f"  {label:30}  {result['per_connection'] / 1024:8.2f} KiB/connection "
            f"({int(result['accepted'])} accepted)"
        )
    ratio = ours_rss["per_connection"] / max(threads_rss["per_connection"], 1.0)
    print(f"  TCPServer / thread-per-client   {ratio:8.2f}x  (target <= 2 KiB/connection)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
