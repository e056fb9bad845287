"""Splitting payloads larger than a frame and merging the fragments back."""

from __future__ import annotations

import logging
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eq1_network import (
    BINARY_PACKAGE,
    BinaryReceivedData,
    BinarySendData,
    DataFormat,
    DataPackage,
    FragmentError,
    Message,
    MessageFlags,
    MessageType,
    NetworkPacketStructure,
    PacketError,
    PacketStream,
    ProtocolConfigurationError,
    ProtocolTypeError,
    ProtocolValidationError,
    Reassembler,
    TextSendData,
    TypedReceivedData,
    split_message,
)
from eq1_network.packets import ExpiredTransfer
from eq1_network.packets.fragmentation import FRAGMENT_HEADER

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
MIB = 1024 * 1024


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fragments_of(send: BinarySendData, max_payload: int) -> list[Message]:
    frames = split_message(send, max_payload=max_payload)
    return [Message.from_bytes(NetworkPacketStructure.from_packet(f)) for f in frames]


def fragment(
    index: int,
    count: int,
    total: int,
    piece: bytes,
    *,
    sequence: int = 9,
    source: str = "s",
    message_type: MessageType = MessageType.BULK_DATA,
) -> Message:
    return Message(
        FRAGMENT_HEADER.pack(index, count, total) + piece,
        message_type=message_type,
        data_format=DataFormat.BINARY,
        flags=MessageFlags.FRAGMENT,
        sequence=sequence,
        timestamp_us=1,
        source=source,
    )


def test_three_mib_file_transfer_round_trip() -> None:
    content = bytes(range(256)) * (3 * MIB // 256)
    sent = BinarySendData(content, message_type=MessageType.FILE_TRANSFER, source="cam1")
    frames = BINARY_PACKAGE.encode_frames(sent)
    assert sent.sequence > 0
    assert len(frames) == 4
    assert all(len(f) <= MIB + 4 for f in frames)
    stream, reassembler = BINARY_PACKAGE.stream(), Reassembler()
    results = []
    wire = b"".join(frames)
    for start in range(0, len(wire), 65536):
        for payload in stream.feed_payloads(wire[start : start + 65536]):
            merged = reassembler.add(BINARY_PACKAGE.decode_message(payload))
            if merged is not None:
                results.append(merged)
    assert len(results) == 1
    received = BINARY_PACKAGE.from_message(results[0])
    assert received.value == content
    assert received.message_type is MessageType.FILE_TRANSFER
    assert received.sequence == sent.sequence
    assert received.source == "cam1"
    assert received.flags == MessageFlags.NONE
    assert reassembler.pending == 0 and reassembler.held_bytes == 0


@SETTINGS
@given(st.binary(min_size=1, max_size=3000), st.integers(min_value=60, max_value=400), st.randoms())
def test_fragments_in_any_order(content: bytes, max_payload: int, rnd: object) -> None:
    sent = BinarySendData(content, source="src", sequence=77, reply_to=5)
    parts = fragments_of(sent, max_payload)
    rnd.shuffle(parts)  # type: ignore[attr-defined]
    reassembler = Reassembler()
    results = [reassembler.add(p) for p in parts]
    assert all(r is None for r in results[:-1])
    merged = results[-1]
    assert merged is not None
    decoded = TypedReceivedData.from_message(merged)
    assert decoded.value == content
    assert (decoded.sequence, decoded.reply_to, decoded.source) == (77, 5, "src")


def test_non_fragments_pass_through() -> None:
    message = Message(b"x", message_type=MessageType.DATA, data_format=DataFormat.BINARY)
    assert Reassembler().add(message) is message
    with pytest.raises(ProtocolTypeError):
        Reassembler().add(b"x")  # type: ignore[arg-type]


def test_interleaved_transfers_from_two_sources() -> None:
    a = fragments_of(BinarySendData(b"a" * 500, source="A", sequence=1), 100)
    b = fragments_of(BinarySendData(b"b" * 500, source="B", sequence=1), 100)
    reassembler = Reassembler()
    done = [reassembler.add(m) for pair in zip(a, b, strict=True) for m in pair]
    merged = [m for m in done if m is not None]
    assert sorted(m.body for m in merged) == [b"a" * 500, b"b" * 500]


def test_duplicate_fragment_is_reported_and_transfer_kept() -> None:
    parts = fragments_of(BinarySendData(b"z" * 300, sequence=3), 100)
    reassembler = Reassembler()
    assert reassembler.add(parts[0]) is None
    with pytest.raises(FragmentError, match="duplicate fragment 0 of message 3"):
        reassembler.add(parts[0])
    results = [reassembler.add(p) for p in parts[1:]]
    assert results[-1] is not None and results[-1].body == b"z" * 300


def test_missing_fragment_times_out() -> None:
    clock = FakeClock()
    parts = fragments_of(BinarySendData(b"m" * 300, source="cam", sequence=4), 100)
    reassembler = Reassembler(timeout=5.0, clock=clock)
    for part in parts[:1] + parts[2:]:
        assert reassembler.add(part) is None
    assert reassembler.pending == 1
    clock.now += 5.0
    assert reassembler.expire() == []
    clock.now += 0.5
    expired = reassembler.expire()
    assert expired == [
        ExpiredTransfer("cam", 4, (1,), len(parts), 300, pytest.approx(5.5))  # type: ignore[arg-type]
    ]
    assert reassembler.pending == 0 and reassembler.held_bytes == 0


def test_add_drops_expired_transfers_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    reassembler = Reassembler(timeout=1.0, clock=clock)
    reassembler.add(fragment(0, 2, 10, b"12345", sequence=1))
    reassembler.add(fragment(0, 2, 10, b"12345", sequence=2))
    clock.now += 0.8
    reassembler.add(fragment(0, 2, 10, b"12345", sequence=3))
    clock.now += 0.5
    with caplog.at_level(logging.WARNING, logger="eq1_network.packets.fragmentation"):
        reassembler.add(fragment(1, 2, 10, b"67890", sequence=3))
    assert reassembler.pending == 0
    assert "dropped incomplete message 1" in caplog.text
    assert "dropped incomplete message 2" in caplog.text


def test_timeout_counts_from_the_last_fragment() -> None:
    clock = FakeClock()
    reassembler = Reassembler(timeout=2.0, clock=clock)
    reassembler.add(fragment(0, 3, 3, b"a"))
    clock.now += 1.5
    reassembler.add(fragment(1, 3, 3, b"b"))
    clock.now += 1.5
    merged = reassembler.add(fragment(2, 3, 3, b"c"))
    assert merged is not None and merged.body == b"abc"


def test_oversize_transfer_is_refused() -> None:
    reassembler = Reassembler(max_bytes=1000)
    with pytest.raises(FragmentError, match="announces 1001 bytes, more than max_bytes=1000"):
        reassembler.add(fragment(0, 2, 1001, b"x"))
    assert reassembler.pending == 0


def test_memory_bound_across_transfers() -> None:
    reassembler = Reassembler(max_bytes=1000)
    reassembler.add(fragment(0, 2, 600, b"x" * 300, sequence=1))
    assert reassembler.held_bytes == 600
    with pytest.raises(FragmentError, match=r"hold 600 bytes; .* needs 600 more"):
        reassembler.add(fragment(0, 2, 600, b"x" * 300, sequence=2))
    reassembler.clear()
    assert reassembler.held_bytes == 0 and reassembler.pending == 0
    reassembler.add(fragment(0, 2, 600, b"x" * 300, sequence=2))


def test_transfer_count_bound() -> None:
    reassembler = Reassembler(max_transfers=2)
    reassembler.add(fragment(0, 2, 2, b"a", sequence=1))
    reassembler.add(fragment(0, 2, 2, b"a", sequence=2))
    with pytest.raises(FragmentError, match="max_transfers=2"):
        reassembler.add(fragment(0, 2, 2, b"a", sequence=3))


@pytest.mark.parametrize(
    ("later", "match"),
    [
        (fragment(1, 3, 10, b"b"), "count"),
        (fragment(1, 2, 11, b"b"), "total length"),
        (fragment(1, 2, 10, b"b", message_type=MessageType.DATA), "message type"),
    ],
)
def test_inconsistent_fragment_drops_the_transfer(later: Message, match: str) -> None:
    reassembler = Reassembler()
    reassembler.add(fragment(0, 2, 10, b"a"))
    with pytest.raises(FragmentError, match=f"disagrees with earlier fragments on {match}"):
        reassembler.add(later)
    assert reassembler.pending == 0


def test_other_inconsistencies() -> None:
    reassembler = Reassembler()
    first = fragment(0, 2, 4, b"ab")
    reassembler.add(first)
    changed = fragment(1, 2, 4, b"cd").replace(destination="elsewhere", timestamp_us=2)
    with pytest.raises(FragmentError, match="timestamp, destination"):
        reassembler.add(changed)


def test_pieces_longer_than_announced() -> None:
    reassembler = Reassembler()
    reassembler.add(fragment(0, 2, 4, b"abc"))
    with pytest.raises(FragmentError, match="exceed the announced 4 bytes"):
        reassembler.add(fragment(1, 2, 4, b"de"))
    assert reassembler.pending == 0


def test_pieces_shorter_than_announced() -> None:
    reassembler = Reassembler()
    reassembler.add(fragment(0, 2, 4, b"a"))
    with pytest.raises(FragmentError, match="add up to 2 bytes, not the announced 4"):
        reassembler.add(fragment(1, 2, 4, b"b"))
    assert reassembler.pending == 0


@pytest.mark.parametrize(
    "message",
    [
        fragment(0, 0, 0, b""),
        fragment(2, 2, 4, b"a"),
        fragment(0, 5, 3, b"a"),
        Message(
            b"short",
            message_type=MessageType.DATA,
            data_format=DataFormat.BINARY,
            flags=MessageFlags.FRAGMENT,
        ),
    ],
)
def test_invalid_fragment_headers(message: Message) -> None:
    with pytest.raises(FragmentError):
        Reassembler().add(message)


def test_single_fragment_and_empty_value() -> None:
    merged = Reassembler().add(fragment(0, 1, 0, b""))
    assert merged is not None and merged.body == b"" and not merged.is_fragment


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_bytes": 0}, ProtocolConfigurationError),
        ({"timeout": -1}, ProtocolConfigurationError),
        ({"max_transfers": 0}, ProtocolConfigurationError),
        ({"timeout": "1"}, ProtocolTypeError),
        ({"max_bytes": True}, ProtocolTypeError),
    ],
)
def test_reassembler_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Reassembler(**kwargs)  # type: ignore[arg-type]


def test_split_message_rules() -> None:
    small = TextSendData("fits")
    assert split_message(small) == [NetworkPacketStructure.to_packet(small.to_bytes())]
    with pytest.raises(ProtocolValidationError, match="non-zero sequence"):
        split_message(BinarySendData(bytes(300)), max_payload=100)
    with pytest.raises(ProtocolConfigurationError, match="cannot hold"):
        split_message(BinarySendData(bytes(300), sequence=1), max_payload=48)
    assert len(split_message(BinarySendData(bytes(300), sequence=1), max_payload=49)) == 300
    with pytest.raises(ProtocolTypeError):
        split_message(b"raw")  # type: ignore[arg-type]
    with pytest.raises(ProtocolValidationError, match="already a fragment"):
        split_message(fragment(0, 1, 1, b"x"))
    with pytest.raises(ProtocolTypeError, match="max_payload must be an int"):
        split_message(small, max_payload=1.5)  # type: ignore[arg-type]


def test_split_message_honours_an_instance_limit() -> None:
    structure = NetworkPacketStructure(max_payload=200)
    frames = split_message(BinarySendData(bytes(1000), sequence=1), structure=structure)
    assert all(len(f) <= 204 for f in frames)
    stream = PacketStream(structure)
    parts = [Message.from_bytes(p) for f in frames for p in stream.feed_payloads(f)]
    header = struct.unpack(">IIQ", parts[0].body[:16])
    assert header == (0, len(frames), 1000)


@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=6))
def test_random_fragment_bodies_raise_only_documented_errors(bodies: list[bytes]) -> None:
    reassembler = Reassembler(max_bytes=10_000)
    for body in bodies:
        message = Message(
            body,
            message_type=MessageType.DATA,
            data_format=DataFormat.BINARY,
            flags=MessageFlags.FRAGMENT,
            sequence=1,
        )
        try:
            reassembler.add(message)
        except PacketError:
            pass
    assert reassembler.held_bytes <= 10_000


def test_fragment_example_of_the_wire_format_document() -> None:
    sent = BinarySendData(
        b"0123456789" * 5,
        message_type=MessageType.FILE_TRANSFER,
        sequence=9,
        timestamp=1_767_225_600.0,
    )
    first, second = split_message(sent, max_payload=80)
    common = (
        "01 07 02 01 00 20 00 00 00 00 00 00 00 00 00 09 "
        "00 00 00 00 00 00 00 00 00 06 47 48 46 20 40 00"
    )
    assert first.hex(" ") == (
        "00 00 00 50 "
        + common
        + " 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 32 "
        + (b"0123456789" * 5)[:32].hex(" ")
    )
    assert second.hex(" ") == (
        "00 00 00 42 "
        + common
        + " 00 00 00 01 00 00 00 02 00 00 00 00 00 00 00 32 "
        + (b"0123456789" * 5)[32:].hex(" ")
    )


def test_receive_payload_pipeline() -> None:
    big = BinarySendData(bytes(range(256)) * 5000, message_type=MessageType.BULK_DATA)
    small = BinarySendData(b"small")
    wire = b"".join(BINARY_PACKAGE.encode_frames(big)) + BINARY_PACKAGE.encode(small)
    stream, reassembler = BINARY_PACKAGE.stream(), Reassembler()
    package = DataPackage(
        NetworkPacketStructure(max_payload=300_000), BinarySendData, BinaryReceivedData
    )
    out = [BINARY_PACKAGE.receive_payload(p, reassembler) for p in stream.feed_payloads(wire)]
    assert out[0] is None  # 1,280,000 bytes: two fragments with the default 1 MiB limit
    assert out[1] is not None and out[1].value == big.value
    assert out[2] is not None and out[2].value == b"small"
    wire = b"".join(package.encode_frames(big)) + package.encode(small)
    stream = package.stream()
    out = [package.receive_payload(p, reassembler) for p in stream.feed_payloads(wire)]
    assert out[:-2] == [None] * (len(out) - 2)
    assert out[-2] is not None and out[-2].value == big.value
    assert out[-1] is not None and out[-1].value == b"small"
    with pytest.raises(PacketError):
        package.receive_payload(b"\x01\x02\x02\x01", reassembler)
