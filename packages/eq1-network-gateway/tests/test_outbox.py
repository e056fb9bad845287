"""The broker outbox on its own: bounded, counted, ordered, never blocking the poller."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from eq1_network.common.exceptions import ProtocolNotConnectedError, ProtocolValidationError
from eq1_network.gateway.broker import BrokerLink
from eq1_network.testing import wait_until

pytestmark = pytest.mark.timeout(60)


class FlakyClient:
    """Stands in for MQTTProtocol: refuses while ``up`` is clear, records what it took."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.sent: list[str] = []

    def connect(self) -> bool:
        return True

    def disconnect(self) -> None:
        self.up.clear()

    def is_connected(self) -> bool:
        return self.up.is_set()

    def wait_until_connected(self, timeout: float) -> bool:
        return self.up.wait(timeout)

    def subscribe(self, topic: str, callback: Any, *, qos: int | None = None) -> None:
        raise AssertionError("not used")

    def publish(self, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
        if topic == "bad/+":
            raise ProtocolValidationError("wildcard in a topic name")
        if not self.up.is_set():
            raise ProtocolNotConnectedError("link lost")
        self.sent.append(payload)


@pytest.mark.parametrize("overflow", ["drop_oldest", "drop_newest"])
def test_outbox_bounds_counts_and_keeps_order(overflow: str) -> None:
    client = FlakyClient()
    link = BrokerLink(
        "b", "mqtt://127.0.0.1:1", queue=10, overflow=overflow, factory=lambda u: client
    )
    link.start()
    try:
        for index in range(25):
            link.post("t", str(index))  # the broker is away: never blocks
        assert link.queued == 10 and link.counters["dropped"] == 15
        link.post("bad/+", "x")
        client.up.set()
        wait_until(lambda: link.queued == 0, 15, what="the outbox drained")
    finally:
        link.stop()
    counters = link.counters
    if overflow == "drop_oldest":  # 0..15 dropped; the refused wildcard topic counts too
        assert client.sent == [str(i) for i in range(16, 25)]
        assert counters["published"] == 9 and counters["errors"] == 1
    else:  # 10..24 and the wildcard message dropped on arrival
        assert client.sent == [str(i) for i in range(10)]
        assert counters["published"] == 10
    assert counters["published"] + counters["dropped"] == 26
