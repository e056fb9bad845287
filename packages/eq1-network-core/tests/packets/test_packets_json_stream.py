"""Bare JSON messages over a byte stream, as any stream transport exchanges them."""

from __future__ import annotations

import struct

import pytest

from eq1_network import MalformedPacketError, NetworkPacketStructure, PacketSizeError
from eq1_network.packets.json_stream import JsonDecoder, encode_frame


def test_messages_split_anywhere_decode_in_order() -> None:
    stream = b"".join(
        encode_frame(value, NetworkPacketStructure) for value in ({"a": 1}, [1, "é"], {})
    )
    decoder = JsonDecoder(NetworkPacketStructure)
    for i in range(0, len(stream), 3):
        assert decoder.feed(stream[i : i + 3])
    assert [decoder.pop(), decoder.pop(), decoder.pop(), decoder.pop()] == [
        {"a": 1},
        [1, "é"],
        {},
        None,
    ]


def test_a_bad_payload_is_consumed_and_the_stream_stays_in_step() -> None:
    decoder = JsonDecoder(NetworkPacketStructure)
    bad = struct.pack(">I", 3) + b'"x"'  # JSON, but not an object or an array
    assert decoder.feed(bad + encode_frame([2], NetworkPacketStructure))
    with pytest.raises(MalformedPacketError, match="object or an array"):
        decoder.pop()
    assert decoder.pop() == [2]


def test_an_oversized_header_ends_the_stream_after_the_messages_before_it() -> None:
    structure = NetworkPacketStructure(max_payload=16)
    decoder = JsonDecoder(structure)
    assert not decoder.feed(encode_frame([1], structure) + struct.pack(">I", 1000) + b"{}")
    assert decoder.pop() == [1]
    with pytest.raises(PacketSizeError):
        decoder.pop()
    with pytest.raises(PacketSizeError):
        encode_frame(["x" * 40], structure)
