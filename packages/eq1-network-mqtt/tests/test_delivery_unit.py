"""Unit tests of delivery: the in-flight window, the adapter's wake-up, paho's session state."""

from __future__ import annotations

import select
import struct
import threading
import time
from types import SimpleNamespace
from typing import Any
from unittest import mock

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from eq1_network.common.backoff import Backoff
from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolError
from eq1_network.protocols.mqtt import _adapter
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
    tracker.acknowledge(7, None)
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


def test_the_loop_lets_paho_write_every_round() -> None:
    with mock.patch.object(_adapter, "_Client") as client_cls:
        adapter = PahoAdapter(BrokerConfig(), ClientConfig(), "cid", mock.Mock())
        client = client_cls.return_value
        client.socket.return_value = adapter._wake_w  # any socket select() accepts
        client.want_write.return_value = False
        adapter.loop(0)
        client.loop_write.assert_called_once()  # clears paho's "write registered" flag
        adapter.close()


# -- paho's session state, behind the checked switch ------------------------------------


def test_the_layout_check_accepts_this_paho_and_refuses_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _adapter._paho_session_layout()
    monkeypatch.setattr(_adapter, "paho_version", "3.0.0")
    assert not _adapter._paho_session_layout()
    monkeypatch.setattr(_adapter, "paho_version", "2.2.0")
    monkeypatch.delattr(paho, "mqtt_ms_resend_pubrel")
    assert not _adapter._paho_session_layout()


def kept_qos2_client(internals: bool, protocol: Any = paho.MQTTv311) -> tuple[Any, int]:
    client = _adapter._Client(CallbackAPIVersion.VERSION2, client_id="x", protocol=protocol)
    client.session_internals = internals
    info = client.publish("t", b"p", qos=2)  # not connected: kept by paho
    return client, info.mid


@pytest.mark.parametrize("internals", [True, False])
def test_qos2_flows_restart_when_the_broker_lost_the_session(internals: bool) -> None:
    client, mid = kept_qos2_client(internals)
    client._out_messages[mid].state = paho.mqtt_ms_resend_pubrel  # PUBREC seen before the loss
    assert client.restart_lost_qos2() == (1 if internals else 0)
    expected = paho.mqtt_ms_publish if internals else paho.mqtt_ms_resend_pubrel
    assert client._out_messages[mid].state == expected


def test_connack_without_a_session_restarts_qos2_flows() -> None:
    adapter = PahoAdapter(BrokerConfig(), ClientConfig(), "cid", mock.Mock())
    try:
        client = adapter._client
        client.session_internals = True
        mid = client.publish("t", b"p", qos=2).mid
        client._out_messages[mid].state = paho.mqtt_ms_resend_pubrel
        accepted = ReasonCode(PacketTypes.CONNACK, "Success")
        adapter._on_connect(client, None, SimpleNamespace(session_present=True), accepted, None)
        assert client._out_messages[mid].state == paho.mqtt_ms_resend_pubrel  # broker knows it
        adapter._on_connect(client, None, SimpleNamespace(session_present=False), accepted, None)
        assert client._out_messages[mid].state == paho.mqtt_ms_publish
        assert client._out_messages[mid].dup
    finally:
        adapter.close()


@pytest.mark.parametrize("internals", [True, False])
def test_mqtt5_pubrec_with_a_failure_code_fails_the_publish(internals: bool) -> None:
    client, mid = kept_qos2_client(internals, paho.MQTTv5)
    seen: list[tuple[int, int]] = []
    client.ack_listener = lambda m, reason: seen.append((m, int(reason.value)))
    client._in_packet["packet"] = bytearray(struct.pack("!HB", mid, 0x97))
    client._handle_pubrec()
    if internals:
        assert seen == [(mid, 0x97)] and mid not in client._out_messages
    else:  # paho's own handling: it answers PUBREL and waits for PUBCOMP
        assert seen == [] and client._out_messages[mid].state == paho.mqtt_ms_wait_for_pubcomp


def test_mqtt5_pubrec_success_continues_the_flow() -> None:
    client, mid = kept_qos2_client(True, paho.MQTTv5)
    client._in_packet["packet"] = bytearray(struct.pack("!HB", mid, 0x00))
    client._handle_pubrec()
    assert client._out_messages[mid].state == paho.mqtt_ms_wait_for_pubcomp


def test_refused_publish_error_carries_code_and_name() -> None:
    listener = mock.Mock()
    adapter = PahoAdapter(BrokerConfig(), ClientConfig(protocol_version=5), "cid", listener)
    try:
        adapter._on_ack(3, ReasonCode(PacketTypes.PUBCOMP, identifier=0x92))
        listener.on_publish_result.assert_called_once_with(3, Reason(0x92), 2)
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
