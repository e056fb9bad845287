"""Helpers of the delivery tests: numbered publishes, a receiver, outcome counts.

A publisher sends numbered payloads (``b"<n>"``); a :class:`Receiver` collects the
numbers that arrive. "Acknowledged but lost" is a message whose handle reported
success and whose number never arrived.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from mqtt_test_brokers import StockMosquitto

from eq1_network.common.exceptions import ProtocolError
from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol, MQTTPublishHandle
from eq1_network.testing import require_executable


def stock_mosquitto(*extra: str) -> StockMosquitto:
    """Start a stock-settings mosquitto (plus ``extra`` lines); the caller closes it."""
    path = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(path):
        require_executable(
            "mosquitto", "the delivery tests need mosquitto (apt-get install mosquitto)"
        )
    return StockMosquitto(path, extra).start()


class Receiver:
    """Collects the numbers of the numbered messages that arrive."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.numbers: list[int] = []
        self.last = time.monotonic()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self._cond:
            self.numbers.append(int(payload))
            self.last = time.monotonic()
            self._cond.notify_all()

    def unique(self) -> set[int]:
        """The distinct numbers received so far."""
        with self._cond:
            return set(self.numbers)

    def wait_count(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` distinct numbers arrived; return whether they did."""
        with self._cond:
            return self._cond.wait_for(lambda: len(set(self.numbers)) >= count, timeout)

    def wait_for(self, wanted: Iterable[int], timeout: float, idle: float = 10.0) -> set[int]:
        """Wait for every wanted number, until the timeout or ``idle`` s without any.

        Returns:
            The wanted numbers still missing.
        """
        wanted = set(wanted)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                missing = wanted - set(self.numbers)
                now = time.monotonic()
                if not missing or now >= deadline or now - self.last > idle:
                    return missing
                self._cond.wait(min(0.5, deadline - now))


@dataclass
class Outcomes:
    """What became of numbered publishes."""

    ok: set[int] = field(default_factory=set)
    failed: dict[int, ProtocolError] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)


def publish_numbered(
    client: MQTTProtocol, topic: str, numbers: Iterable[int], qos: int
) -> dict[int, MQTTPublishHandle]:
    """Publish ``b"<n>"`` for each number; return the handles by number."""
    return {n: client.publish(topic, str(n).encode(), qos=qos) for n in numbers}


def settle(handles: dict[int, MQTTPublishHandle], timeout: float) -> Outcomes:
    """Wait (up to ``timeout`` in all) for every handle and sort the outcomes."""
    result = Outcomes()
    deadline = time.monotonic() + timeout
    for number, handle in handles.items():
        try:
            if handle.wait(max(0.0, deadline - time.monotonic())):
                result.ok.add(number)
            else:
                result.pending.add(number)
        except ProtocolError as exc:
            result.failed[number] = exc
    return result
