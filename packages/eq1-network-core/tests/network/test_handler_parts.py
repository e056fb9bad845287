"""The parts of NetworkHandler on their own: life cycle, request correlation, delivery."""

from __future__ import annotations

import threading
from queue import Queue
from typing import Any

import pytest

from eq1_network import ProtocolArgumentError, ProtocolNotConnectedError
from eq1_network.packets import TextReceivedData
from eq1_network.worker import NetworkEvent, NetworkEventType
from eq1_network.worker.correlation import Correlator, Waiter
from eq1_network.worker.delivery import Delivery
from eq1_network.worker.lifecycle import HandlerState, Lifecycle


def test_a_lifecycle_runs_once_and_stops_from_failed() -> None:
    life = Lifecycle()
    assert life.begin_stop() is False and life.state is HandlerState.STOPPED
    life = Lifecycle()
    life.begin_start()
    with pytest.raises(ProtocolArgumentError, match="starts once; this one is starting"):
        life.begin_start()
    life.started(ok=True)
    assert life.state is HandlerState.RUNNING
    cause = OSError("gone")
    assert life.fail(cause) is True and life.fail(ValueError()) is False
    assert life.state is HandlerState.FAILED
    error = life.not_running("send_data()")
    assert error.__cause__ is cause and "OSError: gone" in str(error)
    assert life.begin_stop() is True and life.state is HandlerState.STOPPING
    life.stopped()
    assert life.state is HandlerState.STOPPED
    assert isinstance(life.not_running("x"), ProtocolNotConnectedError)


def test_a_failed_start_leaves_the_handler_stopped() -> None:
    life = Lifecycle()
    life.begin_start()
    life.started(ok=False)
    assert life.state is HandlerState.STOPPED
    assert str(life.not_running("request()")) == "request() on a handler that is stopped"


def test_a_reply_wakes_its_requester_only_after_the_read() -> None:
    requests = Correlator()
    waiter = Waiter()
    requests.register(7, waiter)
    assert requests.claim(TextReceivedData("other", reply_to=8)) is False
    assert requests.claim(TextReceivedData("plain")) is False
    reply = TextReceivedData("yes", reply_to=7)
    assert requests.claim(reply) is True
    assert not requests.waiting and waiter.wait(0) is False  # not woken yet
    requests.wake_answered()
    assert waiter.wait(10) is True and waiter.result is reply


def test_fail_all_wakes_every_request_without_a_reply() -> None:
    requests = Correlator()
    waiters = [Waiter() for _ in range(3)]
    for number, waiter in enumerate(waiters, 1):
        requests.register(number, waiter)
    requests.discard(3)
    requests.fail_all()
    assert [w.wait(10) for w in waiters[:2]] == [True, True]
    assert waiters[2].wait(0) is False
    assert all(w.result is None for w in waiters)


def _delivery(callback: Any, queue: Queue[Any] | None = None) -> tuple[Delivery, Correlator]:
    requests = Correlator()
    failures: list[BaseException] = []
    delivery = Delivery(callback, queue, requests, threading.Event(), failures.append)
    return delivery, requests


def test_delivery_gives_replies_to_requests_and_the_rest_to_callback_and_queue() -> None:
    events: list[NetworkEvent] = []
    queue: Queue[Any] = Queue()
    delivery, requests = _delivery(events.append, queue)
    waiter = Waiter()
    requests.register(5, waiter)
    messages = [TextReceivedData("a", sequence=1), TextReceivedData("r", reply_to=5)]
    delivery.deliver_many(iter(messages))
    delivery.after_batch()
    assert waiter.wait(10) and waiter.result is messages[1]
    assert [e.data for e in events] == [messages[0]]
    assert events[0].type is NetworkEventType.RECEIVED and events[0].sequence == 1
    assert queue.get_nowait() is messages[0] and queue.empty()


def test_a_callback_error_becomes_an_error_event() -> None:
    seen: list[NetworkEvent] = []

    def callback(event: NetworkEvent) -> None:
        seen.append(event)
        if event.type is NetworkEventType.RECEIVED:
            raise RuntimeError("boom")

    delivery, _ = _delivery(callback)
    delivery.deliver_many(iter([TextReceivedData("a"), TextReceivedData("b")]))
    kinds = [(e.type, type(e.error).__name__) for e in seen]
    assert (
        kinds
        == [
            (NetworkEventType.RECEIVED, "NoneType"),
            (NetworkEventType.ERROR, "RuntimeError"),
        ]
        * 2
    )
    assert seen[1].data is seen[0]
