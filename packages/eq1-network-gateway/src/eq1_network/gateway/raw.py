"""Raw byte bridges: serial or TCP frames to a topic, and messages of a topic to a port.

Frames are lines (``\\n``-terminated, a trailing ``\\r`` removed) or length-prefixed
(1, 2 or 4 bytes, big-endian). Each bridge runs one thread that (re)connects its
endpoint with backoff; messages for a port that is away wait in a bounded queue whose
overflow drops the oldest message and counts it.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

from eq1_network.common.exceptions import ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.gateway.broker import BrokerLink, mask_url
from eq1_network.gateway.config import BridgeConfig
from eq1_network.plugins import from_url

__all__ = ["Deframer", "RawFromBroker", "RawToBroker", "frame"]

log = get_logger(__name__)


def frame(payload: bytes, framing: str, length_bytes: int = 4) -> bytes:
    """Return ``payload`` framed for the wire (a line, or a length prefix and the bytes)."""
    if framing == "lines":
        return payload if payload.endswith(b"\n") else payload + b"\n"
    if len(payload) >= 1 << (8 * length_bytes):
        raise ValueError(f"a {len(payload)}-byte message does not fit a {length_bytes}-byte length")
    return len(payload).to_bytes(length_bytes, "big") + payload


class Deframer:
    """Cuts a byte stream into frames; a frame longer than ``max_frame`` is dropped.

    Args:
        framing: ``"lines"`` or ``"length"``.
        length_bytes: Size of the length prefix.
        max_frame: Largest frame kept, in bytes.
    """

    def __init__(self, framing: str, length_bytes: int = 4, max_frame: int = 65536) -> None:
        self.framing = framing
        self.length_bytes = length_bytes
        self.max_frame = max_frame
        self.dropped = 0
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes and return the whole frames they complete."""
        self._buffer += data
        return self._lines() if self.framing == "lines" else self._lengths()

    def _lines(self) -> list[bytes]:
        frames: list[bytes] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.max_frame:
                    self._buffer.clear()
                    self._skipping = True
                return frames
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if self._skipping or end > self.max_frame:
                self._skipping = False
                self.dropped += 1
                continue
            frames.append(line)

    def _lengths(self) -> list[bytes]:
        frames: list[bytes] = []
        size = self.length_bytes
        while len(self._buffer) >= size:
            length = int.from_bytes(self._buffer[:size], "big")
            if length > self.max_frame:
                self.dropped += 1
                self._buffer.clear()
                return frames
            if len(self._buffer) < size + length:
                break
            frames.append(bytes(self._buffer[size : size + length]))
            del self._buffer[: size + length]
        return frames


class _Endpoint:
    """Shared (re)connection of a raw endpoint, on the bridge's own thread."""

    def __init__(self, bridge: BridgeConfig, url: str, factory: Callable[[str], Any]) -> None:
        self.bridge = bridge
        self.url = mask_url(url)
        self.port = factory(url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.counters = {"frames": 0, "bytes": 0, "errors": 0, "connects": 0, "dropped": 0}

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._main, name=f"eq1-gw-raw-{self.url}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close()

    def _close(self) -> None:
        try:
            self.port.disconnect()
        except (ProtocolError, OSError) as exc:
            log.debug("%s: disconnect: %s", self.url, exc)

    def _main(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                if not self.port.is_connected():
                    self.port.connect()
                    self.counters["connects"] += 1
                    log.info("raw endpoint %s: connected", self.url)
                    delay = 0.2
                self._step()
            except (ProtocolError, OSError) as exc:
                self.counters["errors"] += 1
                log.warning("raw endpoint %s: %s; retrying in %.1f s", self.url, exc, delay)
                self._close()
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
            except Exception:  # a bug must not end the bridge: log it, slow down, go on
                self.counters["errors"] += 1
                log.exception("raw endpoint %s: unexpected error", self.url)
                self._close()
                self._stop.wait(1.0)

    def _step(self) -> None:
        raise NotImplementedError


class RawToBroker(_Endpoint):
    """Reads frames from a serial or TCP endpoint and publishes each on the topic."""

    def __init__(
        self,
        bridge: BridgeConfig,
        url: str,
        broker: BrokerLink,
        factory: Callable[[str], Any] = from_url,
    ) -> None:
        super().__init__(bridge, url, factory)
        self.broker = broker
        self.deframer = Deframer(bridge.framing, bridge.length_bytes, bridge.max_frame)

    def _step(self) -> None:
        data = self.port.read_within(0.2)
        if not data:
            return
        self.counters["bytes"] += len(data)
        for payload in self.deframer.feed(data):
            self.counters["frames"] += 1
            assert self.bridge.topic is not None
            self.broker.post(self.bridge.topic, payload, self.bridge.qos, self.bridge.retain)
        self.counters["dropped"] = self.deframer.dropped


class RawFromBroker(_Endpoint):
    """Writes each message of the topic, framed, to a serial or TCP endpoint."""

    def __init__(
        self,
        bridge: BridgeConfig,
        url: str,
        broker: BrokerLink,
        factory: Callable[[str], Any] = from_url,
    ) -> None:
        super().__init__(bridge, url, factory)
        self._queue: collections.deque[bytes] = collections.deque()
        self._ready = threading.Condition()
        assert bridge.topic is not None
        broker.subscribe(bridge.topic, self._on_message, qos=max(bridge.qos, 1))

    def _on_message(self, topic: str, payload: bytes) -> None:
        with self._ready:
            if len(self._queue) >= self.bridge.queue:
                self._queue.popleft()
                self.counters["dropped"] += 1
            self._queue.append(payload)
            self._ready.notify()

    def stop(self, timeout: float = 3.0) -> None:
        with self._ready:
            self._ready.notify_all()
        super().stop(timeout)

    def _step(self) -> None:
        with self._ready:
            self._ready.wait_for(lambda: self._queue or self._stop.is_set(), 0.2)
            if not self._queue:
                return
            payload = self._queue[0]
        try:
            data = frame(payload, self.bridge.framing, self.bridge.length_bytes)
        except ValueError as exc:
            log.warning("raw endpoint %s: %s; dropped", self.url, exc)
            data = b""
        if data:
            self.port.send(data)
            self.counters["frames"] += 1
            self.counters["bytes"] += len(data)
        with self._ready:
            if self._queue and self._queue[0] is payload:
                self._queue.popleft()
