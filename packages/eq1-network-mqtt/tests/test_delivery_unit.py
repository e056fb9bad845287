"""Unit tests of delivery: the in-flight window, the adapter's wake-up, paho's session state."""

from __future__ import annotations

import select
import threading
import time
from typing import Any
from unittest import mock

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from eq1_network.common.backoff import Backoff
from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolError
from eq1_network.protocols.mqtt._adapter import PahoAdapter
from eq1_network.protocols.mqtt._offline_queue import QueuedPublish
from eq1_network.protocols.mqtt._supervisor import ConnectionSupervisor
from eq1_network.protocols.mqtt._tracking import PublishTracker
from eq1_network.protocols.mqtt._window import (
    V311_DEFAULT_WINDOW,
    V311_QOS2_WINDOW,
    InflightWindow,
    default_window,
)
from eq1_network.protocols.mqtt.config import BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import MQTTRefusalError, Reason, refusal_error

TIMEOUT = 10.0

# -- the window -----------------------------------------------------------------------


def test_default_window() -> None:
    assert default_window(0, False, None) == (V311_DEFAULT_WINDOW, V311_QOS2_WINDOW)
    assert V311_QOS2_WINDOW < 20  # below a stock mosquitto's max_inflight_messages
    assert default_window(7, False, None) == (7, 7)
    assert default_window(0, True, 20) == (20, 20)  # the broker's Receive Maximum
    assert default_window(50, True, 20) == (20, 20)
    assert default_window(5, True, 20) == (5, 5)
    assert default_window(0, True, None) == (65535, 65535)


def item(qos: int, name: str = "x") -> QueuedPublish:
    tracker = PublishTracker()
    return QueuedPublish("t", name.encode(), qos, False, None, (), tracker.new_handle(qos))


def test_window_holds_messages_beyond_the_limits_in_order() -> None:
    window = InflightWindow((3, 1))
    assert window.admit(2, lambda: item(2))
    assert not window.admit(2, lambda: item(2, "a"))  # QoS 2 limit reached
    assert not window.admit(1, lambda: item(1, "b"))  # waits behind "a"
    assert not window.admit(0, lambda: item(0, "c"))  # QoS 0 keeps the order too
    sent: list[bytes] = []
    assert window.release(lambda i: sent.append(i.payload)) == 0
    window.acknowledged(2)
    assert window.release(lambda i: sent.append(i.payload)) == 3
    assert sent == [b"a", b"b", b"c"] and window.inflight == 2 and len(window) == 0
    assert window.admit(1, lambda: item(1))  # 3 in flight now
    assert not window.admit(1, lambda: item(1, "d"))
    assert [i.payload for i in window.take_all()] == [b"d"] and window.inflight == 0


def test_window_leaves_a_message_queued_until_it_was_sent() -> None:
    window = InflightWindow((1, 1))
    assert window.admit(1, lambda: item(1))
    assert not window.admit(1, lambda: item(1, "a"))
    window.acknowledged(1)
    seen: list[int] = []
    window.release(lambda i: seen.append(len(window)))
    assert seen == [1]  # a publisher checking meanwhile finds it still queued


def test_tracker_counts_held_messages_until_they_get_an_id() -> None:
    tracker = PublishTracker()
    handle = tracker.new_handle(1)
    tracker.hold()
    assert tracker.unacknowledged() == 1 and not tracker.wait_drained(0)
    tracker.track(7, handle, held=True)
    assert tracker.unacknowledged() == 1
    tracker.acknowledge([7], None)
    assert tracker.unacknowledged() == 0 and tracker.wait_drained(0) and handle.wait(0)
    other = tracker.new_handle(2)
    tracker.hold()
    tracker.drop_held([other], ProtocolConnectionError("gone"))
    assert tracker.unacknowledged() == 0
    with pytest.raises(ProtocolConnectionError):
        other.wait(0)


# -- the adapter's wake-up ------------------------------------------------------------


class _WakesDuringRead:
    """The wake-up socket's read end; the first read runs a concurrent wake()."""

    def __init__(self, sock: Any, adapter: PahoAdapter) -> None:
        self._sock, self._adapter, self._woken = sock, adapter, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv(self, size: int) -> bytes:
        if not self._woken:
            self._woken = True
            self._adapter.wake()  # another thread's wake() lands in the middle of the drain
        return bytes(self._sock.recv(size))


def readable(sock: Any) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def test_a_wake_during_the_drain_is_never_lost() -> None:
    adapter = PahoAdapter(BrokerConfig(), ClientConfig(), "cid", mock.Mock())
    try:
        real = adapter._wake_r
        adapter.wake()
        adapter._wake_r = _WakesDuringRead(real, adapter)  # type: ignore[assignment]
        adapter._drain_wake()
        # Whenever a wake-up is marked pending, its byte must be there to end select().
        assert not adapter._wake_pending or readable(real)
        adapter._wake_r = real
        adapter.wake()
        assert readable(real)
    finally:
        adapter.close()


def test_refused_publish_error_carries_code_and_name() -> None:
    listener = mock.Mock()
    adapter = PahoAdapter(BrokerConfig(), ClientConfig(protocol_version=5), "cid", listener)
    try:
        adapter._on_ack([3], ReasonCode(PacketTypes.PUBCOMP, identifier=0x92))
        listener.on_publish_results.assert_called_once_with([3], Reason(0x92), 2)
    finally:
        adapter.close()
    error = refusal_error(Reason(0x92), "PUBLISH (packet id 3)")
    assert isinstance(error, MQTTRefusalError) and isinstance(error, ProtocolError)
    assert (error.reason_code, error.reason_name) == (0x92, "Packet Identifier not found")
    assert "0x92" in str(error)


# -- the supervisor's backoff -----------------------------------------------------------


class _AcceptThenDrop:
    """A link whose broker accepts every connection and closes it at once."""

    def __init__(self) -> None:
        self.supervisor: ConnectionSupervisor | None = None
        self.opened = 1
        self._state = "opening"

    def reconnect(self) -> None:
        self.opened += 1
        self._state = "opening"

    def loop(self, timeout: float) -> bool:
        assert self.supervisor is not None
        if self._state == "opening":
            self._state = "up"
            self.supervisor.on_connack(Reason(0, v5=False), False)
            return True
        self.supervisor.on_closed(None)
        return False

    def wake(self) -> None:
        pass

    def close_detail(self) -> str | None:
        return None


def run_supervisor(stable_after: float, max_attempts: int) -> tuple[_AcceptThenDrop, Any]:
    link = _AcceptThenDrop()
    hooks = mock.Mock()
    done = threading.Event()
    hooks.failed.side_effect = lambda error: done.set()
    supervisor = ConnectionSupervisor(
        link,
        hooks,
        Backoff(0.001, 0.002),
        broker="b:1",
        username=None,
        connect_timeout=TIMEOUT,
        max_attempts=max_attempts,
        name="test-supervisor",
        stable_after=stable_after,
    )
    link.supervisor = supervisor
    supervisor.start()
    deadline = time.monotonic() + TIMEOUT
    while not done.is_set() and link.opened < 50 and time.monotonic() < deadline:
        done.wait(0.01)
    supervisor.request_stop()
    assert supervisor.join(TIMEOUT)
    return link, hooks


def test_a_connection_dropped_right_after_connack_counts_as_a_failure() -> None:
    link, hooks = run_supervisor(stable_after=60.0, max_attempts=3)
    hooks.failed.assert_called_once()
    assert "gave up reconnecting" in str(hooks.failed.call_args.args[0])
    assert link.opened == 4  # the first connection and three attempts


def test_a_connection_that_stayed_up_resets_the_backoff() -> None:
    link, hooks = run_supervisor(stable_after=0.0, max_attempts=3)
    hooks.failed.assert_not_called()
    assert link.opened >= 5
