"""One broker connection of the gateway: a bounded outbox drained by its own thread.

Pollers hand messages to :meth:`BrokerLink.post`, which never blocks: while the broker
is away the outbox fills up to its bound and then drops (the oldest or the newest
message, as configured), counting every drop. The link's thread connects (and keeps
trying with backoff until the broker answers), then publishes in order.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from eq1_network.common.exceptions import ProtocolError, ProtocolValidationError
from eq1_network.common.logging import get_logger
from eq1_network.plugins import from_url
from eq1_network.urls import mask_url

__all__ = ["BrokerLink", "Outgoing", "mask_url"]

log = get_logger(__name__)

_BATCH = 256


class Outgoing(NamedTuple):
    """One message waiting for the broker (an immutable tuple with named fields)."""

    topic: str
    payload: str | bytes
    qos: int
    retain: bool


class BrokerLink:
    """An MQTT connection with a bounded, counted outbox.

    Args:
        name: The connection's name (for logs and statistics).
        url: The broker URL (``mqtt://user@host:1883?...``), password options included.
        queue: Messages the outbox holds while the broker is away.
        overflow: ``"drop_oldest"`` or ``"drop_newest"`` when the outbox is full.
        share_group: Subscribe through ``$share/<group>/`` so that gateways sharing
            the group share the command load (each message reaches one of them).
        factory: Builds the protocol from the URL (tests substitute it).
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        queue: int = 10000,
        overflow: str = "drop_oldest",
        share_group: str | None = None,
        factory: Callable[[str], Any] = from_url,
    ) -> None:
        self.name = name
        self.url = mask_url(url)
        self.mqtt = factory(url)
        self.share_group = share_group
        self._queue: collections.deque[Outgoing] = collections.deque()
        self._limit = queue
        self._drop_oldest = overflow == "drop_oldest"
        self._cond = threading.Condition()
        self._stopping = False
        self._inflight = 0
        self._thread: threading.Thread | None = None
        self.connected_once = threading.Event()
        self.counters = {"published": 0, "dropped": 0, "errors": 0, "connects": 0}

    def subscribe(self, topic: str, callback: Callable[[str, bytes], None], qos: int = 1) -> None:
        """Register a subscription (sent at connection, restored after reconnections)."""
        if self.share_group:
            topic = f"$share/{self.share_group}/{topic}"
        self.mqtt.subscribe(topic, callback, qos=qos)

    def post(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> None:
        """Queue a message for the broker without ever blocking.

        When the outbox is full one message is dropped (the oldest or this one) and
        counted in ``counters["dropped"]``.
        """
        item = Outgoing(topic, payload, qos, retain)
        with self._cond:
            if len(self._queue) >= self._limit:
                self.counters["dropped"] += 1
                if not self._drop_oldest:
                    return
                self._queue.popleft()
            self._queue.append(item)
            self._cond.notify()

    def post_many(self, items: list[Outgoing]) -> None:
        """Queue several messages at once, as :meth:`post` does for one."""
        with self._cond:
            for item in items:
                if len(self._queue) >= self._limit:
                    self.counters["dropped"] += 1
                    if not self._drop_oldest:
                        continue
                    self._queue.popleft()
                self._queue.append(item)
            self._cond.notify()

    @property
    def queued(self) -> int:
        """Messages waiting in the outbox (and being handed to the client)."""
        return len(self._queue) + self._inflight

    def start(self) -> None:
        """Start the link's thread (connects in the background)."""
        self._thread = threading.Thread(
            target=self._run, name=f"eq1-gw-broker-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, drain: float = 2.0) -> None:
        """Send what the outbox holds (for up to ``drain`` seconds), then disconnect."""
        deadline = time.monotonic() + drain
        with self._cond:
            while self.queued and self.mqtt.is_connected() and time.monotonic() < deadline:
                self._cond.wait(0.05)
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(max(deadline - time.monotonic(), 0.5))
        left = self.queued
        if left:
            log.warning(
                "broker %s: %d queued messages were not sent before shutdown", self.name, left
            )
            self.counters["dropped"] += left
        try:
            self.mqtt.disconnect()
        except ProtocolError as exc:
            log.debug("broker %s: disconnect: %s", self.name, exc)

    def _connect(self) -> bool:
        delay = 0.2
        while not self._stopping:
            try:
                self.mqtt.connect()
            except ProtocolError as exc:
                log.warning(
                    "broker %s (%s): %s; retrying in %.1f s", self.name, self.url, exc, delay
                )
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, delay)
                delay = min(delay * 2, 10.0)
                continue
            self.counters["connects"] += 1
            self.connected_once.set()
            log.info("broker %s (%s): connected", self.name, self.url)
            return True
        return False

    def _run(self) -> None:
        if not self._connect():
            return
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping, 0.5)
                if self._stopping and not self._queue:
                    return
                if not self._queue:
                    continue
            if not self.mqtt.is_connected():
                self.mqtt.wait_until_connected(0.2)
                if self._stopping:
                    return
                continue
            self._send_some()

    def _send_some(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.notify_all()
                    return
                batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
                self._inflight = len(batch)
            sent, refused = self._publish_batch(batch)
            with self._cond:
                self._inflight = 0
                self.counters["published"] += sent - refused
                self.counters["dropped"] += refused
                if sent < len(batch):
                    self._queue.extendleft(reversed(batch[sent:]))
                    while len(self._queue) > self._limit:
                        self._queue.popleft()
                        self.counters["dropped"] += 1
                    self._cond.wait_for(lambda: self._stopping, 0.1)
                    return

    def _publish_batch(self, batch: list[Outgoing]) -> tuple[int, int]:
        """Publish in order; return how many left, and how many of those were refused."""
        refused = 0
        for index, item in enumerate(batch):
            try:
                self.mqtt.publish(item.topic, item.payload, item.qos, item.retain)
            except ProtocolValidationError as exc:
                self.counters["errors"] += 1
                refused += 1
                log.warning("broker %s: dropped a message to %s: %s", self.name, item.topic, exc)
            except ProtocolError as exc:
                self.counters["errors"] += 1
                log.debug("broker %s: publish to %s failed: %s", self.name, item.topic, exc)
                return index, refused
        return len(batch), refused
