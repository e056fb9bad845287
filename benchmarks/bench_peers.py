"""This library side by side with the peers users would pick instead, on 127.0.0.1.

Lanes (``--lanes``, all by default), 64-byte payloads, every side in its own fresh
process, the implementations of a lane alternating round by round:

``stream``  one-way length-prefixed frames without a typed header: a
            ``NetworkHandler`` with a plain-bytes ``DataPackage`` (a ``SendData`` /
            ``ReceivedData`` class that is the payload itself, over
            ``NetworkPacketStructure``), against Twisted ``Int32StringReceiver.sendString``
            per message (1,000 per reactor turn), asyncio streams (``write`` per frame,
            ``drain`` per 1,000) and a raw ``sendall`` per frame; each sender talks to a
            receiver of its own kind. Rate: first send to last frame received.
``typed``   the same with typed messages: ``NetworkHandler`` + ``BINARY_PACKAGE``
            (header, timestamp, sequence) against Twisted with the same header encoded
            and decoded per message with ``struct`` (and asyncio, raw likewise).
``reqres``  round trips: ``NetworkHandler.request()`` (against a responding handler),
            raw blocking ping-pong (against a raw echo server), Twisted with a Deferred
            per request (against a Twisted echo server), and ``ReqResManager`` +
            ``TCPClient`` sending prebuilt frames (against the raw echo server). Then
            the request side alone: ``request()`` and a raw blocking client that packs
            the typed header itself, both against one raw server that answers each
            typed request with a RESPONSE whose ``reply_to`` is its sequence, and
            ``request()`` with the receive worker reading every reply (no handoff).
``mqtt``    QoS 0, 1 and 2 through one mosquitto started here with a configuration
            that sets only the listener (stock limits otherwise; ``--mqtt-tuned`` adds a
            broker with ``max_queued_messages 0``): ``MQTTProtocol`` publisher and
            subscriber processes, gmqtt (MQTT 3.1.1), ``mosquitto_pub -l`` into
            ``mosquitto_sub``, and paho-mqtt. Rate: messages delivered to the
            subscriber per second from the first publish; lost: acknowledged (as the
            publisher reports it) minus received.
``import``  ``import eq1_network`` + ``get_protocol("loopback")`` in a fresh
            interpreter, median over runs, minus a bare interpreter.

Every loop is bounded by a count and by ``--max-seconds``. The printout gives, per
implementation, the median over rounds, the min-max range and the ratio library/peer
of the medians. Numbers from a shared or busy machine vary from run to run; no result
is checked against a target here.

``--profile DIR`` runs the library sides of the ``typed`` and ``reqres`` lanes once
more under cProfile (every thread) and ``import`` under ``-X importtime``, and prints
the ten entries with the most own time.

Peers: ``pip install "eq1-network[all,bench]"`` and mosquitto with its clients.

Usage::

    python benchmarks/bench_peers.py                    # 5 rounds, every lane
    python benchmarks/bench_peers.py --quick            # a smoke run of about a minute
    python benchmarks/bench_peers.py --lanes stream,reqres --rounds 9
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
LANES = ("stream", "typed", "reqres", "mqtt", "import")
PROFILE_ENV = "EQ1_BENCH_PROFILE"


# -- child processes ---------------------------------------------------------------


class Child:
    """A child process that speaks JSON lines on stdout and stops on a stdin line."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def result(self, timeout: float) -> dict[str, Any]:
        """The next JSON line, skipping other output; raise if none comes in time."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise RuntimeError(f"no answer within {timeout:g} s from {self.name}") from None
            if line is None:
                raise RuntimeError(f"{self.name} exited ({self.proc.wait()}) without an answer")
            if line.startswith("{"):
                result: dict[str, Any] = json.loads(line)
                return result

    @property
    def name(self) -> str:
        return " ".join(Path(a).name for a in self.args[1:4])

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the child to stop, then kill it if it has not exited within ``timeout``."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def child_env(profile: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(PROFILE_ENV, None)
    if profile:
        env[PROFILE_ENV] = profile
    return env


def run_pair(
    server_args: Sequence[str],
    client_args: Callable[[dict[str, Any]], Sequence[str]],
    timeout: float,
    profile: tuple[str | None, str | None] = (None, None),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a server (or receiver) and a client (or sender) process to completion.

    The server's first line (its port, or readiness) is given to ``client_args``; the
    client's result is read, then the server's, and both are told to stop.

    Returns:
        ``(server result, client result)``.
    """
    server = Child(server_args, child_env(profile[0]))
    client: Child | None = None
    try:
        hello = server.result(60)
        client = Child(client_args(hello), child_env(profile[1]))
        client_result = client.result(timeout)
        server_result = server.result(timeout)
        return server_result, client_result
    finally:
        if client is not None:
            client.stop()
        server.stop()


# -- results -----------------------------------------------------------------------


Result = tuple[float, int | None] | tuple[float, int | None, str]
"""What one run gives: its rate, its lost messages (or None) and optionally a note."""


@dataclass
class Series:
    """The results of one implementation in one lane, round by round."""

    name: str
    rates: list[float] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0


def print_lane(title: str, unit: str, series: Sequence[Series], ours: int = 0) -> None:
    """Print the median, range and ratio ``ours``/peer of every series of a lane."""
    print(f"\n{title}")
    base = series[ours].median()
    show_lost = any(s.lost for s in series)
    head = f"  {'implementation':<44}{'median ' + unit:>16}{'min-max':>22}{'lib/peer':>10}"
    print(head + ("  lost (each round)" if show_lost else ""))
    for index, s in enumerate(series):
        if not s.rates:
            print(f"  {s.name:<44}{'failed':>16}   {'; '.join(s.failures)[:120]}")
            continue
        med = s.median()
        span = f"{min(s.rates):,.0f}-{max(s.rates):,.0f}"
        ratio = "" if index == ours or not med or not base else f"{base / med:.2f}x"
        line = f"  {s.name:<44}{med:>16,.0f}{span:>22}{ratio:>10}"
        if show_lost:
            line += "  " + ",".join(str(n) for n in s.lost)
        print(line)
        for failure in s.failures:
            print(f"    round failed: {failure[:160]}")
        for note in sorted(set(s.notes)):
            print(f"    note ({s.notes.count(note)} of {len(s.rates)} rounds): {note}")


def measure_rounds(impls: Sequence[tuple[str, Callable[[], Result]]], rounds: int) -> list[Series]:
    """Run every implementation once per round, alternating, and collect the results.

    Each round starts one implementation further along, so that no implementation
    always runs first (after a pause) or right after the same neighbour.
    """
    series = [Series(name) for name, _ in impls]
    pairs = list(zip(series, impls, strict=True))
    for index in range(rounds):
        shift = index % len(pairs)
        for s, (_, run) in pairs[shift:] + pairs[:shift]:
            try:
                rate, lost, *note = run()
            except Exception as exc:
                s.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            s.rates.append(rate)
            if lost is not None:
                s.lost.append(lost)
            s.notes.extend(n for n in note if n)
    return series


# -- lanes 1 and 2: streaming --------------------------------------------------------


STREAM_IMPLS = (
    ("lib", "NetworkHandler"),
    ("twisted", "Twisted Int32StringReceiver"),
    ("asyncio", "asyncio streams"),
    ("raw", "raw sendall per frame"),
)


def stream_once(
    impl: str, mode: str, count: int, max_seconds: float, profile: tuple[str | None, str | None]
) -> tuple[float, int | None]:
    script = str(PEERS / "stream.py")
    common = [impl, mode, str(count), str(max_seconds)]
    received, sent = run_pair(
        [sys.executable, script, "recv", *common],
        lambda hello: [sys.executable, script, "send", *common, str(hello["port"])],
        max_seconds + 30,
        profile,
    )
    got = int(received["got"])
    if got < count:
        raise RuntimeError(f"received {got} of {count} frames ({sent['sent']} sent)")
    return got / max(received["last"] - sent["start"], 1e-9), None


def stream_lane(mode: str, args: argparse.Namespace) -> None:
    count = args.messages
    impls = [
        (name, _bind(stream_once, impl, mode, count, args.max_seconds, (None, None)))
        for impl, name in STREAM_IMPLS
    ]
    series = measure_rounds(impls, args.rounds)
    if mode == "raw":
        series[0].name = "NetworkHandler, plain-bytes package"
        title = f"1. one-way stream, raw length-prefixed frames ({count:,} per round)"
    else:
        series[0].name = "NetworkHandler, BINARY_PACKAGE"
        for s in series[1:]:
            s.name += " + struct header"
        title = f"2. one-way stream, typed messages ({count:,} per round)"
    print_lane(title, "msg/s", series)


def _bind(func: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: func(*args)


# -- lane 3: request/response -----------------------------------------------------


REQRES_IMPLS = (
    ("lib", "lib", "NetworkHandler.request()"),
    ("raw", "raw", "raw blocking ping-pong"),
    ("twisted", "twisted", "Twisted + Deferreds"),
    ("manager", "raw", "ReqResManager + TCPClient (raw echo server)"),
    ("lib", "typed", "request() -> raw typed responder"),
    ("typed", "typed", "raw typed ping-pong -> raw typed responder"),
    ("lib-worker", "typed", "request(), worker reads -> raw typed responder"),
)


def reqres_once(
    client: str,
    server: str,
    count: int,
    max_seconds: float,
    profile: tuple[str | None, str | None],
) -> tuple[float, int | None]:
    script = str(PEERS / "reqres.py")
    _, result = run_pair(
        [sys.executable, script, "server", server, str(count), str(max_seconds)],
        lambda hello: [
            sys.executable,
            script,
            "client",
            client,
            str(count),
            str(max_seconds),
            str(hello["port"]),
        ],
        max_seconds + 30,
        profile,
    )
    if int(result["done"]) < count:
        raise RuntimeError(f"{result['done']} of {count} round trips in the time allowed")
    return float(result["rate"]), None


def reqres_lane(args: argparse.Namespace) -> None:
    impls = [
        (name, _bind(reqres_once, client, server, args.requests, args.max_seconds, (None, None)))
        for client, server, name in REQRES_IMPLS
    ]
    series = measure_rounds(impls, args.rounds)
    print_lane(f"3. request/response ({args.requests:,} per round)", "rt/s", series)
    if series[3].rates and series[1].rates:
        print(
            "  ReqResManager + TCPClient / raw ping-pong: "
            f"{series[3].median() / series[1].median():.2f}x"
        )
    if series[4].rates and series[5].rates:
        # Both clients against one raw server that answers typed requests: the
        # request() side alone, against a raw client speaking the same wire format.
        print(
            "  request() / raw typed ping-pong, same raw typed responder: "
            f"{series[4].median() / series[5].median():.2f}x"
        )
    if series[4].rates and series[6].rates:
        print(
            "  request() reading its reply / with the receive worker reading it: "
            f"{series[4].median() / series[6].median():.2f}x"
        )


# -- lane 4: MQTT ------------------------------------------------------------------


MQTT_IMPLS = (
    ("lib", "MQTTProtocol"),
    ("gmqtt", "gmqtt 0.8 (MQTT 3.1.1)"),
    ("mosquitto", "mosquitto_pub -l -> mosquitto_sub"),
    ("paho", "paho-mqtt"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Broker:
    """A running mosquitto: its port and the log it writes to stderr."""

    port: int
    log: Path
    seen: int = 0

    def news(self) -> str:
        """What the broker logged since the last call about dropped messages or clients."""
        with self.log.open("rb") as fh:
            fh.seek(self.seen)
            text = fh.read().decode("utf-8", "replace")
            self.seen = fh.tell()
        dropped = text.count("Outgoing messages are being dropped")
        closed = text.count("Bad socket read/write") + text.count("disconnected due to")
        notes = []
        if dropped:
            notes.append(f"broker logged 'Outgoing messages are being dropped' {dropped}x")
        if closed:
            notes.append(f"broker closed a client connection {closed}x")
        return "; ".join(notes)


@contextlib.contextmanager
def mosquitto(extra: Sequence[str]) -> Any:
    """Start a mosquitto on a free port of 127.0.0.1; yield its :class:`Broker`."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        raise SystemExit("mosquitto is not installed")
    workdir = tempfile.mkdtemp(prefix="bench-peers-")
    os.chmod(workdir, 0o755)
    port = free_port()
    conf = os.path.join(workdir, "mosquitto.conf")
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", *extra]
    if os.geteuid() == 0:
        lines.append("user root")
    Path(conf).write_text("\n".join(lines) + "\n")
    os.chmod(conf, 0o644)
    log = Path(workdir) / "mosquitto.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([exe, "-c", conf], stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("mosquitto did not start") from None
                time.sleep(0.05)
        yield Broker(port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def mqtt_once(impl: str, broker: Broker, qos: int, count: int, max_seconds: float) -> Result:
    script = str(PEERS / "mqtt.py")
    broker.news()
    common = [impl, str(broker.port), str(qos), str(count), str(max_seconds)]
    received, published = run_pair(
        [sys.executable, script, "sub", *common],
        lambda hello: [sys.executable, script, "pub", *common],
        2 * max_seconds + 30,
    )
    got = int(received["got"])
    span = received["last"] - published["start"]
    rate = got / span if got and span > 0 else 0.0
    notes = [str(published.get("note", "")), broker.news()]
    return rate, int(published["acked"]) - got, "; ".join(n for n in notes if n)


def mqtt_lane(args: argparse.Namespace) -> None:
    brokers = [("stock mosquitto (listener only)", ())]
    if args.mqtt_tuned:
        brokers.append(("tuned mosquitto (max_queued_messages 0)", ("max_queued_messages 0",)))
    for label, extra in brokers:
        with mosquitto(extra) as broker:
            for qos in args.qos:
                impls = [
                    (
                        name,
                        _bind(mqtt_once, impl, broker, qos, args.mqtt_messages, args.max_seconds),
                    )
                    for impl, name in MQTT_IMPLS
                ]
                series = measure_rounds(impls, args.rounds)
                title = f"4. MQTT QoS {qos}, {label} ({args.mqtt_messages:,} per round)"
                print_lane(title, "delivered/s", series)


# -- lane 5: import ----------------------------------------------------------------


IMPORT_CODE = "import eq1_network; eq1_network.get_protocol('loopback')"


def import_env() -> dict[str, str]:
    """The environment of the import runs: bytecode caching on, as in an installation."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def wall(args: Sequence[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, timeout=60, env=import_env())
    return time.perf_counter() - started


def import_lane(args: argparse.Namespace) -> None:
    wall([sys.executable, "-c", IMPORT_CODE])  # writes the bytecode caches, not counted
    bare, total = [], []
    for _ in range(args.import_runs):
        bare.append(wall([sys.executable, "-c", "pass"]))
        total.append(wall([sys.executable, "-c", IMPORT_CODE]))
    med = statistics.median
    added = [(t - b) * 1e3 for t, b in zip(total, bare, strict=True)]
    print(
        f"\n5. import eq1_network + get_protocol('loopback'), {args.import_runs} fresh runs "
        "(bytecode cached)"
    )
    print(
        f"  whole process {med(total) * 1e3:.1f} ms, bare interpreter {med(bare) * 1e3:.1f} ms: "
        f"added {(med(total) - med(bare)) * 1e3:.1f} ms "
        f"(per-run difference {min(added):.1f}-{max(added):.1f} ms)"
    )


# -- profiles ----------------------------------------------------------------------


WAITS = (
    "acquire' of '_thread.lock",
    "acquire' of '_thread.RLock",
    "'recv' of '_socket.socket",
    "'poll' of 'select.epoll",
    "'select' of 'select",
    "'readline' of '_io",
    "'accept' of '_socket",
    "builtins.compile",
    "marshal.loads",
    "builtins.exec",
)
"""Entries that are time spent blocked (or importing), shown apart from the work."""


def print_profile(title: str, path: str, top: int = 10) -> None:
    """Print the ``top`` entries by own time, blocking waits and imports apart."""
    import pstats

    print(f"\n  profile: {title} (top {top} by own time, waits and imports apart)")
    if not os.path.exists(path):
        print("    (no profile written)")
        return
    stats: Any = pstats.Stats(path)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)
    waits = [r for r in rows if any(w in r[0][2] for w in WAITS)]
    work = [r for r in rows if r not in waits]
    busy = sum(v[2] for _, v in work) or 1.0
    print(f"    {'own s':>8}{'of work':>9}{'calls':>11}  function")
    for (filename, line, func), (_, ncalls, tottime, _, _) in work[:top]:
        where = f"{shorten(filename)}:{line}" if line else "built-in"
        print(f"    {tottime:>8.3f}{tottime / busy:>9.1%}{ncalls:>11,}  {func} ({where})")
    print(f"    work (all other entries) {busy:.3f} s; blocked or importing:", end="")
    print(", ".join(f" {v[2]:.2f} s in {k[2]} ({v[1]:,} calls)" for k, v in waits[:4]))


def shorten(filename: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return os.path.basename(filename) if filename.startswith("/") else filename


def profile_lanes(args: argparse.Namespace, lanes: Sequence[str]) -> None:
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nprofiles (library sides, one run each, written to {out})")
    if "typed" in lanes:
        recv, send = str(out / "typed-recv.prof"), str(out / "typed-send.prof")
        stream_once("lib", "typed", args.messages, args.max_seconds, (recv, send))
        print_profile("lane 2 sender, NetworkHandler BINARY_PACKAGE", send)
        print_profile("lane 2 receiver, NetworkHandler BINARY_PACKAGE", recv)
    if "reqres" in lanes:
        server, client = str(out / "reqres-server.prof"), str(out / "reqres-client.prof")
        reqres_once("lib", "lib", args.requests, args.max_seconds, (server, client))
        print_profile("lane 3 client, NetworkHandler.request()", client)
        print_profile("lane 3 responder, NetworkHandler", server)
    if "import" in lanes:
        print_importtime(args.import_runs)


def print_importtime(runs: int, top: int = 10) -> None:
    """Print the modules with the most own import time, medians over ``runs`` runs."""
    wall([sys.executable, "-c", IMPORT_CODE])  # brings the bytecode caches up to date
    times: dict[str, list[tuple[int, int]]] = {}
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", IMPORT_CODE],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=import_env(),
        )
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, name = (part.strip() for part in line[12:].split("|", 2))
            times.setdefault(name.strip(), []).append((int(own), int(cumulative)))
    med = statistics.median
    rows = sorted(
        ((med(t[0] for t in v), med(t[1] for t in v), k) for k, v in times.items()),
        reverse=True,
    )
    print(f"\n  profile: lane 5, -X importtime (top {top} by own time, medians of {runs} runs)")
    print(f"    {'own ms':>8}{'cumul ms':>10}  module")
    for own, cumulative, name in rows[:top]:
        print(f"    {own / 1e3:>8.1f}{cumulative / 1e3:>10.1f}  {name}")
    root = times.get("eq1_network")
    if root:
        print(f"    eq1_network cumulative: {med(t[1] for t in root) / 1e3:.1f} ms (median)")


# -- main --------------------------------------------------------------------------


DEFAULTS: dict[str, tuple[float, float]] = {
    "rounds": (5, 1),
    "messages": (200_000, 20_000),
    "requests": (10_000, 2_000),
    "mqtt_messages": (20_000, 5_000),
    "import_runs": (15, 5),
    "max_seconds": (60.0, 20.0),
}
"""Per option: (default, default with --quick)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", default=",".join(LANES), help="comma-separated lanes")
    parser.add_argument("--rounds", type=int, help="rounds per lane (5; --quick: 1)")
    parser.add_argument("--messages", type=int, help="frames per stream run (200,000; 20,000)")
    parser.add_argument("--requests", type=int, help="round trips per run (10,000; 2,000)")
    parser.add_argument("--mqtt-messages", type=int, help="messages per MQTT run (20,000; 5,000)")
    parser.add_argument("--qos", default="0,1,2", help="MQTT QoS levels, comma-separated")
    parser.add_argument("--mqtt-tuned", action="store_true", help="also a tuned broker")
    parser.add_argument("--import-runs", type=int, help="fresh interpreters (15; 5)")
    parser.add_argument("--max-seconds", type=float, help="bound per run (60; 20)")
    parser.add_argument("--quick", action="store_true", help="the smaller defaults")
    parser.add_argument("--profile", metavar="DIR", help="profile the library sides too")
    args = parser.parse_args()
    for name, (full, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    lanes = [lane.strip() for lane in args.lanes.split(",") if lane.strip()]
    unknown = sorted(set(lanes) - set(LANES))
    if unknown:
        parser.error(f"unknown lanes {unknown}; choose among {', '.join(LANES)}")
    args.lanes = lanes
    args.qos = [int(q) for q in args.qos.split(",")]
    if any(q not in (0, 1, 2) for q in args.qos):
        parser.error("--qos lists levels among 0, 1, 2")
    for name in ("rounds", "messages", "requests", "mqtt_messages", "import_runs"):
        if not 1 <= getattr(args, name) <= 10_000_000:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 10,000,000")
    if not 0 < args.max_seconds <= 3600:
        parser.error("--max-seconds must be more than 0 and at most 3600")
    return args


def main() -> int:
    args = parse_args()
    print(
        f"bench_peers: lanes {','.join(args.lanes)}; {args.rounds} round(s), alternating; "
        f"64-byte payloads on 127.0.0.1; Python {sys.version.split()[0]}; "
        "ratio = library median / peer median"
    )
    lanes = args.lanes
    if "stream" in lanes:
        stream_lane("raw", args)
    if "typed" in lanes:
        stream_lane("typed", args)
    if "reqres" in lanes:
        reqres_lane(args)
    if "mqtt" in lanes:
        mqtt_lane(args)
    if "import" in lanes:
        import_lane(args)
    if args.profile:
        profile_lanes(args, lanes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
