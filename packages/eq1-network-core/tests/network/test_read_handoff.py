"""Requests that read their own replies while the receive worker stands aside."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from eq1_network.network import NetworkEventType
from eq1_network.package import BINARY_PACKAGE, TEXT_PACKAGE
from eq1_network.packets import BinarySendData, MessageType, TextSendData
from eq1_network.packets.fragmentation import split_message
from eq1_network.worker import handoff as handoff_module
from eq1_network.worker.correlation import Correlator, Waiter
from eq1_network.worker.handoff import ReadHandoff

RESPONSE = MessageType.RESPONSE
LIMIT = 1 << 20


def frame(value: bytes, *, reply_to: int = 0, message_type: MessageType = RESPONSE) -> bytes:
    message = BinarySendData(value, message_type=message_type, reply_to=reply_to)
    return bytes(message.to_frame(LIMIT))


class ScriptedLink:
    """The two protocol calls a reading request makes, answered from a script."""

    def __init__(self, *reads: bytes | None, connected: bool = True) -> None:
        self.reads = list(reads)
        self.connected = connected

    def read_within(self, timeout: float) -> bytes | None:
        if self.reads:
            return self.reads.pop(0)
        time.sleep(min(timeout, 0.01))
        return None

    def is_connected(self) -> bool:
        return self.connected


class Aside:
    """A receive worker standing aside on its own thread, as the listener does."""

    def __init__(self, handoff: ReadHandoff) -> None:
        self.handoff = handoff
        self.stopping = threading.Event()
        self.returned: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not handoff.parked and time.monotonic() < deadline:
            time.sleep(0.001)
        assert handoff.parked

    def _run(self) -> None:
        self.returned.append(self.handoff.stand_aside(self.stopping))

    def join(self) -> bytes:
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.returned[0]


@pytest.fixture
def parts() -> Iterator[tuple[Correlator, Any]]:
    yield Correlator(), BINARY_PACKAGE


def make(link: ScriptedLink, correlator: Correlator, *, linger: float = 30.0) -> ReadHandoff:
    handoff = ReadHandoff(
        link,  # type: ignore[arg-type]
        1 << 20,
        BINARY_PACKAGE.payload_decoder(),
        correlator,
        linger=linger,
    )
    handoff.wanted = True  # what a request that found the worker reading does
    handoff._last = time.monotonic()
    return handoff


def pending(correlator: Correlator, sequence: int) -> Waiter:
    waiter = Waiter()
    correlator.register(sequence, waiter)
    return waiter


def lead(handoff: ReadHandoff, sequence: int, seconds: float = 5.0) -> Any:
    return handoff.lead(sequence, time.monotonic() + seconds, lambda: True)


def test_a_request_reads_its_own_whole_reply(parts: Any) -> None:
    correlator, _ = parts
    reply = frame(b"pong", reply_to=7)
    link = ScriptedLink(None, reply)
    handoff = make(link, correlator)
    aside = Aside(handoff)
    pending(correlator, 7)
    got = lead(handoff, 7)
    assert got is not None and got.value == b"pong" and got.reply_to == 7
    assert 7 not in correlator.waiting  # answered: the worker has no reason to read
    assert handoff.parked  # and it stays aside for the next request
    aside.stopping.set()
    assert aside.join() == b""


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(frame(b"pong", reply_to=7) + frame(b"news", reply_to=0), id="two-messages"),
        pytest.param(frame(b"pong", reply_to=7)[:10], id="part-of-a-frame"),
        pytest.param(frame(b"other", reply_to=8), id="another-reply"),
        pytest.param(frame(b"news", message_type=MessageType.DATA), id="unrequested"),
        pytest.param(b"\xff\xff\xff\xff garbage", id="not-a-stream"),
    ],
)
def test_any_other_read_goes_back_to_the_worker_unchanged(parts: Any, read: bytes) -> None:
    correlator, _ = parts
    handoff = make(ScriptedLink(read), correlator)
    aside = Aside(handoff)
    pending(correlator, 7)
    assert lead(handoff, 7) is None
    # The worker gets exactly those bytes, and must then read for the request.
    assert aside.join() == read
    assert handoff._relying()
    handoff.done(7)
    assert not handoff._relying()


def test_control_messages_and_fragments_go_back_to_the_worker(parts: Any) -> None:
    correlator, _ = parts
    split = BinarySendData(bytes(300), message_type=RESPONSE, reply_to=7, sequence=9)
    frames = split_message(split, max_payload=128)
    assert len(frames) > 1
    handoff = make(ScriptedLink(frames[0]), correlator)
    aside = Aside(handoff)
    pending(correlator, 7)
    assert lead(handoff, 7) is None
    assert aside.join() == frames[0]


def test_a_request_does_not_read_while_the_worker_reads(parts: Any) -> None:
    correlator, _ = parts
    link = ScriptedLink(frame(b"pong", reply_to=7))
    handoff = make(link, correlator)
    handoff.wanted = False
    pending(correlator, 7)
    assert lead(handoff, 7) is None
    assert handoff.wanted  # asks the worker to stand aside after this reply
    assert link.reads  # nothing was read by the request
    assert handoff._relying() and not handoff.due()


def test_a_reply_the_worker_read_first_is_not_waited_for_again(parts: Any) -> None:
    correlator, _ = parts
    link = ScriptedLink(frame(b"pong", reply_to=7))
    handoff = make(link, correlator)
    aside = Aside(handoff)
    waiter = pending(correlator, 7)
    assert correlator.claim(BINARY_PACKAGE.decode(frame(b"pong", reply_to=7)))
    correlator.wake_answered()
    assert lead(handoff, 7) is None
    assert link.reads and waiter.wait(0)
    aside.stopping.set()
    aside.join()


def test_a_broken_link_sends_the_request_back_to_the_worker(parts: Any) -> None:
    correlator, _ = parts
    handoff = make(ScriptedLink(None, connected=False), correlator)
    aside = Aside(handoff)
    pending(correlator, 7)
    started = time.monotonic()
    assert lead(handoff, 7, seconds=30) is None
    assert time.monotonic() - started < 10
    assert aside.join() == b""  # the worker reads again, and finds the link down


def test_the_worker_reads_again_after_the_linger(parts: Any) -> None:
    correlator, _ = parts
    handoff = make(ScriptedLink(), correlator, linger=0.05)
    handoff._last = time.monotonic()
    stopping = threading.Event()
    assert handoff.stand_aside(stopping) == b""
    assert not handoff.wanted and not handoff.parked


def test_stop_ends_standing_aside(parts: Any) -> None:
    correlator, _ = parts
    handoff = make(ScriptedLink(), correlator)
    aside = Aside(handoff)
    aside.stopping.set()
    assert aside.join() == b""


# -- through a handler ---------------------------------------------------------


def test_back_to_back_requests_read_replies_and_miss_no_other_message(
    handler_pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replies go to their requests; every other message reaches the callback, in
    order, on the receive worker's thread, whether it came alone or with a reply."""
    monkeypatch.setattr(handoff_module, "LINGER", 1.0)
    reads = {"own": 0}
    original = ReadHandoff._reply

    def counted(self: ReadHandoff, data: bytes, sequence: int) -> Any:
        reply = original(self, data, sequence)
        reads["own"] += reply is not None
        return reply

    monkeypatch.setattr(ReadHandoff, "_reply", counted)
    news: list[tuple[str, int]] = []
    got_news = threading.Event()

    def on_client(event: Any) -> None:
        if event.type is NetworkEventType.RECEIVED:
            news.append((event.data.value, threading.get_ident()))
            if len(news) == 100:
                got_news.set()

    def on_server(event: Any) -> None:
        if event.type is not NetworkEventType.RECEIVED:
            return
        n = int(event.data.value)
        if n % 3 == 0:  # unrequested news before the reply, often in one read
            server.send_data(TextSendData(f"news {n}"))
        server.send_data(TextSendData(str(n), message_type=RESPONSE, reply_to=event.data.sequence))

    client, server = handler_pair(package=TEXT_PACKAGE, callback_a=on_client, callback_b=on_server)
    assert client._listener is not None and client._listener.handoff is not None
    for n in range(300):
        reply = client.request(TextSendData(str(n), message_type=MessageType.COMMAND), timeout=30)
        assert reply.value == str(n) and reply.message_type is RESPONSE
    assert got_news.wait(30)
    assert [value for value, _ in news] == [f"news {n}" for n in range(0, 300, 3)]
    assert {thread for _, thread in news} == {client._listener.ident}
    assert reads["own"] > 0  # the requests did read replies themselves


def test_requests_from_many_threads_with_a_reader_among_them(
    handler_pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff_module, "LINGER", 1.0)
    client, server = handler_pair(package=TEXT_PACKAGE, callback_b=None)

    def serve() -> None:
        while server.is_running():
            try:
                command = server.receive(timeout=0.2)
            except Exception:
                continue
            server.send_data(
                TextSendData(command.value, message_type=RESPONSE, reply_to=command.sequence)
            )

    threading.Thread(target=serve, daemon=True).start()
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            for j in range(50):
                text = f"{i}-{j}"
                reply = client.request(TextSendData(text), timeout=30)
                assert reply.value == text
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
