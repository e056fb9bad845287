"""Poll loops of Modbus connections: one thread per connection (one per serial bus).

Each bridge on a connection is a :class:`UnitPoll` with its own unit, poll period,
timeout, retries and circuit breaker: after a failure the unit is left alone for a
backoff that doubles up to ``backoff_max``, so a silent unit costs the others one
timeout per backoff period instead of one per poll. Writes from set topics run on the
same thread, between polls, so a serial bus sees one transaction at a time.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.gateway.broker import BrokerLink, Outgoing, mask_url
from eq1_network.gateway.config import BridgeConfig
from eq1_network.gateway.plan import BlockPlan
from eq1_network.gateway.points import (
    Block,
    PointState,
    decode_point,
    encode_registers,
    format_payload,
    parse_set_value,
    plan_blocks,
)
from eq1_network.plugins import from_url
from eq1_network.protocols.modbus import pdu

__all__ = ["ModbusWorker", "UnitPoll"]

log = get_logger(__name__)

_READS: dict[str, Callable[[int, int], Any]] = {
    "holding": pdu.read_holding_registers,
    "input": pdu.read_input_registers,
    "coil": pdu.read_coils,
    "discrete": pdu.read_discrete_inputs,
}


@dataclass
class UnitPoll:
    """One bridge's unit on a connection: its points, schedule and breaker.

    ``blocks`` and ``plans`` (a :class:`~eq1_network.gateway.plan.BlockPlan` per block)
    are worked out from ``points`` at construction; ``requests`` holds the blocks' read
    requests once the first poll has built them.
    """

    bridge: BridgeConfig
    broker: BrokerLink
    points: list[PointState]
    blocks: list[Block] = field(default_factory=list)
    next_due: float = 0.0
    failures: int = 0
    available: bool | None = None
    counters: dict[str, int] = field(
        default_factory=lambda: {"polls": 0, "errors": 0, "timeouts": 0, "skipped": 0}
    )
    last_error: str = ""
    plans: list[BlockPlan] = field(init=False, repr=False, compare=False)
    requests: list[Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.blocks = plan_blocks(self.points, self.bridge.max_gap)
        self.plans = [BlockPlan(block, self.bridge) for block in self.blocks]

    @property
    def label(self) -> str:
        """``unit N`` or ``default unit`` for logs."""
        return "default unit" if self.bridge.unit is None else f"unit {self.bridge.unit}"


@dataclass
class _Write:
    poll: UnitPoll
    state: PointState
    payload: bytes


class ModbusWorker:
    """The thread that owns one Modbus client and polls every unit bridged from it.

    Args:
        name: The connection's name.
        url: The connection's URL.
        polls: The bridges polling through this connection.
        factory: Builds the client from the URL (tests substitute it).
    """

    def __init__(
        self,
        name: str,
        url: str,
        polls: list[UnitPoll],
        *,
        factory: Callable[[str], Any] = from_url,
    ) -> None:
        self.name = name
        self.url = mask_url(url)
        self.client = factory(url)
        self.default_timeout = self.client.timeout or 1.0
        self.polls = polls
        self._writes: queue.Queue[_Write] = queue.Queue(maxsize=1000)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.counters = {"connects": 0, "connect_errors": 0, "requests": 0, "writes": 0}

    # -- control ---------------------------------------------------------------

    def start(self) -> None:
        """Start polling."""
        now = time.monotonic()
        for poll in self.polls:
            poll.next_due = now
        self._thread = threading.Thread(
            target=self._run, name=f"eq1-gw-modbus-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current transaction; queued writes are done or reported."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit_write(self, poll: UnitPoll, state: PointState, payload: bytes) -> None:
        """Queue a write from a set topic (called on the broker's thread)."""
        if self._stop.is_set():
            self._result(poll, state, False, None, "the gateway is shutting down")
            return
        try:
            self._writes.put_nowait(_Write(poll, state, payload))
        except queue.Full:
            self._result(poll, state, False, None, "the write queue is full")
            return
        self._wake.set()

    # -- the loop --------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception:  # a bug must not end polling: log it, slow down, go on
                    log.exception("connection %s: unexpected error in the poll loop", self.name)
                    self._stop.wait(1.0)
            self._do_writes()
        finally:
            self._close()

    def _step(self) -> None:
        self._do_writes()
        poll = min(self.polls, key=lambda p: p.next_due)
        wait = poll.next_due - time.monotonic()
        if wait > 0:
            self._wake.wait(wait)
            self._wake.clear()
            return
        self._poll(poll)

    def _close(self) -> None:
        try:
            self.client.disconnect()
        except (ProtocolError, OSError) as exc:
            log.debug("connection %s: disconnect: %s", self.name, exc)

    def _ensure_connected(self) -> None:
        if self.client.is_connected():
            return
        try:
            self.client.connect()
        except ProtocolError:
            self.counters["connect_errors"] += 1
            raise
        self.counters["connects"] += 1
        log.info("connection %s (%s): connected", self.name, self.url)

    def _use(self, poll: UnitPoll) -> None:
        self.client.timeout = poll.bridge.timeout or self.default_timeout
        self.client.retries = poll.bridge.retries

    def _poll(self, poll: UnitPoll) -> None:
        started = time.monotonic()
        poll.counters["polls"] += 1
        requests = poll.requests
        if requests is None:  # built once, on first use: a request is never changed
            requests = [_READS[b.table](b.address, b.count) for b in poll.blocks]
            poll.requests = requests
        try:
            self._ensure_connected()
            self._use(poll)
            self.counters["requests"] += len(requests)
            if getattr(self.client, "max_outstanding", 1) > 1 and len(requests) > 1:
                answers = self.client.execute_many(requests, unit=poll.bridge.unit)
            else:
                answers = [self.client.execute(r, unit=poll.bridge.unit) for r in requests]
        except ProtocolError as exc:
            self._failed(poll, exc, started)
            return
        self._succeeded(poll, answers, started)

    def _schedule(self, poll: UnitPoll, started: float) -> None:
        poll.next_due += poll.bridge.poll
        now = time.monotonic()
        if poll.next_due < now:
            poll.counters["skipped"] += int((now - poll.next_due) // poll.bridge.poll) + 1
            poll.next_due = started + poll.bridge.poll if poll.next_due < started else now

    def _succeeded(self, poll: UnitPoll, answers: list[Any], started: float) -> None:
        if poll.failures:
            log.info("connection %s %s: answering again", self.name, poll.label)
        poll.failures = 0
        now, wall = time.monotonic(), time.time()
        batch: list[Outgoing] = []
        for plan, data in zip(poll.plans, answers, strict=True):
            decoded = plan.decode(data)
            if decoded is None:
                self._decode_each(poll, plan.block, data, now, wall, batch)
                continue
            for entry, value in zip(plan.points, decoded, strict=True):
                state = entry.state
                state.reads += 1
                state.read_at = now
                if not state.due(value, "good", now):
                    continue
                item = entry.message(value, wall)
                if item is not None:
                    state.publishes += 1
                    batch.append(item)
        poll.broker.post_many(batch)
        self._availability(poll, True)
        self._schedule(poll, started)

    def _decode_each(
        self,
        poll: UnitPoll,
        block: Block,
        data: list[Any],
        now: float,
        wall: float,
        batch: list[Outgoing],
    ) -> None:
        """Decode a block point by point: for data its block decoder does not take."""
        for state in block.points:
            state.reads += 1
            state.read_at = now
            value = decode_point(block, data, state.config)
            if state.due(value, "good", now):
                self._publish(poll, state, wall, batch)

    def _failed(self, poll: UnitPoll, exc: ProtocolError, started: float) -> None:
        poll.counters["errors"] += 1
        if isinstance(exc, TimeoutError):
            poll.counters["timeouts"] += 1
        if isinstance(exc, ProtocolConnectionError):
            self._close()
        poll.failures += 1
        poll.last_error = str(exc)
        backoff = min(poll.bridge.backoff * 2 ** (poll.failures - 1), poll.bridge.backoff_max)
        level = logging.WARNING if poll.failures == 1 else logging.DEBUG
        log.log(
            level, "connection %s %s: %s; next try in %.1f s", self.name, poll.label, exc, backoff
        )
        now, wall = time.monotonic(), time.time()
        for state in poll.points:
            state.errors += 1
            if state.due(state.value, "bad", now):
                self._publish(poll, state, wall)
        self._availability(poll, False)
        poll.next_due = time.monotonic() + max(backoff, poll.bridge.poll)

    def _publish(
        self, poll: UnitPoll, state: PointState, wall: float, batch: list[Outgoing] | None = None
    ) -> None:
        point = state.config
        payload = format_payload(state, point.format or poll.bridge.format, wall)
        if payload is None:
            return
        qos = poll.bridge.qos if point.qos is None else point.qos
        state.publishes += 1
        item = Outgoing(point.topic, payload, qos, point.retain or poll.bridge.retain)
        if batch is None:
            poll.broker.post_many([item])
        else:
            batch.append(item)

    def _availability(self, poll: UnitPoll, up: bool) -> None:
        if poll.available is up:
            return
        poll.available = up
        topic = poll.bridge.availability_topic
        if topic:
            poll.broker.post(topic, "online" if up else "offline", max(poll.bridge.qos, 1), True)

    # -- writes ----------------------------------------------------------------

    def _do_writes(self) -> None:
        while True:
            try:
                job = self._writes.get_nowait()
            except queue.Empty:
                return
            self._write(job)

    def _write(self, job: _Write) -> None:
        point, poll, state = job.state.config, job.poll, job.state
        try:
            value = parse_set_value(job.payload, point)
            self._ensure_connected()
            self._use(poll)
            self.counters["writes"] += 1
            unit = poll.bridge.unit
            if point.table == "coil":
                self.client.write_coil(point.address, bool(value), unit=unit)
            else:
                registers = encode_registers(value, point)
                if len(registers) == 1:
                    self.client.write_register(point.address, registers[0], unit=unit)
                else:
                    self.client.write_registers(point.address, registers, unit=unit)
        except (ProtocolError, ValueError) as exc:
            state.write_errors += 1
            if isinstance(exc, ProtocolConnectionError):
                self._close()
            log.warning("connection %s: write of %s failed: %s", self.name, point.name, exc)
            self._result(poll, state, False, None, str(exc))
            return
        state.writes += 1
        self._result(poll, state, True, value, None)
        poll.next_due = (
            min(poll.next_due, time.monotonic()) if poll.failures == 0 else poll.next_due
        )

    def _result(
        self, poll: UnitPoll, state: PointState, ok: bool, value: Any, error: str | None
    ) -> None:
        point = state.config
        body: dict[str, Any] = {"ok": ok, "point": point.name}
        if ok:
            body["value"] = value
        else:
            body["error"] = error
        qos = poll.bridge.qos if point.qos is None else point.qos
        poll.broker.post(
            f"{point.set_topic}/result", json.dumps(body, separators=(",", ":")), qos, False
        )
