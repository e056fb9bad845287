"""Unit tests of the worker building blocks: queue, policies, ack window and ledger."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from eq1_network import (
    MalformedPacketError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolNotConnectedError,
    QueueFullError,
)
from eq1_network.packets import DataFormat, Message, MessageFlags, MessageType
from eq1_network.worker import BatchQueue, NetworkEvent, NetworkEventType, ReconnectPolicy
from eq1_network.worker.ack import (
    AckWindow,
    DeliveryLedger,
    ack_message,
    hello_message,
    parse_hello,
)
from eq1_network.worker.correlation import Waiter


def test_batch_queue_orders_bounds_and_closes() -> None:
    queue: BatchQueue[int] = BatchQueue(3)
    assert [queue.put(i, 0) for i in range(3)] == [1, 2, 3]  # the depth after each
    with pytest.raises(QueueFullError, match="3 messages"):
        queue.put(99, 0)
    with pytest.raises(QueueFullError, match=r"for 0\.01 s"):
        queue.put(99, 0.01)
    assert queue.get_batch(2, 0) == [0, 1]
    assert len(queue) == 1
    queue.close()
    assert queue.closed
    with pytest.raises(ProtocolNotConnectedError):
        queue.put(3, 0)
    assert queue.get_batch(10, 0) == [2]
    assert queue.get_batch(10, 0.01) == []
    assert queue.drain() == []


def test_batch_queue_wakes_consumer_and_blocked_producer() -> None:
    queue: BatchQueue[int] = BatchQueue(1)
    got: list[int] = []

    def consume() -> None:
        while len(got) < 50:
            got.extend(queue.get_batch(10, 10))

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(50):
        queue.put(i, 10)  # blocks until the consumer makes room
    consumer.join(30)
    assert got == list(range(50))


def test_batch_queue_wakes_a_sleeping_consumer_once(monkeypatch: pytest.MonkeyPatch) -> None:
    queue: BatchQueue[int] = BatchQueue(1000)
    wakes: list[int] = []
    monkeypatch.setattr(queue._cond, "notify_all", lambda: wakes.append(1))
    queue._consumer_waiting = True  # as while the consumer sleeps in wait_items
    for item in range(100):
        queue.put(item, 0)
    assert wakes == [1]  # later producers skip the lock until the consumer has run
    assert queue.get_batch(1000, 0) == list(range(100))


def _poll(condition: Any, deadline: float = 30.0) -> bool:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.001)
    return True


def test_a_consumer_woken_for_an_item_taken_by_another_thread_is_woken_again() -> None:
    queue: BatchQueue[int] = BatchQueue(1000)
    results: list[tuple[bool, float]] = []

    def consume() -> None:
        started = time.monotonic()
        results.append((queue.wait_items(60), time.monotonic() - started))

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert _poll(lambda: queue._consumer_waiting)
    with queue._cond:  # the consumer is notified but cannot run until this block ends
        queue.put(1, 0)
        assert not queue._consumer_waiting  # the put disarmed the wake-up
        assert queue.get_batch(10, 0) == [1]  # another thread (a producer) takes the item
    # The consumer found nothing and waits again: it must be armed again, or the next
    # put would not wake it and it would sleep until its timeout.
    assert _poll(lambda: queue._consumer_waiting)
    queue.put(2, 0)
    consumer.join(30)
    assert results and results[0][0] is True
    assert results[0][1] < 30  # woken by the put, long before its 60 s timeout


def test_batch_queue_wait_items_and_drain() -> None:
    queue: BatchQueue[int] = BatchQueue(5)
    assert queue.wait_items(0.01) is False
    queue.put(1, 0)
    assert queue.wait_items(0.01) is True
    assert queue.drain() == [1]


def test_reconnect_policy_full_jitter_and_cap() -> None:
    policy = ReconnectPolicy(
        enabled=True, initial_delay=0.1, max_delay=0.5, multiplier=2, max_attempts=6
    )
    delays = list(policy.delays(random.Random(7)))
    bounds = [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]
    assert len(delays) == 6
    assert all(0 <= d <= b for d, b in zip(delays, bounds, strict=True))
    fixed = ReconnectPolicy(enabled=True, initial_delay=0.1, max_delay=0.3, jitter=False)
    gen = fixed.delays()
    assert [next(gen) for _ in range(4)] == [0.1, 0.2, 0.3, 0.3]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_delay": -1},
        {"initial_delay": 2, "max_delay": 1},
        {"multiplier": 0.5},
        {"max_attempts": 0},
    ],
)
def test_reconnect_policy_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ProtocolConfigurationError):
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


def test_ack_window_cumulative_release() -> None:
    window: AckWindow[str] = AckWindow(limit=3)
    for seq in (1, 2, 3):
        window.add(seq, f"m{seq}", [f"f{seq}".encode()])
    assert window.wait_room(0.01) is False
    assert window.frames() == [b"f1", b"f2", b"f3"]
    assert window.acknowledge(2) == 2
    assert window.items() == ["m3"] and len(window) == 1
    assert window.wait_room(0.01) is True
    assert window.acknowledge(2) == 0
    assert window.wait_empty(0.01) is False
    window.acknowledge(10)
    assert window.wait_empty(0.01) is True


def test_control_messages() -> None:
    hello = hello_message(1234)
    assert parse_hello(hello) == 1234
    ack = ack_message(77)
    assert parse_hello(ack) is None and ack.reply_to == 77 and ack.flags & MessageFlags.ACK
    bad = Message(
        b"short",
        message_type=MessageType.STATUS,
        data_format=DataFormat.BINARY,
        flags=MessageFlags.ACK | MessageFlags.ACK_REQUESTED,
    )
    with pytest.raises(MalformedPacketError, match="8-byte epoch"):
        parse_hello(bad)


def test_delivery_ledger_persists_and_compacts(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    ledger = DeliveryLedger(path)
    assert ledger.last(5) == 0
    for seq in range(1, 20001):
        ledger.record(5, seq)
    ledger.record(9, 3)
    ledger.close()
    assert path.stat().st_size < 300 * 1024  # compacted on the way
    with path.open("a") as damaged:
        damaged.write("garbage line\n")
    reopened = DeliveryLedger(path)
    assert (reopened.last(5), reopened.last(9), reopened.last(1)) == (20000, 3, 0)
    reopened.close()
    memory_only = DeliveryLedger()
    memory_only.record(1, 1)
    assert memory_only.last(1) == 1
    memory_only.close()


def test_event_repr() -> None:
    err = NetworkEvent(NetworkEventType.ERROR, data="x", error=ValueError("bad"), sequence=3)
    assert repr(err) == "NetworkEvent(type=ERROR, sequence=3, data='x', error=ValueError('bad'))"


def test_request_waiter_is_a_one_shot_signal_across_threads() -> None:
    waiter = Waiter()
    assert waiter.wait(0.01) is False
    setter = threading.Thread(target=waiter.set)
    setter.start()
    assert waiter.wait(10) is True
    setter.join(10)
    waiter.set()  # a reply racing the handler's stop: later calls do nothing
    waiter.set()


class _FakeLink:
    """What the send worker needs of a link: ``up``, ``send`` and a failure switch."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.up.set()
        self.writes: list[bytes] = []
        self.fail = False
        self.generation = 1
        self.multi_peer = None
        self.written = 0

    def note_written(self, count: int, generation: int) -> None:
        self.written += count

    def send(self, data: bytes) -> None:
        if self.fail:
            raise ProtocolConnectionError("link broke")
        self.writes.append(data)


def _requester(link: _FakeLink, queue: BatchQueue[Any], events: list[NetworkEvent]) -> Any:
    from eq1_network.package import BINARY_PACKAGE
    from eq1_network.worker.requester import Requester

    return Requester(queue=queue, package=BINARY_PACKAGE, link=link, emit=events.append)  # type: ignore[arg-type]


def test_a_batch_written_by_another_thread_keeps_order_and_events() -> None:
    from eq1_network.package import BINARY_PACKAGE
    from eq1_network.packets import BinarySendData

    link, queue, events = _FakeLink(), BatchQueue[Any](10_000), []
    requester = _requester(link, queue, events)
    messages = [BinarySendData(bytes([i % 256]) * 8, sequence=i + 1) for i in range(300)]
    for message in messages:
        queue.put((message, BINARY_PACKAGE.encode(message)), 0)
    assert requester.write_batch_now() is True
    assert link.writes == [b"".join(BINARY_PACKAGE.encode(m) for m in messages)]
    assert len(queue) == 0
    assert events == []  # SENT events are left to the send worker's thread ...
    requester._report_written()
    assert [e.sequence for e in events] == list(range(1, 301))  # ... which emits them in order
    assert {e.type for e in events} == {NetworkEventType.SENT}


def test_a_failed_batch_write_stays_pending_for_the_send_worker() -> None:
    from eq1_network.package import BINARY_PACKAGE
    from eq1_network.packets import BinarySendData

    link, queue, events = _FakeLink(), BatchQueue[Any](10_000), []
    requester = _requester(link, queue, events)
    message = BinarySendData(b"kept", sequence=1)
    queue.put((message, BINARY_PACKAGE.encode(message)), 0)
    link.fail = True
    assert requester.write_batch_now() is False
    assert requester.pending() == [message]  # written again (or reported) by the worker
    assert queue._poked  # the worker is woken to look at once
    assert queue.wait_items(30) is False  # a poke ends the wait even with nothing queued
    assert requester.write_batch_now() is False  # a pending batch goes first
    link.fail, link.up = False, threading.Event()
    assert requester.write_batch_now() is False  # link down: the worker reconnects first
    assert link.writes == [] and events == []
