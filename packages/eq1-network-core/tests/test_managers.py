"""ReqResManager and PubSubManager: API, errors, isolation and thread safety."""

from __future__ import annotations

import threading
import time

import pytest

from eq1_network import (
    ProtocolNotFoundError,
    ProtocolTimeoutError,
    ProtocolTypeError,
    ProtocolValidationError,
    PubSubManager,
    ReqResManager,
)
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.loopback.memory import MemoryBroker, MemoryPubSub
from eq1_network.protocols.loopback.reqres import LoopbackProtocol
from eq1_network.testing import MessageCollector


def test_requirements_example_shape() -> None:
    mgr = ReqResManager.isolated()
    mgr.register("tcp_client", LoopbackProtocol(timeout=1))
    if mgr.connect("tcp_client"):
        result = mgr.send("tcp_client", b"Hello Server!")
        assert result > 0
        response = mgr.read("tcp_client")
        assert response.decode() == "Hello Server!"
        mgr.disconnect("tcp_client")
    assert mgr.is_connected("tcp_client") is False
    mgr.unregister("tcp_client")
    assert mgr.names() == []


def test_isolated_managers_do_not_share_state() -> None:
    one, two = ReqResManager.isolated(), ReqResManager.isolated()
    one.register("x", LoopbackProtocol())
    assert one.names() == ["x"] and two.names() == [] and "x" not in ReqResManager.names()
    assert issubclass(one, ReqResManager)


def test_unknown_name_lists_registered_ones() -> None:
    mgr = ReqResManager.isolated()
    mgr.register("plc", LoopbackProtocol())
    with pytest.raises(ProtocolNotFoundError, match="registered: plc"):
        mgr.send("camera", b"x")
    with pytest.raises(ProtocolNotFoundError, match="registered: none"):
        PubSubManager.isolated().publish("nope", "t", "m")


def test_register_validates_name_type_and_duplicates() -> None:
    mgr = ReqResManager.isolated()
    with pytest.raises(ProtocolTypeError, match="expected a ReqResProtocol"):
        mgr.register("bus", MemoryPubSub())  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError):
        mgr.register(3, LoopbackProtocol())  # type: ignore[arg-type]
    with pytest.raises(ProtocolValidationError):
        mgr.register("", LoopbackProtocol())
    mgr.register("a", LoopbackProtocol())
    with pytest.raises(ProtocolValidationError, match="already registered"):
        mgr.register("a", LoopbackProtocol())


def test_read_times_out_with_clear_error() -> None:
    mgr = ReqResManager.isolated()
    mgr.register("quiet", LoopbackProtocol(timeout=0.05))
    mgr.connect("quiet")
    with pytest.raises(ProtocolTimeoutError, match=r"no data within 0\.05 s"):
        mgr.read("quiet")
    with pytest.raises(TimeoutError):
        mgr.read("quiet", timeout=0.01)
    with pytest.raises(ProtocolValidationError):
        mgr.read("quiet", timeout=-1)


def test_read_uses_default_timeout_when_protocol_has_none() -> None:
    mgr = ReqResManager.isolated()
    proto = LoopbackProtocol(timeout=None)
    mgr.register("p", proto)
    mgr.connect("p")
    mgr.send("p", b"z")
    assert mgr.read("p") == b"z"
    assert mgr.get("p") is proto


def test_read_waits_for_data_sent_later() -> None:
    a, b = LoopbackProtocol.pair(timeout=30)
    mgr = ReqResManager.isolated()
    mgr.register("a", a)
    mgr.register("b", b)
    mgr.connect("a")
    mgr.connect("b")
    threading.Timer(0.05, lambda: mgr.send("b", b"late reply")).start()
    assert mgr.read("a", timeout=30) == b"late reply"
    mgr.disconnect_all()
    assert mgr.names() == [] and not a.is_connected()


def test_pubsub_manager_round_trip() -> None:
    broker = MemoryBroker()
    mgr = PubSubManager.isolated()
    mgr.register("sub", MemoryPubSub(broker))
    mgr.register("pub", MemoryPubSub(broker))
    assert mgr.connect("sub") and mgr.connect("pub")
    got = MessageCollector()
    mgr.subscribe("sub", "t/#", got)
    assert mgr.publish("pub", "t/1", "one", qos=1, retain=False).wait(1)
    mgr.unsubscribe("sub", "t/#", got)
    mgr.publish("pub", "t/2", "two")
    assert got.payloads() == [b"one"]
    assert isinstance(mgr.get("pub"), MemoryPubSub)
    with pytest.raises(ProtocolTypeError):
        mgr.register("wrong", LoopbackProtocol())  # type: ignore[arg-type]
    mgr.disconnect_all()


class _CountingLoopback(LoopbackProtocol):
    """Records the order of read and wait calls."""

    def __init__(self) -> None:
        super().__init__(timeout=1)
        self.calls: list[str] = []

    def read(self) -> tuple[bool, bytes | None]:
        self.calls.append("read")
        return super().read()

    def wait_readable(self, timeout: float | None) -> bool:
        self.calls.append("wait")
        return super().wait_readable(timeout)


def test_read_waits_first_on_a_protocol_with_a_readiness_wait() -> None:
    mgr = ReqResManager.isolated()
    proto = _CountingLoopback()
    mgr.register("echo", proto)
    mgr.connect("echo")
    mgr.send("echo", b"ping")
    assert mgr.read("echo") == b"ping"
    assert proto.calls == ["wait", "read"]  # no read attempt that finds nothing
    with pytest.raises(ProtocolTimeoutError):
        mgr.read("echo", timeout=0.05)


class _Sleepy(_CountingLoopback):
    """Keeps the interface's sleeping ``wait_readable``: no real readiness wait."""

    wait_readable = ReqResProtocol.wait_readable  # type: ignore[assignment]


def test_read_reads_first_on_a_protocol_without_a_readiness_wait() -> None:
    mgr = ReqResManager.isolated()
    proto = _Sleepy()
    mgr.register("echo", proto)
    mgr.connect("echo")
    mgr.send("echo", b"ping")
    assert mgr.read("echo") == b"ping"
    assert proto.calls == ["read"]
    started = time.monotonic()
    with pytest.raises(ProtocolTimeoutError):
        mgr.read("echo", timeout=0.05)
    assert time.monotonic() - started >= 0.05


class _OneCall(LoopbackProtocol):
    """Overrides ``read_within`` as transports with a single wait-and-read call do."""

    def __init__(self) -> None:
        super().__init__(timeout=1)
        self.asked: list[float] = []

    def read_within(self, timeout: float) -> bytes | None:
        self.asked.append(timeout)
        return b"fast" if len(self.asked) == 1 else None


def test_read_delegates_to_the_protocols_read_within() -> None:
    mgr = ReqResManager.isolated()
    proto = _OneCall()
    mgr.register("p", proto)
    mgr.connect("p")
    assert mgr.read("p", timeout=2.5) == b"fast"
    with pytest.raises(ProtocolTimeoutError, match=r"no data within 1 s"):
        mgr.read("p")
    assert proto.asked == [2.5, 1]


def test_managers_under_concurrent_register_send_read() -> None:
    mgr = ReqResManager.isolated()
    threads, rounds = 16, 100
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            name = f"dev{index}"
            mgr.register(name, LoopbackProtocol(timeout=30))
            assert mgr.connect(name)
            for i in range(rounds):
                message = f"{index}:{i}".encode()
                assert mgr.send(name, message) == len(message)
                assert mgr.read(name, timeout=30) == message
                mgr.names()
            mgr.disconnect(name)
            mgr.unregister(name)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert errors == []
    assert mgr.names() == []


def test_concurrent_publishers_through_one_manager() -> None:
    broker = MemoryBroker()
    mgr = PubSubManager.isolated()
    mgr.register("bus", MemoryPubSub(broker))
    mgr.connect("bus")
    got = MessageCollector()
    mgr.subscribe("bus", "load/+", got)

    def worker(tag: int) -> None:
        for i in range(200):
            mgr.publish("bus", f"load/{tag}", f"{i}")

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert len(got.wait_for(1600, 30)) == 1600
