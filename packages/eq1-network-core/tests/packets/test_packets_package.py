"""DataPackage (F-18): a packet structure bundled with its data classes."""

from __future__ import annotations

import threading

import pytest

import eq1_network
from eq1_network import (
    ANY_PACKAGE,
    BINARY_PACKAGE,
    INT_PACKAGE,
    JSON_PACKAGE,
    TEXT_PACKAGE,
    BinaryReceivedData,
    BinarySendData,
    DataFormat,
    DataPackage,
    FragmentError,
    IntReceivedData,
    IntSendData,
    JsonReceivedData,
    JsonSendData,
    Message,
    MessageType,
    NetworkPacketStructure,
    PacketSizeError,
    PacketStream,
    PacketStructureInterface,
    ProtocolArgumentError,
    ProtocolConfigurationError,
    ProtocolTypeError,
    Reassembler,
    ReceivedData,
    SendData,
    TextReceivedData,
    TextSendData,
    TypedReceivedData,
)
from eq1_network.packets.header import MAX_U64
from eq1_network.packets.send import SequenceCounter


class Note(SendData):
    def __init__(self, text: str) -> None:
        self.text = text

    def to_bytes(self) -> bytes:
        return self.text.encode()


class NoteReceived(ReceivedData):
    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def from_bytes(cls, data: bytes) -> NoteReceived:
        return cls(data.decode())


class Brackets(PacketStructureInterface):
    HEAD_PACKET = b"["
    TAIL_PACKET = b"]"

    def to_packet(self, data: bytes) -> bytes:
        return b"[" + data + b"]"

    def from_packet(self, packet: bytes) -> bytes:
        if not self.is_valid(packet):
            raise ValueError("not bracketed")
        return packet[1:-1]

    def is_valid(self, packet: bytes) -> bool:
        return packet[:1] == b"[" and packet[-1:] == b"]"

    def split_packet(self, packet: bytes) -> list[bytes]:
        return [p + b"]" for p in packet.split(b"]") if p]


def test_predefined_packages() -> None:
    expected = {
        TEXT_PACKAGE: (TextSendData, TextReceivedData),
        BINARY_PACKAGE: (BinarySendData, BinaryReceivedData),
        INT_PACKAGE: (IntSendData, IntReceivedData),
        JSON_PACKAGE: (JsonSendData, JsonReceivedData),
    }
    for package, (send_class, received_class) in expected.items():
        assert package.packet_structure is NetworkPacketStructure
        assert package.send_data_class is send_class
        assert package.received_data_class is received_class
    assert ANY_PACKAGE.received_data_class is TypedReceivedData
    assert (
        repr(TEXT_PACKAGE) == "DataPackage(NetworkPacketStructure, TextSendData, TextReceivedData)"
    )
    for name in ("TEXT_PACKAGE", "BINARY_PACKAGE", "INT_PACKAGE", "JSON_PACKAGE", "DataPackage"):
        assert name in eq1_network.__all__


def test_encode_gives_one_complete_frame() -> None:
    frame = INT_PACKAGE.encode(IntSendData(-7, message_type=MessageType.STATUS))
    assert NetworkPacketStructure.is_valid(frame)
    received = INT_PACKAGE.decode(frame)
    assert (received.value, received.message_type) == (-7, MessageType.STATUS)
    assert INT_PACKAGE.decode_payload(frame[4:]) == received


def test_package_assigns_sequences_only_when_missing() -> None:
    package = DataPackage(NetworkPacketStructure, TextSendData, TextReceivedData)
    first, second = TextSendData("a"), TextSendData("b")
    package.encode(first)
    package.encode(second)
    assert (first.sequence, second.sequence) == (1, 2)
    package.encode(first)
    assert first.sequence == 1  # a resend keeps its number
    own = TextSendData("c", sequence=1000)
    assert package.decode(package.encode(own)).sequence == 1000
    assert package.next_sequence() == 3


def test_sequence_counter_wraps_to_one() -> None:
    package = DataPackage(NetworkPacketStructure, TextSendData, TextReceivedData)
    package._counter._last = MAX_U64 - 1
    assert package.next_sequence() == MAX_U64
    assert package.next_sequence() == 1


def test_a_sequence_counter_numbers_only_unnumbered_messages() -> None:
    counter = SequenceCounter()
    first, kept = TextSendData("a"), TextSendData("b", sequence=9)
    assert (counter.assign(first), counter.assign(kept), first.sequence) == (1, 9, 1)
    assert counter.assign(first) == 1  # numbered once
    assert counter.take() == 2
    with pytest.raises(ProtocolArgumentError, match="leave sequence at 0"):
        counter.assign(kept, numbered_here=True)


def test_sequences_are_unique_across_threads() -> None:
    package = DataPackage(NetworkPacketStructure, BinarySendData, BinaryReceivedData)
    seen: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = []
        for _ in range(500):
            message = BinarySendData(b"x")
            package.encode(message)
            mine.append(message.sequence)
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert sorted(seen) == list(range(1, 2001))


def test_wrong_send_class_is_refused() -> None:
    with pytest.raises(
        ProtocolTypeError, match="this package sends TextSendData, got BinarySendData"
    ):
        TEXT_PACKAGE.encode(BinarySendData(b"x"))  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError):
        TEXT_PACKAGE.encode("hi")  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError):
        TEXT_PACKAGE.encode_frames(b"hi")  # type: ignore[arg-type]


def test_any_package_sends_every_format() -> None:
    for sent in (TextSendData("t"), BinarySendData(b"b"), IntSendData(1), JsonSendData({"j": 1})):
        received = ANY_PACKAGE.decode(ANY_PACKAGE.encode(sent))
        assert received.value == sent.value
        assert received.data_format is sent.data_format


def test_oversize_message_points_to_encode_frames() -> None:
    big = BinarySendData(bytes(1024 * 1024))
    with pytest.raises(PacketSizeError, match="encode_frames"):
        BINARY_PACKAGE.encode(big)
    frames = BINARY_PACKAGE.encode_frames(big)
    assert len(frames) == 2
    assert all(len(f) <= 1024 * 1024 + 4 for f in frames)


def test_small_message_encode_frames_gives_one_frame() -> None:
    message = TextSendData("small")
    assert TEXT_PACKAGE.encode_frames(message) == [TEXT_PACKAGE.encode(message)]


def test_instance_structure_with_its_own_limit() -> None:
    package = DataPackage(
        NetworkPacketStructure(max_payload=64), BinarySendData, BinaryReceivedData
    )
    assert package.decode(package.encode(BinarySendData(bytes(32)))).value == bytes(32)
    with pytest.raises(PacketSizeError):
        package.encode(BinarySendData(bytes(33)))
    frames = package.encode_frames(BinarySendData(bytes(200), source="s"))
    stream, reassembler = package.stream(), Reassembler()
    merged = [
        reassembler.add(package.decode_message(p)) for f in frames for p in stream.feed_payloads(f)
    ]
    assert isinstance(stream, PacketStream)
    assert package.from_message(merged[-1]).value == bytes(200)  # type: ignore[arg-type]


def test_typed_messages_in_a_reframing_structure() -> None:
    package = DataPackage(Brackets(), JsonSendData, JsonReceivedData)
    frame = package.encode(JsonSendData([1, 2]))
    assert frame.startswith(b"[") and frame.endswith(b"]")
    assert package.decode(frame).value == [1, 2]
    with pytest.raises(ProtocolConfigurationError, match="max_payload"):
        package.encode_frames(JsonSendData([1]))


def test_user_defined_classes() -> None:
    package = DataPackage(Brackets(), Note, NoteReceived)
    frame = package.encode(Note("hello"))
    assert frame == b"[hello]"
    assert package.decode(frame).text == "hello"
    assert package.decode_payload(b"raw").text == "raw"
    assert package.encode_frames(Note("x")) == [b"[x]"]
    with pytest.raises(ProtocolTypeError, match="not a typed received class"):
        package.from_message(
            Message(b"", message_type=MessageType.DATA, data_format=DataFormat.TEXT)
        )
    with pytest.raises(ValueError, match="not bracketed"):
        package.decode(b"hello")


def test_message_package_keeps_values_encoded() -> None:
    package = DataPackage(NetworkPacketStructure, Message, Message)
    message = Message(b"{}", message_type=MessageType.DATA, data_format=DataFormat.JSON)
    frame = package.encode(message)
    assert message.sequence == 1
    decoded = package.decode(frame)
    assert decoded == message
    assert package.from_message(decoded) is decoded
    assert package.encode_frames(message) == [frame]


def test_decode_message_and_from_message() -> None:
    sent = TextSendData("v", source="a")
    payload = TEXT_PACKAGE.encode(sent)[4:]
    message = TEXT_PACKAGE.decode_message(payload)
    assert message.source == "a" and message.body == b"v"
    assert TEXT_PACKAGE.from_message(message).value == "v"
    fragment = message.replace(flags=message.flags | 1)
    with pytest.raises(FragmentError):
        TEXT_PACKAGE.from_message(fragment)


@pytest.mark.parametrize(
    "arguments",
    [
        (None, TextSendData, TextReceivedData),
        (NetworkPacketStructure, str, TextReceivedData),
        (NetworkPacketStructure, TextSendData, bytes),
        (NetworkPacketStructure, TextSendData(""), TextReceivedData),
    ],
)
def test_constructor_checks_its_arguments(arguments: tuple[object, object, object]) -> None:
    with pytest.raises(ProtocolTypeError):
        DataPackage(*arguments)  # type: ignore[arg-type]


def test_class_with_instance_methods_must_be_given_as_instance() -> None:
    with pytest.raises(ProtocolConfigurationError, match="pass an instance of Brackets"):
        DataPackage(Brackets, Note, NoteReceived)


def test_receive_payload_of_untyped_packages_never_looks_for_fragments() -> None:
    package = DataPackage(Brackets(), Note, NoteReceived)
    payload = b"\x01\x02\x03\x05 looks like a fragment header"
    received = package.receive_payload(payload, Reassembler())
    assert received is not None and received.text.endswith("fragment header")


class _CustomEncode(DataPackage[BinarySendData, BinaryReceivedData]):
    def encode(self, send_data: BinarySendData) -> bytes:
        return super().encode(send_data)


class _CustomDecode(DataPackage[BinarySendData, BinaryReceivedData]):
    def decode_payload(self, payload: bytes) -> BinaryReceivedData:
        return super().decode_payload(payload)


def test_direct_frame_limit_only_where_encode_is_to_frame() -> None:
    assert BINARY_PACKAGE.direct_frame_limit() == NetworkPacketStructure.max_payload
    assert ANY_PACKAGE.direct_frame_limit() == NetworkPacketStructure.max_payload
    small = DataPackage(NetworkPacketStructure(max_payload=64), BinarySendData, BinaryReceivedData)
    assert small.direct_frame_limit() == 64
    message = BinarySendData(bytes(8), sequence=7)
    assert message.to_frame(64) == small.encode(message)
    assert DataPackage(Brackets(), JsonSendData, JsonReceivedData).direct_frame_limit() is None
    assert DataPackage(NetworkPacketStructure, Message, Message).direct_frame_limit() is None
    assert DataPackage(Brackets(), Note, NoteReceived).direct_frame_limit() is None
    custom = _CustomEncode(NetworkPacketStructure, BinarySendData, BinaryReceivedData)
    assert custom.direct_frame_limit() is None


def test_payload_decoder_respects_an_overridden_decode_payload() -> None:
    payload = BINARY_PACKAGE.encode(BinarySendData(b"abc"))[4:]
    decoder = BINARY_PACKAGE.payload_decoder()
    assert decoder == BinaryReceivedData.from_bytes
    assert decoder(payload).value == b"abc"
    custom = _CustomDecode(NetworkPacketStructure, BinarySendData, BinaryReceivedData)
    assert custom.payload_decoder() == custom.decode_payload
    assert custom.payload_decoder()(payload).value == b"abc"


def test_packages_offer_a_reader_only_where_it_decodes_the_same() -> None:
    from eq1_network.packets import TypedStreamReader

    assert isinstance(BINARY_PACKAGE.stream_reader(BINARY_PACKAGE.stream()), TypedStreamReader)
    message_package = DataPackage(NetworkPacketStructure, Message, Message)
    assert message_package.stream_reader(message_package.stream()) is None
    custom = _CustomDecode(NetworkPacketStructure, BinarySendData, BinaryReceivedData)
    assert custom.stream_reader(custom.stream()) is None
    brackets = DataPackage(Brackets(), JsonSendData, JsonReceivedData)
    assert brackets.stream_reader(brackets.stream()) is None
