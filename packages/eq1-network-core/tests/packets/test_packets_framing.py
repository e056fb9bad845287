"""NetworkPacketStructure: the 4-byte big-endian length-prefix framing (F-16)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eq1_network import (
    MalformedPacketError,
    NetworkPacketStructure,
    PacketError,
    PacketSizeError,
    PacketStructureInterface,
    ProtocolConfigurationError,
    ProtocolError,
    ProtocolTypeError,
)
from eq1_network.packets import DEFAULT_MAX_PAYLOAD, hybridmethod

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
MIB = 1024 * 1024


def test_default_limit_is_one_mebibyte() -> None:
    assert DEFAULT_MAX_PAYLOAD == MIB
    assert NetworkPacketStructure.max_payload == MIB
    assert NetworkPacketStructure().max_payload == MIB


def test_frame_is_length_prefix_and_payload_only() -> None:
    assert NetworkPacketStructure.to_packet(b"abc") == b"\x00\x00\x00\x03abc"
    assert NetworkPacketStructure.to_packet(b"") == b"\x00\x00\x00\x00"
    assert NetworkPacketStructure().to_packet(b"abc") == b"\x00\x00\x00\x03abc"


def test_is_a_packet_structure_usable_on_class_and_instance() -> None:
    assert issubclass(NetworkPacketStructure, PacketStructureInterface)
    assert isinstance(NetworkPacketStructure(), PacketStructureInterface)
    frame = NetworkPacketStructure.to_packet(b"xyz")
    assert NetworkPacketStructure.from_packet(frame) == b"xyz"
    assert NetworkPacketStructure(max_payload=3).from_packet(frame) == b"xyz"


@pytest.mark.parametrize("structure", [NetworkPacketStructure, NetworkPacketStructure()])
def test_limit_is_inclusive_at_one_mebibyte(structure: NetworkPacketStructure) -> None:
    exact = bytes(MIB)
    frame = structure.to_packet(exact)
    assert len(frame) == MIB + 4
    assert structure.from_packet(frame) == exact
    assert structure.is_valid(frame)
    assert structure.split_packet(frame) == [frame]
    with pytest.raises(PacketSizeError, match="1048577 bytes exceeds max_payload of 1048576"):
        structure.to_packet(bytes(MIB + 1))
    too_big = struct.pack(">I", MIB + 1) + bytes(MIB + 1)
    with pytest.raises(PacketSizeError):
        structure.from_packet(too_big)
    assert not structure.is_valid(too_big)
    with pytest.raises(PacketSizeError):
        structure.split_packet(too_big)


def test_packet_size_error_is_a_protocol_error_and_value_error() -> None:
    with pytest.raises(PacketSizeError) as info:
        NetworkPacketStructure(max_payload=2).to_packet(b"abc")
    assert isinstance(info.value, ProtocolError)
    assert isinstance(info.value, ValueError)


def test_instance_limit_does_not_change_the_class() -> None:
    small = NetworkPacketStructure(max_payload=4)
    assert small.to_packet(b"1234") == b"\x00\x00\x00\x041234"
    with pytest.raises(PacketSizeError):
        small.to_packet(b"12345")
    assert NetworkPacketStructure.max_payload == MIB
    assert NetworkPacketStructure.to_packet(b"12345")
    assert repr(small) == "NetworkPacketStructure(max_payload=4)"


def test_subclass_can_change_the_limit() -> None:
    class Small(NetworkPacketStructure):
        max_payload = 10

    assert Small.to_packet(bytes(10))
    with pytest.raises(PacketSizeError):
        Small.to_packet(bytes(11))
    with pytest.raises(PacketSizeError):
        Small().to_packet(bytes(11))
    assert Small(max_payload=20).to_packet(bytes(11))


def test_subclass_with_invalid_limit_is_refused() -> None:
    with pytest.raises(ProtocolConfigurationError, match=r"Bad\.max_payload"):

        class Bad(NetworkPacketStructure):
            max_payload = -1


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-1, ProtocolConfigurationError),
        (2**32, ProtocolConfigurationError),
        (1.5, ProtocolTypeError),
        (True, ProtocolTypeError),
        ("10", ProtocolTypeError),
    ],
)
def test_invalid_max_payload_is_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_payload"):
        NetworkPacketStructure(max_payload=value)  # type: ignore[arg-type]


def test_zero_limit_allows_only_empty_payloads() -> None:
    zero = NetworkPacketStructure(max_payload=0)
    assert zero.to_packet(b"") == b"\x00\x00\x00\x00"
    with pytest.raises(PacketSizeError):
        zero.to_packet(b"a")


def test_bytes_like_payloads_are_accepted() -> None:
    expected = b"\x00\x00\x00\x03abc"
    assert NetworkPacketStructure.to_packet(bytearray(b"abc")) == expected
    assert NetworkPacketStructure.to_packet(memoryview(b"abc")) == expected
    assert NetworkPacketStructure.from_packet(bytearray(expected)) == b"abc"
    assert NetworkPacketStructure.is_valid(memoryview(expected))
    assert NetworkPacketStructure.split_packet(bytearray(expected)) == [expected]


def test_memoryview_of_wider_items_is_framed_by_byte_length() -> None:
    view = memoryview(struct.pack(">2I", 1, 2)).cast("I")
    assert len(view) == 2
    assert NetworkPacketStructure.to_packet(view)[:4] == b"\x00\x00\x00\x08"


@pytest.mark.parametrize("value", ["abc", 42, None, [1, 2]])
def test_non_bytes_input_raises_protocol_type_error(value: object) -> None:
    with pytest.raises(ProtocolTypeError, match="data must be bytes"):
        NetworkPacketStructure.to_packet(value)  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError, match="packet must be bytes"):
        NetworkPacketStructure.from_packet(value)  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError):
        NetworkPacketStructure.split_packet(value)  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError, match="payload must be bytes"):
        NetworkPacketStructure.join_packets([b"ok", value])  # type: ignore[list-item]
    assert NetworkPacketStructure.is_valid(value) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (b"", "shorter than the 4-byte length header"),
        (b"\x00\x00\x03", "shorter than the 4-byte length header"),
        (b"\x00\x00\x00\x03ab", "announces 3 payload bytes but the packet carries 2"),
        (b"\x00\x00\x00\x01ab", "announces 1 payload bytes but the packet carries 2"),
    ],
)
def test_from_packet_rejects_malformed_frames(packet: bytes, message: str) -> None:
    with pytest.raises(MalformedPacketError, match=message):
        NetworkPacketStructure.from_packet(packet)
    assert not NetworkPacketStructure.is_valid(packet)


def test_split_packet_splits_concatenated_frames() -> None:
    frames = [NetworkPacketStructure.to_packet(p) for p in (b"a", b"", b"bcd")]
    assert NetworkPacketStructure.split_packet(b"".join(frames)) == frames
    assert NetworkPacketStructure.split_packet(b"") == []


@pytest.mark.parametrize(
    ("buffer", "message"),
    [
        (b"\x00\x00\x00\x01a\x00\x00", "truncated length header"),
        (b"\x00\x00\x00\x01a\x00\x00\x00\x05abc", "announces 5 payload bytes but only 3 follow"),
    ],
)
def test_split_packet_rejects_a_truncated_tail(buffer: bytes, message: str) -> None:
    with pytest.raises(MalformedPacketError, match=message):
        NetworkPacketStructure.split_packet(buffer)


def test_join_packets_equals_concatenated_to_packet() -> None:
    payloads = [b"a", b"", b"xyz" * 100]
    joined = NetworkPacketStructure.join_packets(payloads)
    assert joined == b"".join(NetworkPacketStructure.to_packet(p) for p in payloads)
    assert NetworkPacketStructure.join_packets([]) == b""
    assert NetworkPacketStructure.join_packets([bytearray(b"q")]) == b"\x00\x00\x00\x01q"
    with pytest.raises(PacketSizeError):
        NetworkPacketStructure(max_payload=2).join_packets([b"ok", b"big"])


def test_find_packet_end() -> None:
    frame = NetworkPacketStructure.to_packet(b"abc")
    buffer = b"zz" + frame + b"\x00"
    assert NetworkPacketStructure.find_packet_end(buffer, 2) == 2 + len(frame)
    assert NetworkPacketStructure.find_packet_end(buffer[:-2], 2) == -1
    assert NetworkPacketStructure.find_packet_end(b"\x00\x00", 0) == -1
    assert NetworkPacketStructure.find_packet_end(bytearray(frame)) == len(frame)
    with pytest.raises(PacketSizeError):
        NetworkPacketStructure(max_payload=2).find_packet_end(frame, 0)


@SETTINGS
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=2048))
def test_round_trip_with_any_limit(payload: bytes, limit: int) -> None:
    structure = NetworkPacketStructure(max_payload=limit)
    if len(payload) > limit:
        with pytest.raises(PacketSizeError):
            structure.to_packet(payload)
        return
    frame = structure.to_packet(payload)
    assert structure.is_valid(frame)
    assert structure.from_packet(frame) == payload
    assert structure.split_packet(frame) == [frame]


@SETTINGS
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_split_packet_round_trips_any_list(payloads: list[bytes]) -> None:
    frames = [NetworkPacketStructure.to_packet(p) for p in payloads]
    split = NetworkPacketStructure.split_packet(b"".join(frames))
    assert split == frames
    assert [NetworkPacketStructure.from_packet(f) for f in split] == payloads


@SETTINGS
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=64))
def test_random_bytes_raise_only_documented_errors(data: bytes, limit: int) -> None:
    structure = NetworkPacketStructure(max_payload=limit)
    assert structure.is_valid(data) in (True, False)
    for decode in (structure.from_packet, structure.split_packet):
        try:
            decode(data)
        except PacketError:
            pass


def test_hybridmethod_binds_to_class_or_instance() -> None:
    class Thing:
        label = "class"

        def __init__(self) -> None:
            self.label = "instance"

        @hybridmethod
        def who(self: Thing | type[Thing], suffix: str) -> str:
            """Say who called."""
            return self.label + suffix

    assert Thing.who("!") == "class!"
    assert Thing().who("?") == "instance?"
    assert Thing.who.__doc__ == "Say who called."
    assert Thing.__dict__["who"].__name__ == "who"
