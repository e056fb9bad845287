"""Typed messages (F-17): header, per-format send and received classes, Message."""

from __future__ import annotations

import math
import struct
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eq1_network import (
    ANY_PACKAGE,
    BINARY_PACKAGE,
    INT_PACKAGE,
    JSON_PACKAGE,
    TEXT_PACKAGE,
    BinaryReceivedData,
    BinarySendData,
    DataFormat,
    FragmentError,
    IntReceivedData,
    IntSendData,
    JsonReceivedData,
    JsonSendData,
    MalformedPacketError,
    Message,
    MessageFlags,
    MessageType,
    NetworkPacketStructure,
    PacketError,
    PacketSizeError,
    ProtocolTypeError,
    ProtocolValidationError,
    TextReceivedData,
    TextSendData,
    TypedReceivedData,
    TypedSendData,
)
from eq1_network.packets import FIXED_HEADER_SIZE, HEADER_VERSION
from eq1_network.packets.message import timestamp_to_us
from eq1_network.packets.received import received_class_for

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER = struct.Struct(">BBBBHBBQQq")

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
JSON_TOP = st.lists(JSON_VALUES, max_size=5) | st.dictionaries(
    st.text(max_size=8), JSON_VALUES, max_size=5
)

FORMATS: dict[DataFormat, tuple[type[TypedSendData[Any]], Any, st.SearchStrategy[Any]]] = {
    DataFormat.TEXT: (TextSendData, TEXT_PACKAGE, st.text(max_size=200)),
    DataFormat.BINARY: (BinarySendData, BINARY_PACKAGE, st.binary(max_size=200)),
    DataFormat.INT: (
        IntSendData,
        INT_PACKAGE,
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
    ),
    DataFormat.JSON: (JsonSendData, JSON_PACKAGE, JSON_TOP),
}
IDENTIFIERS = st.text(max_size=30).filter(lambda s: len(s.encode("utf-8")) <= 255)
U64 = st.integers(min_value=0, max_value=2**64 - 1)


def header(
    *,
    version: int = HEADER_VERSION,
    mtype: int = MessageType.DATA,
    dformat: int = DataFormat.BINARY,
    flags: int = 0,
    header_len: int | None = None,
    source: bytes = b"",
    destination: bytes = b"",
    sequence: int = 1,
    reply_to: int = 0,
    stamp: int = 0,
) -> bytes:
    if header_len is None:
        header_len = FIXED_HEADER_SIZE + len(source) + len(destination)
    fixed = HEADER.pack(
        version,
        mtype,
        dformat,
        flags,
        header_len,
        len(source),
        len(destination),
        sequence,
        reply_to,
        stamp,
    )
    return fixed + source + destination


@SETTINGS
@given(
    st.data(),
    st.sampled_from(list(DataFormat)),
    st.sampled_from(list(MessageType)),
    IDENTIFIERS,
    IDENTIFIERS,
    U64,
    U64,
    st.integers(min_value=-(2**62), max_value=2**62),
)
def test_round_trip_every_format_and_message_type(
    data: st.DataObject,
    data_format: DataFormat,
    message_type: MessageType,
    source: str,
    destination: str,
    sequence: int,
    reply_to: int,
    stamp_us: int,
) -> None:
    send_class, package, values = FORMATS[data_format]
    value = data.draw(values)
    sent = send_class(
        value,
        message_type=message_type,
        source=source,
        destination=destination,
        sequence=sequence,
        reply_to=reply_to,
        timestamp=stamp_us / 1_000_000,
    )
    frame = package.encode(sent)
    assert frame == NetworkPacketStructure.to_packet(sent.to_bytes())
    for decoder in (package, ANY_PACKAGE):
        received = decoder.decode(frame)
        assert type(received) is received_class_for(data_format)
        assert received.value == value
        assert received.message_type is message_type
        assert received.data_format is data_format
        assert received.source == source
        assert received.destination == destination
        assert received.sequence == sent.sequence
        assert received.reply_to == reply_to
        assert received.timestamp_us == sent.timestamp_us
        assert abs(received.timestamp - stamp_us / 1_000_000) <= 1e-6 * max(1, abs(stamp_us) / 1e9)
        assert received.flags == MessageFlags.NONE


def test_requirements_style_construction() -> None:
    sent = TextSendData("hi", message_type=MessageType.DATA, source="cam1", destination="plc")
    assert sent.value == "hi"
    assert sent.body == b"hi"
    assert sent.data_format is DataFormat.TEXT
    assert sent.sequence == 0
    assert abs(sent.timestamp - time.time()) < 3600
    received = TEXT_PACKAGE.decode(TEXT_PACKAGE.encode(sent))
    assert isinstance(received, TextReceivedData)
    assert (received.value, received.source, received.destination) == ("hi", "cam1", "plc")
    assert received.sequence == sent.sequence > 0
    assert "TextReceivedData('hi'" in repr(received)
    assert "TextSendData('hi'" in repr(sent)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (True, ProtocolTypeError, "not bool"),
        (1.0, ProtocolTypeError, "got float"),
        ("1", ProtocolTypeError, "got str"),
        (2**63, ProtocolValidationError, "between -2\\*\\*63 and 2\\*\\*63-1"),
        (-(2**63) - 1, ProtocolValidationError, "between"),
    ],
)
def test_int_values_are_never_coerced(value: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        IntSendData(value)  # type: ignore[arg-type]


def test_int_range_edges_and_encoding() -> None:
    for value in (-(2**63), -1, 0, 1, 2**63 - 1):
        sent = IntSendData(value)
        assert sent.body == struct.pack(">q", value)
        assert INT_PACKAGE.decode(INT_PACKAGE.encode(sent)).value == value
    assert isinstance(IntSendData(value=MessageType.DATA).value, int)  # int subclasses are ints


@pytest.mark.parametrize(
    ("cls", "value", "error"),
    [
        (TextSendData, b"bytes", ProtocolTypeError),
        (TextSendData, "\ud800", ProtocolValidationError),
        (BinarySendData, "text", ProtocolTypeError),
        (BinarySendData, 5, ProtocolTypeError),
        (JsonSendData, 3, ProtocolTypeError),
        (JsonSendData, "[]", ProtocolTypeError),
        (JsonSendData, {"a": object()}, ProtocolTypeError),
        (JsonSendData, {"a": float("nan")}, ProtocolValidationError),
        (JsonSendData, [float("inf")], ProtocolValidationError),
    ],
)
def test_wrong_values_raise(
    cls: type[TypedSendData[Any]], value: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        cls(value)


def test_circular_and_too_deep_json_is_refused() -> None:
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ProtocolValidationError):
        JsonSendData(circular)
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ProtocolValidationError):
        JsonSendData(deep)


def test_binary_accepts_bytes_like_and_receives_bytes() -> None:
    sent = BinarySendData(bytearray(b"abc"))
    assert sent.body == b"abc"
    received = BINARY_PACKAGE.decode(BINARY_PACKAGE.encode(sent))
    assert received.value == b"abc" and type(received.value) is bytes
    assert BinarySendData(memoryview(b"xy")).body == b"xy"


def test_json_serialisation_is_compact_and_eager() -> None:
    value = {"b": [1, 2.5, None, True], "é": "ü"}
    sent = JsonSendData(value)
    assert sent.body == '{"b":[1,2.5,null,true],"é":"ü"}'.encode()
    value["later"] = 1
    assert b"later" not in sent.to_bytes()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"message_type": "DATA"}, ProtocolTypeError, "message_type must be a MessageType"),
        ({"message_type": 2}, ProtocolTypeError, "message_type"),
        ({"source": 5}, ProtocolTypeError, "source must be a str"),
        ({"destination": b"plc"}, ProtocolTypeError, "destination must be a str"),
        ({"source": "x" * 256}, ProtocolValidationError, "at most 255 bytes"),
        ({"destination": "é" * 128}, ProtocolValidationError, "got 256"),
        ({"source": "\udc80"}, ProtocolValidationError, "UTF-8"),
        ({"sequence": -1}, ProtocolValidationError, "sequence must be between"),
        ({"sequence": 2**64}, ProtocolValidationError, "sequence"),
        ({"sequence": True}, ProtocolTypeError, "sequence must be an int"),
        ({"sequence": 1.0}, ProtocolTypeError, "sequence"),
        ({"reply_to": -5}, ProtocolValidationError, "reply_to"),
        ({"reply_to": "1"}, ProtocolTypeError, "reply_to"),
        ({"timestamp": "now"}, ProtocolTypeError, "timestamp"),
        ({"timestamp": True}, ProtocolTypeError, "timestamp"),
        ({"timestamp": math.nan}, ProtocolValidationError, "finite"),
        ({"timestamp": 1e300}, ProtocolValidationError, "out of the header's range"),
        ({"flags": 256}, ProtocolValidationError, "one byte"),
        ({"flags": "ack"}, ProtocolTypeError, "flags"),
    ],
)
def test_invalid_header_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        BinarySendData(b"x", **kwargs)


def test_identifier_edges_and_cache() -> None:
    assert BinarySendData(b"", source="é" * 127).source == "é" * 127
    for _ in range(5000):  # more distinct identifiers than the cache holds
        BinarySendData(b"", source=f"id{_}")
    received = BINARY_PACKAGE.decode(BINARY_PACKAGE.encode(BinarySendData(b"", source="id7")))
    assert received.source == "id7"


def test_flags_sequence_setter_and_frames() -> None:
    sent = TextSendData("x", flags=MessageFlags.ACK_REQUESTED, sequence=7, reply_to=3)
    assert sent.flags == MessageFlags.ACK_REQUESTED
    assert TextSendData("x", flags=3).flags == MessageFlags.FRAGMENT | MessageFlags.ACK
    received = TEXT_PACKAGE.decode(TEXT_PACKAGE.encode(sent))
    assert received.flags == MessageFlags.ACK_REQUESTED
    assert (received.sequence, received.reply_to) == (7, 3)
    sent.sequence = 9
    assert sent.sequence == 9
    with pytest.raises(ProtocolValidationError):
        sent.sequence = -1
    assert sent.to_frame() == NetworkPacketStructure.to_packet(sent.to_bytes())
    with pytest.raises(PacketSizeError):
        sent.to_frame(max_payload=10)


def test_base_send_class_has_no_format() -> None:
    with pytest.raises(ProtocolTypeError, match="use TextSendData"):
        TypedSendData(1)


def test_to_message_matches_decoded_header() -> None:
    sent = JsonSendData(
        [1], message_type=MessageType.STATUS, source="a", destination="b", sequence=5
    )
    assert sent.to_message() == Message.from_bytes(sent.to_bytes())


def test_header_bytes_match_the_documented_layout() -> None:
    sent = TextSendData(
        "hi",
        message_type=MessageType.DATA,
        source="cam1",
        destination="plc",
        sequence=1,
        timestamp=1_767_225_600.0,
    )
    frame = TEXT_PACKAGE.encode(sent)
    assert frame.hex(" ") == (
        "00 00 00 29 01 02 01 00 00 27 04 03 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 "
        "00 06 47 48 46 20 40 00 63 61 6d 31 70 6c 63 68 69"
    )


def test_received_class_refuses_other_formats() -> None:
    frame = BINARY_PACKAGE.encode(BinarySendData(b"x"))
    with pytest.raises(
        MalformedPacketError, match=r"expects a TEXT message, got BINARY; .*ANY_PACKAGE"
    ):
        TEXT_PACKAGE.decode(frame)
    assert isinstance(ANY_PACKAGE.decode(frame), BinaryReceivedData)


def test_received_subclass_of_a_user() -> None:
    class Reading(IntReceivedData):
        pass

    frame = INT_PACKAGE.encode(IntSendData(42))
    received = Reading.from_bytes(frame[4:])
    assert type(received) is Reading and received.value == 42


def test_received_subclass_with_its_own_constructor_gets_it_called() -> None:
    class Scaled(IntReceivedData):
        __slots__ = ("scaled",)

        def __init__(self, value: int, *args: Any) -> None:
            super().__init__(value, *args)
            self.scaled = value * 10

    frame = INT_PACKAGE.encode(IntSendData(42, source="s", reply_to=3))
    received = Scaled.from_bytes(frame[4:])
    assert type(received) is Scaled and received.scaled == 420
    assert (received.value, received.source, received.reply_to) == (42, "s", 3)


def test_received_equality_and_type_errors() -> None:
    payload = TextSendData("a", sequence=1, timestamp=1.0).to_bytes()
    first = TextReceivedData.from_bytes(payload)
    assert first == TypedReceivedData.from_bytes(bytearray(payload))
    assert first != TextReceivedData("b")
    assert first != "a"
    assert first.timestamp == 1.0
    with pytest.raises(ProtocolTypeError):
        TextReceivedData.from_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash(first)


def test_fragments_are_refused_by_received_classes() -> None:
    payload = header(flags=MessageFlags.FRAGMENT) + bytes(16)
    with pytest.raises(FragmentError, match="Reassembler"):
        TypedReceivedData.from_bytes(payload)
    message = Message.from_bytes(payload)
    assert message.is_fragment
    with pytest.raises(FragmentError):
        BinaryReceivedData.from_message(message)


def test_unknown_flag_bits_are_kept() -> None:
    payload = header(flags=0x80) + b"v"
    received = BinaryReceivedData.from_bytes(payload)
    assert int(received.flags) == 0x80
    assert received.value == b"v"


def test_header_extension_bytes_are_skipped() -> None:
    payload = header(source=b"s", header_len=FIXED_HEADER_SIZE + 1 + 5) + b"EXTRA" + b"value"
    received = BinaryReceivedData.from_bytes(payload)
    assert (received.source, received.value) == ("s", b"value")
    assert Message.from_bytes(payload).body == b"value"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"", "shorter than the 32-byte header"),
        (header()[:31], "shorter than the 32-byte header"),
        (header(version=2), "unsupported message header version 2"),
        (header(mtype=0), "unknown message type 0"),
        (header(mtype=9), "unknown message type 9"),
        (header(dformat=0), "unknown data format 0"),
        (header(dformat=200), "unknown data format 200"),
        (header(source=b"ab", header_len=33), "header_length 33 is inconsistent"),
        (header(header_len=40), "header_length 40 is inconsistent"),
        (header(source=b"\xff"), "source identifier is not valid UTF-8"),
        (header(destination=b"\xc3"), "destination identifier is not valid UTF-8"),
        (header(dformat=DataFormat.INT) + b"1234567", "INT value must be 8 bytes"),
        (header(dformat=DataFormat.TEXT) + b"\xff", "TEXT value is not valid UTF-8"),
        (header(dformat=DataFormat.JSON) + b"{", "JSON value cannot be parsed"),
        (header(dformat=DataFormat.JSON) + b"3", "must be an object or an array"),
        (header(dformat=DataFormat.JSON) + b"[NaN]", "NaN is not valid JSON"),
        (header(dformat=DataFormat.JSON) + b'{"a":-Infinity}', "-Infinity is not valid JSON"),
        (header(dformat=DataFormat.JSON) + b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ],
)
def test_malformed_headers_and_values(payload: bytes, match: str) -> None:
    with pytest.raises(MalformedPacketError, match=match):
        TypedReceivedData.from_bytes(payload)


@pytest.mark.parametrize(
    "payload",
    [header(version=3), header(mtype=0), header(source=b"\xff"), header(header_len=99), b"x"],
)
def test_message_from_bytes_checks_the_header(payload: bytes) -> None:
    with pytest.raises(MalformedPacketError):
        Message.from_bytes(payload)


DECODERS = [
    TypedReceivedData.from_bytes,
    TextReceivedData.from_bytes,
    BinaryReceivedData.from_bytes,
    IntReceivedData.from_bytes,
    JsonReceivedData.from_bytes,
    Message.from_bytes,
    TEXT_PACKAGE.decode_payload,
    ANY_PACKAGE.decode_payload,
    ANY_PACKAGE.decode,
    JSON_PACKAGE.decode,
]


@SETTINGS
@given(st.binary(max_size=120))
def test_random_bytes_raise_only_documented_errors(data: bytes) -> None:
    for decode in DECODERS:
        try:
            decode(data)
        except PacketError:
            pass


@SETTINGS
@given(
    st.data(),
    st.sampled_from(list(DataFormat)),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=200), st.integers(0, 255)),
        min_size=1,
        max_size=4,
    ),
)
def test_corrupted_messages_raise_only_documented_errors(
    data: st.DataObject, data_format: DataFormat, edits: list[tuple[int, int]]
) -> None:
    send_class, _, values = FORMATS[data_format]
    payload = bytearray(send_class(data.draw(values), source="src", destination="dst").to_bytes())
    for position, byte in edits:
        if position < len(payload):
            payload[position] = byte
    corrupted = bytes(payload)
    for cls in (TypedReceivedData, received_class_for(data_format)):
        fast: object
        try:
            fast = cls.from_bytes(corrupted)
        except PacketError as exc:
            fast = type(exc)
        try:
            checked: object = cls._from_bytes_checked(corrupted)
        except PacketError as exc:
            checked = type(exc)
        assert fast == checked  # the inlined fast path agrees with the checked path


def test_message_object() -> None:
    message = Message(
        b"body",
        message_type=MessageType.COMMAND,
        data_format=DataFormat.BINARY,
        sequence=4,
        timestamp_us=5,
        source="a",
        destination="b",
    )
    assert Message.from_bytes(message.to_bytes()) == message
    assert message.timestamp == 5e-6
    assert not message.is_fragment
    changed = message.replace(body=b"other", sequence=6)
    assert (changed.body, changed.sequence, changed.source) == (b"other", 6, "a")
    assert message.header_bytes(MessageFlags.FRAGMENT)[3] == MessageFlags.FRAGMENT
    assert "Message(b'body', message_type=COMMAND" in repr(message)
    assert message != "body"
    assert (
        abs(
            Message(b"", message_type=MessageType.DATA, data_format=DataFormat.TEXT).timestamp
            - time.time()
        )
        < 3600
    )
    assert TypedReceivedData.from_message(message) == BinaryReceivedData(
        b"body", MessageType.COMMAND, "a", "b", 4, 0, 5, MessageFlags.NONE
    )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"body": "text"}, ProtocolTypeError),
        ({"message_type": 1}, ProtocolTypeError),
        ({"data_format": "TEXT"}, ProtocolTypeError),
        ({"flags": -1}, ProtocolValidationError),
        ({"timestamp_us": 2**63}, ProtocolValidationError),
        ({"timestamp_us": 1.5}, ProtocolTypeError),
        ({"source": 1}, ProtocolTypeError),
    ],
)
def test_message_validation(kwargs: dict[str, Any], error: type[Exception]) -> None:
    arguments: dict[str, Any] = {
        "body": b"",
        "message_type": MessageType.DATA,
        "data_format": DataFormat.BINARY,
    }
    arguments.update(kwargs)
    body = arguments.pop("body")
    with pytest.raises(error):
        Message(body, **arguments)


@SETTINGS
@given(
    st.sampled_from(list(MessageType)), st.sampled_from(list(DataFormat)), st.binary(max_size=50)
)
def test_message_round_trip(
    message_type: MessageType, data_format: DataFormat, body: bytes
) -> None:
    message = Message(body, message_type=message_type, data_format=data_format, sequence=3)
    assert Message.from_bytes(message.to_bytes()) == message


def test_send_properties_and_helpers() -> None:
    sent = TextSendData(
        "x",
        message_type=MessageType.COMMAND,
        destination="plc",
        reply_to=4,
        sequence=MessageType.DATA,  # an int subclass is an int
    )
    assert (sent.message_type, sent.destination, sent.reply_to, sent.sequence) == (
        MessageType.COMMAND,
        "plc",
        4,
        2,
    )
    assert type(sent.sequence) is int
    assert abs(timestamp_to_us(None) - time.time_ns() // 1000) < 3_600_000_000
    assert timestamp_to_us(1) == 1_000_000
    assert Message.from_bytes(bytearray(sent.to_bytes())).body == b"x"


WIRE_EXAMPLES = [
    (
        IntSendData(
            -2,
            message_type=MessageType.RESPONSE,
            source="plc",
            destination="cam1",
            sequence=7,
            reply_to=1,
            timestamp=1_767_225_600.5,
        ),
        "00 00 00 2f 01 03 03 00 00 27 03 04 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 01 "
        "00 06 47 48 46 27 e1 20 70 6c 63 63 61 6d 31 ff ff ff ff ff ff ff fe",
    ),
    (
        JsonSendData(
            {"on": True}, message_type=MessageType.COMMAND, sequence=2, timestamp=1_767_225_600.0
        ),
        "00 00 00 2b 01 01 04 00 00 20 00 00 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 00 "
        "00 06 47 48 46 20 40 00 7b 22 6f 6e 22 3a 74 72 75 65 7d",
    ),
]


@pytest.mark.parametrize(("sent", "expected"), WIRE_EXAMPLES)
def test_worked_examples_of_the_wire_format_document(
    sent: TypedSendData[Any], expected: str
) -> None:
    assert sent.to_frame().hex(" ") == expected
