"""Unit tests of the building blocks: config, reason codes, backoff, queues, registry."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from eq1_network.common.backoff import Backoff
from eq1_network.common.exceptions import (
    ProtocolAuthenticationError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolTimeoutError,
    ProtocolValidationError,
    QueueFullError,
)
from eq1_network.protocols.mqtt._dispatcher import Dispatcher
from eq1_network.protocols.mqtt._offline_queue import OfflineQueue, QueuedPublish
from eq1_network.protocols.mqtt._registry import SubscriptionRegistry
from eq1_network.protocols.mqtt._tracking import AckBook, PublishTracker
from eq1_network.protocols.mqtt.config import BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import (
    Reason,
    connack_error,
    is_terminal_connack,
    reason_name,
    refusal_error,
)
from eq1_network.testing import MessageCollector

# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"broker_address": ""}, "broker_address"),
        ({"port": 0}, "port"),
        ({"port": "1883"}, "port"),
        ({"keepalive": -1}, "keepalive"),
        ({"password": "p"}, "needs a `username`"),
        ({"keyfile": "k.pem"}, "needs a `certfile`"),
        ({"ca_certs": "/nonexistent/ca.pem"}, "ca_certs"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"connect_timeout": float("nan")}, "connect_timeout"),
        ({"tls": "yes"}, "tls"),
        ({"username": 5}, "username"),
    ],
)
def test_broker_config_rejects(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=text):
        BrokerConfig(**kwargs)


def test_broker_config_defaults_and_secrets() -> None:
    config = BrokerConfig(username="u", password="s3cret", keyfile_password="k3y")
    assert not config.use_tls
    assert "s3cret" not in repr(config) and "k3y" not in repr(config)
    assert BrokerConfig(tls=True).use_tls


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"client_id": 3}, "client_id"),
        ({"protocol_version": 6}, "protocol_version"),
        ({"protocol_version": True}, "protocol_version"),
        ({"clean_session": False}, "non-empty `client_id`"),
        ({"session_expiry": 10}, "MQTT 5"),
        ({"protocol_version": 5, "session_expiry": -1}, "session_expiry"),
        ({"protocol_version": 5, "user_properties": [("a", 1)]}, "user_properties"),
        ({"protocol_version": 5, "user_properties": "ab"}, "user_properties"),
        ({"subscribe_qos": 3}, "subscribe_qos"),
        ({"max_inflight": -1}, "max_inflight"),
        ({"max_inflight": 20, "max_queued_messages": 10}, "must not exceed"),
        ({"max_queued_messages": 70000}, "max_queued_messages"),
        ({"ack_timeout": -1}, "ack_timeout"),
        ({"offline_queue_max_bytes": 0}, "offline_queue_max_bytes"),
        ({"overflow_policy": "block"}, "overflow_policy"),
        ({"reconnect_min_delay": 0}, "reconnect_min_delay"),
        ({"reconnect_min_delay": 2, "reconnect_max_delay": 1}, "reconnect_max_delay"),
        ({"max_reconnect_attempts": 0}, "max_reconnect_attempts"),
        ({"queue_qos0": 1}, "queue_qos0"),
    ],
)
def test_client_config_rejects(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=text):
        ClientConfig(**kwargs)


def test_client_config_session_expiry_defaults() -> None:
    assert ClientConfig(protocol_version=5).effective_session_expiry == 0
    persistent = ClientConfig(protocol_version=5, client_id="x", clean_session=False)
    assert persistent.effective_session_expiry == 0xFFFFFFFF
    assert ClientConfig(protocol_version=5, session_expiry=30).effective_session_expiry == 30
    props = ClientConfig(protocol_version=5, user_properties=[("a", "b")]).user_properties
    assert props == (("a", "b"),)
    assert ClientConfig(client_id="fixed").resolved_client_id() == "fixed"
    assert ClientConfig().resolved_client_id() != ClientConfig().resolved_client_id()


# -- reason codes ----------------------------------------------------------------------


def test_reason_names_and_failures() -> None:
    assert reason_name(4, v5=False) == "Connection Refused, bad user name or password"
    assert reason_name(0x86) == "Bad User Name or Password"
    assert reason_name(0xFE) == "Unknown reason code 254"
    assert Reason(0, v5=False).is_failure is False and Reason(3, v5=False).is_failure
    assert Reason(0x10).is_failure is False and Reason(0x80).is_failure
    assert str(Reason(0x87)) == "Not authorized (reason code 0x87)"


@pytest.mark.parametrize(
    ("reason", "error", "terminal"),
    [
        (Reason(4, v5=False), ProtocolAuthenticationError, True),
        (Reason(2, v5=False), ProtocolConfigurationError, True),
        (Reason(3, v5=False), ProtocolConnectionError, False),
        (Reason(0x8C), ProtocolAuthenticationError, True),
        (Reason(0x9A), ProtocolConfigurationError, True),
        (Reason(0x9F), ProtocolConnectionError, False),
    ],
)
def test_connack_error_table(reason: Reason, error: type[Exception], terminal: bool) -> None:
    made = connack_error(reason, "h:1", "alice")
    assert type(made) is error
    assert "alice" in str(made) and reason.name in str(made)
    assert is_terminal_connack(reason) is terminal


@pytest.mark.parametrize(
    ("code", "error"),
    [(0x87, ProtocolAuthenticationError), (0x9E, ProtocolValidationError), (0x91, ProtocolError)],
)
def test_refusal_error_table(code: int, error: type[Exception]) -> None:
    made = refusal_error(Reason(code), "SUBSCRIBE to 'x'")
    assert isinstance(made, error)
    assert made.reason_code == code and made.reason_name == Reason(code).name  # type: ignore[attr-defined]


# -- backoff ---------------------------------------------------------------------------


def test_backoff_is_exponential_with_full_jitter_and_a_cap() -> None:
    calls: list[tuple[float, float]] = []

    def top(low: float, high: float) -> float:
        calls.append((low, high))
        return high

    backoff = Backoff(0.5, 4.0, uniform=top)
    delays = [backoff.next_delay() for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(low == 0.0 for low, _ in calls)
    assert backoff.attempt == 6
    backoff.reset()
    assert backoff.next_delay() == 0.5
    assert Backoff(1.0, 8.0).ceiling(100) == 8.0


def test_backoff_draws_within_bounds() -> None:
    backoff = Backoff(0.1, 1.0)
    for _ in range(200):
        ceiling = backoff.ceiling(backoff.attempt)
        assert 0.0 <= backoff.next_delay() <= ceiling


# -- offline queue ---------------------------------------------------------------------


def item(payload: bytes, tracker: PublishTracker | None = None) -> QueuedPublish:
    handle = (tracker or PublishTracker()).new_handle(1)
    return QueuedPublish("t", payload, 1, False, None, (), handle)


def test_offline_queue_bounds_and_order() -> None:
    queue = OfflineQueue(3, 10, "reject")
    for p in (b"a", b"bb", b"ccc"):
        assert queue.put(item(p)) == []
    assert len(queue) == 3 and queue.nbytes == 6
    with pytest.raises(QueueFullError, match="not accepted"):
        queue.put(item(b"d"))
    items = queue.pop_all()
    assert [i.payload for i in items] == [b"a", b"bb", b"ccc"] and queue.nbytes == 0
    queue.put(item(b"z"))
    queue.push_front(items[1:])
    assert [i.payload for i in queue.pop_all()] == [b"bb", b"ccc", b"z"]


def test_offline_queue_byte_bound_and_drop_oldest() -> None:
    queue = OfflineQueue(100, 4, "drop_oldest")
    queue.put(item(b"ab"))
    queue.put(item(b"cd"))
    evicted = queue.put(item(b"efg"))
    assert [e.payload for e in evicted] == [b"ab", b"cd"]
    assert [i.payload for i in queue.pop_all()] == [b"efg"]
    with pytest.raises(QueueFullError, match="exceeds"):
        queue.put(item(b"12345"))


# -- registry --------------------------------------------------------------------------


def noop(topic: str, payload: bytes) -> None:
    """A callback."""


def test_registry_add_remove_and_match() -> None:
    reg = SubscriptionRegistry()
    a, b = MessageCollector(), MessageCollector()
    first = reg.add("x/+", a, 1)
    assert first.send and first.qos == 1
    assert not reg.add("x/+", b, 1).send
    assert reg.add("x/+", b, 2).send  # higher QoS
    reg.add("$share/g/x/#", noop, 0)
    assert reg.callbacks_for("x/1") == (a, b, noop)
    assert reg.callbacks_for("x/1") == (a, b, noop)  # cached
    assert reg.callbacks_for("y") == ()
    assert reg.remove("x/+", a) is False
    assert reg.remove("x/+", a) is None
    assert reg.remove("x/+", b) is True
    assert reg.callbacks_for("x/1") == (noop,)
    assert len(reg) == 1


def test_registry_subscription_ids_and_confirmation() -> None:
    reg = SubscriptionRegistry()
    one = reg.add("a/#", noop, 1).subscription_id
    two = reg.add("a/b", print, 1).subscription_id
    assert one != two
    assert reg.callbacks_for("a/b", (two,)) == (print,)
    assert reg.callbacks_for("a/b", (one, two)) == (noop, print)
    reg.set_confirmed("a/#", one, True)
    assert [s.confirmed for s in reg.snapshot()] == [True, False]
    reg.set_confirmed("a/#", two, False)  # stale id: ignored
    assert reg.snapshot()[0].confirmed
    reg.forget_confirmations()
    assert not any(s.confirmed for s in reg.snapshot())
    reg.note_offline_removal("gone")
    reg.add("gone", noop, 0)  # re-added: no longer removed
    reg.note_offline_removal("old")
    assert reg.take_offline_removals() == ["old"] and reg.take_offline_removals() == []


def test_registry_cache_is_bounded() -> None:
    reg = SubscriptionRegistry()
    reg.add("#", noop, 0)
    for i in range(5000):
        assert reg.callbacks_for(f"t/{i}") == (noop,)
    assert len(reg._cache) <= 4096


# -- tracking --------------------------------------------------------------------------


def test_tracker_early_acknowledgement_and_failures() -> None:
    tracker = PublishTracker()
    handle = tracker.new_handle(1)
    tracker.acknowledge([7], None)  # the ack overtook the registration
    tracker.track(7, handle)
    assert handle.wait(0) is True
    failed = tracker.new_handle(1)
    tracker.track(8, failed)
    assert tracker.unacknowledged() == 1
    tracker.acknowledge([8], ProtocolError("refused"))
    with pytest.raises(ProtocolError, match="refused"):
        failed.wait(1)
    one = tracker.new_handle(1)
    tracker.track(9, one)
    clash = tracker.new_handle(1)
    tracker.track(9, clash)  # a packet id still in use: settled as sent
    assert clash.is_published()
    tracker.acknowledge([9], None)
    assert one.wait(1)
    pending = tracker.new_handle(2)
    tracker.track(10, pending)
    assert tracker.wait_drained(0.01) is False
    assert tracker.fail_all(ProtocolConnectionError("gone")) == 1
    assert tracker.wait_drained(0.01) is True and tracker.unacknowledged() == 0


def test_tracker_abandoned_ids_ignore_their_late_acknowledgement() -> None:
    tracker = PublishTracker()
    lost = tracker.new_handle(2)
    tracker.track(3, lost)
    tracker.abandon([3, 4], ProtocolConnectionError("session lost"))
    with pytest.raises(ProtocolConnectionError, match="session lost"):
        lost.wait(0)
    assert tracker.unacknowledged() == 0
    tracker.acknowledge([3], None)  # the PUBCOMP of the abandoned flow
    assert lost.exception() is not None and not lost.is_published()
    later = tracker.new_handle(2)
    tracker.track(3, later)  # not settled by the abandoned flow's PUBCOMP
    assert not later.is_published() and later.exception() is None
    reused = tracker.new_handle(2)
    tracker.track(4, reused)  # an id issued again is tracked afresh
    tracker.acknowledge([4], None)
    assert reused.wait(0)


def test_tracker_wait_room_unblocks_on_ack() -> None:
    tracker = PublishTracker()
    tracker.track(1, tracker.new_handle(1))
    assert tracker.wait_room(1, 0.01) is False
    timer = threading.Timer(0.02, tracker.acknowledge, args=([1], None))
    timer.start()
    assert tracker.wait_room(1, 10.0) is True
    timer.join()


def test_ack_book() -> None:
    book = AckBook()
    waiter = book.expect(1)
    book.resolve(1, [Reason(1)])
    assert waiter.wait(1, "x") == [Reason(1)] and waiter.settled
    book.resolve(2, [Reason(0)])  # early
    got: list[Any] = []
    book.then(2, got.append)
    assert got == [[Reason(0)]]
    lost = book.expect(3)
    book.fail_all()
    assert lost.wait(1, "x") is None
    with pytest.raises(ProtocolTimeoutError, match="SUBSCRIBE"):
        book.expect(4).wait(0.01, "SUBSCRIBE")


# -- dispatcher ------------------------------------------------------------------------


def test_dispatcher_delivers_in_order_and_survives_errors() -> None:
    got = MessageCollector()

    def broken(topic: str, payload: bytes) -> None:
        raise ValueError("bad callback")

    routes = {"a": (broken, got), "b": ()}
    dispatcher = Dispatcher(lambda topic, ids: routes.get(topic, ()), name="eq1-mqtt-test")
    dispatcher.start()
    dispatcher.submit("a", b"1", ())
    dispatcher.submit("b", b"ignored", ())
    dispatcher.submit("a", b"2", ())
    assert got.wait_for(2, 10) == [("a", b"1"), ("a", b"2")]
    assert dispatcher.stop(10) is True
    assert (dispatcher.delivered, dispatcher.unmatched, dispatcher.failures) == (2, 1, 2)
    assert dispatcher.backlog() == 0


# -- packaging -------------------------------------------------------------------------


def test_plugin_is_discovered_without_importing_paho() -> None:
    code = (
        "import sys\n"
        "from eq1_network import ProtocolManager\n"
        "names = [s.name for s in ProtocolManager.specs()]\n"
        "assert 'mqtt' in names, names\n"
        "assert 'paho' not in sys.modules\n"
        "cls = ProtocolManager.get_protocol('mqtt')\n"
        "assert cls.__name__ == 'MQTTProtocol'\n"
        "from eq1_network.protocols.mqtt import MQTTProtocol, BrokerConfig\n"
        "assert MQTTProtocol is cls\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_plugin_hook_returns_a_lazy_spec() -> None:
    from eq1_network.protocols.mqtt.plugin import eq1_network_register_protocols

    (spec,) = eq1_network_register_protocols()
    assert (spec.name, spec.kind, spec.schemes) == ("mqtt", "pubsub", ("mqtt", "mqtts"))
    assert spec.factory == "eq1_network.protocols.mqtt.mqtt_protocol:MQTTProtocol"
    assert spec.load().__name__ == "MQTTProtocol"


def test_package_attribute_errors() -> None:
    import eq1_network.protocols.mqtt as package

    with pytest.raises(AttributeError):
        package.NoSuchThing  # noqa: B018


def test_only_the_adapter_imports_paho() -> None:
    source = Path(__file__).resolve().parents[1] / "src" / "eq1_network" / "protocols" / "mqtt"
    importers = sorted(
        p.name
        for p in source.glob("*.py")
        if "import paho" in p.read_text() or "from paho" in p.read_text()
    )
    assert importers == [
        "_adapter.py",
        "_adapter_parts.py",
        "_paho_fast.py",
        "_paho_io.py",
        "_paho_layout.py",
        "_paho_settle.py",
    ]


def test_the_tracker_lists_the_messages_awaiting_acknowledgement_by_qos() -> None:
    tracker = PublishTracker()
    handles = {mid: tracker.new_handle(qos) for mid, qos in ((1, 2), (2, 1), (3, 2), (4, 0))}
    for mid, handle in handles.items():
        tracker.track(mid, handle)
    tracker.acknowledge([3], None)
    assert tracker.awaiting(qos=2) == [1]
    assert tracker.awaiting(qos=1) == [2]
