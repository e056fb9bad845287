"""Prometheus metrics of a running gateway: per connection and per point.

The connection metrics are those of :mod:`eq1_network.observe.prometheus` (messages,
bytes, errors, timeouts, round-trip latency per endpoint); this module adds the
gateway's own counters per point and per broker outbox. prometheus-client is imported
only when metrics are served.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import PluginLoadError
from eq1_network.observe.prometheus import StatsCollector

if TYPE_CHECKING:
    from eq1_network.gateway.runtime import Gateway

__all__ = ["PointCollector", "serve_gateway_metrics"]

_POINT_COUNTERS = (
    ("reads", "Successful reads of the point"),
    ("errors", "Failed polls of the point's unit"),
    ("publishes", "Values of the point handed to the broker"),
    ("writes", "Writes from the point's set topic"),
    ("write_errors", "Writes from the point's set topic that failed"),
)
_BROKER_COUNTERS = (
    ("published", "Messages handed to the MQTT client"),
    ("dropped", "Messages dropped by a full outbox or refused"),
    ("connects", "Connections to the broker"),
)


class PointCollector:
    """A ``prometheus_client`` collector of the gateway's point and outbox counters.

    Args:
        gateway: The gateway whose counters are read at each scrape.
    """

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def collect(self) -> Iterator[Any]:
        """Yield the metric families (called by ``prometheus_client``).

        Yields:
            Families labelled by ``connection``, ``unit`` and ``point``, and the broker
            families labelled by ``broker``.
        """
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self._gateway.stats()
        labels = ["connection", "unit", "point"]
        counters = {
            key: CounterMetricFamily(f"eq1_gateway_point_{key}", text, labels=labels)
            for key, text in _POINT_COUNTERS
        }
        age = GaugeMetricFamily(
            "eq1_gateway_point_age_seconds", "Seconds since the last good read", labels=labels
        )
        good = GaugeMetricFamily(
            "eq1_gateway_point_good", "1 while the point's quality is good", labels=labels
        )
        for connection, worker in stats["modbus"].items():
            for unit in worker["units"]:
                for name, point in unit["points"].items():
                    key = [connection, "" if unit["unit"] is None else str(unit["unit"]), name]
                    for counter, family in counters.items():
                        family.add_metric(key, point[counter])
                    if point["age"] is not None:
                        age.add_metric(key, point["age"])
                    good.add_metric(key, 1.0 if point["quality"] == "good" else 0.0)
        yield from counters.values()
        yield age
        yield good
        yield from self._brokers(stats["brokers"])

    @staticmethod
    def _brokers(brokers: dict[str, dict[str, int]]) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for key, text in _BROKER_COUNTERS:
            family = CounterMetricFamily(f"eq1_gateway_broker_{key}", text, labels=["broker"])
            for name, counters in brokers.items():
                family.add_metric([name], counters[key])
            yield family
        queued = GaugeMetricFamily(
            "eq1_gateway_broker_queued", "Messages waiting in the outbox", labels=["broker"]
        )
        for name, counters in brokers.items():
            queued.add_metric([name], counters["queued"])
        yield queued


def serve_gateway_metrics(gateway: Gateway, port: int, host: str = "127.0.0.1") -> Any:
    """Serve ``/metrics`` with the connection and point metrics of ``gateway``.

    Args:
        gateway: The gateway.
        port: The TCP port (``0``: any free port; read ``server.server_port``).
        host: The address to bind; 127.0.0.1 unless you mean to expose it.

    Returns:
        The HTTP server; call ``shutdown()`` to stop it.

    Raises:
        PluginLoadError: If prometheus-client is not installed.
    """
    try:
        import prometheus_client
    except ImportError as exc:
        raise PluginLoadError(
            "Prometheus metrics need prometheus-client; install it with: "
            'pip install "eq1-network-core[prometheus]"'
        ) from exc
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector(gateway.connection_stats))
    registry.register(PointCollector(gateway))
    server, _thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
    return server
