"""Prometheus metrics from :class:`~eq1_network.observe.Stats` (the ``prometheus`` extra).

Install with ``pip install "eq1-network-core[prometheus]"``. :func:`serve_metrics`
starts ``prometheus_client``'s HTTP server (``/metrics``) on 127.0.0.1 by default and
reads the statistics at each scrape, so nothing runs between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eq1_network.common.exceptions import PluginLoadError
from eq1_network.observe.stats import Stats, StatsSnapshot

__all__ = ["StatsCollector", "serve_metrics"]

_COUNTERS = (
    ("messages_in", "Messages read or delivered"),
    ("messages_out", "Messages sent or published"),
    ("bytes_in", "Bytes read or delivered"),
    ("bytes_out", "Bytes sent or published"),
    ("reconnects", "Connections after the first"),
    ("errors", "Failed calls, timeouts excluded"),
    ("timeouts", "Calls that ended by a timeout"),
)


def _client() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise PluginLoadError(
            "Prometheus metrics need prometheus-client; install it with: "
            'pip install "eq1-network-core[prometheus]"'
        ) from exc
    return prometheus_client


class StatsCollector:
    """A ``prometheus_client`` collector reading :class:`Stats` objects at each scrape.

    Args:
        stats: A callable returning the current :class:`Stats` objects.
    """

    def __init__(self, stats: Callable[[], Iterable[Stats]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Any]:
        """Yield the metric families (called by ``prometheus_client``).

        Yields:
            Counter and gauge families labelled by ``endpoint``.
        """
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snapshots: list[StatsSnapshot] = [s.snapshot() for s in self._stats()]
        for name, text in _COUNTERS:
            family = CounterMetricFamily(f"eq1_network_{name}", text, labels=["endpoint"])
            for snap in snapshots:
                family.add_metric([snap.endpoint], getattr(snap, name))
            yield family
        latency = GaugeMetricFamily(
            "eq1_network_round_trip_seconds",
            "Request/response round trip percentiles",
            labels=["endpoint", "quantile"],
        )
        queues = GaugeMetricFamily(
            "eq1_network_queue_depth", "Queue depths", labels=["endpoint", "queue"]
        )
        for snap in snapshots:
            for quantile, value in (
                ("0.5", snap.latency_p50),
                ("0.9", snap.latency_p90),
                ("0.99", snap.latency_p99),
            ):
                if value is not None:
                    latency.add_metric([snap.endpoint, quantile], value)
            for queue, depth in snap.queues.items():
                queues.add_metric([snap.endpoint, queue], depth)
        yield latency
        yield queues


def serve_metrics(
    stats: Callable[[], Iterable[Stats]], port: int = 9464, host: str = "127.0.0.1"
) -> tuple[Any, Any]:
    """Serve ``/metrics`` for the given statistics.

    Args:
        stats: A callable returning the current :class:`Stats` objects.
        port: The TCP port (``0``: any free port; read it from ``server.server_port``).
        host: The address to bind; 127.0.0.1 unless you mean to expose it.

    Returns:
        ``(server, thread)`` from ``prometheus_client.start_http_server``; call
        ``server.shutdown()`` to stop it.

    Raises:
        PluginLoadError: If prometheus-client is not installed.
    """
    client = _client()
    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector(stats))
    return client.start_http_server(port, addr=host, registry=registry)  # type: ignore[no-any-return]
