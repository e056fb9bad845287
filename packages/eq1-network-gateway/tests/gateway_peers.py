"""Real peers for the gateway tests: a mosquitto broker and an MQTT watcher (paho).

The broker listens on 127.0.0.1 on a free port with anonymous access and
``max_queued_messages 0`` (unlimited), so the broker never drops what the tests count.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from eq1_network.testing import PeerProcess, free_port, require_executable, wait_until

HOST = "127.0.0.1"


def mosquitto_path() -> str:
    path = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )
    return path or require_executable("mosquitto", "the gateway tests need a broker")


class Broker:
    """A mosquitto process that can be killed and restarted on the same port."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="eq1-gw-broker-"))
        os.chmod(self.folder, 0o755)  # mosquitto started as root drops to its own user
        self.port = free_port()
        self.config = self.folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} {HOST}\nallow_anonymous true\nmax_queued_messages 0\n"
        )
        os.chmod(self.config, 0o644)
        self.peer: PeerProcess | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    def start(self) -> Broker:
        self.peer = PeerProcess([mosquitto_path(), "-c", str(self.config)], log=self.folder / "log")
        self.peer.start()
        self.peer.wait_listening(self.port, HOST, 20.0)
        return self

    def kill(self) -> None:
        if self.peer is not None:
            self.peer.kill()

    def stop(self) -> None:
        if self.peer is not None:
            self.peer.stop(signal.SIGTERM, 15.0)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Watcher:
    """A paho subscriber that keeps every message it receives, with arrival times."""

    def __init__(self, port: int, topic: str = "#") -> None:
        self.messages: list[tuple[float, str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(HOST, port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the watcher's subscription was not acknowledged"

    def _on_message(self, client: object, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(
                (time.monotonic(), msg.topic, bytes(msg.payload), bool(msg.retain))
            )

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [m[2] for m in self.messages if m[1] == topic]

    def times(self, topic: str) -> list[float]:
        with self._lock:
            return [m[0] for m in self.messages if m[1] == topic]

    def wait_for(self, topic: str, count: int = 1, timeout: float = 15.0) -> list[bytes]:
        return wait_until(
            lambda: (lambda got: got if len(got) >= count else None)(self.on(topic)),
            timeout,
            what=f"{count} message(s) on {topic}",
        )

    def publish(self, topic: str, payload: str | bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
