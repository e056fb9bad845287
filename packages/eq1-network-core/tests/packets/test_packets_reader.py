"""TypedStreamReader: one-step decoding gives what feed_payloads + from_bytes give."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from eq1_network import (
    ANY_PACKAGE,
    BINARY_PACKAGE,
    TEXT_PACKAGE,
    Message,
    MessageFlags,
    MessageType,
    NetworkPacketStructure,
    PacketSizeError,
    PacketStream,
    ProtocolConfigurationError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.packets import (
    BinaryReceivedData,
    BinarySendData,
    IntSendData,
    JsonSendData,
    TextReceivedData,
    TextSendData,
    TypedReceivedData,
    split_message,
)
from eq1_network.packets.header import FIXED_HEADER, FIXED_HEADER_SIZE, HEADER_VERSION
from eq1_network.packets.reader import TypedStreamReader


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def _raw(
    *,
    fmt: int = 2,
    flags: int = 0,
    ids: bytes = b"",
    src: int = 0,
    extra: bytes = b"",
    value: bytes = b"v",
    version: int = HEADER_VERSION,
    mtype: int = 1,
) -> bytes:
    header_len = FIXED_HEADER_SIZE + len(ids) + len(extra)
    fixed = FIXED_HEADER.pack(version, mtype, fmt, flags, header_len, src, len(ids) - src, 7, 0, 5)
    return _frame(fixed + ids + extra + value)


def _mixed_stream() -> bytes:
    """Frames of every kind the reader meets: fast-path ones and slow-path ones."""
    big = TextSendData("fragmented " * 30, sequence=900)
    parts = [
        ANY_PACKAGE.encode(BinarySendData(bytes(range(64)), sequence=1)),
        ANY_PACKAGE.encode(BinarySendData(bytes(6000), sequence=4)),  # larger than a chunk
        ANY_PACKAGE.encode(TextSendData("x" * 5000, sequence=5)),
        ANY_PACKAGE.encode(TextSendData("h\u00e9llo", source="cam1", destination="plc")),
        ANY_PACKAGE.encode(IntSendData(-5, message_type=MessageType.RESPONSE, reply_to=3)),
        ANY_PACKAGE.encode(JsonSendData({"a": [1, None]}, destination="d")),
        *split_message(big, structure=NetworkPacketStructure(max_payload=80)),
        _raw(flags=int(MessageFlags.ACK), value=b""),  # a control message
        _raw(flags=0x80),  # unknown flag bits: decoded by the slow path
        _raw(extra=b"EXT"),  # a header extension
        _raw(fmt=1, value=b"\xff\xfe"),  # TEXT that is not UTF-8
        _raw(fmt=3, value=b"\x01"),  # INT of the wrong size
        _raw(ids=b"\xff", src=1),  # a source that is not UTF-8
        _raw(version=9),
        _raw(mtype=250),
        _raw(fmt=200),
        _frame(b""),  # an empty payload
        _frame(b"\x01\x00"),  # shorter than any header
        ANY_PACKAGE.encode(BinarySendData(b"", sequence=2)),  # an empty value
        ANY_PACKAGE.encode(BinarySendData(b"last", sequence=3)),
    ]
    return b"".join(parts)


def _slow(payload: bytes) -> tuple[str, Any]:
    """The reference: what from_bytes makes of a payload (or the payload if it refuses)."""
    try:
        return "message", TypedReceivedData.from_bytes(payload)
    except ValueError:
        return "refused", payload


def _read(reader: TypedStreamReader, chunks: list[bytes]) -> tuple[list[tuple[str, Any]], int]:
    out: list[tuple[str, Any]] = []
    slow = 0

    def other(payload: bytes) -> None:
        nonlocal slow
        slow += 1
        out.append(_slow(payload))

    for chunk in chunks:
        for message in reader.feed(chunk, other):
            out.append(("message", message))
    return out, slow


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, pos, i = [], 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        chunks.append(data[pos : pos + size])
        pos += size
        i += 1
    return chunks


@pytest.mark.parametrize(
    "sizes", [[1], [2], [3], [7], [35, 36, 37], [4096], [100, 5000], [150, 8000], [1 << 20]]
)
def test_the_reader_gives_what_payload_by_payload_decoding_gives(sizes: list[int]) -> None:
    data = _mixed_stream()
    expected = [_slow(p) for p in ANY_PACKAGE.stream().feed_payloads(data)]
    reader = TypedStreamReader(TypedReceivedData, ANY_PACKAGE.stream())
    got, _ = _read(reader, _chunks(data, sizes))
    assert got == expected
    assert reader.stream.buffered == 0


def test_random_cuts_give_the_same_messages() -> None:
    data = _mixed_stream()
    expected = [_slow(p) for p in ANY_PACKAGE.stream().feed_payloads(data)]
    rng = random.Random(20261126)
    for _ in range(50):
        reader = TypedStreamReader(TypedReceivedData, ANY_PACKAGE.stream())
        sizes = [rng.randint(1, 300) for _ in range(20)]
        assert _read(reader, _chunks(data, sizes))[0] == expected


def test_plain_messages_take_the_one_step_path() -> None:
    messages = [BinarySendData(bytes([i]) * 64, sequence=i + 1) for i in range(100)]
    messages.append(BinarySendData(b"named", source="s", destination="d", sequence=101))
    data = b"".join(BINARY_PACKAGE.encode(m) for m in messages)
    reader = TypedStreamReader(BinaryReceivedData, BINARY_PACKAGE.stream())
    got, slow = _read(reader, [data[:1234], data[1234:]])  # one frame cut in two
    assert slow == 1  # only the frame begun in the first chunk goes through the stream
    assert [m.value for _, m in got] == [m.value for m in messages]
    assert all(type(m) is BinaryReceivedData for _, m in got)
    assert (got[-1][1].source, got[-1][1].destination) == ("s", "d")


def test_a_received_class_of_one_format_leaves_other_formats_to_the_slow_path() -> None:
    text = TEXT_PACKAGE.encode(TextSendData("t"))
    binary = BINARY_PACKAGE.encode(BinarySendData(b"b"))
    reader = TypedStreamReader(TextReceivedData, TEXT_PACKAGE.stream())
    others: list[bytes] = []
    got = list(reader.feed(text + binary, others.append))
    assert [m.value for m in got] == ["t"]
    assert others == [binary[4:]]


def test_a_subclass_with_its_own_constructor_is_left_to_from_bytes() -> None:
    class Counted(BinaryReceivedData):
        __slots__ = ()

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)

    reader = TypedStreamReader(Counted, BINARY_PACKAGE.stream())
    others: list[bytes] = []
    assert list(reader.feed(BINARY_PACKAGE.encode(BinarySendData(b"x")), others.append)) == []
    assert Counted.from_bytes(others[0]).value == b"x"


def test_an_oversize_frame_stops_the_stream_after_the_good_ones() -> None:
    good = BINARY_PACKAGE.encode(BinarySendData(b"ok"))
    stream = PacketStream(NetworkPacketStructure(max_payload=64))
    reader = TypedStreamReader(BinaryReceivedData, stream)
    got: list[Any] = []
    others: list[bytes] = []
    with pytest.raises(PacketSizeError, match="more than the limit of 64"):
        for message in reader.feed(good + struct.pack(">I", 65) + bytes(65) + good, others.append):
            got.append(message)
    assert [m.value for m in got] == [b"ok"] and others == []
    assert stream.error is not None
    with pytest.raises(PacketSizeError, match="must be reset"):
        list(reader.feed(good, others.append))


class _Brackets(NetworkPacketStructure):
    """``[payload]`` packets: a structure that is not length-prefixed."""

    def to_packet(self, data: bytes) -> bytes:
        return b"[" + data + b"]"

    def from_packet(self, packet: bytes) -> bytes:
        return packet[1:-1]

    def is_valid(self, packet: bytes) -> bool:
        return packet[:1] == b"[" and packet[-1:] == b"]"

    def find_packet_end(self, buffer: bytes | bytearray, start: int) -> int:
        end = bytes(buffer).find(b"]", start)
        return -1 if end < 0 else end + 1


def test_the_reader_refuses_other_structures_and_classes() -> None:
    with pytest.raises(ProtocolConfigurationError, match="length-prefixed"):
        TypedStreamReader(TypedReceivedData, PacketStream(_Brackets()))
    with pytest.raises(ProtocolConfigurationError, match="TypedReceivedData class"):
        TypedStreamReader(Message, BINARY_PACKAGE.stream())  # type: ignore[arg-type]


def test_stream_needed_and_payload_limit() -> None:
    stream = PacketStream(NetworkPacketStructure(max_payload=100))
    assert stream.payload_limit == 100
    assert stream.needed() == 0
    frame = _frame(b"0123456789")
    assert stream.feed_payloads(frame[:2]) == []
    assert stream.needed() == 2  # the rest of the length header
    assert stream.feed_payloads(frame[2:4]) == []
    assert stream.needed() == 10  # now the payload
    assert stream.feed_payloads(frame[4:9]) == []
    assert stream.needed() == 5
    assert stream.feed_payloads(frame[9:]) == [b"0123456789"]
    assert stream.needed() == 0


def test_needed_is_for_length_prefixed_streams_only() -> None:
    stream = PacketStream(_Brackets())
    assert stream.payload_limit is None
    with pytest.raises(ProtocolConfigurationError, match="length-prefixed"):
        stream.needed()


def test_bytes_like_chunks_are_accepted() -> None:
    frame = BINARY_PACKAGE.encode(BinarySendData(b"view"))
    reader = TypedStreamReader(BinaryReceivedData, BINARY_PACKAGE.stream())
    got = list(reader.feed(bytearray(frame), print)) + list(reader.feed(memoryview(frame), print))
    assert [m.value for m in got] == [b"view", b"view"]


def test_feed_from_an_offset_skips_what_comes_before() -> None:
    frames = _frame(b"one") + _frame(b"two") + _frame(bytes(5000))
    prefix = b"used elsewhere"
    stream = PacketStream(NetworkPacketStructure)
    assert stream.feed_payloads(prefix + frames[:9], len(prefix)) == [b"one"]
    assert stream.feed_payloads(b"xx" + frames[9:20], 2) == [b"two"]
    assert stream.feed_payloads(frames[20:], 0) == [bytes(5000)]
    assert stream.feed(b"abc" + frames[:7], 3) == [frames[:7]]
    assert stream.feed_payloads(b"end", 3) == []


@pytest.mark.parametrize(
    ("start", "error"),
    [(-1, ProtocolValidationError), (4, ProtocolValidationError), (1.5, ProtocolTypeError)],
)
def test_feed_refuses_an_offset_outside_the_chunk(start: Any, error: type[Exception]) -> None:
    stream = PacketStream(NetworkPacketStructure)
    with pytest.raises(error, match="start"):
        stream.feed_payloads(b"abc", start)
    assert stream.error is None  # the stream stays usable
    assert stream.feed_payloads(_frame(b"ok")) == [b"ok"]


def test_feed_from_an_offset_with_other_structures() -> None:
    stream = PacketStream(_Brackets())
    assert stream.feed_payloads(b"junk[a][b", 4) == [b"a"]
    assert stream.feed_payloads(b"]") == [b"b"]
