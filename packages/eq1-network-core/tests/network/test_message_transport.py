"""NetworkHandler over a message transport (a protocol that sets ``max_message_size``).

The transport here is an in-memory pair of message queues that can lose messages:
each ``send()`` is one message, each ``read()`` returns one whole message.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eq1_network import ProtocolConfigurationError, ProtocolTimeoutError
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.network import NetworkConfig, NetworkEventType, NetworkHandler
from eq1_network.package import BINARY_PACKAGE, TEXT_PACKAGE
from eq1_network.packets import BinarySendData, TextSendData
from eq1_network.testing import EventLog, wait_until
from eq1_network.worker.ack import AckWindow, hello_message, parse_hello

DEADLINE = 30.0
SIZE = 200


class _Messages(ReqResProtocol):
    """One end of an in-memory message link; every ``lose_every``-th message sent is lost."""

    max_message_size = SIZE

    def __init__(self, inbox: deque[bytes], outbox: deque[bytes], lose_every: int = 0) -> None:
        self.inbox, self.outbox = inbox, outbox
        self.lose_every = lose_every
        self.sizes: list[int] = []
        self.lost = 0
        self._count = itertools.count(1)
        self._open = False
        self._lock = threading.Lock()

    def connect(self) -> bool:
        self._open = True
        return True

    def disconnect(self) -> None:
        self._open = False

    def is_connected(self) -> bool:
        return self._open

    def _send_raw(self, data: bytes) -> int:
        assert len(data) <= SIZE, f"a {len(data)}-byte message exceeds {SIZE}"
        with self._lock:
            self.sizes.append(len(data))
            if self.lose_every and next(self._count) % self.lose_every == 0:
                self.lost += 1
                return len(data)
            self.outbox.append(data)
        return len(data)

    def _read_raw(self) -> bytes | None:
        try:
            return self.inbox.popleft()
        except IndexError:
            return None


def _link(lose_every: int = 0) -> tuple[_Messages, _Messages]:
    a_to_b: deque[bytes] = deque()
    b_to_a: deque[bytes] = deque()
    return _Messages(b_to_a, a_to_b, lose_every), _Messages(a_to_b, b_to_a, lose_every)


@pytest.fixture
def start() -> Iterator[Callable[..., NetworkHandler]]:
    made: list[NetworkHandler] = []

    def make(protocol: ReqResProtocol, callback: Any = None, **config: Any) -> NetworkHandler:
        handler = NetworkHandler(NetworkConfig(protocol=protocol, **config), callback)
        handler.start()
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.stop(timeout=10)


def test_frames_are_sized_and_split_to_fit_one_message(
    start: Callable[..., NetworkHandler],
) -> None:
    a, b = _link()
    sender = start(a, package=BINARY_PACKAGE)
    receiver = start(b, package=BINARY_PACKAGE, receive_queue=True)
    blob = bytes(range(256)) * 20
    sender.send_data(BinarySendData(blob))
    for i in range(50):
        sender.send_data(BinarySendData(bytes([i]) * 10))
    assert receiver.receive(timeout=DEADLINE).value == blob
    assert [receiver.receive(timeout=DEADLINE).value for _ in range(50)] == [
        bytes([i]) * 10 for i in range(50)
    ]
    assert max(a.sizes) <= SIZE
    assert len(a.sizes) > len(blob) // SIZE


def test_acknowledged_mode_loses_and_repeats_nothing_over_a_lossy_link(
    start: Callable[..., NetworkHandler],
) -> None:
    a, b = _link(lose_every=23)
    ack = {"acknowledged": True, "ack_timeout": 0.05, "max_unacknowledged": 16}
    sender = start(a, package=TEXT_PACKAGE, max_batch=1, **ack)
    receiver = start(b, package=TEXT_PACKAGE, receive_queue=True, **ack)
    count = 400
    for i in range(count):
        sender.send_data(TextSendData(f"m{i}"))
    assert [receiver.receive(timeout=DEADLINE).value for _ in range(count)] == [
        f"m{i}" for i in range(count)
    ]
    assert sender.stop(timeout=DEADLINE).complete
    with pytest.raises(ProtocolTimeoutError):
        receiver.receive(timeout=0.3)
    assert a.lost > 0 and b.lost > 0  # data and acknowledgements were lost


def test_without_acknowledged_mode_a_lost_message_stays_lost(
    start: Callable[..., NetworkHandler],
) -> None:
    a, b = _link(lose_every=5)
    sender = start(a, package=TEXT_PACKAGE, max_batch=1)
    receiver = start(b, package=TEXT_PACKAGE, receive_queue=True)
    for i in range(10):
        sender.send_data(TextSendData(f"m{i}"))
    wait_until(lambda: len(a.sizes) == 10, DEADLINE, "the ten writes")
    got = []
    while True:
        try:
            got.append(receiver.receive(timeout=0.3).value)
        except ProtocolTimeoutError:
            break
    assert got == [f"m{i}" for i in range(10) if (i + 1) % 5]


def test_a_message_that_is_not_whole_frames_is_dropped_alone(
    start: Callable[..., NetworkHandler],
) -> None:
    a, b = _link()
    events = EventLog()
    receiver = start(b, events, package=TEXT_PACKAGE, receive_queue=True)
    a.connect()
    a.send(b"\x00\x00\x00\x40only part of a frame")
    sender = start(a, package=TEXT_PACKAGE)
    sender.send_data(TextSendData("whole"))
    assert receiver.receive(timeout=DEADLINE).value == "whole"
    errors = events.wait_for(NetworkEventType.ERROR, 1, timeout=DEADLINE)
    assert "ended inside a frame" in str(errors[0].error)
    assert receiver.is_connected()


def test_ack_window_floor_and_stall_clock() -> None:
    window: AckWindow[str] = AckWindow(10)
    assert window.floor() == 0 and not window.stalled(0.0)
    window.add(1, "a", [b"1"])
    window.add(3, "c", [b"3"])  # 2 could not be encoded
    assert window.floor() == 0
    assert window.stalled(0.0)
    window.touch()
    assert not window.stalled(60.0)
    window.acknowledge(1)
    assert window.floor() == 2  # everything below 3 is done or never sent
    window.acknowledge(3)
    assert window.floor() == 3 and not window.stalled(0.0)
    hello = hello_message(99, window.floor())
    assert parse_hello(hello) == 99 and hello.reply_to == 3


def test_ack_timeout_must_be_positive() -> None:
    with pytest.raises(ProtocolConfigurationError, match="ack_timeout"):
        NetworkConfig(protocol="loopback", ack_timeout=0)
