"""The optional find_packet_end of PacketStructureInterface and the delimiter convention."""

from __future__ import annotations

import pytest

from eq1_network import MalformedPacketError, PacketStructureInterface, ProtocolConfigurationError
from eq1_network.interfaces.packet import NEED_MORE_DATA, delimiters_of


class Framed(PacketStructureInterface):
    HEAD_PACKET = b"<<"
    TAIL_PACKET = b">>"

    @classmethod
    def to_packet(cls, data: bytes) -> bytes:
        return cls.HEAD_PACKET + data + cls.TAIL_PACKET

    @classmethod
    def from_packet(cls, packet: bytes) -> bytes:
        return packet[2:-2]

    @classmethod
    def is_valid(cls, packet: bytes) -> bool:
        return packet.startswith(b"<<") and packet.endswith(b">>")

    @classmethod
    def split_packet(cls, packet: bytes) -> list[bytes]:
        return [cls.to_packet(p) for p in packet.split(b">><<")]


class Lines(Framed):
    HEAD_PACKET = b""
    TAIL_PACKET = b"\n"


@pytest.mark.parametrize("structure", [Framed, Framed()])
def test_default_find_packet_end_follows_the_delimiters(structure: Framed) -> None:
    find = structure.find_packet_end
    assert find(b"<<abc>>", 0) == 7
    assert find(b"xx<<abc>><<", 2) == 9
    assert find(bytearray(b"<<abc>>"), 0) == 7
    assert find(b"<<abc>", 0) == NEED_MORE_DATA == -1
    assert find(b"<", 0) == -1
    assert find(b"", 0) == -1
    with pytest.raises(MalformedPacketError, match="start with b'<<' at offset 0, got b'x<'"):
        find(b"x<abc>>", 0)
    with pytest.raises(MalformedPacketError, match="got b'x'"):
        find(b"x", 0)


def test_empty_head() -> None:
    assert Lines.find_packet_end(b"one\ntwo", 0) == 4
    assert Lines.find_packet_end(b"one\ntwo", 4) == -1


def test_structure_without_delimiters() -> None:
    class Plain(PacketStructureInterface):
        def to_packet(self, data: bytes) -> bytes:
            return data

        def from_packet(self, packet: bytes) -> bytes:
            return packet

        def is_valid(self, packet: bytes) -> bool:
            return True

        def split_packet(self, packet: bytes) -> list[bytes]:
            return [packet]

    with pytest.raises(ProtocolConfigurationError, match="Plain does not say where a packet ends"):
        Plain().find_packet_end(b"abc", 0)
    with pytest.raises(ProtocolConfigurationError, match="Plain does not say"):
        delimiters_of(Plain)


@pytest.mark.parametrize(("head", "tail"), [("<", ">"), (b"<", b""), (None, b">"), (b"<", 1)])
def test_bad_delimiters(head: object, tail: object) -> None:
    class Bad(Framed):
        HEAD_PACKET = head  # type: ignore[assignment]
        TAIL_PACKET = tail  # type: ignore[assignment]

    with pytest.raises(ProtocolConfigurationError, match="TAIL_PACKET"):
        delimiters_of(Bad())
