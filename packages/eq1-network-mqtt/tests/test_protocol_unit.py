"""MQTTProtocol with the adapter replaced by a scripted fake (unittest.mock)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from mqtt_test_fakes import FakeBroker, WrittenReport

from eq1_network import ReconnectPolicy
from eq1_network.common.exceptions import (
    ProtocolAuthenticationError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
    ProtocolTypeError,
    ProtocolValidationError,
    QueueFullError,
)
from eq1_network.protocols.mqtt._adapter import ServerLimits, Will
from eq1_network.protocols.mqtt._registry import subscription_id_for
from eq1_network.protocols.mqtt._session import RestoreState, Session
from eq1_network.protocols.mqtt._tracking import AckWaiter, PublishTracker
from eq1_network.protocols.mqtt.mqtt_protocol import BrokerConfig, ClientConfig, MQTTProtocol
from eq1_network.protocols.mqtt.reason_codes import Reason
from eq1_network.testing import MessageCollector

TIMEOUT = 10.0
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def fake() -> Iterator[FakeBroker]:
    broker = FakeBroker()
    with mock.patch.object(MQTTProtocol, "_adapter_factory", broker.factory):
        yield broker


@pytest.fixture
def make(fake: FakeBroker) -> Iterator[Callable[..., MQTTProtocol]]:
    made: list[MQTTProtocol] = []

    def build(broker: dict[str, Any] | None = None, **client: Any) -> MQTTProtocol:
        if not {"reconnect_min_delay", "reconnect_max_delay", "max_reconnect_attempts"} & set(
            client
        ):
            client.setdefault("reconnect", ReconnectPolicy(initial_delay=0.01, max_delay=0.05))
        proto = MQTTProtocol(
            BrokerConfig("127.0.0.1", 1883, **(broker or {"connect_timeout": 5.0})),
            ClientConfig(**client),
        )
        made.append(proto)
        return proto

    yield build
    for proto in made:
        proto.disconnect()


def eq1_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("eq1-mqtt-")]


def lose_connection(fake: FakeBroker, proto: MQTTProtocol) -> None:
    """Break the link and wait until the protocol noticed."""
    fake.adapter.drop()
    with proto._shared.cond:
        assert proto._shared.cond.wait_for(lambda: not proto.is_connected(), TIMEOUT)


# -- connect / disconnect --------------------------------------------------------------


def test_connect_returns_after_connack_and_disconnect_stops_threads(
    fake: FakeBroker, make: Any
) -> None:
    proto = make(broker={"username": "u", "password": "hunter2"})
    assert not proto.is_connected()
    assert proto.connect() is True
    assert proto.is_connected() and proto.connect() is True
    assert "hunter2" not in repr(proto)
    assert len(eq1_threads()) == 2
    proto.disconnect()
    assert not proto.is_connected() and fake.adapter.closed
    assert eq1_threads() == []
    proto.disconnect()  # idempotent


def test_context_manager(fake: FakeBroker, make: Any) -> None:
    proto = make()
    with proto as inside:
        assert inside.is_connected()
    assert not proto.is_connected()


@pytest.mark.parametrize(
    ("reason", "error", "code"),
    [
        (Reason(4, v5=False), ProtocolAuthenticationError, 4),
        (Reason(5, v5=False), ProtocolAuthenticationError, 5),
        (Reason(0x86), ProtocolAuthenticationError, 0x86),
        (Reason(0x87), ProtocolAuthenticationError, 0x87),
        (Reason(0x8A), ProtocolAuthenticationError, 0x8A),
        (Reason(1, v5=False), ProtocolConfigurationError, None),
        (Reason(0x85), ProtocolConfigurationError, None),
        (Reason(3, v5=False), ProtocolConnectionError, None),
        (Reason(0x88), ProtocolConnectionError, None),
        (Reason(0x89), ProtocolConnectionError, None),
    ],
)
def test_refused_connack_raises_mapped_error_without_retry(
    fake: FakeBroker, make: Any, reason: Reason, error: type[Exception], code: int | None
) -> None:
    fake.connacks.append(reason)
    proto = make(protocol_version=5 if reason.v5 else 4)
    with pytest.raises(error) as info:
        proto.connect()
    assert reason.name in str(info.value)
    if code is not None:
        assert isinstance(info.value, ProtocolAuthenticationError)
        assert (info.value.reason_code, info.value.reason_name) == (code, reason.name)
    assert fake.connects == 1
    assert not proto.is_connected() and eq1_threads() == []


def test_socket_error_is_raised_and_cleans_up(fake: FakeBroker, make: Any) -> None:
    fake.socket_errors.append(ProtocolConnectionError("refused the TCP connection"))
    proto = make()
    with pytest.raises(ProtocolConnectionError, match="refused"):
        proto.connect()
    assert eq1_threads() == []
    assert proto.connect() is True  # the next attempt starts afresh


def test_unexpected_error_while_opening_cleans_up(fake: FakeBroker, make: Any) -> None:
    fake.socket_errors.append(RuntimeError("library bug"))  # type: ignore[arg-type]
    proto = make()
    with pytest.raises(RuntimeError, match="library bug"):
        proto.connect()
    assert eq1_threads() == [] and not proto.is_connected()


def test_missing_connack_times_out(fake: FakeBroker, make: Any) -> None:
    fake.connacks.append(None)
    proto = make(broker={"connect_timeout": 0.2})
    with pytest.raises(ProtocolTimeoutError, match="CONNACK"):
        proto.connect()
    assert eq1_threads() == []


def test_constructor_checks_types() -> None:
    with pytest.raises(ProtocolTypeError, match="broker_config"):
        MQTTProtocol("localhost")  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError, match="client_config"):
        MQTTProtocol(BrokerConfig(), {})  # type: ignore[arg-type]
    assert MQTTProtocol().client_id.startswith("eq1-")


# -- publish ---------------------------------------------------------------------------


def test_publish_before_connect_and_after_disconnect_raises(fake: FakeBroker, make: Any) -> None:
    proto = make()
    with pytest.raises(ProtocolNotConnectedError, match="connect"):
        proto.publish("a/b", b"x", qos=1)
    proto.connect()
    proto.disconnect()
    with pytest.raises(ProtocolNotConnectedError):
        proto.publish("a/b", b"x")


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_reports_delivery(fake: FakeBroker, make: Any, qos: int) -> None:
    proto = make()
    proto.connect()
    handle = proto.publish("a/b", "héllo", qos=qos, retain=True)
    assert handle.wait(TIMEOUT) is True and handle.is_published()
    assert handle.exception() is None and "published" in repr(handle)
    assert fake.published == [("a/b", "héllo".encode(), qos, True)]


def test_a_tap_sees_every_publish_until_uninstalled(fake: FakeBroker, make: Any) -> None:
    from eq1_network.observe import Tap

    events: list[Any] = []
    proto = make()
    tap = Tap(events.append)
    tap.install(proto)
    proto.connect()
    proto.publish("a/b", b"one", qos=1).wait(TIMEOUT)
    proto.publish("a/c", "two", qos=0, retain=True).wait(TIMEOUT)
    published = [(e.topic, e.data) for e in events if e.kind == "publish"]
    assert published == [("a/b", b"one"), ("a/c", b"two")]
    tap.uninstall()
    proto.publish("a/d", b"three").wait(TIMEOUT)
    assert len([e for e in events if e.kind == "publish"]) == 2


def test_publish_validates_arguments(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    with pytest.raises(ProtocolValidationError):
        proto.publish("a/#", b"x")
    with pytest.raises(ProtocolValidationError, match="qos"):
        proto.publish("a/b", b"x", qos=3)
    with pytest.raises(ProtocolTypeError):
        proto.publish("a/b", 12)  # type: ignore[arg-type]
    with pytest.raises(ProtocolValidationError, match="protocol_version=5"):
        proto.publish("a/b", b"x", message_expiry=10)


def test_mqtt5_publish_options(fake: FakeBroker, make: Any) -> None:
    proto = make(protocol_version=5, message_expiry=60)
    proto.connect()
    proto.publish("a/b", b"1", qos=1).wait(TIMEOUT)
    proto.publish("a/b", b"2", qos=1, message_expiry=5, user_properties=[("k", "v")]).wait(TIMEOUT)
    assert fake.publish_options == [(60, ()), (5, (("k", "v"),))]
    with pytest.raises(ProtocolValidationError, match="message_expiry"):
        proto.publish("a/b", b"x", message_expiry=-1)
    with pytest.raises(ProtocolConfigurationError, match="user_properties"):
        proto.publish("a/b", b"x", user_properties=[("k",)])  # type: ignore[list-item]


def test_qos0_handle_follows_the_write_report(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    fake.adapter.qos0_report = pending = WrittenReport(done=False)
    handle = proto.publish("a/b", b"x")
    assert handle.wait(0.01) is False and not handle.is_published()
    pending.finish()
    assert handle.wait(TIMEOUT) and handle.is_published()
    fake.adapter.qos0_report = WrittenReport(ProtocolConnectionError("link broke"))
    lost = proto.publish("a/b", b"y")
    with pytest.raises(ProtocolConnectionError, match="link broke"):
        lost.wait(TIMEOUT)
    assert isinstance(lost.exception(), ProtocolConnectionError) and "failed" in repr(lost)


def test_handle_waits_for_the_real_acknowledgement(fake: FakeBroker, make: Any) -> None:
    fake.hold_acks = True
    proto = make()
    proto.connect()
    handle = proto.publish("a/b", b"x", qos=1)
    assert handle.wait(0.05) is False and not handle.is_published()
    assert "pending" in repr(handle)
    fake.adapter.release_acks()
    assert handle.wait(TIMEOUT) is True


@pytest.mark.parametrize(
    ("code", "error"),
    [(0x87, ProtocolAuthenticationError), (0x90, ProtocolValidationError), (0x97, ProtocolError)],
)
def test_refused_puback_fails_the_handle(
    fake: FakeBroker, make: Any, code: int, error: type[Exception]
) -> None:
    fake.puback_codes["a/b"] = code
    proto = make(protocol_version=5)
    proto.connect()
    handle = proto.publish("a/b", b"x", qos=1)
    with pytest.raises(error):
        handle.wait(TIMEOUT)
    assert isinstance(handle.exception(), error) and not handle.is_published()


def test_max_queued_messages_applies_back_pressure(fake: FakeBroker, make: Any) -> None:
    fake.hold_acks = True
    proto = make(max_queued_messages=2, publish_timeout=0.05)
    proto.connect()
    first = [proto.publish("a/b", b"x", qos=1) for _ in range(2)]
    with pytest.raises(QueueFullError, match="max_queued_messages=2"):
        proto.publish("a/b", b"x", qos=1)
    proto.publish("a/b", b"qos0 is not counted", qos=0).wait(TIMEOUT)
    fake.hold_acks = False
    fake.adapter.release_acks()
    assert all(h.wait(TIMEOUT) for h in first)
    assert proto.publish("a/b", b"room again", qos=1).wait(TIMEOUT)


def test_blocked_publish_resumes_when_acks_arrive(fake: FakeBroker, make: Any) -> None:
    fake.hold_acks = True
    proto = make(max_queued_messages=1, max_inflight=1, publish_timeout=TIMEOUT)
    proto.connect()
    proto.publish("a/b", b"1", qos=1)
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(proto.publish("a/b", b"2", qos=1)))
    worker.start()
    fake.hold_acks = False
    fake.adapter.release_acks()
    worker.join(TIMEOUT)
    assert done and done[0].wait(TIMEOUT)


def test_disconnect_fails_unacknowledged_handles(fake: FakeBroker, make: Any) -> None:
    fake.hold_acks = True
    proto = make(drain_timeout=0.05)
    proto.connect()
    handle = proto.publish("a/b", b"x", qos=1)
    proto.disconnect()
    with pytest.raises(ProtocolNotConnectedError, match="disconnect"):
        handle.wait(TIMEOUT)


def test_concurrent_publishers_keep_their_order(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()

    handles: list[Any] = []

    def worker(tag: int) -> None:
        for i in range(200):
            handles.append(proto.publish(f"t/{tag}", f"{tag}:{i}", qos=1 if i % 2 else 0))

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(TIMEOUT)
    assert all(h.wait(TIMEOUT) for h in handles)  # beyond the in-flight window they wait
    payloads = fake.payloads()
    for tag in range(4):
        assert [p for p in payloads if p.startswith(f"{tag}:".encode())] == [
            f"{tag}:{i}".encode() for i in range(200)
        ]


def test_a_qos0_message_waits_behind_messages_the_window_holds(fake: FakeBroker, make: Any) -> None:
    proto = make(max_inflight=1)
    proto.connect()
    fake.hold_acks = True
    first = proto.publish("w/t", b"q1-a", qos=1)
    second = proto.publish("w/t", b"q1-b", qos=1)  # held by the window of one
    zero = proto.publish("w/t", b"q0", qos=0)  # must not overtake it
    assert fake.payloads() == [b"q1-a"]
    fake.adapter.release_acks()  # the window frees its slot: the held messages leave
    assert first.wait(TIMEOUT) and zero.wait(TIMEOUT)
    assert fake.payloads() == [b"q1-a", b"q1-b", b"q0"]
    fake.adapter.release_acks()
    assert second.wait(TIMEOUT)
    alone = proto.publish("w/t", b"q0 alone", qos=0)  # nothing waits: sent at once
    assert alone.wait(TIMEOUT)
    assert fake.payloads()[-1] == b"q0 alone"


# -- offline queue and reconnection ----------------------------------------------------


def test_publishes_while_down_are_queued_and_flushed_in_order(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    fake.socket_errors.extend([ProtocolConnectionError("down")] * 2)
    lose_connection(fake, proto)
    handles = [proto.publish("q/t", f"{i}", qos=1 + i % 2) for i in range(5)]
    with pytest.raises(ProtocolNotConnectedError, match="queue_qos0"):
        proto.publish("q/t", b"qos0", qos=0)
    assert proto.offline_queue_length == 5 or proto.is_connected()
    assert proto.wait_until_connected(TIMEOUT)
    assert all(h.wait(TIMEOUT) for h in handles)
    assert fake.payloads()[-5:] == [f"{i}".encode() for i in range(5)]
    assert proto.offline_queue_length == 0 and proto.reconnect_count >= 3


def test_queue_qos0_option(fake: FakeBroker, make: Any) -> None:
    proto = make(queue_qos0=True)
    proto.connect()
    fake.socket_errors.append(ProtocolConnectionError("down"))
    lose_connection(fake, proto)
    handle = proto.publish("q/t", b"zero", qos=0)
    assert proto.wait_until_connected(TIMEOUT) and handle.wait(TIMEOUT)
    assert fake.payloads()[-1] == b"zero"


def hold_down(fake: FakeBroker, proto: MQTTProtocol) -> None:
    fake.socket_errors.extend([ProtocolConnectionError("down")] * 100_000)
    lose_connection(fake, proto)


def test_overflow_policy_reject(fake: FakeBroker, make: Any) -> None:
    proto = make(offline_queue_max_messages=2, offline_queue_max_bytes=10)
    proto.connect()
    hold_down(fake, proto)
    proto.publish("q/t", b"1", qos=1)
    proto.publish("q/t", b"2", qos=1)
    with pytest.raises(QueueFullError, match="not accepted"):
        proto.publish("q/t", b"3", qos=1)
    with pytest.raises(QueueFullError, match="exceeds"):
        proto.publish("q/t", b"x" * 11, qos=1)


def test_overflow_policy_drop_oldest_fails_the_evicted_handle(
    fake: FakeBroker, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proto = make(offline_queue_max_messages=2, overflow_policy="drop_oldest")
    proto.connect()
    hold_down(fake, proto)
    oldest = proto.publish("q/t", b"1", qos=1)
    kept = [proto.publish("q/t", b"2", qos=1), proto.publish("q/t", b"3", qos=1)]
    with pytest.raises(QueueFullError, match="evicted"):
        oldest.wait(TIMEOUT)
    assert "evicted" in caplog.text
    fake.socket_errors.clear()
    assert proto.wait_until_connected(TIMEOUT)
    assert all(h.wait(TIMEOUT) for h in kept)


def test_disconnect_while_down_fails_queued_handles(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    hold_down(fake, proto)
    handle = proto.publish("q/t", b"1", qos=1)
    proto.disconnect()
    with pytest.raises(ProtocolNotConnectedError):
        handle.wait(TIMEOUT)
    assert eq1_threads() == []


def test_message_kept_by_the_library_during_a_race_completes(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    fake.adapter.live = False  # the link dropped, the network thread has not noticed yet
    handle = proto.publish("q/t", b"kept", qos=1)
    fake.adapter.drop()
    assert proto.wait_until_connected(TIMEOUT)
    assert handle.wait(TIMEOUT)


def test_lost_qos0_in_a_race_goes_to_the_offline_queue_or_raises(
    fake: FakeBroker, make: Any
) -> None:
    proto = make(queue_qos0=True)
    proto.connect()
    fake.adapter.live = False
    handle = proto.publish("q/t", b"zero", qos=0)
    fake.adapter.drop()
    assert proto.wait_until_connected(TIMEOUT) and handle.wait(TIMEOUT)


def test_auth_refusal_during_reconnect_gives_up(
    fake: FakeBroker, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proto = make()
    proto.connect()
    fake.connacks.append(Reason(5, v5=False))
    fake.socket_errors.append(ProtocolConnectionError("down"))
    lose_connection(fake, proto)
    queued = proto.publish("q/t", b"1", qos=1)
    with pytest.raises(ProtocolAuthenticationError):
        queued.wait(TIMEOUT)
    assert isinstance(proto.last_error, ProtocolAuthenticationError)
    assert not proto.wait_until_connected(0.01)
    with pytest.raises(ProtocolNotConnectedError, match="given up") as info:
        proto.publish("q/t", b"2", qos=1)
    assert isinstance(info.value.__cause__, ProtocolAuthenticationError)
    assert "gave up" in caplog.text
    assert proto.connect() is True  # an explicit connect starts over


def test_transient_refusal_during_reconnect_is_retried(fake: FakeBroker, make: Any) -> None:
    proto = make(broker={"connect_timeout": 0.3})
    proto.connect()
    fake.connacks.extend([Reason(3, v5=False), None])  # unavailable, then silence
    lose_connection(fake, proto)
    assert proto.wait_until_connected(TIMEOUT)
    assert fake.connects >= 4


def test_max_reconnect_attempts(fake: FakeBroker, make: Any) -> None:
    proto = make(reconnect=ReconnectPolicy(initial_delay=0.01, max_delay=0.05, max_attempts=2))
    proto.connect()
    hold_down(fake, proto)
    with proto._shared.cond:
        assert proto._shared.cond.wait_for(lambda: proto.last_error is not None, TIMEOUT)
    assert "after 2 failed attempts" in str(proto.last_error)


def test_connect_while_reconnecting_waits(fake: FakeBroker, make: Any) -> None:
    proto = make(reconnect=ReconnectPolicy(initial_delay=0.2, max_delay=0.2))
    proto.connect()
    lose_connection(fake, proto)
    assert proto.connect() is True


# -- subscriptions ---------------------------------------------------------------------


def test_subscribe_waits_for_suback_and_delivers(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    got = MessageCollector()
    proto.subscribe("s/+", got)
    assert fake.subscribed == [("s/+", 2, None)]
    proto.publish("s/a", b"1")
    assert got.wait_for(1, TIMEOUT) == [("s/a", b"1")]
    assert proto.subscriptions() == {"s/+": [got]}


def test_several_callbacks_share_one_broker_subscription(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    first, second = MessageCollector(), MessageCollector()
    proto.subscribe("s/x", first)
    proto.subscribe("s/x", second)
    proto.subscribe("s/x", second)  # not added twice
    assert [f for f, _, _ in fake.subscribed] == ["s/x"]
    proto.publish("s/x", b"both", qos=1)
    first.wait_for(1, TIMEOUT)
    second.wait_for(1, TIMEOUT)
    proto.unsubscribe("s/x", first)
    assert fake.unsubscribed == []
    proto.unsubscribe("s/x", first)  # unknown pair: ignored
    proto.unsubscribe("s/x", second)
    assert fake.unsubscribed == ["s/x"]
    assert second.payloads() == [b"both"]


def test_higher_qos_resubscribes(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    proto.subscribe("s/x", MessageCollector(), qos=0)
    proto.subscribe("s/x", MessageCollector(), qos=1)
    proto.subscribe("s/x", MessageCollector(), qos=0)
    assert [(f, q) for f, q, _ in fake.subscribed] == [("s/x", 0), ("s/x", 1)]


@pytest.mark.parametrize(
    ("code", "error"),
    [(0x80, ProtocolError), (0x87, ProtocolAuthenticationError), (0x8F, ProtocolValidationError)],
)
def test_refused_subscription_raises_and_is_not_registered(
    fake: FakeBroker, make: Any, code: int, error: type[Exception]
) -> None:
    fake.suback_codes["s/x"] = code
    proto = make()
    proto.connect()
    with pytest.raises(error, match="SUBSCRIBE"):
        proto.subscribe("s/x", MessageCollector())
    assert proto.subscriptions() == {}


def test_subscribe_timeout_unregisters(fake: FakeBroker, make: Any) -> None:
    fake.hold_subacks = True
    proto = make(ack_timeout=0.05)
    proto.connect()
    with pytest.raises(ProtocolTimeoutError, match="SUBSCRIBE"):
        proto.subscribe("s/x", MessageCollector())
    assert proto.subscriptions() == {}
    assert fake.unsubscribed == ["s/x"]


def test_subscribe_returns_when_the_link_drops_meanwhile(fake: FakeBroker, make: Any) -> None:
    fake.hold_subacks = True
    proto = make()
    proto.connect()
    got = MessageCollector()
    timer = threading.Timer(0.05, fake.adapter.drop)
    timer.start()
    proto.subscribe("s/x", got)  # returns: registered, restored after the reconnect
    timer.join()
    fake.hold_subacks = False
    assert proto.wait_until_connected(TIMEOUT)
    assert "s/x" in proto.subscriptions()


def test_subscribe_validates(fake: FakeBroker, make: Any) -> None:
    proto = make()
    with pytest.raises(ProtocolValidationError):
        proto.subscribe("a/#/b", MessageCollector())
    with pytest.raises(ProtocolTypeError):
        proto.subscribe("a/b", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ProtocolValidationError, match="qos"):
        proto.subscribe("a/b", MessageCollector(), qos=5)


def test_subscriptions_made_before_connect_are_sent_by_connect(fake: FakeBroker, make: Any) -> None:
    proto = make()
    got = MessageCollector()
    proto.subscribe("pre/#", got)
    assert fake.subscribed == []
    proto.connect()
    assert [f for f, _, _ in fake.subscribed] == ["pre/#"]
    fake.adapter.deliver("pre/a", b"1")
    assert got.wait_for(1, TIMEOUT) == [("pre/a", b"1")]


def test_resubscribes_after_reconnect_without_session(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    got = MessageCollector()
    proto.subscribe("r/#", got)
    lose_connection(fake, proto)
    assert proto.wait_until_connected(TIMEOUT)
    assert [f for f, _, _ in fake.subscribed] == ["r/#", "r/#"]
    proto.publish("r/a", b"after", qos=1)
    assert got.wait_for(1, TIMEOUT) == [("r/a", b"after")]


def test_kept_session_is_not_resubscribed_but_offline_changes_are_sent(
    fake: FakeBroker, make: Any
) -> None:
    proto = make(client_id="fixed", clean_session=False)
    proto.connect()
    keep, drop = MessageCollector(), MessageCollector()
    proto.subscribe("keep/#", keep)
    proto.subscribe("drop/#", drop)
    fake.session_present = True
    fake.socket_errors.append(ProtocolConnectionError("down"))
    lose_connection(fake, proto)
    proto.unsubscribe("drop/#", drop)
    proto.subscribe("new/#", MessageCollector())
    assert proto.wait_until_connected(TIMEOUT)
    assert proto.session_present is True
    assert [f for f, _, _ in fake.subscribed] == ["keep/#", "drop/#", "new/#"]
    assert fake.unsubscribed == ["drop/#"]


def test_restore_timeout_goes_live_anyway(
    fake: FakeBroker, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proto = make(ack_timeout=0.1)
    proto.subscribe("slow/#", MessageCollector())
    fake.hold_subacks = True
    assert proto.connect() is True
    assert "not all acknowledged" in caplog.text


def test_restored_subscription_refused_is_logged(
    fake: FakeBroker, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proto = make()
    proto.subscribe("no/#", MessageCollector())
    fake.suback_codes["no/#"] = 0x87
    assert proto.connect() is True
    assert "refused the restored subscription 'no/#'" in caplog.text


# -- dispatching -----------------------------------------------------------------------


def test_wildcards_and_shared_filters_match(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    plus, shared = MessageCollector(), MessageCollector()
    proto.subscribe("d/+/t", plus)
    proto.subscribe("$share/g/d/#", shared)
    fake.adapter.deliver("d/1/t", b"a")
    fake.adapter.deliver("d/1/h", b"b")
    assert shared.wait_for(2, TIMEOUT) == [("d/1/t", b"a"), ("d/1/h", b"b")]
    assert plus.wait_for(1, TIMEOUT) == [("d/1/t", b"a")]


def test_mqtt5_subscription_identifiers_route_each_copy(fake: FakeBroker, make: Any) -> None:
    fake.limits = ServerLimits(receive_maximum=5, subscription_identifiers=True)
    proto = make(protocol_version=5, max_inflight=50)
    proto.connect()
    session = proto._shared.session
    assert session is not None and session.window.limits == (5, 5)  # Receive Max
    wide, narrow = MessageCollector(), MessageCollector()
    proto.subscribe("v/#", wide)
    proto.subscribe("v/a", narrow)
    assert all(sid is not None for _, _, sid in fake.subscribed)
    proto.publish("v/a", b"1", qos=1)  # the fake broker sends one copy per subscription
    proto.publish("v/b", b"2", qos=1)
    assert wide.wait_for(2, TIMEOUT) == [("v/a", b"1"), ("v/b", b"2")]
    assert narrow.wait_for(1, TIMEOUT) == [("v/a", b"1")]
    # An identifier that names no registered filter falls back to topic matching.
    fake.adapter.deliver("v/a", b"unknown id", (999,))
    # An identifier whose filter does not match the topic is not trusted either.
    narrow_id = next(sid for f, _, sid in fake.subscribed if f == "v/a")
    fake.adapter.deliver("v/b", b"wrong id", (narrow_id,))
    proto.publish("v/c", b"3", qos=1)
    assert wide.wait_for(5, TIMEOUT)[2:] == [
        ("v/a", b"unknown id"),
        ("v/b", b"wrong id"),
        ("v/c", b"3"),
    ]
    assert narrow.payloads() == [b"1", b"unknown id"]


def test_mqtt5_subscription_ids_do_not_depend_on_order(fake: FakeBroker, make: Any) -> None:
    fake.limits = ServerLimits(subscription_identifiers=True)
    first, second = make(protocol_version=5), make(protocol_version=5)
    for proto, filters in ((first, ["x/#", "y/#"]), (second, ["y/#", "x/#"])):
        for topic_filter in filters:
            proto.subscribe(topic_filter, MessageCollector())
        proto.connect()
    ids: dict[str, set[int | None]] = {}
    for topic_filter, _, sid in fake.subscribed:
        ids.setdefault(topic_filter, set()).add(sid)
    assert ids["x/#"] != ids["y/#"]
    assert all(len(found) == 1 for found in ids.values())


def resumed_client(fake: FakeBroker, make: Any, version: int, *filters: str) -> Any:
    """A new process resuming a stored session, with ``filters`` registered first."""
    fake.session_present = True
    fake.limits = ServerLimits(subscription_identifiers=version == 5)
    proto = make(client_id="fixed", clean_session=False, protocol_version=version)
    collectors = {f: MessageCollector() for f in filters}
    for topic_filter, collector in collectors.items():
        proto.subscribe(topic_filter, collector)
    proto.connect()
    return proto, collectors


def test_stale_identifier_of_a_resumed_session_is_unsubscribed(fake: FakeBroker, make: Any) -> None:
    proto, got = resumed_client(fake, make, 5, "b/#", "a/+")
    assert proto.session_present is True
    stale_id = subscription_id_for("a/#")  # the id an earlier process gave a/#
    fake.adapter.deliver("a/1", b"stale copy", (stale_id,))
    fake.adapter.deliver("a/1", b"stale copy again", (stale_id,))
    fake.adapter.deliver("a/1", b"own copy", (subscription_id_for("a/+"),))
    fake.adapter.deliver("b/1", b"end", (subscription_id_for("b/#"),))
    assert got["b/#"].wait_for(1, TIMEOUT) == [("b/1", b"end")]
    assert got["a/+"].messages == [("a/1", b"own copy")]
    assert fake.unsubscribed == ["a/#"]  # once


def test_unexplained_message_of_a_resumed_mqtt311_session_unsubscribes_its_filters(
    fake: FakeBroker, make: Any
) -> None:
    proto, got = resumed_client(fake, make, 4, "b/#", "a/1/x")
    assert proto.session_present is True
    fake.adapter.deliver("a/1", b"from a stale filter")
    fake.adapter.deliver("a/1", b"again")
    fake.adapter.deliver("b/1", b"end")
    assert got["b/#"].wait_for(1, TIMEOUT) == [("b/1", b"end")]
    assert sorted(fake.unsubscribed) == [
        "#",
        "+/#",
        "+/+",
        "+/+/#",
        "+/1",
        "+/1/#",
        "a/#",
        "a/+",
        "a/+/#",
        "a/1",
        "a/1/#",
    ]
    assert got["a/1/x"].messages == []


@pytest.mark.parametrize("version", [4, 5])
def test_filters_unsubscribed_by_this_process_are_not_removed_again(
    fake: FakeBroker, make: Any, version: int
) -> None:
    proto, got = resumed_client(fake, make, version, "a/#", "b/#")
    proto.unsubscribe("a/#", got["a/#"])
    ids = (subscription_id_for("a/#"),) if version == 5 else ()
    fake.adapter.deliver("a/1", b"in flight", ids)
    fake.adapter.deliver("b/1", b"end", (subscription_id_for("b/#"),) if version == 5 else ())
    assert got["b/#"].wait_for(1, TIMEOUT) == [("b/1", b"end")]
    assert fake.unsubscribed == ["a/#"]  # by unsubscribe() only
    assert got["a/#"].messages == []


@pytest.mark.parametrize("resumed", [False, True])
def test_no_stale_removal_without_a_resumed_session(
    fake: FakeBroker, make: Any, resumed: bool
) -> None:
    fake.limits = ServerLimits(subscription_identifiers=True)
    fake.session_present = resumed
    proto = make(protocol_version=5, clean_session=not resumed, client_id="fixed")
    got = MessageCollector()
    proto.subscribe("b/#", got)
    proto.connect()
    fake.adapter.deliver("a/1", b"x", (subscription_id_for("a/#"),))
    fake.adapter.deliver("b/1", b"end", (subscription_id_for("b/#"),))
    assert got.wait_for(1, TIMEOUT) == [("b/1", b"end")]
    assert fake.unsubscribed == (["a/#"] if resumed else [])


def test_raising_callback_is_logged_and_delivery_goes_on(
    fake: FakeBroker, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proto = make()
    proto.connect()
    got = MessageCollector()

    def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("boom")

    proto.subscribe("e/x", broken)
    proto.subscribe("e/x", got)
    with caplog.at_level(logging.ERROR):
        fake.adapter.deliver("e/x", b"1")
        fake.adapter.deliver("e/x", b"2")
        assert got.wait_for(2, TIMEOUT)
    assert "boom" in caplog.text


def test_callbacks_may_use_the_protocol(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    replies, late = MessageCollector(), MessageCollector()

    def responder(topic: str, payload: bytes) -> None:
        proto.subscribe("late/x", late)
        proto.publish("reply/x", payload + b"-ack", qos=1).wait(TIMEOUT)
        proto.unsubscribe("req/x", responder)

    proto.subscribe("reply/x", replies)
    proto.subscribe("req/x", responder)
    proto.publish("req/x", b"ping", qos=1)
    assert replies.wait_for(1, TIMEOUT) == [("reply/x", b"ping-ack")]
    proto.publish("late/x", b"hi", qos=1)
    assert late.wait_for(1, TIMEOUT) == [("late/x", b"hi")]
    assert "req/x" not in proto.subscriptions()


def test_disconnect_from_a_callback(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    done = threading.Event()

    def stopper(topic: str, payload: bytes) -> None:
        proto.disconnect()
        done.set()

    proto.subscribe("stop", stopper)
    fake.adapter.deliver("stop", b"")
    assert done.wait(TIMEOUT)
    assert not proto.is_connected()


def test_messages_received_before_disconnect_are_delivered(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.connect()
    got = MessageCollector()
    proto.subscribe("m/#", got)
    for i in range(50):
        fake.adapter.deliver("m/x", str(i).encode())
    proto.publish("m/end", b"end", qos=1).wait(TIMEOUT)
    proto.disconnect()
    assert got.payloads()[-1] == b"end" and len(got.payloads()) == 51


# -- will ------------------------------------------------------------------------------


def test_will_is_passed_to_the_adapter(fake: FakeBroker, make: Any) -> None:
    proto = make()
    proto.set_will("dev/status", "offline", qos=1, retain=True)
    proto.connect()
    assert fake.adapter.will == Will("dev/status", b"offline", 1, True)
    proto.set_will("dev/status", b"gone")
    proto.clear_will()
    assert fake.adapter.wills[1:] == [Will("dev/status", b"gone", 0, False), None]
    with pytest.raises(ProtocolValidationError):
        proto.set_will("dev/+", b"x")


# -- session events --------------------------------------------------------------------


class EventSink:
    """Records what a session reports, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def session_connected(self, session: Session, session_present: bool) -> None:
        self.events.append(("connected", session_present))

    def restore_progress(self, session: Session) -> None:
        self.events.append(("restore", session.restore))

    def session_lost(self, session: Session, reason: Reason | None) -> None:
        self.events.append(("lost", reason))

    def session_failed(self, session: Session, error: ProtocolError) -> None:
        self.events.append(("failed", error))


def test_a_session_reports_its_events_to_the_sink_it_was_given(fake: FakeBroker) -> None:
    sink = EventSink()
    session = Session(
        sink,
        BrokerConfig("127.0.0.1", 1883),
        ClientConfig(),
        "sink-test",
        None,
        PublishTracker(),
        lambda topic, ids: (),
        fake.factory,
    )
    session.connected(True)
    session.after_round()  # nothing being restored: no restore event
    restore = RestoreState([("a/#", AckWaiter())], time.monotonic() + 60)
    session.restore = restore
    session.after_round()
    waiter = session.subacks.expect(1)
    reason, error = Reason(0x8B), ProtocolConnectionError("gave up")
    session.lost(reason)
    session.failed(error)
    assert sink.events == [
        ("connected", True),
        ("restore", restore),
        ("lost", reason),
        ("failed", error),
    ]
    assert waiter.settled and waiter.lost
