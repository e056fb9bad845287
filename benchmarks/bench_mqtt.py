"""Benchmark: MQTT publisher -> subscriber throughput, raw paho-mqtt vs MQTTProtocol.

Starts its own mosquitto on 127.0.0.1 (a free port, ``max_queued_messages 0`` so the
broker itself never drops QoS 1 messages), then for each implementation and QoS level
(0, 1 and 2, or those given with ``--levels``) publishes ``--count`` 64-byte messages as
fast as the publisher can and measures, in a separate subscriber process, how many arrive
per second (from the first publish to the last delivery) and how many are lost.

"raw paho" is paho-mqtt 2.x with its defaults (``loop_start()``, in-flight window 20)
on both sides; "MQTTProtocol" is this project's client with its defaults on both sides.
Every run is bounded by ``--count`` messages and ``--max-seconds`` per measurement.

Usage::

    python benchmarks/bench_mqtt.py                 # 20000 messages per run
    python benchmarks/bench_mqtt.py --count 50000 --repeat 3
    python benchmarks/bench_mqtt.py --levels 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

TOPIC = "bench/eq1/mqtt"
PAYLOAD_SIZE = 64
IDLE_LIMIT = 3.0
QOS_LEVELS = (0, 1, 2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mosquitto(port: int, workdir: str) -> subprocess.Popen[bytes]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        sys.exit("mosquitto is not installed (apt-get install mosquitto)")
    conf = os.path.join(workdir, "mosquitto.conf")
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "max_queued_messages 0"]
    if os.geteuid() == 0:
        lines.append("user root")
    with open(conf, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    proc = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("mosquitto did not start")


# -- the subscriber process -----------------------------------------------------------


def make_subscriber(impl: str, port: int, qos: int, on_message: Callable[[], None]) -> Any:
    if impl == "paho":
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        ready = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}")
        client.on_message = lambda c, u, m: on_message()
        client.on_subscribe = lambda *a: ready.set()
        client.connect("127.0.0.1", port)
        client.loop_start()
        client.subscribe(TOPIC, qos)
        if not ready.wait(15):
            sys.exit("raw paho subscriber got no SUBACK")
        return client
    from eq1_network.protocols.mqtt.mqtt_protocol import (
        BrokerConfig,
        ClientConfig,
        MQTTProtocol,
    )

    proto = MQTTProtocol(BrokerConfig("127.0.0.1", port), ClientConfig())
    proto.connect()
    proto.subscribe(TOPIC, lambda topic, payload: on_message(), qos=qos)
    return proto


def run_subscriber(impl: str, port: int, qos: int, count: int, max_seconds: float) -> None:
    lock = threading.Lock()
    state = {"n": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()

    def on_message() -> None:
        now = time.monotonic()
        with lock:
            if state["n"] == 0:
                state["first"] = now
            state["n"] += 1
            state["last"] = now
            if state["n"] >= count:
                done.set()

    client = make_subscriber(impl, port, qos, on_message)
    print("ready", flush=True)
    deadline = time.monotonic() + max_seconds
    while not done.wait(0.2):
        with lock:
            idle = state["n"] and time.monotonic() - state["last"] > IDLE_LIMIT
        if idle or time.monotonic() > deadline:
            break
    with lock:
        print(json.dumps(state), flush=True)
    if impl == "paho":
        client.disconnect()
        client.loop_stop()
    else:
        client.disconnect()


# -- the publisher (main process) ------------------------------------------------------


def publish_all(
    impl: str, port: int, qos: int, count: int, max_seconds: float
) -> tuple[float, float]:
    """Publish ``count`` messages; return (start time, seconds until the last completed)."""
    payload = b"x" * PAYLOAD_SIZE
    deadline = time.monotonic() + max_seconds
    if impl == "paho":
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
        connected = threading.Event()
        client.on_connect = lambda *a: connected.set()
        client.connect("127.0.0.1", port)
        client.loop_start()
        connected.wait(15)
        start = time.monotonic()
        infos = []
        for _ in range(count):
            infos.append(client.publish(TOPIC, payload, qos=qos))
            if time.monotonic() > deadline:
                break
        for info in infos[-1:]:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        elapsed = time.monotonic() - start
        client.disconnect()
        client.loop_stop()
        return start, elapsed
    from eq1_network.protocols.mqtt.mqtt_protocol import (
        BrokerConfig,
        ClientConfig,
        MQTTProtocol,
    )

    proto = MQTTProtocol(BrokerConfig("127.0.0.1", port), ClientConfig())
    proto.connect()
    start = time.monotonic()
    handles = []
    for _ in range(count):
        handles.append(proto.publish(TOPIC, payload, qos=qos))
        if time.monotonic() > deadline:
            break
    for handle in handles[-1:]:
        handle.wait(max(0.1, deadline - time.monotonic()))
    elapsed = time.monotonic() - start
    proto.disconnect()
    return start, elapsed


def measure(impl: str, port: int, qos: int, count: int, max_seconds: float) -> dict[str, float]:
    sub = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role=sub",
            f"--impl={impl}",
            f"--port={port}",
            f"--qos={qos}",
            f"--count={count}",
            f"--max-seconds={max_seconds}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sub.stdout is not None
        if sub.stdout.readline().strip() != "ready":
            raise RuntimeError("subscriber did not start")
        try:
            start, publish_seconds = publish_all(impl, port, qos, count, max_seconds)
        except Exception as exc:  # a client that gives up is a result too
            print(f"  {impl} QoS {qos}: publishing failed: {exc}", file=sys.stderr)
            start, publish_seconds = time.monotonic(), 0.0
        state = json.loads(sub.stdout.readline())
        sub.wait(30)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    # Both processes read CLOCK_MONOTONIC, which is system-wide on Linux: the rate runs
    # from the first publish to the last delivery.
    received = int(state["n"])
    span = state["last"] - start
    rate = received / span if received and span > 0 else 0.0
    return {
        "received": received,
        "lost": count - received,
        "rate": rate,
        "publish_rate": count / publish_seconds if publish_seconds > 0 else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="messages per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (best is kept)")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="bound per run")
    parser.add_argument(
        "--levels", default="0,1,2", help="QoS levels to measure, comma-separated (default 0,1,2)"
    )
    parser.add_argument("--role", default="main", choices=["main", "sub"], help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="paho", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--qos", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count < 2 or args.count > 1_000_000:
        parser.error("--count must be between 2 and 1000000")
    levels = tuple(int(q) for q in args.levels.split(","))
    if not levels or any(q not in QOS_LEVELS for q in levels):
        parser.error("--levels must list QoS levels among 0, 1, 2")
    if args.role == "sub":
        run_subscriber(args.impl, args.port, args.qos, args.count, args.max_seconds)
        return 0
    workdir = tempfile.mkdtemp(prefix="bench-mqtt-")
    port = free_port()
    broker = start_mosquitto(port, workdir)
    try:
        print(f"mosquitto on 127.0.0.1:{port} (max_queued_messages 0), {args.count} x 64 B")
        print(f"{'case':<24}{'delivered/s':>12}{'lost':>8}{'publish/s':>12}")
        results: dict[tuple[str, int], dict[str, float]] = {}
        for qos in levels:
            for impl in ("paho", "eq1"):
                runs = [
                    measure(impl, port, qos, args.count, args.max_seconds)
                    for _ in range(args.repeat)
                ]
                best = max(runs, key=lambda r: r["rate"])
                results[(impl, qos)] = best
                name = "raw paho (defaults)" if impl == "paho" else "MQTTProtocol"
                print(
                    f"{name + f' QoS {qos}':<24}{best['rate']:>12.0f}{best['lost']:>8.0f}"
                    f"{best['publish_rate']:>12.0f}"
                )
        for qos in levels:
            raw, ours = results[("paho", qos)]["rate"], results[("eq1", qos)]["rate"]
            ratio = ours / raw if raw else float("nan")
            print(f"QoS {qos}: MQTTProtocol / raw paho = {ratio:.2f}x")
    finally:
        broker.terminate()
        try:
            broker.wait(10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
