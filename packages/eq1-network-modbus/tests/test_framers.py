"""The MBAP, RTU and ASCII framers: spec vectors, round trips, fragmentation, noise, limits."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolValidationError
from eq1_network.protocols.modbus.framers import (
    ASCIIFramer,
    Frame,
    MBAPFramer,
    RTUFramer,
    Side,
    crc16,
    lrc,
)

Framer = MBAPFramer | RTUFramer | ASCIIFramer

LIMITS = {"mbap": 260, "rtu": 256, "ascii": 513}
# Derandomized: random RTU bytes hold a false CRC match about once per 65536 positions, so
# a random draw could, rarely, build an ambiguous stream; fixed examples keep CI stable.
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _crc_bitwise(data: bytes) -> int:
    """CRC-16/MODBUS computed bit by bit, independent of the framer's table."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _make(kind: str, side: str = "client") -> Framer:
    if kind == "mbap":
        return MBAPFramer()
    if kind == "rtu":
        return RTUFramer(side=side)  # type: ignore[arg-type]
    return ASCIIFramer(side=side)  # type: ignore[arg-type]


def _feed_chunks(framer: Framer, stream: bytes, cuts: Sequence[int], limit: int) -> list[Frame]:
    """Feed ``stream`` cut at ``cuts``, checking the buffer bound after every chunk."""
    frames: list[Frame] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(stream)]:
        if not start < cut <= len(stream):
            continue
        frames.extend(framer.feed(stream[start:cut]))
        assert framer.pending() <= limit
        start = cut
    return frames


# --- PDUs that are structurally valid for each side (the RTU framer needs it) -------------


def _fixed(fc: int, size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size).map(lambda data: bytes((fc,)) + data)


def _counted(fc: int, head: int, most: int) -> st.SearchStrategy[bytes]:
    """``fc``, ``head`` bytes, a byte count, then that many bytes."""
    return st.tuples(st.binary(min_size=head, max_size=head), st.binary(max_size=most)).map(
        lambda parts: bytes((fc,)) + parts[0] + bytes((len(parts[1]),)) + parts[1]
    )


def _device_id_response() -> st.SearchStrategy[bytes]:
    objects = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40)), max_size=5)

    def build(args: tuple[bytes, list[tuple[int, bytes]]]) -> bytes:
        head, objs = args
        body = b"".join(bytes((oid, len(value))) + value for oid, value in objs)
        return bytes((0x2B, 0x0E)) + head + bytes((len(objs),)) + body

    return st.tuples(st.binary(min_size=4, max_size=4), objects).map(build)


REQUEST_PDUS = st.one_of(
    *(_fixed(fc, 4) for fc in (1, 2, 3, 4, 5, 6)),
    _fixed(0x07, 0),
    _fixed(0x11, 0),
    _counted(0x0F, 4, 247),
    _counted(0x10, 4, 247),
    _fixed(0x16, 6),
    _counted(0x17, 8, 243),
    st.binary(min_size=3, max_size=3).map(lambda data: b"\x2b" + data),
)
RESPONSE_PDUS = st.one_of(
    *(_counted(fc, 0, 251) for fc in (1, 2, 3, 4, 0x11, 0x17)),
    *(_fixed(fc, 4) for fc in (5, 6, 0x0F, 0x10)),
    _fixed(0x07, 1),
    _fixed(0x16, 6),
    st.tuples(st.integers(0x81, 0xFF), st.integers(0, 255)).map(bytes),
    _device_id_response(),
)
# Function codes whose length only the CRC tells (diagnostics, vendor codes).
UNKNOWN_LENGTH_PDUS = st.tuples(
    st.sampled_from([0x08, 0x41, 0x64, 0x6E]), st.binary(min_size=1, max_size=60)
).map(lambda parts: bytes((parts[0],)) + parts[1])
ANY_PDUS = st.binary(min_size=1, max_size=253)
UNITS = st.integers(0, 255)
TIDS = st.integers(0, 0xFFFF)


def _spec_rtu_length(buf: bytes, pos: int, side: str) -> int | None:
    """Frame length at ``pos`` by the specification; -1 when only a CRC tells; None: cut off."""
    n = len(buf) - pos

    def at(i: int) -> int | None:
        return buf[pos + i] if i < n else None

    fc = at(1)
    if fc is None:
        return None
    if side == "client":
        if fc & 0x80:
            return 5
        if fc in (1, 2, 3, 4, 0x11, 0x17):
            count = at(2)
            return None if count is None else 5 + count
        fixed = {5: 8, 6: 8, 0x0F: 8, 0x10: 8, 7: 5, 0x16: 10}
        if fc in fixed:
            return fixed[fc]
        if fc == 0x2B:
            if at(2) is None:
                return None
            if at(2) != 0x0E:
                return -1
            objects = at(7)
            if objects is None:
                return None
            offset = 8
            for _ in range(objects):
                size = at(offset + 1)
                if size is None or offset > 256:
                    return None
                offset += 2 + size
            return offset + 2
        return -1
    fixed = {1: 8, 2: 8, 3: 8, 4: 8, 5: 8, 6: 8, 7: 4, 0x11: 4, 0x16: 10, 0x2B: 7}
    if fc in fixed:
        return fixed[fc]
    if fc in (0x0F, 0x10):
        count = at(6)
        return None if count is None else 9 + count
    if fc == 0x17:
        count = at(10)
        return None if count is None else 13 + count
    return -1


def _crc_matches(buf: bytes, pos: int, length: int) -> bool:
    if not 4 <= length <= 256 or pos + length > len(buf):
        return False
    body = buf[pos : pos + length - 2]
    return _crc_bitwise(body) == int.from_bytes(buf[pos + length - 2 : pos + length], "little")


def _rtu_ambiguous(buf: bytes, frames: Sequence[tuple[int, int]], side: str) -> bool:
    """Whether any byte other than a good frame's start could be read as a valid frame.

    ``frames`` are the (start, length) of the good frames; every other byte is noise
    the framer walks through one at a time, where a CRC could match by chance (one
    in 65536 per window). Inside good frames only windows of a length known from
    the function code matter (the look-ahead resynchronisation uses only those).
    """
    starts = {start for start, _ in frames}
    inside = {p for start, length in frames for p in range(start + 1, start + length)}
    for start, span in frames:
        if _spec_rtu_length(buf, start, side) == -1 and any(
            _crc_matches(buf, start, size) for size in range(4, span)
        ):
            return True
    for pos in range(len(buf)):
        if pos in starts:
            continue
        length = _spec_rtu_length(buf, pos, side)
        if length is None:
            continue
        if length >= 0:
            if _crc_matches(buf, pos, length):
                return True
        elif pos not in inside and any(
            _crc_matches(buf, pos, size) for size in range(4, min(256, len(buf) - pos) + 1)
        ):
            return True
    return False


# --- spec vectors ----------------------------------------------------------------------------


def test_crc16_spec_vector() -> None:
    assert crc16(bytes.fromhex("01 03 00 00 00 0A")) == 0xCDC5
    frame = RTUFramer(side="client").encode(1, bytes.fromhex("03 00 00 00 0A"))
    assert frame == bytes.fromhex("01 03 00 00 00 0A C5 CD")


def test_rtu_spec_example_read_holding_registers() -> None:
    # Modbus over serial line V1.02, read 3 registers from 0x006B of unit 0x11.
    frame = RTUFramer(side="server").encode(0x11, bytes.fromhex("03 00 6B 00 03"))
    assert frame == bytes.fromhex("11 03 00 6B 00 03 76 87")


@given(st.binary(max_size=300))
@SETTINGS
def test_crc16_agrees_with_a_bitwise_crc(data: bytes) -> None:
    assert crc16(data) == _crc_bitwise(data)


def test_ascii_spec_vectors() -> None:
    framer = ASCIIFramer(side="server")
    assert framer.encode(1, bytes.fromhex("03 00 00 00 0A")) == b":01030000000AF2\r\n"
    assert framer.encode(0x11, bytes.fromhex("03 00 6B 00 03")) == b":1103006B00037E\r\n"
    assert lrc(bytes.fromhex("01 03 00 00 00 0A")) == 0xF2
    assert framer.feed(b":01030000000AF2\r\n") == [Frame(1, bytes.fromhex("03 00 00 00 0A"))]
    # Lower-case hex digits are accepted too.
    assert framer.feed(b":01030000000af2\r\n") == [Frame(1, bytes.fromhex("03 00 00 00 0A"))]


def test_mbap_header_layout() -> None:
    # Modbus messaging on TCP/IP guide: transaction 1, protocol 0, length 6, unit 0x11.
    frame = MBAPFramer().encode(0x11, bytes.fromhex("03 00 6B 00 03"), transaction_id=1)
    assert frame == bytes.fromhex("00 01 00 00 00 06 11 03 00 6B 00 03")
    tid, protocol, length, unit = struct.unpack(">HHHB", frame[:7])
    assert (tid, protocol, length, unit) == (1, 0, 6, 0x11)
    assert MBAPFramer().feed(frame) == [Frame(0x11, frame[7:], 1)]


@pytest.mark.parametrize("kind", ["mbap", "rtu", "ascii"])
def test_encode_rejects_bad_arguments(kind: str) -> None:
    framer = _make(kind)
    with pytest.raises(ProtocolArgumentError, match="unit"):
        framer.encode(256, b"\x03")
    with pytest.raises(ProtocolArgumentError, match="unit"):
        framer.encode(-1, b"\x03")
    with pytest.raises(ProtocolArgumentError, match="pdu"):
        framer.encode(1, b"")
    with pytest.raises(ProtocolArgumentError, match="pdu"):
        framer.encode(1, bytes(254))
    assert issubclass(ProtocolArgumentError, ProtocolValidationError)


def test_mbap_rejects_bad_transaction_id() -> None:
    with pytest.raises(ProtocolArgumentError, match="transaction_id"):
        MBAPFramer().encode(1, b"\x03", transaction_id=0x10000)


@pytest.mark.parametrize("framer", [RTUFramer, ASCIIFramer])
def test_side_is_checked(framer: type[RTUFramer] | type[ASCIIFramer]) -> None:
    with pytest.raises(ProtocolArgumentError, match="side"):
        framer(side="master")  # type: ignore[arg-type]


# --- round trips with fragmentation -------------------------------------------------------


def _cases() -> list[tuple[str, str, st.SearchStrategy[bytes]]]:
    return [
        ("mbap", "client", ANY_PDUS),
        ("ascii", "client", ANY_PDUS),
        ("ascii", "server", ANY_PDUS),
        ("rtu", "client", RESPONSE_PDUS),
        ("rtu", "server", REQUEST_PDUS),
    ]


def _assume_unambiguous(
    kind: str, side: str, stream: bytes, messages: list[tuple[int, bytes, int]]
) -> None:
    """Skip RTU streams where a frame's data holds another valid frame by chance.

    Without a hint of the awaited answer, such a frame inside a partial one is
    taken for the answer behind a garbled start (see the awaited-answer test below).
    """
    if kind != "rtu":
        return
    spans, pos = [], 0
    for _, pdu, _ in messages:
        spans.append((pos, len(pdu) + 3))
        pos += len(pdu) + 3
    assume(not _rtu_ambiguous(stream, spans, side))


@pytest.mark.parametrize(("kind", "side", "pdus"), _cases())
@given(data=st.data())
@SETTINGS
def test_round_trip_in_random_fragments(
    kind: str, side: str, pdus: st.SearchStrategy[bytes], data: st.DataObject
) -> None:
    messages = data.draw(st.lists(st.tuples(UNITS, pdus, TIDS), min_size=1, max_size=4))
    framer = _make(kind, side)
    expected = [Frame(unit, pdu, tid if kind == "mbap" else 0) for unit, pdu, tid in messages]
    stream = b"".join(framer.encode(unit, pdu, tid) for unit, pdu, tid in messages)
    _assume_unambiguous(kind, side, stream, messages)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=12))
    assert _feed_chunks(framer, stream, cuts, LIMITS[kind]) == expected
    assert framer.pending() == 0
    assert framer.dropped == 0


@pytest.mark.parametrize(("kind", "side", "pdus"), _cases())
@given(data=st.data())
@settings(max_examples=60, deadline=None, derandomize=True)
def test_round_trip_one_byte_at_a_time(
    kind: str, side: str, pdus: st.SearchStrategy[bytes], data: st.DataObject
) -> None:
    messages = data.draw(st.lists(st.tuples(UNITS, pdus, TIDS), min_size=1, max_size=3))
    framer = _make(kind, side)
    stream = b"".join(framer.encode(unit, pdu, tid) for unit, pdu, tid in messages)
    _assume_unambiguous(kind, side, stream, messages)
    frames = _feed_chunks(framer, stream, range(1, len(stream)), LIMITS[kind])
    assert frames == [Frame(u, p, t if kind == "mbap" else 0) for u, p, t in messages]
    assert framer.dropped == 0


@pytest.mark.parametrize("side", ["client", "server"])
@given(unit=UNITS, pdu=UNKNOWN_LENGTH_PDUS, data=st.data())
@SETTINGS
def test_rtu_frames_of_unknown_length_found_by_crc(
    side: str, unit: int, pdu: bytes, data: st.DataObject
) -> None:
    framer = RTUFramer(side=side)  # type: ignore[arg-type]
    frame = framer.encode(unit, pdu)
    assume(not any(_crc_matches(frame, 0, size) for size in range(4, len(frame))))
    if side == "client":  # a client always names the request it awaits an answer to
        framer.expect_answer_to(pdu)
    cuts = data.draw(st.lists(st.integers(1, len(frame) - 1), max_size=6))
    assert _feed_chunks(framer, frame, cuts, 256) == [Frame(unit, pdu)]


@pytest.mark.parametrize("side", ["client", "server"])
def test_rtu_largest_frames(side: str) -> None:
    framer = RTUFramer(side=side)  # type: ignore[arg-type]
    if side == "client":
        pdu = b"\x03\xfb" + bytes(range(251))
    else:
        pdu = b"\x0f\x00\x00\x07\xb8\xf7" + bytes(range(247))
    frame = framer.encode(7, pdu)
    assert len(frame) == 256
    assert _feed_chunks(framer, frame, range(1, len(frame)), 256) == [Frame(7, pdu)]


# --- noise ------------------------------------------------------------------------------------

MBAP_NOISE = st.binary(max_size=20).map(lambda data: bytes(b or 1 for b in data))
ASCII_NOISE = st.binary(max_size=40).map(lambda data: data.replace(b"\n", b"?"))
RTU_NOISE = st.binary(max_size=12)


def _interleave(
    framer: Framer, messages: list[tuple[int, bytes, int]], noises: list[bytes]
) -> tuple[bytes, list[tuple[int, int]]]:
    """Noise, frame, noise, frame, ..., noise; also the (start, length) of each frame."""
    stream = b""
    spans = []
    for (unit, pdu, tid), noise in zip(messages, noises[:-1], strict=True):
        stream += noise
        frame = framer.encode(unit, pdu, tid)
        spans.append((len(stream), len(frame)))
        stream += frame
    return stream + noises[-1], spans


@pytest.mark.parametrize(
    ("kind", "side", "pdus", "noise"),
    [
        ("mbap", "client", ANY_PDUS, MBAP_NOISE),
        ("ascii", "client", ANY_PDUS, ASCII_NOISE),
        ("rtu", "client", RESPONSE_PDUS, RTU_NOISE),
        ("rtu", "server", REQUEST_PDUS, RTU_NOISE),
    ],
)
@given(data=st.data())
@SETTINGS
def test_noise_between_frames_is_dropped_and_counted(
    kind: str,
    side: str,
    pdus: st.SearchStrategy[bytes],
    noise: st.SearchStrategy[bytes],
    data: st.DataObject,
) -> None:
    messages = data.draw(st.lists(st.tuples(UNITS, pdus, TIDS), min_size=1, max_size=4))
    noises = data.draw(st.lists(noise, min_size=len(messages) + 1, max_size=len(messages) + 1))
    framer = _make(kind, side)
    stream, spans = _interleave(framer, messages, noises)
    if kind == "rtu":
        assume(not _rtu_ambiguous(stream, spans, side))
    cuts = data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=12))
    frames = _feed_chunks(framer, stream, cuts, LIMITS[kind])
    assert frames == [Frame(u, p, t if kind == "mbap" else 0) for u, p, t in messages]
    # Every noise byte is either dropped or still waiting (trailing noise).
    assert framer.dropped + framer.pending() == sum(map(len, noises))
    assert framer.pending() <= len(noises[-1])


@pytest.mark.parametrize("side", ["client", "server"])
@given(data=st.data())
@SETTINGS
def test_rtu_bad_crc_dropped_and_next_frame_found(side: str, data: st.DataObject) -> None:
    pdus = RESPONSE_PDUS if side == "client" else REQUEST_PDUS
    framer = RTUFramer(side=side)  # type: ignore[arg-type]
    bad_unit, bad_pdu = data.draw(UNITS), data.draw(pdus)
    bad = bytearray(framer.encode(bad_unit, bad_pdu))
    bad[data.draw(st.sampled_from([-1, -2]))] ^= data.draw(st.integers(1, 255))
    messages = data.draw(st.lists(st.tuples(UNITS, pdus), min_size=1, max_size=3))
    good = [framer.encode(unit, pdu) for unit, pdu in messages]
    stream = bytes(bad) + b"".join(good)
    spans, pos = [], len(bad)
    for frame in good:
        spans.append((pos, len(frame)))
        pos += len(frame)
    assume(not _rtu_ambiguous(stream, spans, side))
    cuts = data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=10))
    frames = _feed_chunks(framer, stream, cuts, 256)
    assert frames == [Frame(unit, pdu) for unit, pdu in messages]
    assert framer.dropped == len(bad)
    assert framer.pending() == 0


@pytest.mark.parametrize("side", ["client", "server"])
@given(data=st.data())
@SETTINGS
def test_rtu_noise_inside_a_frame_loses_only_that_frame(side: str, data: st.DataObject) -> None:
    pdus = RESPONSE_PDUS if side == "client" else REQUEST_PDUS
    framer = RTUFramer(side=side)  # type: ignore[arg-type]
    hit = framer.encode(data.draw(UNITS), data.draw(pdus))
    at = data.draw(st.integers(1, len(hit) - 1))
    bad = hit[:at] + data.draw(st.binary(min_size=1, max_size=4)) + hit[at:]
    messages = data.draw(st.lists(st.tuples(UNITS, pdus), min_size=1, max_size=3))
    good = [framer.encode(unit, pdu) for unit, pdu in messages]
    stream = bad + b"".join(good)
    spans, pos = [], len(bad)
    for frame in good:
        spans.append((pos, len(frame)))
        pos += len(frame)
    assume(not _rtu_ambiguous(stream, spans, side))
    cuts = data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=10))
    frames = _feed_chunks(framer, stream, cuts, 256)
    assert frames == [Frame(unit, pdu) for unit, pdu in messages]
    assert framer.dropped == len(bad)


@given(data=st.data())
@SETTINGS
def test_ascii_bad_lrc_or_digit_dropped_and_next_frame_found(data: st.DataObject) -> None:
    framer = ASCIIFramer(side="client")
    bad = bytearray(framer.encode(data.draw(UNITS), data.draw(ANY_PDUS)))
    index = data.draw(st.integers(1, len(bad) - 3))
    replacement = data.draw(st.sampled_from(b"0123456789ABCDEFG\x00\x7f"))
    assume(bad[index] != replacement)
    bad[index] = replacement
    messages = data.draw(st.lists(st.tuples(UNITS, ANY_PDUS), min_size=1, max_size=3))
    stream = bytes(bad) + b"".join(framer.encode(unit, pdu) for unit, pdu in messages)
    cuts = data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=10))
    frames = _feed_chunks(framer, stream, cuts, 513)
    assert frames == [Frame(unit, pdu) for unit, pdu in messages]
    assert framer.dropped == len(bad)


def test_ascii_colon_restarts_a_frame() -> None:
    framer = ASCIIFramer(side="server")
    good = framer.encode(1, b"\x03\x00\x00\x00\x01")
    assert framer.feed(b":0103" + good) == [Frame(1, b"\x03\x00\x00\x00\x01")]
    assert framer.dropped == 5


@pytest.mark.parametrize("header", ["0001 0001 0006 11", "0001 0000 0000 ff", "0001 0000 0100 11"])
def test_mbap_bad_header_dropped_and_next_frame_found(header: str) -> None:
    framer = MBAPFramer()
    good = framer.encode(5, b"\x03\x00\x01\x00\x02", transaction_id=9)
    bad = bytes.fromhex(header) + b"\xff" * 5
    frames = _feed_chunks(framer, bad + good, range(1, len(bad + good)), 260)
    assert frames == [Frame(5, b"\x03\x00\x01\x00\x02", 9)]
    assert framer.dropped == len(bad)


# --- frames longer than the limit -------------------------------------------------------------


def test_mbap_oversized_frame_never_grows_the_buffer() -> None:
    framer = MBAPFramer()
    too_long = struct.pack(">HHHB", 1, 0, 300, 1) + b"\x03" + b"\xff" * 298
    good = framer.encode(1, b"\x04\x00\x00\x00\x01", transaction_id=2)
    frames = _feed_chunks(framer, too_long + good, range(1, len(too_long) + 30, 7), 260)
    assert frames == [Frame(1, b"\x04\x00\x00\x00\x01", 2)]
    assert framer.dropped == len(too_long)


def test_mbap_partial_frame_is_bounded_by_the_largest_frame() -> None:
    framer = MBAPFramer()
    header = struct.pack(">HHHB", 1, 0, 254, 1)
    assert framer.feed(header + bytes(252)) == []
    assert framer.pending() == 259
    assert framer.feed(b"\x00" + b"\xff" * 40) == [Frame(1, bytes(253), 1)]
    assert framer.pending() <= 260


@pytest.mark.parametrize("side", ["client", "server"])
def test_rtu_oversized_frame_never_grows_the_buffer(side: str) -> None:
    framer = RTUFramer(side=side)  # type: ignore[arg-type]
    # A byte count that makes the frame 257+ bytes long, then more bytes than any frame.
    head = b"\x01\x03\xfc" if side == "client" else b"\x01\x10\x00\x00\x00\x7d\xfa"
    too_long = head + b"\xaa" * 400
    good = framer.encode(1, b"\x06\x00\x01\x00\x02")
    frames = _feed_chunks(framer, too_long + good, range(1, len(too_long) + len(good)), 256)
    assert frames == [Frame(1, b"\x06\x00\x01\x00\x02")]
    assert framer.dropped == len(too_long)


@given(garbage=st.binary(min_size=300, max_size=1200), step=st.integers(1, 300))
@settings(max_examples=100, deadline=None, derandomize=True)
def test_rtu_garbage_never_grows_the_buffer(garbage: bytes, step: int) -> None:
    sides: tuple[Side, ...] = ("client", "server")
    for side in sides:
        framer = RTUFramer(side=side)
        _feed_chunks(framer, garbage, range(step, len(garbage), step), 256)


def test_ascii_unterminated_frame_never_grows_the_buffer() -> None:
    framer = ASCIIFramer(side="client")
    good = framer.encode(1, b"\x03\x02\x00\x01")
    frames = _feed_chunks(framer, b":" + b"A" * 1000 + good, range(1, 1100, 13), 513)
    assert frames == [Frame(1, b"\x03\x02\x00\x01")]
    assert framer.dropped == 1001


def test_ascii_too_long_frame_is_dropped() -> None:
    framer = ASCIIFramer(side="client")
    body = bytes(255)
    text = b":" + body.hex().encode() + b"%02X\r\n" % lrc(body)
    assert framer.feed(text) == []
    assert framer.dropped == len(text)


# --- partial frames after a silence, reset -----------------------------------------------------


@pytest.mark.parametrize("kind", ["rtu", "ascii"])
def test_discard_partial_counts_and_forgets(kind: str) -> None:
    framer = _make(kind, "server")
    assert isinstance(framer, (RTUFramer, ASCIIFramer))
    frame = framer.encode(3, b"\x03\x00\x00\x00\x02")
    assert framer.feed(frame[:5]) == []
    assert framer.discard_partial() == 5
    assert framer.pending() == 0
    assert framer.dropped == 5
    assert framer.feed(frame) == [Frame(3, b"\x03\x00\x00\x00\x02")]


@pytest.mark.parametrize("kind", ["mbap", "rtu", "ascii"])
def test_reset_forgets_without_counting(kind: str) -> None:
    framer = _make(kind, "server")
    frame = framer.encode(3, b"\x03\x00\x00\x00\x02", 4)
    framer.feed(frame[:5])
    framer.reset()
    assert framer.pending() == 0
    assert framer.dropped == 0
    assert framer.feed(frame) == [Frame(3, b"\x03\x00\x00\x00\x02", 4 if kind == "mbap" else 0)]


def test_rtu_garbled_head_does_not_hold_back_a_complete_frame() -> None:
    framer = RTUFramer(side="client")
    good = framer.encode(1, b"\x03\x02\x00\x07")
    # 0x01 0x03 0x40: the start of a 69-byte answer that never comes.
    assert framer.feed(b"\x01\x03\x40" + good) == [Frame(1, b"\x03\x02\x00\x07")]
    assert framer.dropped == 3


@pytest.mark.parametrize("step", [1, 3, 7])
def test_rtu_answer_with_a_frame_inside_its_data_is_not_cut(step: int) -> None:
    # Register data that happens to hold a whole valid RTU frame (an FC06 echo).
    framer = RTUFramer(side="client")
    inner = framer.encode(1, b"\x06\x00\x01\x00\x03")
    request = b"\x03\x00\x00\x00\x06"
    answer = b"\x03\x0c" + b"\x00\x00" + inner + b"\x00\x00"
    adu = framer.encode(1, answer)
    framer.expect_answer_to(request)
    frames = _feed_chunks(framer, adu, range(step, len(adu), step), 256)
    assert frames == [Frame(1, answer)]
    assert framer.dropped == 0


def test_rtu_garbage_before_the_awaited_answer_is_still_skipped() -> None:
    framer = RTUFramer(side="client")
    framer.expect_answer_to(b"\x03\x00\x00\x00\x01")
    good = framer.encode(1, b"\x03\x02\x00\x07")
    # 0x00 0x01 0x40: the start of a 69-byte FC01 answer that never comes.
    frames = _feed_chunks(framer, b"\x00\x01\x40" + good, range(1, 3 + len(good)), 256)
    assert frames == [Frame(1, b"\x03\x02\x00\x07")]
    assert framer.dropped == 3


@given(unit=UNITS, answer=RESPONSE_PDUS, data=st.data())
@SETTINGS
def test_rtu_awaited_answer_in_random_fragments_is_never_cut(
    unit: int, answer: bytes, data: st.DataObject
) -> None:
    framer = RTUFramer(side="client")
    framer.expect_answer_to(bytes((answer[0] & 0x7F,)) + b"\x00\x00\x00\x01")
    adu = framer.encode(unit, answer)
    cuts = data.draw(st.lists(st.integers(1, len(adu) - 1), max_size=40))
    assert _feed_chunks(framer, adu, cuts, 256) == [Frame(unit, answer)]
    assert framer.dropped == 0
