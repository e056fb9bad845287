"""Soak: end-to-end latency under steady QoS 1 load with subscription churn.

A publisher sends QoS 1 messages at about 40 % of the rate measured at the start, and a
subscriber in the same process unsubscribes 50 filters and subscribes 50 new ones every
few seconds, through a mosquitto with ``max_queued_messages 0``. The p99 latency of each
window must stay in a band derived from the windows of the same run measured before the
churn starts: a network
loop that stops being woken by ``publish()``/``subscribe()`` runs only on its 0.5 s
select timeout or on incoming traffic, and the p99 then sits near 0.5 s for good. That
regime can begin before the churn (even before the baseline), so a window also fails when
its median latency reaches half the loop's select slice: with the loop woken as it should
be, the median stays far below it even on a busy machine. A single slow window is
tolerated; several in a row are not.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from mqtt_test_delivery import stock_mosquitto

from eq1_network.protocols.mqtt import _supervisor
from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol

DURATION = 150.0
WINDOW = 5.0
WARMUP_WINDOWS = 1
BASELINE_WINDOWS = 4
CHURN_EVERY = 5.0
CHURN_FILTERS = 50
LOAD = 0.4
BAND_FACTOR = 3.0
BAND_FLOOR = 0.25
CONSECUTIVE = 3


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def max_rate(client: MQTTProtocol, topic: str, count: int = 4000) -> float:
    """Publish ``count`` QoS 1 messages as fast as possible; return messages per second."""
    started = time.monotonic()
    handles = [client.publish(topic, b"0", qos=1) for _ in range(count)]
    assert handles[-1].wait(60.0)
    return count / (time.monotonic() - started)


class Latencies:
    """End-to-end latencies by arrival window (the payload is the send time)."""

    def __init__(self) -> None:
        self._start: float | None = None
        self._lock = threading.Lock()
        self.windows: dict[int, list[float]] = {}

    def begin(self, start: float) -> None:
        """Count messages sent from ``start`` on."""
        self._start = start

    def __call__(self, topic: str, payload: bytes) -> None:
        now = time.monotonic()
        sent = float(payload)
        if self._start is None or sent < self._start:
            return  # a rate-measurement message
        with self._lock:
            self.windows.setdefault(int((now - self._start) // WINDOW), []).append(now - sent)


def churn(client: MQTTProtocol, prefix: str, stop: threading.Event, durations: list[float]) -> None:
    """After the baseline, every CHURN_EVERY s: replace the last round's 50 filters by 50 new."""

    def ignore(topic: str, payload: bytes) -> None:
        pass

    current: list[str] = []
    generation = 0
    if stop.wait((WARMUP_WINDOWS + BASELINE_WINDOWS) * WINDOW - CHURN_EVERY):
        return
    while not stop.wait(CHURN_EVERY):
        started = time.monotonic()
        for topic_filter in current:
            client.unsubscribe(topic_filter, ignore)
        current = [f"{prefix}/churn/{generation}/{i}/#" for i in range(CHURN_FILTERS)]
        for topic_filter in current:
            client.subscribe(topic_filter, ignore, qos=1)
        durations.append(time.monotonic() - started)
        generation += 1


@pytest.mark.timeout(DURATION + 120)
def test_p99_latency_stays_in_its_band_under_load_and_churn(make_client: Any) -> None:
    broker = stock_mosquitto("max_queued_messages 0")
    try:
        prefix = f"eq1-soak/{uuid.uuid4().hex[:12]}"
        topic = f"{prefix}/load"
        sub = make_client(broker.port)
        sub.connect()
        pub = make_client(broker.port)
        pub.connect()
        latencies = Latencies()
        sub.subscribe(topic, latencies, qos=1)
        rate = LOAD * max_rate(pub, topic)
        start = time.monotonic()
        latencies.begin(start)
        stop = threading.Event()
        churn_durations: list[float] = []
        churner = threading.Thread(
            target=churn, args=(sub, prefix, stop, churn_durations), daemon=True
        )
        churner.start()
        try:
            publish_steadily(pub, topic, rate, start + DURATION)
        finally:
            stop.set()
            churner.join(60.0)
        last = pub.publish(topic, repr(time.monotonic()).encode(), qos=1)
        assert last.wait(60.0)
        check_band(latencies, rate, churn_durations)
    finally:
        broker.close()


def publish_steadily(client: MQTTProtocol, topic: str, rate: float, until: float) -> None:
    """Publish at ``rate`` messages per second in 10 ms steps until ``until``."""
    step = 0.01
    per_step = max(1, round(rate * step))
    next_step = time.monotonic()
    while next_step < until:
        for _ in range(per_step):
            client.publish(topic, repr(time.monotonic()).encode(), qos=1)
        next_step += per_step / rate
        delay = next_step - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing of the load, not a wait for a result


def check_band(latencies: Latencies, rate: float, churn_durations: list[float]) -> None:
    windows = [latencies.windows.get(i, []) for i in range(int(DURATION // WINDOW))]
    assert all(windows), "a window without any message: the load stopped"
    values = [quantile(w, 0.99) for w in windows]
    medians = [quantile(w, 0.5) for w in windows]
    baseline = values[WARMUP_WINDOWS : WARMUP_WINDOWS + BASELINE_WINDOWS]
    band = max(BAND_FACTOR * max(baseline), BAND_FLOOR)
    stuck = _supervisor._LOOP_SLICE / 2
    run = longest = 0
    for value, median in zip(values, medians, strict=True):
        run = run + 1 if value > band or median >= stuck else 0
        longest = max(longest, run)
    summary = (
        f"rate {rate:.0f}/s, p99 by {WINDOW:.0f} s window (ms): "
        f"{[round(v * 1000) for v in values]}, band {band * 1000:.0f} ms, "
        f"p50 (ms): {[round(v * 1000) for v in medians]}, "
        f"churn rounds {len(churn_durations)} (longest {max(churn_durations, default=0):.2f} s)"
    )
    print(summary)
    assert longest < CONSECUTIVE, f"latency left its band for {longest} windows in a row: {summary}"
