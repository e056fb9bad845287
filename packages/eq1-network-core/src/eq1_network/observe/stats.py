"""Per-connection statistics from a tap, without recording anything.

A :class:`Stats` is a tap listener that counts messages and bytes in each direction,
connections, errors and timeouts, keeps the last error, and measures request/response
round trips (from a send to the first read after it). :meth:`Stats.snapshot` returns
a plain, immutable :class:`StatsSnapshot`; :func:`report` hands snapshots to every
plugin implementing the ``eq1_network_report_stats`` hook (an exporter).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from eq1_network.common.exceptions import ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.observe.tap import (
    CONNECT,
    ERROR,
    MESSAGE,
    PUBLISH,
    READ,
    SEND,
    TIMEOUT,
    TapEvent,
)

__all__ = ["Stats", "StatsSnapshot", "percentile", "report"]

logger = get_logger(__name__)

_QUEUE_ATTRIBUTES = ("queued", "backlog", "pending_count")
_LATENCY_SAMPLES = 4096
_OUT = frozenset((SEND, PUBLISH))
"""Event kinds counted as messages out."""
_IN = frozenset((READ, MESSAGE))
"""Event kinds counted as messages in."""


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """Return a percentile by the nearest-rank method.

    Args:
        samples: The values, in any order.
        fraction: 0.5 for the median, 0.99 for the 99th percentile.

    Returns:
        The value, or ``None`` when there are no samples.
    """
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class StatsSnapshot:
    """The counters of one connection at one moment.

    Attributes:
        endpoint: The endpoint (URL with the password hidden).
        wall: ``time.time()`` of the snapshot.
        uptime: Seconds since the statistics started.
        messages_in: Reads that returned data and delivered messages.
        messages_out: Sends and publishes.
        bytes_in: Bytes read or delivered.
        bytes_out: Bytes sent or published.
        connects: Successful ``connect()`` calls seen.
        reconnects: Connections after the first.
        errors: Failed calls, timeouts excluded.
        timeouts: Calls that ended by a timeout.
        last_error: Text of the most recent error or timeout, or ``None``.
        queues: Queue depths the protocol exposes (``queued``, ``backlog``), by name.
        round_trips: Round trips measured (send followed by a read).
        latency_p50: Median round trip in seconds, or ``None``.
        latency_p90: 90th percentile round trip in seconds, or ``None``.
        latency_p99: 99th percentile round trip in seconds, or ``None``.
        latency_max: Longest round trip in seconds, or ``None``.
    """

    endpoint: str
    wall: float
    uptime: float
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    connects: int = 0
    reconnects: int = 0
    errors: int = 0
    timeouts: int = 0
    last_error: str | None = None
    queues: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0
    latency_p50: float | None = None
    latency_p90: float | None = None
    latency_p99: float | None = None
    latency_max: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the snapshot as a JSON-ready dict.

        Returns:
            Field names to values.
        """
        return asdict(self)


class Stats:
    """Counts what a tap reports; use it as a tap listener.

    Args:
        endpoint: The name snapshots carry until the first event names it.
        protocol: The protocol whose queue depths snapshots read (optional).

    Example:
        >>> stats = Stats()
        >>> tap = Tap(stats)  # doctest: +SKIP
        >>> tap.install(proto); stats.protocol = proto  # doctest: +SKIP
    """

    def __init__(self, endpoint: str = "", protocol: object | None = None) -> None:
        self.endpoint = endpoint
        self.protocol = protocol
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._counts = dict.fromkeys(
            ("messages_in", "messages_out", "bytes_in", "bytes_out", "connects", "errors"), 0
        )
        self._timeouts = 0
        self._last_error: str | None = None
        self._sent_at: float | None = None
        self._round_trips = 0
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)

    def __call__(self, event: TapEvent) -> None:
        """Count one event.

        Args:
            event: The event from the tap.
        """
        self.tap_count(event.kind, len(event.data), event.monotonic, event.endpoint, event.error)

    def tap_count(
        self, kind: str, size: int, monotonic: float, endpoint: str, error: str | None = None
    ) -> None:
        """Count one event given by its fields (what a tap calls instead of building it).

        Args:
            kind: The event's kind.
            size: The number of its bytes.
            monotonic: When it happened (``time.monotonic()``).
            endpoint: Its endpoint, adopted when this has none.
            error: Its error text, for error and timeout events.
        """
        with self._lock:
            if not self.endpoint:
                self.endpoint = endpoint
            counts = self._counts
            if kind in _OUT:
                counts["messages_out"] += 1
                counts["bytes_out"] += size
                if kind == SEND and self._sent_at is None:
                    self._sent_at = monotonic
            elif kind in _IN:
                counts["messages_in"] += 1
                counts["bytes_in"] += size
                if kind == READ and self._sent_at is not None:
                    self._latencies.append(monotonic - self._sent_at)
                    self._round_trips += 1
                    self._sent_at = None
            elif kind == CONNECT:
                counts["connects"] += 1
            elif kind == TIMEOUT:
                self._timeouts += 1
                self._last_error = error
            elif kind == ERROR:
                counts["errors"] += 1
                self._last_error = error

    def record_timeout(self, error: str = "no reply in time") -> None:
        """Count a timeout the caller detected itself (a reply that never came).

        Args:
            error: The text kept as the last error.
        """
        with self._lock:
            self._timeouts += 1
            self._last_error = error
            self._sent_at = None

    def snapshot(self) -> StatsSnapshot:
        """Return the counters now.

        Returns:
            An immutable snapshot.
        """
        queues = self._queues()  # outside the lock: a property may wait on the protocol's
        with self._lock:
            samples = list(self._latencies)
            counts = dict(self._counts)
            return StatsSnapshot(
                endpoint=self.endpoint,
                wall=time.time(),
                uptime=time.monotonic() - self._started,
                reconnects=max(0, counts["connects"] - 1),
                timeouts=self._timeouts,
                last_error=self._last_error,
                queues=queues,
                round_trips=self._round_trips,
                latency_p50=percentile(samples, 0.5),
                latency_p90=percentile(samples, 0.9),
                latency_p99=percentile(samples, 0.99),
                latency_max=max(samples) if samples else None,
                **counts,
            )

    def _queues(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for name in _QUEUE_ATTRIBUTES:
            try:
                value = getattr(self.protocol, name, None)
            except (AttributeError, OSError, ProtocolError) as exc:
                logger.debug("queue depth %s unavailable: %s", name, exc)
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                found[name] = value
        return found


def report(snapshots: Iterable[StatsSnapshot]) -> None:
    """Give snapshots to every plugin that implements ``eq1_network_report_stats``.

    Args:
        snapshots: The snapshots (one per connection).
    """
    from eq1_network.plugins.registry import ProtocolManager

    hook = ProtocolManager.registry.plugin_manager().hook.eq1_network_report_stats
    hook(snapshots=list(snapshots))
