"""One side of an MQTT run (a child of ``bench_peers.py``).

Usage: ``mqtt.py sub|pub IMPL PORT QOS COUNT MAX_SECONDS`` with IMPL ``lib``
(``MQTTProtocol`` with its defaults), ``gmqtt`` (gmqtt, MQTT 3.1.1), ``mosquitto``
(``mosquitto_sub``; ``mosquitto_pub -l`` reading one 64-byte line per message from a
file) or ``paho`` (paho-mqtt 2.x, ``loop_start()``, its defaults).

A subscriber prints ``{"ready": true}`` once its subscription is acknowledged, then
``{"got": N, "last": T}`` when it has COUNT messages, or nothing came for
``IDLE_LIMIT`` seconds, or its time is up. A publisher prints
``{"start": T, "sent": N, "acked": A}``: A is the publishes the client reports as
complete (QoS 0: handed to the socket), T is taken before the first publish; for
``mosquitto_pub`` A is COUNT when it exits with status 0 (it reports nothing else), and
T is taken before it starts, so its rate includes its start and connection; for gmqtt A
is COUNT less the publishes still in its store of unacknowledged messages (gmqtt clears
that store when its connection closes, so it may count as acknowledged what was lost).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from _common import HOST, dump_profile, emit, install_profiler, stop_requested

TOPIC = "bench/eq1/peers"
PAYLOAD = b"x" * 64
IDLE_LIMIT = 3.0


class Counter:
    """Counts deliveries from any thread and waits for the end of a run."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.got = 0
        self.last = 0.0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def hit(self, n: int = 1) -> None:
        now = time.monotonic()
        with self.lock:
            self.got += n
            self.last = now
            if self.got >= self.count:
                self.done.set()

    def wait(self, max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds
        while not self.done.wait(0.2) and time.monotonic() < deadline:
            with self.lock:
                if self.got and time.monotonic() - self.last > IDLE_LIMIT:
                    return

    def report(self) -> None:
        with self.lock:
            emit(got=self.got, last=self.last or time.monotonic())


def client_id(role: str) -> str:
    return f"bench-{role}-{os.getpid()}"


# -- the library -------------------------------------------------------------------


def lib_sub(port: int, qos: int, counter: Counter, max_seconds: float) -> Callable[[], None]:
    from eq1_network.protocols.mqtt.mqtt_protocol import BrokerConfig, ClientConfig, MQTTProtocol

    proto = MQTTProtocol(BrokerConfig(HOST, port), ClientConfig(client_id=client_id("sub")))
    proto.connect()
    proto.subscribe(TOPIC, lambda topic, payload: counter.hit(), qos=qos)
    return proto.disconnect


def lib_pub(port: int, qos: int, count: int, max_seconds: float) -> None:
    from eq1_network.protocols.mqtt.mqtt_protocol import BrokerConfig, ClientConfig, MQTTProtocol

    proto = MQTTProtocol(BrokerConfig(HOST, port), ClientConfig(client_id=client_id("pub")))
    proto.connect()
    deadline = time.monotonic() + max_seconds
    publish = proto.publish
    handles = []
    start = time.monotonic()
    for _ in range(count):
        handles.append(publish(TOPIC, PAYLOAD, qos=qos))
        if time.monotonic() > deadline:
            break
    acked = sum(1 for h in handles if h.wait(max(deadline - time.monotonic(), 0.01)))
    emit(start=start, sent=len(handles), acked=acked)
    stop_requested().wait(10)
    proto.disconnect()


# -- paho-mqtt ---------------------------------------------------------------------


def paho_client(role: str) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id(role))


def paho_sub(port: int, qos: int, counter: Counter, max_seconds: float) -> Callable[[], None]:
    client = paho_client("sub")
    ready = threading.Event()
    client.on_message = lambda c, u, m: counter.hit()
    client.on_subscribe = lambda *a: ready.set()
    client.connect(HOST, port)
    client.loop_start()
    client.subscribe(TOPIC, qos)
    if not ready.wait(15):
        raise SystemExit("paho subscriber got no SUBACK")

    def close() -> None:
        client.disconnect()
        client.loop_stop()

    return close


def paho_pub(port: int, qos: int, count: int, max_seconds: float) -> None:
    client = paho_client("pub")
    connected = threading.Event()
    acked = Counter(count)
    client.on_connect = lambda *a: connected.set()
    client.on_publish = lambda *a: acked.hit()
    client.connect(HOST, port)
    client.loop_start()
    if not connected.wait(15):
        raise SystemExit("paho publisher got no CONNACK")
    deadline = time.monotonic() + max_seconds
    start = time.monotonic()
    sent = 0
    for _ in range(count):
        client.publish(TOPIC, PAYLOAD, qos=qos)
        sent += 1
        if time.monotonic() > deadline:
            break
    with acked.lock:
        acked.count = sent
        if acked.got >= sent:
            acked.done.set()
    acked.wait(max(deadline - time.monotonic(), 0.5))
    emit(start=start, sent=sent, acked=acked.got)
    stop_requested().wait(10)
    client.disconnect()
    client.loop_stop()


# -- gmqtt -------------------------------------------------------------------------


class CountingHandler(logging.Handler):
    """Counts gmqtt's warnings (one per write after its connection closed) and hides them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def quiet_gmqtt() -> CountingHandler:
    handler = CountingHandler()
    log = logging.getLogger("gmqtt")
    log.addHandler(handler)
    log.propagate = False
    return handler


def gmqtt_sub(port: int, qos: int, counter: Counter, max_seconds: float) -> None:
    import gmqtt
    from gmqtt.mqtt.constants import MQTTv311

    quiet_gmqtt()

    async def main() -> None:
        client = gmqtt.Client(client_id("sub"))
        subscribed = asyncio.Event()

        def on_message(client: Any, topic: str, payload: bytes, qos: int, props: Any) -> int:
            counter.hit()
            return 0

        client.on_message = on_message
        client.on_subscribe = lambda *a: subscribed.set()
        await client.connect(HOST, port, version=MQTTv311)
        client.subscribe(TOPIC, qos=qos)
        await asyncio.wait_for(subscribed.wait(), 15)
        emit(ready=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, counter.wait, max_seconds)
        counter.report()
        await client.disconnect()

    asyncio.run(main())


def gmqtt_pub(port: int, qos: int, count: int, max_seconds: float) -> None:
    import gmqtt
    from gmqtt.mqtt.constants import MQTTv311

    warnings = quiet_gmqtt()

    async def main() -> None:
        client = gmqtt.Client(client_id("pub"))
        await client.connect(HOST, port, version=MQTTv311)
        deadline = time.monotonic() + max_seconds
        storage = client._persistent_storage  # the unacknowledged QoS 1/2 publishes
        start = time.monotonic()
        sent = 0
        while sent < count and time.monotonic() < deadline:
            for _ in range(min(1000, count - sent)):
                client.publish(TOPIC, PAYLOAD, qos=qos)
                sent += 1
            await asyncio.sleep(0)
        with_acks = qos > 0
        while with_acks and not storage.is_empty and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        pending = len(storage.get_all()) if with_acks else 0
        note = f"{warnings.count} gmqtt warnings (writes after the connection closed)"
        emit(start=start, sent=sent, acked=sent - pending, note=note if warnings.count else "")
        await asyncio.get_running_loop().run_in_executor(None, stop_requested().wait, 10)
        await client.disconnect()

    asyncio.run(main())


# -- mosquitto's C clients ---------------------------------------------------------


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not installed")
    return path


def mosquitto_sub(port: int, qos: int, counter: Counter, max_seconds: float) -> None:
    """Run ``mosquitto_sub`` and count its output lines (one per 64-byte message).

    Readiness: probe messages ("probe") are published with ``mosquitto_pub -m`` until
    one comes out; probes are not counted.
    """
    proc = subprocess.Popen(
        [tool("mosquitto_sub"), "-h", HOST, "-p", str(port), "-t", TOPIC, "-q", str(qos)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    ready = threading.Event()

    def read() -> None:
        tail = b""
        while True:
            data = os.read(fd, 1 << 16)
            if not data:
                return
            data = tail + data
            cut = data.rfind(b"\n") + 1
            lines, tail = data[:cut], data[cut:]
            probes = lines.count(b"probe\n")
            if probes:
                ready.set()
            messages = lines.count(b"\n") - probes
            if messages:
                counter.hit(messages)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 15
    while not ready.wait(0.2):
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("mosquitto_sub never received a probe")
        probe = [tool("mosquitto_pub"), "-h", HOST, "-p", str(port), "-t", TOPIC, "-m", "probe"]
        subprocess.run(probe, check=True, timeout=15)
    emit(ready=True)
    counter.wait(max_seconds)
    counter.report()
    proc.terminate()
    proc.wait(10)


def mosquitto_pub(port: int, qos: int, count: int, max_seconds: float) -> None:
    """``mosquitto_pub -l`` from a file of COUNT lines; acked = COUNT if it exits with 0."""
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        lines = os.path.join(tmp, "lines")
        with open(lines, "wb") as fh:
            fh.write((PAYLOAD + b"\n") * count)
        args = [tool("mosquitto_pub"), "-h", HOST, "-p", str(port), "-t", TOPIC]
        args += ["-q", str(qos), "-l", "-i", client_id("pub")]
        with open(lines, "rb") as stdin:
            start = time.monotonic()
            proc = subprocess.Popen(args, stdin=stdin)
            try:
                code = proc.wait(max_seconds)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
    emit(start=start, sent=count, acked=count if code == 0 else 0, exit_code=code)
    stop_requested().wait(10)


# -- main --------------------------------------------------------------------------


SUBSCRIBERS: dict[str, Any] = {"lib": lib_sub, "paho": paho_sub}
LOOP_SUBSCRIBERS: dict[str, Any] = {"gmqtt": gmqtt_sub, "mosquitto": mosquitto_sub}
PUBLISHERS: dict[str, Any] = {
    "lib": lib_pub,
    "paho": paho_pub,
    "gmqtt": gmqtt_pub,
    "mosquitto": mosquitto_pub,
}


def main() -> None:
    role, impl = sys.argv[1:3]
    port, qos, count, max_seconds = (
        int(sys.argv[3]),
        int(sys.argv[4]),
        int(sys.argv[5]),
        float(sys.argv[6]),
    )
    install_profiler(impl)
    try:
        if role == "pub":
            PUBLISHERS[impl](port, qos, count, max_seconds)
            return
        counter = Counter(count)
        if impl in LOOP_SUBSCRIBERS:  # these announce readiness and report themselves
            LOOP_SUBSCRIBERS[impl](port, qos, counter, max_seconds)
            return
        close = SUBSCRIBERS[impl](port, qos, counter, max_seconds)
        emit(ready=True)
        counter.wait(max_seconds)
        counter.report()
        close()
    finally:
        dump_profile()


if __name__ == "__main__":
    main()
