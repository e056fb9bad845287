"""Whose fault an error is: local misuse, a misbehaving peer, or a broken link."""

from __future__ import annotations

import struct

import pytest

import eq1_network
from eq1_network import (
    BINARY_PACKAGE,
    BinarySendData,
    Message,
    NetworkPacketStructure,
    PacketStream,
    PacketStructureInterface,
    Reassembler,
    split_message,
)
from eq1_network.common import exceptions as exc

USAGE, REMOTE, LINK = exc.ProtocolUsageError, exc.RemoteProtocolError, exc.ProtocolConnectionError

# Each class, the built-in it derives from (None: a marker without one), and its group.
TAXONOMY: list[tuple[type[Exception], type[BaseException] | None, str]] = [
    (exc.ProtocolUsageError, None, "usage"),
    (exc.ProtocolArgumentError, ValueError, "usage"),
    (exc.ProtocolConfigurationError, ValueError, "usage"),
    (exc.ProtocolTypeError, TypeError, "usage"),
    (exc.PayloadTooLargeError, ValueError, "usage"),
    (exc.ProtocolClosedError, None, "usage"),
    (exc.ProtocolNotConnectedError, ConnectionError, "usage"),
    (exc.RemoteProtocolError, ValueError, "remote"),
    (exc.MalformedPacketError, ValueError, "remote"),
    (exc.FrameTooLargeError, ValueError, "remote"),
    (exc.FragmentError, ValueError, "remote"),
    (exc.ProtocolConnectionError, ConnectionError, "link"),
    (exc.ProtocolAuthenticationError, ConnectionError, "link"),
    (exc.ProtocolTimeoutError, TimeoutError, "other"),
    (exc.ProtocolNotFoundError, LookupError, "other"),
    (exc.QueueFullError, None, "other"),
    (exc.PluginLoadError, ImportError, "other"),
    (exc.DuplicateProtocolError, ImportError, "other"),
    (exc.ProtocolValidationError, ValueError, "mixed"),
    (exc.PacketError, ValueError, "mixed"),
    (exc.PacketSizeError, ValueError, "mixed"),
]

# Relationships kept for compatibility and documented as deprecated: the only places
# where the three groups overlap.
DEPRECATED_LINKS: dict[type[Exception], type[Exception]] = {exc.ProtocolNotConnectedError: LINK}


def groups_of(cls: type[Exception]) -> set[str]:
    return {
        name
        for name, base in (("usage", USAGE), ("remote", REMOTE), ("link", LINK))
        if issubclass(cls, base)
    }


def test_the_table_covers_every_exported_class() -> None:
    assert {cls.__name__ for cls, _, _ in TAXONOMY} == set(exc.__all__) - {"ProtocolError"}


@pytest.mark.parametrize(("cls", "builtin", "group"), TAXONOMY)
def test_every_class_keeps_its_builtin_and_protocol_error(
    cls: type[Exception], builtin: type[BaseException] | None, group: str
) -> None:
    assert issubclass(cls, exc.ProtocolError)
    if builtin is not None:
        assert issubclass(cls, builtin)
    assert getattr(eq1_network, cls.__name__) is cls


@pytest.mark.parametrize(("cls", "builtin", "group"), TAXONOMY)
def test_local_remote_and_link_are_disjoint(
    cls: type[Exception], builtin: type[BaseException] | None, group: str
) -> None:
    found = groups_of(cls)
    deprecated = DEPRECATED_LINKS.get(cls)
    if deprecated is not None:
        assert issubclass(cls, deprecated)
        found -= {"link"}
    expected = set() if group in ("other", "mixed") else {group}
    assert found == expected


def test_mixed_classes_group_local_and_remote_errors() -> None:
    assert issubclass(exc.PayloadTooLargeError, exc.PacketSizeError)
    assert issubclass(exc.FrameTooLargeError, exc.PacketSizeError)
    for cls in (exc.ProtocolValidationError, exc.PacketError, exc.PacketSizeError):
        assert not issubclass(cls, (USAGE, REMOTE, LINK))


@pytest.mark.parametrize(
    ("cls", "old_base"),
    [
        (exc.ProtocolNotConnectedError, exc.ProtocolConnectionError),
        (exc.ProtocolConfigurationError, exc.ProtocolValidationError),
        (exc.PacketError, exc.ProtocolValidationError),
        (exc.PacketSizeError, exc.PacketError),
        (exc.MalformedPacketError, exc.PacketError),
        (exc.MalformedPacketError, exc.ProtocolValidationError),
        (exc.FragmentError, exc.PacketError),
        (exc.FrameTooLargeError, exc.PacketSizeError),
        (exc.PayloadTooLargeError, exc.PacketSizeError),
    ],
)
def test_relationships_user_code_relies_on_are_kept(
    cls: type[Exception], old_base: type[Exception]
) -> None:
    assert issubclass(cls, old_base)


def test_deprecations_are_documented() -> None:
    for text in (exc.__doc__, exc.ProtocolNotConnectedError.__doc__, exc.PacketError.__doc__):
        assert text is not None and "deprecated" in text


class Dollar(PacketStructureInterface):
    """``$data$`` framing, as a plugin would write it (``from_packet`` raises ``ValueError``)."""

    HEAD_PACKET = b"$"
    TAIL_PACKET = b"$"

    @classmethod
    def to_packet(cls, data: bytes) -> bytes:
        return b"$" + data + b"$"

    @classmethod
    def from_packet(cls, packet: bytes) -> bytes:
        if not cls.is_valid(packet):
            raise ValueError(f"not a $data$ packet: {packet!r}")
        return packet[1:-1]

    @classmethod
    def is_valid(cls, packet: bytes) -> bool:
        return len(packet) >= 2 and packet[:1] == b"$" and packet[-1:] == b"$"

    @classmethod
    def split_packet(cls, packet: bytes) -> list[bytes]:
        return [b"$" + d + b"$" for d in packet.split(b"$") if d]


def feed_as_a_caller_would(stream: PacketStream, data: bytes) -> list[bytes]:
    """Feed received bytes, handling only the caller's own mistakes locally."""
    try:
        return stream.feed_payloads(data)
    except (exc.ProtocolConfigurationError, exc.ProtocolTypeError, exc.ProtocolUsageError):
        pytest.fail("a peer's bytes were reported as the caller's mistake")


def test_corrupt_frame_from_a_peer_is_remote_not_local() -> None:
    stream = PacketStream(Dollar)
    assert feed_as_a_caller_would(stream, b"$ok$") == [b"ok"]
    with pytest.raises(exc.RemoteProtocolError) as info:
        feed_as_a_caller_would(stream, b"garbage")
    assert isinstance(info.value, exc.MalformedPacketError)
    assert not isinstance(info.value, USAGE)


def test_oversized_length_header_from_a_peer_is_remote() -> None:
    stream = PacketStream(NetworkPacketStructure(max_payload=16))
    with pytest.raises(exc.FrameTooLargeError, match="announces 17 payload bytes") as info:
        feed_as_a_caller_would(stream, struct.pack(">I", 17))
    assert isinstance(info.value, exc.PacketSizeError)
    assert not isinstance(info.value, USAGE)
    # The stream stays failed until reset, and keeps saying whose fault it was.
    with pytest.raises(exc.FrameTooLargeError, match="must be reset"):
        stream.feed(b"")


def test_unterminated_frame_over_max_buffer_is_remote() -> None:
    stream = PacketStream(Dollar, max_buffer=8)
    with pytest.raises(exc.FrameTooLargeError, match="more than max_buffer=8"):
        feed_as_a_caller_would(stream, b"$" + b"x" * 8)


def test_decoding_an_oversized_frame_is_remote() -> None:
    structure = NetworkPacketStructure(max_payload=4)
    with pytest.raises(exc.FrameTooLargeError):
        structure.from_packet(struct.pack(">I", 5) + b"12345")
    with pytest.raises(exc.FrameTooLargeError):
        structure.split_packet(struct.pack(">I", 5) + b"12345")


def test_sending_a_payload_over_the_limit_is_local() -> None:
    structure = NetworkPacketStructure(max_payload=4)
    with pytest.raises(exc.PayloadTooLargeError, match="exceeds max_payload of 4") as info:
        structure.to_packet(b"12345")
    assert isinstance(info.value, exc.PacketSizeError)
    assert not isinstance(info.value, REMOTE)
    with pytest.raises(exc.PayloadTooLargeError):
        structure.join_packets([b"1", b"12345"])
    with pytest.raises(exc.PayloadTooLargeError):
        BinarySendData(b"x" * 100, sequence=1).to_frame(64)
    with pytest.raises(exc.PayloadTooLargeError, match="encode_frames"):
        BINARY_PACKAGE.encode(BinarySendData(bytes(1024 * 1024)))


def test_inconsistent_fragments_from_a_peer_are_remote() -> None:
    frames = split_message(BinarySendData(b"z" * 300, sequence=3), max_payload=100)
    parts = [Message.from_bytes(NetworkPacketStructure.from_packet(f)) for f in frames]
    reassembler = Reassembler()
    assert reassembler.add(parts[0]) is None
    with pytest.raises(exc.RemoteProtocolError) as info:
        reassembler.add(parts[0])
    assert isinstance(info.value, exc.FragmentError)
    assert not isinstance(info.value, USAGE)


def test_the_callers_bad_arguments_are_local_not_remote() -> None:
    with pytest.raises(exc.ProtocolUsageError) as info:
        PacketStream(Dollar, max_buffer="big")  # type: ignore[arg-type]
    assert isinstance(info.value, exc.ProtocolTypeError)
    with pytest.raises(exc.ProtocolUsageError) as info:
        PacketStream(Dollar, max_buffer=0)
    assert isinstance(info.value, exc.ProtocolConfigurationError)
    with pytest.raises(exc.ProtocolUsageError):
        PacketStream(Dollar).feed("text")  # type: ignore[arg-type]
    for error in (exc.ProtocolTypeError("x"), exc.ProtocolConfigurationError("x")):
        assert not isinstance(error, (REMOTE, LINK))


def test_not_connected_is_closed_and_still_a_connection_error() -> None:
    from eq1_network.protocols.loopback.memory import MemoryBroker, MemoryPubSub

    client = MemoryPubSub(MemoryBroker())
    with pytest.raises(exc.ProtocolClosedError) as info:
        client.publish("t", b"x")
    assert isinstance(info.value, exc.ProtocolNotConnectedError)
    # Deprecated, kept for one release: existing "except ConnectionError" still catches it.
    assert isinstance(info.value, ConnectionError)
