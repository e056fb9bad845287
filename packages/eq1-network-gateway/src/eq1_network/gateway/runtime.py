"""The gateway: builds broker links, Modbus workers and raw bridges from a configuration."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from eq1_network.common.logging import get_logger
from eq1_network.gateway.broker import BrokerLink, mask_url
from eq1_network.gateway.config import ConnectionConfig, GatewayConfig, kind_of, with_secret
from eq1_network.gateway.modbus import ModbusWorker, UnitPoll
from eq1_network.gateway.points import PointState
from eq1_network.gateway.raw import RawFromBroker, RawToBroker
from eq1_network.observe import Recorder, Stats, Tap
from eq1_network.plugins import from_url

__all__ = ["Gateway", "connection_url"]

log = get_logger(__name__)


def connection_url(conn: ConnectionConfig) -> str:
    """Return the connection's URL with its password source as a query parameter."""
    return with_secret(conn)


class Gateway:
    """Everything one configuration file describes, started and stopped together.

    Every connection carries a tap of :mod:`eq1_network.observe` counting its traffic
    (:meth:`connection_stats`); with ``record`` the taps also write every message to a
    JSON Lines recording that ``eq1-network replay`` plays back.

    Args:
        config: The validated configuration.
        factory: Builds a protocol from a URL (``eq1_network.from_url`` by default).
        record: A file for a recording of all traffic, or ``None``.
        observe: Install the statistics taps (``False`` saves their small cost).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        factory: Callable[[str], Any] = from_url,
        record: str | os.PathLike[str] | None = None,
        observe: bool = True,
    ) -> None:
        self.config = config
        self.brokers: dict[str, BrokerLink] = {}
        self.workers: dict[str, ModbusWorker] = {}
        self.raw: list[RawToBroker | RawFromBroker] = []
        self._stats: list[Stats] = []
        self._observe = observe or record is not None
        self._recorder: Recorder | None = None
        if record is not None:
            urls = [mask_url(c.url) for c in config.connections.values()]
            self._recorder = Recorder(record, endpoints=urls, data_only=True)
        self._stopped = threading.Event()
        self._build(factory)

    def _tap(self, protocol: Any, url: str) -> None:
        if not self._observe:
            return
        stats = Stats(mask_url(url), protocol)
        listeners: list[Any] = [stats]
        if self._recorder is not None:
            listeners.append(self._recorder)
        Tap(*listeners).install(protocol, url=url)
        self._stats.append(stats)

    def connection_stats(self) -> list[Stats]:
        """The statistics of every connection (for ``observe.report`` or Prometheus)."""
        return list(self._stats)

    def _key(self, ref: str) -> str:
        return ref if ref in self.config.connections else f"url:{ref}"

    def _broker(self, ref: str, factory: Callable[[str], Any]) -> BrokerLink:
        key = self._key(ref)
        if key not in self.brokers:
            conn = self.config.endpoint(ref)
            self.brokers[key] = BrokerLink(
                ref if ref in self.config.connections else "broker",
                connection_url(conn),
                queue=conn.queue,
                overflow=conn.overflow,
                share_group=conn.share_group,
                factory=factory,
            )
            self._tap(self.brokers[key].mqtt, conn.url)
        return self.brokers[key]

    def _build(self, factory: Callable[[str], Any]) -> None:
        polls: dict[str, list[UnitPoll]] = {}
        for bridge in self.config.bridges:
            source = self.config.endpoint(bridge.source)
            target = self.config.endpoint(bridge.target)
            if kind_of(source.url) == "modbus":
                points = [PointState(p) for p in bridge.points or []]
                poll = UnitPoll(bridge, self._broker(bridge.target, factory), points)
                polls.setdefault(self._key(bridge.source), []).append(poll)
            elif kind_of(target.url) == "mqtt":
                broker = self._broker(bridge.target, factory)
                self.raw.append(RawToBroker(bridge, connection_url(source), broker, factory))
                self._tap(self.raw[-1].port, source.url)
            else:
                broker = self._broker(bridge.source, factory)
                self.raw.append(RawFromBroker(bridge, connection_url(target), broker, factory))
                self._tap(self.raw[-1].port, target.url)
        for key, unit_polls in polls.items():
            ref = unit_polls[0].bridge.source
            url = connection_url(self.config.endpoint(ref))
            worker = ModbusWorker(
                ref if not key.startswith("url:") else "modbus", url, unit_polls, factory=factory
            )
            self.workers[key] = worker
            self._tap(worker.client.link, url)
            for poll in unit_polls:
                for state in poll.points:
                    if state.config.set_topic:
                        poll.broker.subscribe(
                            state.config.set_topic, self._setter(worker, poll, state)
                        )

    @staticmethod
    def _setter(
        worker: ModbusWorker, poll: UnitPoll, state: PointState
    ) -> Callable[[str, bytes], None]:
        def on_set(topic: str, payload: bytes) -> None:
            worker.submit_write(poll, state, payload)

        return on_set

    def start(self) -> None:
        """Connect the brokers (in the background) and start every poll loop and bridge."""
        for broker in self.brokers.values():
            broker.start()
        for worker in self.workers.values():
            worker.start()
        for bridge in self.raw:
            bridge.start()
        log.info(
            "gateway started: %d broker(s), %d Modbus connection(s), %d raw bridge(s)",
            len(self.brokers),
            len(self.workers),
            len(self.raw),
        )

    def stop(self, drain: float = 2.0) -> None:
        """Stop polling (queued writes are done or reported), flush the outboxes, disconnect."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for bridge in self.raw:
            bridge.stop()
        for worker in self.workers.values():
            worker.stop()
        for broker in self.brokers.values():
            broker.stop(drain)
        if self._recorder is not None:
            self._recorder.close()
        log.info("gateway stopped")

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """Return plain counters per connection, per bridge and per point."""
        out: dict[str, Any] = {"brokers": {}, "modbus": {}, "raw": []}
        for broker in self.brokers.values():
            out["brokers"][broker.name] = {**broker.counters, "queued": broker.queued}
        for worker in self.workers.values():
            out["modbus"][worker.name] = {
                **worker.counters,
                "units": [_poll_stats(poll) for poll in worker.polls],
            }
        for bridge in self.raw:
            out["raw"].append(
                {"endpoint": bridge.url, "topic": bridge.bridge.topic, **bridge.counters}
            )
        return out


def _poll_stats(poll: UnitPoll) -> dict[str, Any]:
    return {
        "unit": poll.bridge.unit,
        **poll.counters,
        "failures_in_row": poll.failures,
        "last_error": poll.last_error,
        "points": {
            s.config.name: {
                "reads": s.reads,
                "errors": s.errors,
                "publishes": s.publishes,
                "writes": s.writes,
                "write_errors": s.write_errors,
                "quality": s.quality,
                "value": s.value,
                "age": None if s.read_at is None else round(time.monotonic() - s.read_at, 3),
            }
            for s in poll.points
        },
    }
