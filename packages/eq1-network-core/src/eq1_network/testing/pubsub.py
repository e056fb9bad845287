"""Contract tests every publish/subscribe protocol must pass.

Subclass :class:`PubSubContract` and provide a ``pubsub_factory`` fixture returning
a zero-argument callable that creates a new, *unconnected* client of one shared
broker::

    class TestMyPubSub(PubSubContract):
        @pytest.fixture
        def pubsub_factory(self, my_broker):
            return lambda: MyPubSub(my_broker.address)

The suite requires that ``subscribe()`` on a connected client returns once the
subscription is active, so a message published afterwards is delivered. Every test
uses its own topic prefix, so the suite can run against a shared broker.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from eq1_network.common.exceptions import ProtocolValidationError
from eq1_network.interfaces.protocol import PubSubProtocol
from eq1_network.manager.pubsub import PubSubManager
from eq1_network.testing._collect import MessageCollector

__all__ = ["PubSubContract"]

Factory = Callable[[], PubSubProtocol]


class PubSubContract:
    """Behaviour shared by every :class:`PubSubProtocol`."""

    #: Seconds to wait for a delivery; generous for busy machines.
    timeout: float = 15.0

    @pytest.fixture
    def pubsub_factory(self) -> Factory:
        """Return a factory of unconnected clients; subclasses must override."""
        raise NotImplementedError("subclasses provide a 'pubsub_factory' fixture")

    @pytest.fixture
    def clients(self, pubsub_factory: Factory) -> Iterator[Callable[[], PubSubProtocol]]:
        """Create connected clients and disconnect them after the test."""
        made: list[PubSubProtocol] = []

        def make() -> PubSubProtocol:
            client = pubsub_factory()
            assert client.connect() is True
            made.append(client)
            return client

        yield make
        for client in made:
            client.disconnect()

    @pytest.fixture
    def prefix(self) -> str:
        """A topic prefix unique to the test."""
        return f"eq1-contract/{uuid.uuid4().hex[:12]}"

    def test_connect_and_disconnect(self, pubsub_factory: Factory) -> None:
        client = pubsub_factory()
        assert client.is_connected() is False
        assert client.connect() is True
        assert client.is_connected() is True
        client.disconnect()
        assert client.is_connected() is False
        client.disconnect()

    def test_context_manager(self, pubsub_factory: Factory) -> None:
        client = pubsub_factory()
        with client as inside:
            assert inside is client and client.is_connected()
        assert client.is_connected() is False

    def test_publish_reaches_subscriber_as_bytes(self, clients: Factory, prefix: str) -> None:
        sub, pub = clients(), clients()
        got = MessageCollector()
        sub.subscribe(f"{prefix}/a", got)
        pub.publish(f"{prefix}/a", b"\x00\x01binary")
        pub.publish(f"{prefix}/a", "text \u00e9")
        assert got.wait_for(2, self.timeout) == [
            (f"{prefix}/a", b"\x00\x01binary"),
            (f"{prefix}/a", "text \u00e9".encode()),
        ]

    @pytest.mark.parametrize("qos", [0, 1, 2])
    def test_every_qos_is_delivered_and_handle_completes(
        self, clients: Factory, prefix: str, qos: int
    ) -> None:
        sub, pub = clients(), clients()
        got = MessageCollector()
        sub.subscribe(f"{prefix}/q", got)
        handle = pub.publish(f"{prefix}/q", f"qos{qos}", qos=qos)
        assert handle.wait(self.timeout) is True
        assert handle.is_published() is True
        assert got.wait_for(1, self.timeout)[0][1] == f"qos{qos}".encode()

    def test_wildcards(self, clients: Factory, prefix: str) -> None:
        sub, pub = clients(), clients()
        plus, hash_ = MessageCollector(), MessageCollector()
        sub.subscribe(f"{prefix}/+/temp", plus)
        sub.subscribe(f"{prefix}/#", hash_)
        pub.publish(f"{prefix}/room1/temp", b"1")
        pub.publish(f"{prefix}/room1/humidity", b"2")
        pub.publish(f"{prefix}/room2/temp", b"3")
        assert [p for _, p in hash_.wait_for(3, self.timeout)] == [b"1", b"2", b"3"]
        assert plus.wait_for(2, self.timeout) == [
            (f"{prefix}/room1/temp", b"1"),
            (f"{prefix}/room2/temp", b"3"),
        ]

    def test_two_callbacks_on_one_filter_and_unsubscribe_one(
        self, clients: Factory, prefix: str
    ) -> None:
        sub, pub = clients(), clients()
        first, second = MessageCollector(), MessageCollector()
        sub.subscribe(f"{prefix}/x", first)
        sub.subscribe(f"{prefix}/x", second)
        pub.publish(f"{prefix}/x", b"both", qos=1).wait(self.timeout)
        first.wait_for(1, self.timeout)
        second.wait_for(1, self.timeout)
        sub.unsubscribe(f"{prefix}/x", first)
        pub.publish(f"{prefix}/x", b"second only", qos=1).wait(self.timeout)
        assert second.wait_for(2, self.timeout)[1][1] == b"second only"
        assert first.payloads() == [b"both"]

    def test_unsubscribe_stops_delivery(self, clients: Factory, prefix: str) -> None:
        sub, pub = clients(), clients()
        gone, sentinel = MessageCollector(), MessageCollector()
        sub.subscribe(f"{prefix}/gone", gone)
        sub.subscribe(f"{prefix}/sentinel", sentinel)
        sub.unsubscribe(f"{prefix}/gone", gone)
        pub.publish(f"{prefix}/gone", b"nobody", qos=1)
        pub.publish(f"{prefix}/sentinel", b"done", qos=1)
        sentinel.wait_for(1, self.timeout)
        assert gone.payloads() == []

    def test_retained_message_reaches_late_subscriber(self, clients: Factory, prefix: str) -> None:
        pub = clients()
        topic = f"{prefix}/retained"
        pub.publish(topic, b"last value", qos=1, retain=True).wait(self.timeout)
        try:
            late = MessageCollector()
            clients().subscribe(topic, late)
            assert late.wait_for(1, self.timeout)[0] == (topic, b"last value")
        finally:
            pub.publish(topic, b"", qos=1, retain=True).wait(self.timeout)

    def test_invalid_arguments_raise_documented_errors(self, clients: Factory) -> None:
        client = clients()
        with pytest.raises(ProtocolValidationError):
            client.publish("a/+/b", b"x")
        with pytest.raises(ProtocolValidationError):
            client.publish("a/b", b"x", qos=3)
        with pytest.raises(ProtocolValidationError):
            client.subscribe("a/#/b", MessageCollector())
        with pytest.raises(TypeError):
            client.publish("a/b", 42)  # type: ignore[arg-type]

    def test_raising_callback_does_not_stop_delivery(self, clients: Factory, prefix: str) -> None:
        sub, pub = clients(), clients()
        got = MessageCollector()
        calls = []

        def broken(topic: str, payload: bytes) -> None:
            calls.append(payload)
            raise RuntimeError("callback failure injected by the contract suite")

        sub.subscribe(f"{prefix}/err", broken)
        sub.subscribe(f"{prefix}/err", got)
        pub.publish(f"{prefix}/err", b"1", qos=1)
        pub.publish(f"{prefix}/err", b"2", qos=1)
        assert got.wait_for(2, self.timeout) == [(f"{prefix}/err", b"1"), (f"{prefix}/err", b"2")]
        assert calls == [b"1", b"2"]

    def test_callback_may_publish_without_deadlock(self, clients: Factory, prefix: str) -> None:
        sub, pub = clients(), clients()
        replies = MessageCollector()

        def responder(topic: str, payload: bytes) -> None:
            sub.publish(f"{prefix}/reply", payload + b"-ack", qos=1)

        sub.subscribe(f"{prefix}/reply", replies)
        sub.subscribe(f"{prefix}/req", responder)
        pub.publish(f"{prefix}/req", b"ping", qos=1)
        assert replies.wait_for(1, self.timeout)[0][1] == b"ping-ack"

    def test_concurrent_publishers_lose_nothing(self, clients: Factory, prefix: str) -> None:
        sub, pub = clients(), clients()
        got = MessageCollector()
        sub.subscribe(f"{prefix}/load/+", got)
        threads, each = 4, 50

        def worker(tag: int) -> None:
            for i in range(each):
                pub.publish(f"{prefix}/load/{tag}", f"{tag}:{i}", qos=1)

        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(self.timeout)
        got.wait_for(threads * each, self.timeout)
        payloads = got.payloads()
        for tag in range(threads):
            mine = [p for p in payloads if p.startswith(f"{tag}:".encode())]
            assert mine == [f"{tag}:{i}".encode() for i in range(each)]

    def test_manager_round_trip(self, pubsub_factory: Factory, prefix: str) -> None:
        manager = PubSubManager.isolated()
        manager.register("sub", pubsub_factory())
        manager.register("pub", pubsub_factory())
        assert manager.connect("sub") and manager.connect("pub")
        got = MessageCollector()
        try:
            manager.subscribe("sub", f"{prefix}/m", got)
            manager.publish("pub", f"{prefix}/m", "via manager", qos=1)
            assert got.wait_for(1, self.timeout)[0][1] == b"via manager"
            manager.unsubscribe("sub", f"{prefix}/m", got)
        finally:
            manager.disconnect_all()
