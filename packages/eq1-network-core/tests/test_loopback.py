"""The built-in loopback protocol: contract suite and channel semantics."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from eq1_network import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
    ReqResProtocol,
)
from eq1_network.protocols.loopback.reqres import LoopbackProtocol
from eq1_network.testing import ReqResContract, read_exactly

_names = itertools.count()


class TestLoopbackEchoContract(ReqResContract):
    @pytest.fixture
    def protocol(self) -> Iterator[ReqResProtocol]:
        proto = LoopbackProtocol(timeout=10)
        yield proto
        proto.disconnect()


class _EchoPeer:
    """The far end of a channel, echoing everything in a thread."""

    def __init__(self, end: LoopbackProtocol) -> None:
        self.end = end
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        end.connect()
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            ok, data = self.end.read()
            if ok and data:
                self.end.send(data)
            else:
                self.end.wait_readable(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.end.disconnect()


class TestLoopbackChannelContract(ReqResContract):
    @pytest.fixture
    def protocol(self) -> Iterator[ReqResProtocol]:
        name = f"contract-{next(_names)}"
        peer = _EchoPeer(LoopbackProtocol(10, channel=name, side="b"))
        proto = LoopbackProtocol(10, channel=name, side="a")
        yield proto
        proto.disconnect()
        peer.close()


def test_pair_delivers_in_both_directions() -> None:
    a, b = LoopbackProtocol.pair()
    with a, b:
        a.send(b"to b")
        b.send(b"to a")
        assert read_exactly(b, 4, 5) == b"to b"
        assert read_exactly(a, 4, 5) == b"to a"
        assert "side='a'" in repr(a)


def test_channel_keeps_data_while_the_reader_is_away() -> None:
    writer = LoopbackProtocol(channel="keep", side="a")
    writer.connect()
    writer.send(b"queued")
    reader = LoopbackProtocol(channel="keep", side="b")
    reader.connect()
    assert reader.read() == (True, b"queued")
    writer.disconnect()
    reader.disconnect()


def test_side_taken_twice_is_refused() -> None:
    first = LoopbackProtocol(channel="busy", side="a")
    second = LoopbackProtocol(channel="busy", side="a")
    first.connect()
    try:
        with pytest.raises(ProtocolConnectionError, match="already connected"):
            second.connect()
        assert first.connect() is True  # reconnecting itself is a no-op
    finally:
        first.disconnect()
    assert second.connect() is True
    second.disconnect()


def test_full_buffer_times_out_with_nothing_lost() -> None:
    a, b = LoopbackProtocol.pair(timeout=0.05)
    a.max_buffer = 8
    b.max_buffer = 8
    with LoopbackProtocol(timeout=0.05, max_buffer=8) as echo:
        with pytest.raises(ProtocolTimeoutError, match="buffer full"):
            echo.send(b"0123456789")
        assert echo.read() == (True, b"01234567")


def test_blocked_writer_resumes_when_reader_drains() -> None:
    echo = LoopbackProtocol(timeout=30, max_buffer=4)
    echo.connect()
    got = bytearray()
    done = threading.Event()

    def drain() -> None:
        while len(got) < 12:
            ok, data = echo.read()
            if ok and data:
                got.extend(data)
            else:
                echo.wait_readable(0.05)
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    assert echo.send(b"abcdefghijkl") == 12
    assert done.wait(30)
    assert bytes(got) == b"abcdefghijkl"
    echo.disconnect()


@pytest.mark.parametrize("kwargs", [{"side": "c"}, {"timeout": -1}, {"max_buffer": 0}])
def test_bad_configuration(kwargs: dict[str, object]) -> None:
    with pytest.raises(ProtocolConfigurationError):
        LoopbackProtocol(**kwargs)  # type: ignore[arg-type]


def test_unconnected_use() -> None:
    proto = LoopbackProtocol()
    assert proto.read() == (False, None)
    assert proto.wait_readable(0.001) is True
    with pytest.raises(ProtocolNotConnectedError):
        proto.send(b"x")
    proto.connect()
    proto.send(b"pending")
    proto.disconnect()
    proto.connect()
    assert proto.read() == (False, None)  # echo data is discarded on disconnect
