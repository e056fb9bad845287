"""PacketStream: cutting an arbitrary chunked byte stream into packets."""

from __future__ import annotations

import struct
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eq1_network import (
    MalformedPacketError,
    NetworkPacketStructure,
    PacketError,
    PacketSizeError,
    PacketStream,
    PacketStructureInterface,
    ProtocolConfigurationError,
    ProtocolTypeError,
)
from eq1_network.packets import DEFAULT_MAX_BUFFER
from eq1_network.packets._binding import static_lookup

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Dollar(PacketStructureInterface):
    """The requirements document's ``$data$`` structure (classmethods)."""

    HEAD_PACKET = b"$"
    TAIL_PACKET = b"$"

    @classmethod
    def to_packet(cls, data: bytes) -> bytes:
        return cls.HEAD_PACKET + data + cls.TAIL_PACKET

    @classmethod
    def from_packet(cls, packet: bytes) -> bytes:
        if not cls.is_valid(packet):
            raise ValueError(f"Packet Structure Error : {packet!r}")
        return packet[1:-1]

    @classmethod
    def is_valid(cls, packet: bytes) -> bool:
        if (cls.TAIL_PACKET + cls.HEAD_PACKET) in packet:
            return False
        return packet[:1] == cls.HEAD_PACKET and packet[-1:] == cls.TAIL_PACKET

    @classmethod
    def split_packet(cls, packet: bytes) -> list[bytes]:
        return [cls.HEAD_PACKET + d + cls.TAIL_PACKET for d in packet.split(b"$") if d]


class Lines(PacketStructureInterface):
    """A line protocol with instance methods: ``payload\\r\\n``, no head."""

    HEAD_PACKET = b""
    TAIL_PACKET = b"\r\n"

    def to_packet(self, data: bytes) -> bytes:
        return data + b"\r\n"

    def from_packet(self, packet: bytes) -> bytes:
        if not self.is_valid(packet):
            raise ValueError("not a line")
        return packet[:-2]

    def is_valid(self, packet: bytes) -> bool:
        return packet.endswith(b"\r\n") and b"\r\n" not in packet[:-2]

    def split_packet(self, packet: bytes) -> list[bytes]:
        return [line + b"\r\n" for line in packet.split(b"\r\n") if line]


class FixedPairs(PacketStructureInterface):
    """A structure that overrides find_packet_end: every packet is two bytes."""

    def to_packet(self, data: bytes) -> bytes:
        return data

    def from_packet(self, packet: bytes) -> bytes:
        if len(packet) != 2:
            raise ValueError("a packet is two bytes")
        return packet

    def is_valid(self, packet: bytes) -> bool:
        return len(packet) == 2

    def split_packet(self, packet: bytes) -> list[bytes]:
        return [packet[i : i + 2] for i in range(0, len(packet), 2)]

    def find_packet_end(self, buffer: bytes | bytearray, start: int = 0) -> int:
        return start + 2 if len(buffer) - start >= 2 else -1


def feed_in_chunks(stream: PacketStream, data: bytes, cuts: list[int], payloads: bool) -> list:
    out: list[bytes] = []
    pos = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        chunk = data[pos:cut]
        pos = max(pos, cut)
        out += stream.feed_payloads(chunk) if payloads else stream.feed(chunk)
    return out


def cut_points(data_size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=0, max_value=max(data_size, 0)), max_size=30)


@SETTINGS
@given(st.data(), st.lists(st.binary(max_size=600), max_size=25), st.booleans())
def test_any_chunking_of_length_prefixed_frames(
    data: st.DataObject, payloads: list[bytes], as_payloads: bool
) -> None:
    frames = [NetworkPacketStructure.to_packet(p) for p in payloads]
    wire = b"".join(frames)
    cuts = data.draw(cut_points(len(wire)))
    structure = data.draw(st.sampled_from([NetworkPacketStructure, NetworkPacketStructure()]))
    stream = PacketStream(structure)
    out = feed_in_chunks(stream, wire, cuts, as_payloads)
    assert out == (payloads if as_payloads else frames)
    assert stream.buffered == 0
    stream.feed_eof()


@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=12), st.booleans())
def test_one_byte_at_a_time(payloads: list[bytes], as_payloads: bool) -> None:
    wire = NetworkPacketStructure.join_packets(payloads)
    stream = PacketStream(NetworkPacketStructure)
    out = feed_in_chunks(stream, wire, list(range(len(wire))), as_payloads)
    assert len(out) == len(payloads)
    assert out == (
        payloads if as_payloads else [NetworkPacketStructure.to_packet(p) for p in payloads]
    )


DOLLAR_PAYLOADS = st.lists(
    st.binary(min_size=1, max_size=50).filter(lambda b: b"$" not in b), max_size=15
)


@SETTINGS
@given(st.data(), DOLLAR_PAYLOADS, st.booleans())
def test_any_chunking_of_delimited_frames(
    data: st.DataObject, payloads: list[bytes], as_payloads: bool
) -> None:
    frames = [Dollar.to_packet(p) for p in payloads]
    wire = b"".join(frames)
    stream = PacketStream(data.draw(st.sampled_from([Dollar, Dollar()])))
    out = feed_in_chunks(stream, wire, data.draw(cut_points(len(wire))), as_payloads)
    assert out == (payloads if as_payloads else frames)
    assert stream.buffered == 0


@SETTINGS
@given(
    st.data(),
    st.lists(st.binary(min_size=1, max_size=30).filter(lambda b: b"\r\n" not in b), max_size=10),
)
def test_any_chunking_of_lines_without_head(data: st.DataObject, payloads: list[bytes]) -> None:
    lines = Lines()
    wire = b"".join(lines.to_packet(p) for p in payloads)
    stream = PacketStream(lines)
    cuts = data.draw(cut_points(len(wire)))
    assert feed_in_chunks(stream, wire, cuts, True) == payloads


@SETTINGS
@given(st.data(), st.binary(max_size=64).filter(lambda b: len(b) % 2 == 0))
def test_any_chunking_with_an_overridden_find_packet_end(data: st.DataObject, wire: bytes) -> None:
    stream = PacketStream(FixedPairs())
    out = feed_in_chunks(stream, wire, data.draw(cut_points(len(wire))), False)
    assert out == [wire[i : i + 2] for i in range(0, len(wire), 2)]


def test_many_frames_in_one_read_and_partial_tail_kept() -> None:
    wire = NetworkPacketStructure.join_packets([b"one", b"two", b"three"])
    stream = PacketStream(NetworkPacketStructure)
    assert stream.feed_payloads(wire[:-2]) == [b"one", b"two"]
    assert stream.buffered == 4 + 3
    assert stream.feed_payloads(wire[-2:]) == [b"three"]
    assert stream.buffered == 0
    assert stream.feed(b"") == []


def test_large_frame_spread_over_many_reads() -> None:
    payload = bytes(range(256)) * 4096
    frame = NetworkPacketStructure.to_packet(payload)
    stream = PacketStream(NetworkPacketStructure)
    out = []
    for i in range(0, len(frame), 65536):
        out += stream.feed_payloads(frame[i : i + 65536])
    assert out == [payload]


def test_bytes_like_input_and_type_errors() -> None:
    stream = PacketStream(NetworkPacketStructure)
    frame = NetworkPacketStructure.to_packet(b"hi")
    assert stream.feed(bytearray(frame)) == [frame]
    assert stream.feed_payloads(memoryview(frame)) == [b"hi"]
    with pytest.raises(ProtocolTypeError, match="data must be bytes"):
        stream.feed("text")  # type: ignore[arg-type]
    assert stream.error is None
    assert stream.feed(frame) == [frame]


def test_corrupt_length_header_is_sticky_until_reset() -> None:
    stream = PacketStream(NetworkPacketStructure(max_payload=16))
    with pytest.raises(PacketSizeError, match="announces 4294967295 payload bytes"):
        stream.feed(b"\xff\xff\xff\xffgarbage")
    assert isinstance(stream.error, PacketSizeError)
    assert "error" in repr(stream)
    good = NetworkPacketStructure.to_packet(b"ok")
    with pytest.raises(PacketSizeError, match="must be reset"):
        stream.feed(good)
    with pytest.raises(PacketSizeError, match="must be reset"):
        stream.feed_payloads(good)
    with pytest.raises(PacketSizeError):
        stream.feed_eof()
    stream.reset()
    assert stream.error is None
    assert stream.feed_payloads(good) == [b"ok"]


def test_corrupt_header_after_good_frames_returns_them_then_raises() -> None:
    good = NetworkPacketStructure.to_packet(b"ok")
    stream = PacketStream(NetworkPacketStructure(max_payload=16))
    assert stream.feed_payloads(good + b"\x00\x00\x10\x00") == [b"ok"]
    assert isinstance(stream.error, PacketSizeError)
    assert stream.buffered == 0
    with pytest.raises(PacketSizeError):
        stream.feed(b"")


def test_corrupt_header_inside_a_buffered_tail() -> None:
    stream = PacketStream(NetworkPacketStructure(max_payload=16))
    assert stream.feed(b"\x00\x00") == []
    with pytest.raises(PacketSizeError):
        stream.feed(b"\x01\x00rest")


def test_corrupt_header_right_after_a_split_frame() -> None:
    frame = NetworkPacketStructure.to_packet(b"abcdef")
    stream = PacketStream(NetworkPacketStructure(max_payload=16))
    assert stream.feed_payloads(frame[:5]) == []
    assert stream.feed_payloads(frame[5:] + b"\xff\xff\xff\xff") == [b"abcdef"]
    assert isinstance(stream.error, PacketSizeError)


def test_split_frame_followed_by_a_partial_frame() -> None:
    first = NetworkPacketStructure.to_packet(b"a" * 10)
    second = NetworkPacketStructure.to_packet(b"b" * 10)
    stream = PacketStream(NetworkPacketStructure)
    assert stream.feed_payloads(first[:3]) == []
    assert stream.feed_payloads(first[3:] + second[:2]) == [b"a" * 10]
    assert stream.feed_payloads(second[2:8]) == []
    assert stream.feed_payloads(second[8:] + first) == [b"b" * 10, b"a" * 10]


def test_max_buffer_lowers_the_frame_limit() -> None:
    stream = PacketStream(NetworkPacketStructure, max_buffer=12)
    assert stream.max_buffer == 12
    assert stream.feed_payloads(NetworkPacketStructure.to_packet(b"12345678")) == [b"12345678"]
    with pytest.raises(PacketSizeError, match="max_buffer"):
        stream.feed(NetworkPacketStructure.to_packet(b"123456789"))


def test_default_buffer_bounds() -> None:
    assert PacketStream(NetworkPacketStructure).max_buffer == 1024 * 1024 + 4
    assert PacketStream(NetworkPacketStructure(max_payload=10)).max_buffer == 14
    assert PacketStream(Dollar).max_buffer == DEFAULT_MAX_BUFFER


def test_delimited_stream_is_bounded() -> None:
    stream = PacketStream(Dollar, max_buffer=8)
    assert stream.feed(b"$abc") == []
    with pytest.raises(PacketSizeError, match="more than max_buffer=8"):
        stream.feed(b"defgh")
    assert stream.buffered == 0


def test_garbage_between_delimited_packets_is_not_skipped() -> None:
    stream = PacketStream(Dollar)
    assert stream.feed(b"$a$") == [b"$a$"]
    with pytest.raises(MalformedPacketError, match="start with b'\\$'"):
        stream.feed(b"x$b$")
    stream.reset()
    assert stream.feed_payloads(b"$b$") == [b"b"]


def test_invalid_delimited_packet_is_reported() -> None:
    stream = PacketStream(Dollar)
    with pytest.raises(MalformedPacketError, match="invalid packet"):
        stream.feed(b"$$")
    payload_stream = PacketStream(Dollar)
    with pytest.raises(MalformedPacketError, match="Packet Structure Error"):
        payload_stream.feed_payloads(b"$$")


def test_multi_byte_head_is_checked_while_incomplete() -> None:
    class Stx(Dollar):
        HEAD_PACKET = b"<<"
        TAIL_PACKET = b">>"

        @classmethod
        def is_valid(cls, packet: bytes) -> bool:
            return packet.startswith(b"<<") and packet.endswith(b">>")

    stream = PacketStream(Stx)
    assert stream.feed(b"<") == []
    assert stream.feed(b"<a>") == []
    assert stream.feed(b">") == [b"<<a>>"]
    with pytest.raises(MalformedPacketError):
        stream.feed(b"x")
    other = PacketStream(Stx)
    with pytest.raises(MalformedPacketError):
        other.feed(b"<x")


def test_feed_eof_reports_a_truncated_packet() -> None:
    stream = PacketStream(NetworkPacketStructure)
    stream.feed(b"\x00\x00\x00\x05ab")
    with pytest.raises(MalformedPacketError, match="stream ended inside a packet: 6 bytes"):
        stream.feed_eof()
    assert stream.error is not None
    clean = PacketStream(NetworkPacketStructure)
    clean.feed_eof()
    assert clean.error is None


def test_reset_discards_the_partial_tail() -> None:
    stream = PacketStream(NetworkPacketStructure)
    stream.feed(b"\x00\x00\x00\x05ab")
    stream.reset()
    assert stream.buffered == 0
    assert stream.feed_payloads(NetworkPacketStructure.to_packet(b"x")) == [b"x"]


def test_subclass_that_reframes_uses_the_generic_path() -> None:
    class Crc(NetworkPacketStructure):
        """Adds a trailing 0xAA byte after the frame."""

        def to_packet(self, data: bytes) -> bytes:
            return super().to_packet(data + b"\xaa")

        def from_packet(self, packet: bytes) -> bytes:
            payload = NetworkPacketStructure.from_packet(packet)
            if payload[-1:] != b"\xaa":
                raise ValueError("bad check byte")
            return payload[:-1]

    crc = Crc()
    stream = PacketStream(crc)
    wire = crc.to_packet(b"abc") + crc.to_packet(b"")
    assert stream.feed_payloads(wire) == [b"abc", b""]
    with pytest.raises(MalformedPacketError, match="bad check byte"):
        stream.feed_payloads(NetworkPacketStructure.to_packet(b"x"))


def test_find_packet_end_returning_nonsense_is_reported() -> None:
    class Broken(FixedPairs):
        def find_packet_end(self, buffer: bytes | bytearray, start: int = 0) -> int:
            return start

    with pytest.raises(MalformedPacketError, match="find_packet_end returned 0"):
        PacketStream(Broken()).feed(b"ab")


def test_structure_that_cannot_find_packet_ends_is_refused() -> None:
    class NoEnds(PacketStructureInterface):
        to_packet = FixedPairs.to_packet
        from_packet = FixedPairs.from_packet
        is_valid = FixedPairs.is_valid
        split_packet = FixedPairs.split_packet

    with pytest.raises(ProtocolConfigurationError, match="NoEnds does not say where a packet"):
        PacketStream(NoEnds())
    with pytest.raises(ProtocolConfigurationError, match="HEAD_PACKET"):
        NoEnds().find_packet_end(b"abc", 0)


def test_instance_method_structure_passed_as_class_is_refused() -> None:
    with pytest.raises(ProtocolConfigurationError, match="pass an instance of Lines"):
        PacketStream(Lines)


@pytest.mark.parametrize("structure", [None, b"$", object(), int])
def test_non_structure_is_refused(structure: object) -> None:
    with pytest.raises(ProtocolTypeError, match="structure must be a PacketStructureInterface"):
        PacketStream(structure)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("max_buffer", "error"),
    [(3, ProtocolConfigurationError), (1.5, ProtocolTypeError), (True, ProtocolTypeError)],
)
def test_invalid_max_buffer_is_refused(max_buffer: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_buffer"):
        PacketStream(NetworkPacketStructure, max_buffer=max_buffer)  # type: ignore[arg-type]
    with pytest.raises((ProtocolConfigurationError, ProtocolTypeError)):
        PacketStream(Dollar, max_buffer=0 if max_buffer == 3 else max_buffer)  # type: ignore[arg-type]


@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=8), st.integers(min_value=0, max_value=64))
def test_random_bytes_raise_only_documented_errors(chunks: list[bytes], limit: int) -> None:
    for structure in (NetworkPacketStructure(max_payload=limit), Dollar, FixedPairs()):
        for payloads in (False, True):
            stream = PacketStream(structure)
            try:
                for chunk in chunks:
                    if payloads:
                        stream.feed_payloads(chunk)
                    else:
                        stream.feed(chunk)
                stream.feed_eof()
            except PacketError:
                assert stream.error is not None


def test_concurrent_feeds_are_serialised() -> None:
    frame = NetworkPacketStructure.to_packet(b"x" * 100)
    stream = PacketStream(NetworkPacketStructure)
    counts: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        got = 0
        for _ in range(500):
            got += len(stream.feed_payloads(frame))
        with lock:
            counts.append(got)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert sum(counts) == 2000
    assert stream.buffered == 0


def test_header_of_zero_length_frames() -> None:
    stream = PacketStream(NetworkPacketStructure)
    wire = struct.pack(">I", 0) * 3
    assert stream.feed_payloads(wire[:2]) == []
    assert stream.feed_payloads(wire[2:]) == [b"", b"", b""]


def test_packet_errors_of_a_structure_pass_through_unchanged() -> None:
    class Strict(FixedPairs):
        def from_packet(self, packet: bytes) -> bytes:
            raise MalformedPacketError("strict says no")

    with pytest.raises(MalformedPacketError, match=r"^strict says no$"):
        PacketStream(Strict()).feed_payloads(b"ab")


def test_static_lookup_of_a_missing_name() -> None:
    assert static_lookup(int, "no_such_attribute") is None


class Angles(Dollar):
    """Multi-byte delimiters, so a tail can be cut between two reads."""

    HEAD_PACKET = b"<<"
    TAIL_PACKET = b">>"

    @classmethod
    def is_valid(cls, packet: bytes) -> bool:
        return packet.startswith(b"<<") and packet.endswith(b">>")


@SETTINGS
@given(
    st.data(),
    st.lists(st.binary(max_size=30).filter(lambda b: b">" not in b), max_size=10),
    st.booleans(),
)
def test_any_chunking_with_multi_byte_delimiters(
    data: st.DataObject, payloads: list[bytes], one_byte: bool
) -> None:
    frames = [b"<<" + p + b">>" for p in payloads]
    wire = b"".join(frames)
    cuts = list(range(len(wire))) if one_byte else data.draw(cut_points(len(wire)))
    stream = PacketStream(Angles)
    assert feed_in_chunks(stream, wire, cuts, False) == frames
    assert stream.buffered == 0
