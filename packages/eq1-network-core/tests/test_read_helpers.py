"""Whole-answer reads of every request/response protocol: read_until, read_exactly, query."""

from __future__ import annotations

import abc
import functools
import threading
from collections import deque
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eq1_network import (
    PacketSizeError,
    ProtocolTimeoutError,
    ProtocolTypeError,
    ProtocolValidationError,
    ReqResManager,
    ReqResProtocol,
)
from eq1_network.interfaces import _reading
from eq1_network.manager.reqres import DEFAULT_READ_TIMEOUT
from eq1_network.protocols.loopback.reqres import LoopbackProtocol

WAIT = 10.0  # generous deadline for answers that do arrive


@pytest.fixture
def ends() -> Iterator[tuple[LoopbackProtocol, LoopbackProtocol]]:
    """A connected channel: ``(instrument, reader)``."""
    far, near = LoopbackProtocol.pair(timeout=WAIT)
    far.connect()
    near.connect()
    yield far, near
    near.disconnect()
    far.disconnect()


class _Pieces:
    """Sends pieces one at a time from a thread, each once the test allows it."""

    def __init__(self, end: LoopbackProtocol, pieces: list[bytes]) -> None:
        self.go = [threading.Event() for _ in pieces]
        self.thread = threading.Thread(target=self._run, args=(end, pieces), daemon=True)
        self.thread.start()

    def _run(self, end: LoopbackProtocol, pieces: list[bytes]) -> None:
        for piece, go in zip(pieces, self.go, strict=True):
            if not go.wait(WAIT):
                return
            end.send(piece)


class _Scripted(ReqResProtocol):
    """A transport without a readiness wait whose read() returns scripted chunks."""

    def __init__(self, chunks: list[bytes], timeout: float | None = WAIT) -> None:
        self.chunks = deque(chunks)
        self.sent: list[bytes] = []
        self.timeout = timeout

    def connect(self) -> bool:
        return True

    def disconnect(self) -> None:
        pass

    def is_connected(self) -> bool:
        return True

    def send(self, data: bytes) -> int:
        self.sent.append(bytes(data))
        return len(data)

    def read(self) -> tuple[bool, bytes | None]:
        if self.chunks:
            return True, self.chunks.popleft()
        return False, None


class _ScriptedChild(_Scripted):
    """Overrides read() again and calls up, as a plugin's subclass might."""

    def read(self) -> tuple[bool, bytes | None]:
        return super().read()


# -- read_until ------------------------------------------------------------------------


def test_a_reply_split_in_pieces_is_reassembled(
    ends: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    far, near = ends
    pieces = _Pieces(far, [b"+12.5", b"0E-3", b"\r", b"\n"])
    results: list[bytes] = []
    reader = threading.Thread(target=lambda: results.append(near.read_until(b"\r\n")))
    reader.start()
    for go in pieces.go:
        go.set()
    reader.join(WAIT)
    assert results == [b"+12.50E-3\r\n"]


def test_two_replies_in_one_chunk_come_back_one_per_call(
    ends: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    far, near = ends
    far.send(b"OK 1\r\nOK 2\r\npartial")
    assert near.read_until(b"\r\n") == b"OK 1\r\n"
    assert near.read_until(b"\r\n") == b"OK 2\r\n"
    assert near.read() == (True, b"partial")
    assert near.read() == (False, None)


def test_bytes_after_a_terminator_are_seen_by_every_read_method(
    ends: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    far, near = ends
    far.send(b"a\nrest")
    assert near.read_until() == b"a\n"
    assert near.wait_readable(0.0) is True
    assert near.read_within(0.0) == b"rest"
    far.send(b"b\nmore")
    assert near.read_until() == b"b\n"
    assert near.read_exactly(2) == b"mo"
    assert near.read_within(WAIT) == b"re"


def test_timeout_raises_and_keeps_the_partial_answer(
    ends: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    far, near = ends
    far.send(b"12345")
    with pytest.raises(ProtocolTimeoutError, match=r"b'\\r\\n'.*5 bytes arrived") as info:
        near.read_until(b"\r\n", timeout=0.05)
    assert "stay buffered" in str(info.value)
    far.send(b"678\r\n")
    assert near.read_until(b"\r\n") == b"12345678\r\n"


def test_timeout_none_takes_the_protocols_timeout() -> None:
    proto = _Scripted([b"no end"], timeout=0.05)
    with pytest.raises(ProtocolTimeoutError, match=r"within 0\.05 s"):
        proto.read_until()
    assert proto.read() == (True, b"no end")


def test_timeout_none_everywhere_takes_the_manager_default() -> None:
    assert _reading.DEFAULT_READ_TIMEOUT == DEFAULT_READ_TIMEOUT
    proto = _Scripted([], timeout=None)
    assert _reading.resolve_timeout(proto, None, "x") == DEFAULT_READ_TIMEOUT


def test_max_bytes_exceeded_raises_and_keeps_the_bytes() -> None:
    proto = _Scripted([b"0123456789", b"abcdef\n"])
    with pytest.raises(PacketSizeError, match="max_bytes=8"):
        proto.read_until(max_bytes=8)
    assert proto.read() == (True, b"0123456789")
    assert proto.read_until(max_bytes=8) == b"abcdef\n"


def test_a_terminator_beyond_max_bytes_is_a_size_error() -> None:
    proto = _Scripted([b"abcdef\n"])
    with pytest.raises(PacketSizeError, match="max_bytes=6"):
        proto.read_until(max_bytes=6)
    assert proto.read_until(max_bytes=7) == b"abcdef\n"


def test_an_answer_of_exactly_max_bytes_is_accepted() -> None:
    proto = _Scripted([b"abc", b"d\r", b"\nnext"])
    assert proto.read_until(b"\r\n", max_bytes=6) == b"abcd\r\n"
    assert proto.read() == (True, b"next")


def test_a_subclass_of_a_transport_sees_the_pushback_once() -> None:
    proto = _ScriptedChild([b"x\ny", b"z"])
    assert proto.read_until() == b"x\n"
    assert proto.read() == (True, b"y")
    assert proto.read() == (True, b"z")
    assert proto.read() == (False, None)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"terminator": "\n"}, ProtocolTypeError, "bytes terminator, got str"),
        ({"terminator": b""}, ProtocolValidationError, "terminator must not be empty"),
        ({"terminator": b"\r\n", "max_bytes": 1}, ProtocolValidationError, "max_bytes"),
        ({"max_bytes": True}, ProtocolValidationError, "max_bytes"),
        ({"timeout": -1}, ProtocolValidationError, "timeout"),
        ({"timeout": float("nan")}, ProtocolValidationError, "timeout"),
    ],
)
def test_read_until_rejects_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        _Scripted([b"x\n"]).read_until(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=20).map(lambda b: b.replace(b"\r\n", b"") + b"\r\n")),
    cuts=st.lists(st.integers(min_value=0, max_value=400)),
)
def test_any_chunking_of_a_stream_gives_back_its_lines(lines: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(lines)
    points = sorted({c for c in cuts if 0 < c < len(stream)})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    proto = _Scripted([c for c in chunks if c])
    assert [proto.read_until(b"\r\n") for _ in lines] == lines
    assert proto.read() == (False, None)


# -- read_exactly ----------------------------------------------------------------------


def test_read_exactly_reassembles_and_keeps_the_surplus(
    ends: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    far, near = ends
    pieces = _Pieces(far, [b"\x01\x02", b"\x03", b"\x04\x05\x06"])
    results: list[bytes] = []
    reader = threading.Thread(target=lambda: results.append(near.read_exactly(4)))
    reader.start()
    for go in pieces.go:
        go.set()
    reader.join(WAIT)
    assert results == [b"\x01\x02\x03\x04"]
    assert near.read_exactly(2) == b"\x05\x06"
    assert near.read_exactly(0, timeout=0) == b""


def test_read_exactly_timeout_keeps_what_arrived(
    ends: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    far, near = ends
    far.send(b"abc")
    with pytest.raises(ProtocolTimeoutError, match=r"read_exactly\(8\).*8 bytes.*3 bytes arrived"):
        near.read_exactly(8, timeout=0.05)
    far.send(b"defgh")
    assert near.read_exactly(8) == b"abcdefgh"


@pytest.mark.parametrize("n", [-1, 1.5, True])
def test_read_exactly_rejects_a_bad_count(n: object) -> None:
    with pytest.raises(ProtocolValidationError, match="n must be an int"):
        _Scripted([]).read_exactly(n)  # type: ignore[arg-type]


# -- query -----------------------------------------------------------------------------


def test_query_sends_then_reads_one_answer() -> None:
    proto = _Scripted([b"ID,1", b"23\r\nnext"])
    assert proto.query(b"*IDN?\r\n", until=b"\r\n") == b"ID,123\r\n"
    assert proto.sent == [b"*IDN?\r\n"]
    assert proto.read() == (True, b"next")


def test_query_with_a_size_reads_exactly_that_many_bytes() -> None:
    proto = _Scripted([b"\x01", b"\x02\x03\x04"])
    assert proto.query(b"R", size=3) == b"\x01\x02\x03"
    assert proto.read() == (True, b"\x04")


def test_query_with_until_and_size_sends_nothing() -> None:
    proto = _Scripted([])
    with pytest.raises(ProtocolValidationError, match=r"either until= .* or size="):
        proto.query(b"R", until=b"\n", size=3)
    with pytest.raises(ProtocolTypeError, match="terminator"):
        proto.query(b"R", until="\n")  # type: ignore[arg-type]
    assert proto.sent == []


def test_query_round_trip_over_a_loopback_echo() -> None:
    with LoopbackProtocol(timeout=WAIT) as proto:
        assert proto.query(b"PING\n") == b"PING\n"


# -- by name ---------------------------------------------------------------------------


def test_manager_reads_whole_answers_by_name(
    ends: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    far, near = ends
    mgr = ReqResManager.isolated()
    mgr.register("dev", near)
    far.send(b"one\r\ntwo\r\n\x00\x01\x02")
    assert mgr.read_until("dev", b"\r\n") == b"one\r\n"
    assert mgr.read("dev") == b"two\r\n\x00\x01\x02"
    far.send(b"\x00\x01\x02tail")
    assert mgr.read_exactly("dev", 3) == b"\x00\x01\x02"
    assert mgr.read("dev") == b"tail"
    with pytest.raises(ProtocolTimeoutError, match="0 bytes arrived"):
        mgr.read_until("dev", timeout=0.05)
    answer: list[bytes] = []
    t = threading.Thread(target=lambda: answer.append(mgr.query("dev", b"Q?\n", size=2)))
    t.start()
    assert far.read_until(b"\n") == b"Q?\n"
    far.send(b"42")
    t.join(WAIT)
    assert answer == [b"42"]


def test_an_abstract_read_in_a_subclass_stays_abstract() -> None:
    class Middle(ReqResProtocol):
        @abc.abstractmethod
        def read(self) -> tuple[bool, bytes | None]:
            """Still abstract."""

    assert "read" in Middle.__abstractmethods__


class _Shapes:
    def plain0(self) -> None: ...
    def plain1(self, a: object) -> None: ...
    def positional_only(self, a: object, /) -> None: ...
    def with_default(self, a: object = None) -> None: ...
    def star_args(self, *args: object) -> None: ...
    def keyword_only(self, a: object, *, k: object) -> None: ...
    def star_kwargs(self, a: object, **kwargs: object) -> None: ...


@pytest.mark.parametrize(
    ("name", "positional", "fixed"),
    [
        ("plain0", 0, True),
        ("plain0", 1, False),
        ("plain1", 1, True),
        ("positional_only", 1, True),
        ("with_default", 1, False),
        ("with_default", 0, False),
        ("star_args", 0, False),
        ("keyword_only", 1, False),
        ("star_kwargs", 1, False),
    ],
)
def test_only_plain_required_parameters_get_the_fixed_wrapper(
    name: str, positional: int, fixed: bool
) -> None:
    assert _reading._takes_only_self(getattr(_Shapes, name), positional) is fixed


def test_a_callable_without_python_code_gets_the_forwarding_wrapper() -> None:
    assert _reading._takes_only_self(len, 0) is False
    assert _reading._takes_only_self(functools.partial(_Shapes.plain1), 1) is False


def test_an_overridden_read_with_a_default_argument_still_sees_the_pushback() -> None:
    class Legacy(LoopbackProtocol):
        def read(self, extra: object = None) -> tuple[bool, bytes | None]:  # type: ignore[override]
            return True, b"own"

    near = Legacy()
    _reading.push_back(near, b"kept")
    assert near.read() == (True, b"kept")
    assert near.read() == (True, b"own")
