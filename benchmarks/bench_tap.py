"""Cost of the observability tap (``eq1_network.observe``), in-process, no network.

Installing a tap replaces hooks on one protocol *instance*; the classes are never
changed. So a protocol without a tap runs exactly the code it ran before the
observe package existed: this benchmark checks that (the "before" and "after
uninstall" variants must match within noise) and measures what a tap costs once it is
installed, with no listener, with :class:`~eq1_network.observe.Stats`, and with a
:class:`~eq1_network.observe.Recorder` writing JSON Lines.

Workloads (each operation is one call the application makes):

1. ``loop://`` request/response: ``send(64 bytes)`` then ``read_within()`` of the echo.
2. ``memory://`` publish/subscribe: ``publish(64 bytes)`` delivered to one callback.

The variants run in alternating short rounds so that machine noise affects them alike;
the table shows the median rate of each and its ratio to the untapped instance.
Bounded: ``--rounds`` x ``--count`` operations per variant.

With ``--before SRC`` (the ``src`` folder of eq1-network-core from a release that
predates the observe package, e.g. extracted with ``git archive``), the untapped
``loop://`` workload also runs in child processes alternating between that tree and
this one: the "before/after" of the code itself.

Usage::

    python benchmarks/bench_tap.py [--count 20000] [--rounds 9] [--json] [--before SRC]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import eq1_network
from eq1_network.interfaces.protocol import PubSubProtocol, ReqResProtocol

PAYLOAD = bytes(range(64))
CLASS_METHODS = (ReqResProtocol.send, ReqResProtocol.read_within, PubSubProtocol.publish)


def reqres_loop(proto: Any, count: int) -> float:
    send, read = proto.send, proto.read_within
    started = time.perf_counter()
    for _ in range(count):
        send(PAYLOAD)
        read(1.0)
    return count / (time.perf_counter() - started)


def pubsub_loop(bus: Any, count: int) -> float:
    publish = bus.publish
    started = time.perf_counter()
    for _ in range(count):
        publish("bench/t", PAYLOAD)
    return count / (time.perf_counter() - started)


def variants(folder: Path) -> dict[str, Callable[[Any], Any]]:
    from eq1_network.observe import Recorder, Stats, Tap

    def tapped_then_removed(proto: Any) -> Any:
        tap = Tap(Stats())
        tap.install(proto)
        tap.uninstall()
        return proto

    def recorder(proto: Any) -> Any:
        return Tap(Recorder(folder / f"rec-{id(proto)}.jsonl", max_bytes=50_000_000)).install(proto)

    return {
        "no tap (before)": lambda proto: proto,
        "tap removed": tapped_then_removed,
        "tap, no listener": lambda proto: Tap().install(proto),
        "tap + Stats": lambda proto: Tap(Stats()).install(proto),
        "tap + Recorder": recorder,
    }


def measure(kind: str, count: int, rounds: int, folder: Path) -> dict[str, float]:
    rates: dict[str, list[float]] = {}
    chosen = variants(folder)
    names = list(chosen)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:  # rotate order
            make = chosen[name]
            gc.collect()
            if kind == "reqres":
                proto = make(eq1_network.from_url("loop://"))
                with proto:
                    reqres_loop(proto, 200)  # warm-up
                    rates.setdefault(name, []).append(reqres_loop(proto, count))
            else:
                bus = make(eq1_network.from_url("memory://"))
                with bus:
                    bus.subscribe("bench/#", lambda topic, payload: None)
                    pubsub_loop(bus, 200)
                    rates.setdefault(name, []).append(pubsub_loop(bus, count))
    return {name: statistics.median(values) for name, values in rates.items()}


def child(count: int) -> None:
    """Print the untapped loop:// rate of the eq1_network this interpreter imports."""
    proto = eq1_network.from_url("loop://")
    with proto:
        reqres_loop(proto, 200)
        print(reqres_loop(proto, count))


def before_after(before: str, count: int, rounds: int) -> dict[str, float]:
    """Median untapped rates in child processes: the ``before`` tree and this one."""
    rates: dict[str, list[float]] = {"before (old tree)": [], "after (this tree)": []}
    trees = {"before (old tree)": before, "after (this tree)": ""}
    for _ in range(rounds):
        for name, tree in trees.items():
            env = dict(os.environ)
            if tree:
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [tree, env.get("PYTHONPATH")]))
            argv = [sys.executable, __file__, "--child", "--count", str(count)]
            done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
            rates[name].append(float(done.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(values) for name, values in rates.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--before", metavar="SRC", help="an older core src tree to compare")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.count)
        return 0
    before = CLASS_METHODS
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("reqres", "pubsub"):
            results[kind] = measure(kind, args.count, args.rounds, Path(folder))
    if args.before:
        results["before-after"] = before_after(args.before, args.count, args.rounds)
    untouched = before == (
        ReqResProtocol.send,
        ReqResProtocol.read_within,
        PubSubProtocol.publish,
    )
    if args.json:
        print(json.dumps({"classes_untouched": untouched, "ops_per_s": results}))
        return 0
    print(f"python {sys.version.split()[0]}; classes untouched by taps: {untouched}")
    labels = {
        "reqres": "loop:// send+read",
        "pubsub": "memory:// publish+deliver",
        "before-after": "loop:// send+read, no tap, child processes",
    }
    for kind, rates in results.items():
        base = next(iter(rates.values()))
        label = labels[kind]
        print(f"\n{label} ({args.rounds} rounds x {args.count}, median)")
        for name, rate in rates.items():
            print(f"  {name:<18} {rate:>12,.0f} ops/s  {rate / base:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
