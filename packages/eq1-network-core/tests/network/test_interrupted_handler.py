"""An interrupt (Ctrl-C) at the wrong moment never leaves a handler unable to work.

``KeyboardInterrupt`` can be raised between any two bytecodes: right after a call that
took a lock returned and before the ``try`` that frees it, right after a ``with`` block
that set a flag and before the ``try`` that clears it, or inside the Python code of
``Condition.__enter__``. The locks below raise at exactly such a point, once, on the
test's thread (Ctrl-C interrupts the main thread only), so the tests do not depend on a
signal's timing.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eq1_network.common import guard as guard_module
from eq1_network.common.guard import Guard
from eq1_network.data import ReceivedData, SendData
from eq1_network.network import NetworkConfig, NetworkEventType, NetworkHandler
from eq1_network.package import TEXT_PACKAGE, DataPackage
from eq1_network.packets import MessageType, NetworkPacketStructure, TextSendData
from eq1_network.packets.send import SequenceCounter
from eq1_network.protocols.loopback.reqres import LoopbackProtocol
from eq1_network.testing import InterruptingLock
from eq1_network.worker import handoff as handoff_module
from eq1_network.worker.correlation import Correlator
from eq1_network.worker.peers import ReplyRouter
from eq1_network.worker.send_queue import BatchQueue
from eq1_network.worker.submit import Submitter

DEADLINE = 30.0
COMMAND = MessageType.COMMAND
SEND_LOCK = "the handler's send lock"
WRITE_LOCK = "the send worker's write lock"
_channels = itertools.count()


class RawBytes(SendData, ReceivedData):
    """A plain message (neither typed nor a ``Message``): the payload is the frame body."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def to_bytes(self) -> bytes:
        return self.data

    @classmethod
    def from_bytes(cls, data: bytes) -> RawBytes:
        return cls(data)


class CountingLock:
    """A lock that counts the timed waits for it that ran out (a waiter's slices)."""

    def __init__(self) -> None:
        self.inner = threading.Lock()
        self.waits_out = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        taken = self.inner.acquire(blocking, timeout)
        if not taken and blocking:
            self.waits_out += 1
        return taken

    def release(self) -> None:
        self.inner.release()

    def locked(self) -> bool:
        return self.inner.locked()


class Peer:
    """The other end: answers COMMAND messages, keeps every other message in order."""

    def __init__(self) -> None:
        self.handler: NetworkHandler | None = None
        self.received: queue.Queue[Any] = queue.Queue()

    def __call__(self, event: Any) -> None:
        if event.type is not NetworkEventType.RECEIVED:
            return
        message = event.data
        if message.message_type is COMMAND and self.handler is not None:
            answer = TextSendData(
                f"re: {message.value}", message_type=MessageType.RESPONSE, reply_to=message.sequence
            )
            self.handler.send_data(answer)
        else:
            self.received.put(message.value)

    def next(self) -> Any:
        return self.received.get(timeout=DEADLINE)


@pytest.fixture
def handlers() -> Iterator[Callable[..., NetworkHandler]]:
    """Make handlers (started unless told not to); stop them afterwards."""
    made: list[NetworkHandler] = []

    def make(channel: str, side: str, *, start: bool = True, **config: Any) -> NetworkHandler:
        callback = config.pop("callback", None)
        protocol = LoopbackProtocol(10, channel=channel, side=side)
        handler = NetworkHandler(NetworkConfig(protocol=protocol, **config), callback)
        made.append(handler)
        if start:
            handler.start()
        return handler

    yield make
    for handler in made:
        handler.stop(timeout=10)


@pytest.fixture
def pair(handlers: Callable[..., NetworkHandler]) -> Callable[..., tuple[NetworkHandler, Peer]]:
    """A client handler (not started when ``start=False``) and its answering peer."""

    def make(*, start: bool = True) -> tuple[NetworkHandler, Peer]:
        channel = f"interrupted-{next(_channels)}"
        peer = Peer()
        peer.handler = handlers(channel, "b", package=TEXT_PACKAGE, callback=peer)
        client = handlers(channel, "a", start=start, package=TEXT_PACKAGE)
        return client, peer

    return make


@pytest.fixture(autouse=True)
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard_module, "SETTLE", 0.2)


def within(action: Callable[[], Any], seconds: float = DEADLINE) -> Any:
    """Run ``action`` on another thread; fail if it still runs after ``seconds``."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(action())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s: the handler is wedged"
    if errors:
        raise errors[0]
    return results[0]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {DEADLINE} s"
        time.sleep(0.001)


def ask(client: NetworkHandler, text: str) -> str:
    reply = client.request(TextSendData(text, message_type=COMMAND), timeout=DEADLINE)
    value: str = reply.value
    return value


def works(client: NetworkHandler, peer: Peer, tag: str) -> None:
    """Sends and requests go through, in order; fails instead of hanging."""
    within(lambda: client.send_data(TextSendData(f"{tag} 1")))
    assert within(lambda: ask(client, tag)) == f"re: {tag}"
    client.send_data(TextSendData(f"{tag} 2"))
    assert [peer.next(), peer.next()] == [f"{tag} 1", f"{tag} 2"]


# -- the handler's send lock (send_data, request) ----------------------------------


SENDS = {
    "send_data": lambda h, text: h.send_data(TextSendData(text)),  # framed by the caller
    "with-timeout": lambda h, text: h.send_data(TextSendData(text), timeout=5),  # Submitter
    "request": lambda h, text: ask(h, text),  # Submitter, with a waiter
}


@pytest.mark.parametrize("waiting", SENDS)
@pytest.mark.parametrize("interrupted", SENDS)
def test_the_send_lock_an_interrupt_left_held_is_taken_back(
    interrupted: str,
    waiting: str,
    pair: Callable[..., tuple[NetworkHandler, Peer]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, peer = pair()
    assert client._direct_limit is not None  # send_data frames typed messages itself
    stuck = InterruptingLock()
    client._guard.lock = stuck  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        SENDS[interrupted](client, "lost")
    assert stuck.locked()  # nobody will free it

    with caplog.at_level(logging.WARNING, logger="eq1_network.network"):
        within(lambda: SENDS[waiting](client, "waited"))  # waits, then takes it back
    if waiting != "request":
        assert peer.next() == "waited"
    assert f"{SEND_LOCK} was left held" in caplog.text
    assert client._guard.lock is not stuck
    works(client, peer, "after")
    assert client.stop(timeout=DEADLINE).complete


def test_a_plain_send_takes_no_send_lock(
    handlers: Callable[..., NetworkHandler], caplog: pytest.LogCaptureFixture
) -> None:
    # Plain messages carry no number, so nothing orders them but the queue: a send lock
    # that is held (here: for good, as an interrupt could leave it) neither delays nor
    # loses them, and no recovery is needed.
    package: DataPackage[RawBytes, RawBytes] = DataPackage(
        NetworkPacketStructure, RawBytes, RawBytes
    )
    channel = f"interrupted-{next(_channels)}"
    receiver = handlers(channel, "b", package=package, receive_queue=True)
    sender = handlers(channel, "a", package=package)
    assert sender._plain_packet is not None  # send_data frames plain messages itself
    held = threading.Lock()
    held.acquire()
    sender._guard.lock = held
    with caplog.at_level(logging.WARNING, logger="eq1_network.network"):
        within(lambda: [sender.send_data(RawBytes(b"%d" % n)) for n in range(50)])
    assert [receiver.receive(timeout=DEADLINE).data for _ in range(50)] == [
        b"%d" % n for n in range(50)
    ]
    assert held.locked() and sender._guard.lock is held
    assert "was left held" not in caplog.text


def test_a_sender_inside_its_block_keeps_the_send_lock_however_long(
    pair: Callable[..., tuple[NetworkHandler, Peer]], caplog: pytest.LogCaptureFixture
) -> None:
    client, peer = pair()
    counting = CountingLock()
    client._guard.lock = counting  # type: ignore[assignment]
    framing, go = threading.Event(), threading.Event()

    class SlowText(TextSendData):
        def to_frame(self, max_payload: int = 1 << 20) -> bytes:
            framing.set()  # called with the send lock held
            assert go.wait(DEADLINE)
            return super().to_frame(max_payload)

    first = threading.Thread(target=client.send_data, args=(SlowText("slow"),), daemon=True)
    first.start()
    assert framing.wait(DEADLINE)
    second = threading.Thread(target=client.send_data, args=(TextSendData("second"),), daemon=True)
    second.start()
    slices = 5 * guard_module.SETTLE / guard_module._SLICE
    with caplog.at_level(logging.WARNING):
        wait_until(lambda: counting.waits_out >= slices, "the second sender waits")
        assert second.is_alive()  # still waiting: the holder was not robbed
        go.set()
        first.join(DEADLINE)
        second.join(DEADLINE)
    assert [peer.next(), peer.next()] == ["slow", "second"]
    assert client._guard.lock is counting
    assert "was left held" not in caplog.text


# -- the send worker's write lock --------------------------------------------------


@pytest.mark.parametrize("then", ["work", "stop"])
def test_the_write_lock_an_interrupted_request_left_held_is_taken_back(
    then: str, pair: Callable[..., tuple[NetworkHandler, Peer]], caplog: pytest.LogCaptureFixture
) -> None:
    client, peer = pair()
    requester = client._requester
    assert requester is not None
    stuck = InterruptingLock()
    requester._write_guard.lock = stuck  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        ask(client, "lost")  # written from this thread, under the write lock
    assert stuck.locked()

    with caplog.at_level(logging.WARNING, logger="eq1_network.worker.requester"):
        if then == "work":
            works(client, peer, "after")
        else:
            client.send_data(TextSendData("last"))
            report = within(lambda: client.stop(timeout=DEADLINE / 2))
            assert report.complete  # the queued message went out
            assert peer.next() == "last"
    assert f"{WRITE_LOCK} was left held" in caplog.text
    assert requester._write_guard.lock is not stuck


def test_a_writer_inside_its_block_keeps_the_write_lock_however_long(
    pair: Callable[..., tuple[NetworkHandler, Peer]], caplog: pytest.LogCaptureFixture
) -> None:
    client, peer = pair()
    requester = client._requester
    assert requester is not None
    guard = requester._write_guard
    counting = CountingLock()
    guard.lock = counting  # type: ignore[assignment]
    slices = 5 * guard_module.SETTLE / guard_module._SLICE
    with caplog.at_level(logging.WARNING):
        counting.acquire()  # as a writer does (common.guard)
        try:
            guard.turn += 1
            for i in range(10):
                client.send_data(TextSendData(str(i)))
            wait_until(lambda: counting.waits_out >= slices, "the send worker waits")
            assert peer.received.empty()  # nothing was written meanwhile
        finally:
            guard.turn += 1
            counting.release()
        assert [peer.next() for _ in range(10)] == [str(i) for i in range(10)]
    assert guard.lock is counting
    assert "was left held" not in caplog.text


# -- the read handoff and the send queue -------------------------------------------


def test_requests_are_answered_after_an_interrupt_as_a_request_became_the_reader(
    pair: Callable[..., tuple[NetworkHandler, Peer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff_module, "LINGER", DEADLINE)  # the worker stays aside
    client, peer = pair()
    assert client._listener is not None
    handoff = client._listener.handoff
    assert handoff is not None and not handoff.wanted  # the worker never stood aside yet
    # Interrupted at the end of the block that made this thread the reader.
    stuck = InterruptingLock(at="release", when=lambda: handoff._reader)
    handoff._lock = stuck  # type: ignore[assignment]
    handoff._cond = threading.Condition(stuck)  # type: ignore[arg-type]

    assert ask(client, "1") == "re: 1"  # read by the worker, which then stands aside
    wait_until(lambda: handoff.parked, "the receive worker stands aside")
    with pytest.raises(KeyboardInterrupt):
        ask(client, "2")
    assert not stuck.armed and not handoff._reader

    for n in range(3, 8):
        assert ask(client, str(n)) == f"re: {n}"
    works(client, peer, "after")


def _request_relying_on_the_worker(client: NetworkHandler, peer: Peer) -> None:
    # The receive worker reads the reply; the request then forgets it (handoff.done).
    assert ask(client, "relied on the worker") == "re: relied on the worker"


def _wake_the_send_worker(client: NetworkHandler, peer: Peer) -> None:
    # The sending thread wakes the send worker through the queue's condition.
    wait_until(lambda: client._queue._consumer_waiting, "the send worker sleeps")
    client.send_data(TextSendData("woke it"))
    assert peer.next() == "woke it"


@pytest.mark.parametrize(
    ("before_start", "owner_of", "lock_name", "caller"),
    [
        pytest.param(
            False,
            lambda h: h._listener.handoff,
            "_lock",
            _request_relying_on_the_worker,
            id="handoff-done",
        ),
        pytest.param(
            True,  # the send worker waits on the queue's condition from the start
            lambda h: h._queue,
            "_mutex",
            _wake_the_send_worker,
            id="send-queue-put",
        ),
    ],
)
def test_no_interrupt_lands_inside_a_condition_enter_on_the_callers_thread(
    before_start: bool,
    owner_of: Callable[[NetworkHandler], Any],
    lock_name: str,
    caller: Callable[[NetworkHandler, Peer], None],
    pair: Callable[..., tuple[NetworkHandler, Peer]],
) -> None:
    """``Condition.__enter__`` takes the lock in Python code, where an interrupt can
    land before its block; the caller's thread takes these locks with ``with`` on the
    lock itself, which no interrupt can cut short."""
    client, peer = pair(start=not before_start)
    owner = owner_of(client)
    stuck = InterruptingLock()
    setattr(owner, lock_name, stuck)
    owner._cond = threading.Condition(stuck)  # type: ignore[arg-type]
    if before_start:
        client.start()
    try:
        caller(client, peer)
    except KeyboardInterrupt:
        stuck.inner.release()  # so that the handler can still stop
        pytest.fail("interrupted holding a lock, before the block that frees it")
    assert stuck.armed and not stuck.locked()
    works(client, peer, "after")


def test_a_reply_interrupted_right_after_its_route_was_claimed_leaves_no_route() -> None:
    """Over a protocol serving many peers, a reply's route is kept by ``id()``: one
    left behind would send the next message with that ``id()`` to that peer."""
    router = ReplyRouter()
    router.note(7, "the peer that asked")
    sender = Submitter(
        TEXT_PACKAGE,
        BatchQueue(10),
        Guard("a test lock", logging.getLogger("eq1_network.test")),
        SequenceCounter(),
        Correlator(),
        1.0,
        False,
    )
    sender.router = router
    claim = router.claim

    def claimed_then_interrupted(item: Any) -> None:
        claim(item)
        raise KeyboardInterrupt  # as if right after claim() returned

    router.claim = claimed_then_interrupted  # type: ignore[method-assign]
    reply = TextSendData("answer", message_type=MessageType.RESPONSE, reply_to=7)
    with pytest.raises(KeyboardInterrupt):
        sender.submit(reply, None, None)
    assert not router.routing and router.destination(reply) is None


# -- the guard itself --------------------------------------------------------------


def test_many_waiters_take_a_lock_left_held_back_once(caplog: pytest.LogCaptureFixture) -> None:
    guard = Guard("a test lock", logging.getLogger("eq1_network.test"))
    guard.lock.acquire()  # taken, and its block never entered
    inside: list[int] = []
    most: list[int] = [0]

    def hold() -> None:
        lock = guard.lock
        lock = lock if lock.acquire(False) else guard.take(lock)
        try:
            guard.turn += 1
            inside.append(1)
            most[0] = max(most[0], len(inside))
            inside.pop()
        finally:
            guard.turn += 1
            lock.release()

    with caplog.at_level(logging.WARNING, logger="eq1_network.test"):
        threads = [threading.Thread(target=hold, daemon=True) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE)
    assert not any(thread.is_alive() for thread in threads)
    assert most == [1]
    assert caplog.text.count("a test lock was left held") == 1


def test_a_waiter_told_to_give_up_returns_without_the_lock() -> None:
    guard = Guard("a test lock", logging.getLogger("eq1_network.test"))
    lock = guard.lock
    lock.acquire()
    guard.turn += 1  # a holder inside its block
    give_up = threading.Event()
    give_up.set()
    assert guard.take(lock, give_up) is None
    assert guard.lock is lock and lock.locked()


def test_short_waits_one_after_another_add_up_to_the_settle_time() -> None:
    guard = Guard("a test lock", logging.getLogger("eq1_network.test"), settle=0.2)
    left = guard.lock
    left.acquire()  # taken, and its block never entered
    assert guard.take(left, None, 0.02) is None  # the first look only starts the watch
    assert guard.lock is left and guard.recovered == 0
    started = time.monotonic()
    taken = None
    while taken is None and time.monotonic() - started < DEADLINE:
        taken = guard.take(left, None, 0.02)  # each wait far shorter than the settle time
    assert taken is not None and taken is guard.lock and taken is not left
    assert guard.recovered == 1
    taken.release()


def test_a_holder_that_enters_while_a_waiter_watches_is_not_robbed() -> None:
    guard = Guard("a test lock", logging.getLogger("eq1_network.test"), settle=0.2)
    lock = guard.lock
    lock.acquire()  # taken; its holder has not entered its block yet
    got: list[threading.Lock | None] = []
    waiter = threading.Thread(target=lambda: got.append(guard.take(lock, None, DEADLINE)))
    waiter.start()
    guard.turn += 1  # the holder enters, then works for several settle times
    waiter.join(1.0)
    assert waiter.is_alive()  # still waiting: the lock was not taken back
    guard.turn += 1
    lock.release()
    waiter.join(DEADLINE)
    assert got == [lock]
    assert guard.lock is lock and guard.recovered == 0
    lock.release()


def test_a_wait_with_a_timeout_gives_up_on_a_holder_inside() -> None:
    guard = Guard("a test lock", logging.getLogger("eq1_network.test"), settle=0.2)
    lock = guard.lock
    lock.acquire()
    guard.turn += 1  # a holder inside its block
    assert guard.take(lock, None, 0.5) is None
    assert guard.lock is lock and lock.locked() and guard.recovered == 0
