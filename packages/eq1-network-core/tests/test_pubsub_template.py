"""PubSubProtocol checks the arguments once and hands transports checked values."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from eq1_network import (
    ProtocolNotConnectedError,
    ProtocolTypeError,
    ProtocolValidationError,
    PubSubProtocol,
)
from eq1_network.interfaces import _pubsub
from eq1_network.interfaces.protocol import CompletedPublish, MessageCallback, PublishHandle
from eq1_network.protocols.loopback.memory import MemoryBroker, MemoryPubSub
from eq1_network.testing import MessageCollector


class Recorder(PubSubProtocol):
    """A transport that records what its hooks receive."""

    def __init__(self, connected: bool = True) -> None:
        self.connected = connected
        self.calls: list[tuple[Any, ...]] = []

    def connect(self) -> bool:
        self.connected = True
        return True

    def disconnect(self) -> None:
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> PublishHandle:
        self.calls.append(("publish", topic, payload, qos, retain))
        return CompletedPublish()

    def _subscribe(self, topic: str, callback: MessageCallback, qos: int | None) -> None:
        self.calls.append(("subscribe", topic, callback, qos))

    def _unsubscribe(self, topic: str, callback: MessageCallback) -> None:
        self.calls.append(("unsubscribe", topic, callback))


def _noop(topic: str, payload: bytes) -> None:
    pass


def test_hook_receives_the_payload_as_bytes() -> None:
    proto = Recorder()
    proto.publish("a/b", "héllo", qos=1, retain=True)
    proto.publish("a/b", bytearray(b"\x00\x01"))
    proto.publish("a/b", memoryview(b"mv"))
    assert proto.calls == [
        ("publish", "a/b", "héllo".encode(), 1, True),
        ("publish", "a/b", b"\x00\x01", 0, False),
        ("publish", "a/b", b"mv", 0, False),
    ]
    assert all(type(call[2]) is bytes for call in proto.calls)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("a/+", b"x"), ProtocolValidationError, "wildcards"),
        (("", b"x"), ProtocolValidationError, "must not be empty"),
        ((b"a/b", b"x"), ProtocolValidationError, "topic must be a str"),
        (("a/b", b"x", 3), ProtocolValidationError, "qos must be 0, 1 or 2"),
        (("a/b", b"x", True), ProtocolValidationError, "qos must be 0, 1 or 2"),
        (("a/b", b"x", 0, 1), ProtocolTypeError, "retain must be a bool"),
        (("a/b", 42), ProtocolTypeError, "message must be str or bytes, got int"),
    ],
)
def test_bad_publish_arguments_never_reach_the_hook(
    args: tuple[Any, ...], error: type[Exception], match: str
) -> None:
    proto = Recorder()
    proto.publish("a/b", b"warm the topic cache")
    proto.calls.clear()
    with pytest.raises(error, match=match):
        proto.publish(*args)
    assert proto.calls == []


def test_arguments_are_checked_before_the_connection() -> None:
    proto = Recorder(connected=False)
    with pytest.raises(ProtocolValidationError):
        proto.publish("a/#", b"x")
    with pytest.raises(ProtocolNotConnectedError, match=r"publish\(\) to 'a/b' needs a connection"):
        proto.publish("a/b", b"x")
    assert proto.calls == []


def test_subscribe_checks_filter_callback_and_qos() -> None:
    proto = Recorder(connected=False)
    with pytest.raises(ProtocolValidationError, match="must be a whole level and the last one"):
        proto.subscribe("a/#/b", _noop)
    with pytest.raises(ProtocolTypeError, match="callback must be callable"):
        proto.subscribe("a/+", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ProtocolValidationError, match="qos must be 0, 1 or 2, got 5"):
        proto.subscribe("a/+", _noop, qos=5)
    assert proto.calls == []
    proto.subscribe("a/+", _noop)
    proto.subscribe("$share/g/a/#", _noop, qos=1)
    assert proto.calls == [
        ("subscribe", "a/+", _noop, None),
        ("subscribe", "$share/g/a/#", _noop, 1),
    ]


def test_unsubscribe_goes_to_the_hook_unchecked() -> None:
    proto = Recorder()
    proto.unsubscribe("never/subscribed/#/x", _noop)
    assert proto.calls == [("unsubscribe", "never/subscribed/#/x", _noop)]


def test_a_valid_topic_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = _pubsub.validate_topic

    def counting(topic: str) -> str:
        checked.append(topic)
        return real(topic)

    monkeypatch.setattr(_pubsub, "validate_topic", counting)
    monkeypatch.setattr(_pubsub, "_valid_topics", set())
    broker = MemoryBroker()
    pub, sub = MemoryPubSub(broker), MemoryPubSub(broker)
    got = MessageCollector()
    with pub, sub:
        sub.subscribe("once/t", got)
        for _ in range(5):
            pub.publish("once/t", b"x")
            pub.publish("once/t", "é")  # text too, encoded as UTF-8
    assert checked == ["once/t"]
    assert got.payloads() == [b"x", "é".encode()] * 5


def test_text_that_is_not_utf8_is_refused_on_a_known_topic_too() -> None:
    broker = MemoryBroker()
    with MemoryPubSub(broker) as pub:
        pub.publish("known/t", "ok")
        with pytest.raises(ProtocolValidationError, match="message must be text UTF-8"):
            pub.publish("known/t", "\ud800")
        with pytest.raises(ProtocolValidationError, match="message must be text UTF-8"):
            pub.publish("new/t", "\ud800")


def test_a_class_implementing_the_hooks_gets_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class Quiet(Recorder):
            pass

    assert Quiet().publish("q", b"x").wait(0)


def test_a_class_without_hooks_is_abstract() -> None:
    class Incomplete(PubSubProtocol):
        def connect(self) -> bool:
            return True

        def disconnect(self) -> None:
            pass

        def is_connected(self) -> bool:
            return True

    with pytest.raises(TypeError, match="_publish"):
        Incomplete()  # type: ignore[abstract]


class _Base(PubSubProtocol):
    def connect(self) -> bool:
        return True

    def disconnect(self) -> None:
        pass

    def is_connected(self) -> bool:
        return True


def test_overriding_the_public_methods_still_works_but_is_deprecated() -> None:
    seen: list[tuple[Any, ...]] = []

    with pytest.warns(
        DeprecationWarning, match=r"Legacy overrides publish\(\), subscribe\(\)"
    ) as rec:

        class Legacy(_Base):
            def publish(  # type: ignore[override]
                self, topic: str, message: Any, qos: int = 0, retain: bool = False
            ) -> PublishHandle:
                seen.append(("publish", topic, message))
                return CompletedPublish()

            def subscribe(self, topic: str, callback: MessageCallback) -> None:  # type: ignore[override]
                seen.append(("subscribe", topic))

            def unsubscribe(self, topic: str, callback: MessageCallback) -> None:
                seen.append(("unsubscribe", topic))

    assert rec[0].filename == __file__
    assert "_publish(), _subscribe() and _unsubscribe()" in str(rec[0].message)
    legacy = Legacy()
    legacy.publish("own/rules/#", 123)  # the override decides, the base does not check
    legacy.subscribe("t", _noop)
    legacy.unsubscribe("t", _noop)
    assert seen == [("publish", "own/rules/#", 123), ("subscribe", "t"), ("unsubscribe", "t")]

    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class Child(Legacy):  # warned once, at the class that overrides
            pass

    Child().publish("t", b"x")
    assert seen[-1] == ("publish", "t", b"x")


def test_overriding_publish_alone_leaves_subscribe_abstract() -> None:
    with pytest.warns(DeprecationWarning, match=r"overrides publish\(\) of"):

        class OnlyPublish(_Base):
            def publish(  # type: ignore[override]
                self, topic: str, message: Any, qos: int = 0, retain: bool = False
            ) -> PublishHandle:
                return CompletedPublish()

    with pytest.raises(TypeError, match="_subscribe"):
        OnlyPublish()  # type: ignore[abstract]


def test_memory_keeps_its_rules() -> None:
    broker = MemoryBroker()
    client = MemoryPubSub(broker)
    with pytest.raises(ProtocolNotConnectedError):
        client.publish("m/t", b"x")
    got = MessageCollector()
    client.subscribe("m/#", got)  # allowed before connect, kept
    with client:
        client.publish("m/t", "text", retain=True)
        client.unsubscribe("m/#", got)
        client.publish("m/t", b"after")
    assert got.payloads() == [b"text"]
    late = MessageCollector()
    with client:
        client.subscribe("m/+", late, qos=2)
    assert late.payloads() == [b"text"]  # the retained message, not the later one
