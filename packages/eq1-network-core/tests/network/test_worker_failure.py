"""NetworkHandler's workers: threads they own, failures that end every wait, truthful events."""

from __future__ import annotations

import collections
import importlib
import inspect
import threading
from pathlib import Path
from typing import Any

import pytest

import eq1_network
from eq1_network import ProtocolConnectionError, ProtocolNotConnectedError, ReqResProtocol
from eq1_network.network import NetworkConfig, NetworkEventType, NetworkHandler, ReconnectPolicy
from eq1_network.package import TEXT_PACKAGE, DataPackage
from eq1_network.packets import (
    MessageType,
    NetworkPacketStructure,
    TextReceivedData,
    TextSendData,
)
from eq1_network.protocols.loopback.reqres import LoopbackProtocol
from eq1_network.testing import EventLog

LONG = 30.0
"""A timeout no test reaches: a call that fails does so at once, not after this."""


def _core_modules() -> list[str]:
    root = Path(eq1_network.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] in ("__init__", "__main__"):
            parts = parts[:-1]
            if path.stem == "__main__":
                continue
        names.append(".".join(("eq1_network", *parts)))
    return names


def test_no_class_of_the_core_package_is_a_thread() -> None:
    # A subclass of Thread shares its namespace with Thread's private attributes, which
    # change between Python versions (3.13 hid Listener._handle behind Thread._handle).
    offenders = []
    for name in _core_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, threading.Thread):
                offenders.append(f"{name}.{cls.__qualname__}")
    assert offenders == []
    assert len(_core_modules()) > 20  # the walk found the package


class _ChunkProtocol(ReqResProtocol):
    """A transport whose reads return prepared chunks, one per read, then nothing."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = collections.deque(chunks)
        self.connected = False

    def connect(self) -> bool:
        self.connected = True
        return True

    def disconnect(self) -> None:
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    def send(self, data: bytes) -> int:
        return len(data)

    def read(self) -> tuple[bool, bytes | None]:
        if self.chunks:
            return True, self.chunks.popleft()
        return False, None


@pytest.mark.parametrize("cut", [1, 3, 4, 10, -1])
def test_a_frame_split_across_reads_is_delivered(cut: int) -> None:
    frames = [TEXT_PACKAGE.encode(TextSendData(f"message {i}")) for i in range(3)]
    joined = b"".join(frames)
    at = len(frames[0]) + (cut if cut > 0 else len(frames[1]) + cut)
    chunks = [joined[:at], joined[at:]]
    config = NetworkConfig(protocol=_ChunkProtocol(chunks), package=TEXT_PACKAGE)
    log = EventLog()
    with NetworkHandler(config, log):
        received = log.wait_for(NetworkEventType.RECEIVED, 3)
    assert [e.data.value for e in received] == ["message 0", "message 1", "message 2"]
    assert log.of(NetworkEventType.ERROR) == []


class _Injected(RuntimeError):
    """The unexpected failure a test injects into a worker."""


class _ExplodingPackage(DataPackage[TextSendData, TextReceivedData]):
    """TEXT_PACKAGE whose decoder fails, with an exception no worker expects, on "boom"."""

    def decode_payload(self, payload: bytes) -> TextReceivedData:
        received = super().decode_payload(payload)
        if received.value == "boom":
            raise _Injected("decoder failed")
        return received


def _exploding_pair(**config: Any) -> tuple[NetworkHandler, NetworkHandler, EventLog]:
    a, b = LoopbackProtocol.pair(timeout=5)
    package = _ExplodingPackage(NetworkPacketStructure, TextSendData, TextReceivedData)
    log = EventLog()
    sender = NetworkHandler(NetworkConfig(protocol=a, package=package, **config))
    receiver = NetworkHandler(NetworkConfig(protocol=b, package=package, **config), log)
    sender.start()
    receiver.start()
    return sender, receiver, log


def _in_thread(call: Any) -> tuple[threading.Thread, list[BaseException | object]]:
    outcome: list[BaseException | object] = []
    started = threading.Event()

    def run() -> None:
        started.set()
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(LONG)
    return thread, outcome


def _assert_failed_by_injection(error: object) -> None:
    assert isinstance(error, ProtocolNotConnectedError), error
    assert isinstance(error.__cause__, _Injected)
    assert "handler failed" in str(error)


def test_a_dead_receive_worker_fails_pending_and_later_receives() -> None:
    sender, receiver, log = _exploding_pair(receive_queue=True)
    try:
        sender.send_data(TextSendData("before"))
        assert receiver.receive(timeout=LONG).value == "before"
        thread, outcome = _in_thread(lambda: receiver.receive(timeout=LONG))
        sender.send_data(TextSendData("boom"))
        thread.join(LONG * 2)
        _assert_failed_by_injection(outcome[0])  # raised, not timed out
        _assert_failed_by_injection(_raised(lambda: receiver.receive(timeout=LONG)))
        _assert_failed_by_injection(_raised(lambda: receiver.send_data(TextSendData("x"))))
        errors = log.wait_for(NetworkEventType.ERROR, 1)
        assert any(isinstance(e.error, _Injected) for e in errors)
        assert not receiver.is_running()
    finally:
        sender.stop(timeout=10)
        report = receiver.stop(timeout=10)
    assert report.complete
    assert not any(t.name.startswith("eq1-") for t in threading.enumerate() if t.is_alive())


def _raised(call: Any) -> BaseException:
    try:
        call()
    except BaseException as exc:
        return exc
    raise AssertionError("no exception")


def test_a_dead_receive_worker_fails_pending_and_later_requests() -> None:
    # The requester's own receive worker dies on the reply: request() fails with the cause.
    requester, responder, _ = _exploding_pair(receive_queue=True)

    def answer() -> None:
        command = responder.receive(timeout=LONG)
        responder.send_data(
            TextSendData("boom", message_type=MessageType.RESPONSE, reply_to=command.sequence)
        )

    helper = threading.Thread(target=answer)
    helper.start()
    try:
        error = _raised(lambda: requester.request(TextSendData("status?"), timeout=LONG))
        _assert_failed_by_injection(error)
        _assert_failed_by_injection(_raised(lambda: requester.request(TextSendData("again"))))
    finally:
        helper.join(LONG)
        requester.stop(timeout=10)
        responder.stop(timeout=10)


def test_a_dead_send_worker_fails_waits_and_reports_what_was_not_sent() -> None:
    a, b = LoopbackProtocol.pair(timeout=5)
    log = EventLog()
    handler = NetworkHandler(
        NetworkConfig(protocol=a, package=TEXT_PACKAGE, receive_queue=True), log
    )
    peer = NetworkHandler(NetworkConfig(protocol=b, package=TEXT_PACKAGE))
    handler.start()
    peer.start()
    requester = handler._requester
    assert requester is not None

    def explode() -> list[Any]:
        raise _Injected("send worker failed")

    requester._take_batch = explode  # type: ignore[method-assign]
    try:
        thread, outcome = _in_thread(lambda: handler.receive(timeout=LONG))
        handler.send_data(TextSendData("never written"), timeout=LONG)  # queued, not direct
        thread.join(LONG * 2)
        _assert_failed_by_injection(outcome[0])
        [error] = [e for e in log.wait_for(NetworkEventType.ERROR, 1) if e.error is not None]
        assert isinstance(error.error, _Injected)
    finally:
        peer.stop(timeout=10)
        report = handler.stop(timeout=10)
    assert [m.value for m in report.unsent] == ["never written"]


def test_acknowledged_mode_waits_end_when_the_receive_worker_dies() -> None:
    # In acknowledged mode the receive worker takes the acks; once it is dead, a request
    # (and the stop's wait for the last acks) cannot be answered.
    a, b = LoopbackProtocol.pair(timeout=5)
    config: dict[str, Any] = {"package": TEXT_PACKAGE, "acknowledged": True}
    sender = NetworkHandler(NetworkConfig(protocol=a, **config), EventLog())
    receiver = NetworkHandler(NetworkConfig(protocol=b, receive_queue=True, **config))
    sender.start()
    receiver.start()
    listener = sender._listener
    assert listener is not None

    def explode(sequence: int) -> None:
        raise _Injected(f"ack {sequence} failed")

    listener._on_ack = explode
    try:
        error = _raised(lambda: sender.request(TextSendData("status?"), timeout=LONG))
        _assert_failed_by_injection(error)
        assert receiver.receive(timeout=LONG).value == "status?"
    finally:
        receiver.stop(timeout=10)
        report = sender.stop(timeout=LONG)
    assert [m.value for m in report.unacknowledged] == ["status?"]


class _BreakingLoopback(LoopbackProtocol):
    """One end of a loopback channel whose chosen writes break the link."""

    def __init__(self, *args: Any, break_at: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.break_at = break_at
        self.sends = 0

    def send(self, data: bytes) -> int:
        self.sends += 1
        if self.sends in self.break_at:
            self.disconnect()
            raise ProtocolConnectionError(f"write {self.sends} broken by the test")
        return super().send(data)


@pytest.mark.parametrize("break_at", [{1}, {2}, {3}, {2, 4}], ids=str)
def test_acknowledged_mode_reports_each_message_sent_once_across_reconnections(
    break_at: set[int],
) -> None:
    # A batch whose write fails is written again after the reconnection, with the rest of
    # the unacknowledged window: each of its messages still gets exactly one SENT event.
    channel = f"sent-events-{sorted(break_at)}"
    policy = ReconnectPolicy(enabled=True, initial_delay=0.001, max_delay=0.01)
    config: dict[str, Any] = {"package": TEXT_PACKAGE, "acknowledged": True, "max_batch": 1024}
    log = EventLog()
    sender = NetworkHandler(
        NetworkConfig(
            protocol=_BreakingLoopback(5, channel=channel, side="a", break_at=break_at),
            reconnect=policy,
            **config,
        ),
        log,
    )
    receiver = NetworkHandler(
        NetworkConfig(
            protocol=LoopbackProtocol(5, channel=channel, side="b"), receive_queue=True, **config
        )
    )
    receiver.start()
    sender.start()
    total = 5000
    try:
        for i in range(total):
            sender.send_data(TextSendData(str(i)))
        got = [receiver.receive(timeout=LONG).value for _ in range(total)]
        report = sender.stop(timeout=LONG)
    finally:
        sender.stop(timeout=10)
        receiver.stop(timeout=10)
    assert got == [str(i) for i in range(total)]
    assert report.complete and report.unconfirmed == 0
    sent = [e.sequence for e in log.of(NetworkEventType.SENT)]
    assert sorted(sent) == list(range(1, total + 1))  # each once, none missing
    assert len(log.of(NetworkEventType.CONNECTED)) == len(break_at) + 1
