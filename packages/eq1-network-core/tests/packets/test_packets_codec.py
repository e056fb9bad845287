"""The header's fast decoders give what the checked decoder gives, for any bytes."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eq1_network import BINARY_PACKAGE
from eq1_network.packets import (
    BinaryReceivedData,
    DataFormat,
    IntReceivedData,
    JsonReceivedData,
    MessageType,
    TextReceivedData,
    TypedReceivedData,
)
from eq1_network.packets.header import FIXED_HEADER, FIXED_HEADER_SIZE, decode_plain
from eq1_network.packets.reader import TypedStreamReader

SETTINGS = settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
CLASSES = (
    TypedReceivedData,
    TextReceivedData,
    BinaryReceivedData,
    IntReceivedData,
    JsonReceivedData,
)

_VALID_VALUES = {
    DataFormat.TEXT: st.text(max_size=8).map(str.encode),
    DataFormat.BINARY: st.binary(max_size=12),
    DataFormat.INT: st.integers(-(2**63), 2**63 - 1).map(
        lambda n: n.to_bytes(8, "big", signed=True)
    ),
    DataFormat.JSON: st.sampled_from([b"{}", b"[1, 2]", b'{"a": "b"}', b"[]"]),
}
_ANY_VALUE = st.one_of(st.binary(max_size=12), st.sampled_from([b"3", b"[", b"NaN", b"\xff"]))
_FLAWS = ("none", "none", "none", "version", "type", "format", "length", "length", "cut", "ids")


@st.composite
def _payloads(draw: st.DrawFn) -> bytes:
    """Headers that are mostly valid, or with one flaw: a field out of line, a cut."""
    flaw = draw(st.sampled_from(_FLAWS))
    data_format = draw(st.sampled_from(list(DataFormat)))
    ids = st.binary(max_size=6) if flaw == "ids" else st.text(max_size=6).map(str.encode)
    source, destination = draw(ids), draw(ids)
    extension = draw(st.sampled_from([b"", b"", b"x"]))
    value = draw(st.one_of(_VALID_VALUES[data_format], _ANY_VALUE))
    header_len = FIXED_HEADER_SIZE + len(source) + len(destination) + len(extension)
    if flaw == "length":
        shift = draw(st.sampled_from([-1, -2, -len(extension) - 1, 1, len(value) + 1]))
        header_len = max(0, header_len + draw(st.one_of(st.just(shift), st.integers(-40, 40))))
    payload = (
        FIXED_HEADER.pack(
            draw(st.integers(0, 255)) if flaw == "version" else 1,
            draw(st.integers(0, 255)) if flaw == "type" else draw(st.sampled_from(MessageType)),
            draw(st.integers(0, 255)) if flaw == "format" else data_format,
            draw(st.sampled_from([0, 0, 0, 1, 2, 4, 6, 0x80, 0xFF])),
            header_len,
            len(source),
            len(destination),
            draw(st.integers(0, 2**64 - 1)),
            draw(st.integers(0, 2**64 - 1)),
            draw(st.integers(-(2**63), 2**63 - 1)),
        )
        + source
        + destination
        + extension
        + value
    )
    return payload[: draw(st.integers(0, len(payload)))] if flaw == "cut" else payload


_any_payload = st.one_of(_payloads(), st.binary(max_size=80))


def _outcome(call: Any) -> tuple[str, Any]:
    """``("value", fields)`` or ``("error", exception class)``; see _fields."""
    try:
        result = call()
    except Exception as exc:
        return "error", type(exc)
    return "value", _fields(result)


def _fields(received: Any) -> Any:
    # Every slot and the class; the value by repr, since a JSON NaN is not equal to itself.
    if received is None:
        return None
    slots = [getattr(received, name) for name in TypedReceivedData.__slots__ if name != "value"]
    return type(received), repr(received.value), *slots


@SETTINGS
@given(data=_any_payload, cls=st.sampled_from(CLASSES))
def test_the_fast_path_equals_the_checked_path(data: bytes, cls: Any) -> None:
    fast = _outcome(lambda: decode_plain(data, cls._by_format))
    checked = _outcome(lambda: cls._from_bytes_checked(data))
    if fast == ("value", None):
        assert checked[0] == "error"  # the fast path leaves only refusals to the checks
    else:
        assert fast == checked
    assert _outcome(lambda: cls.from_bytes(data)) == checked


@SETTINGS
@given(
    payloads=st.lists(_any_payload.filter(bool), min_size=1, max_size=6),
    cls=st.sampled_from(CLASSES),
    cut=st.integers(0, 600),
)
def test_the_stream_reader_equals_from_bytes_payload_by_payload(
    payloads: list[bytes], cls: Any, cut: int
) -> None:
    stream = b"".join(struct.pack(">I", len(p)) + p for p in payloads)
    reader = TypedStreamReader(cls, BINARY_PACKAGE.stream())
    got: list[tuple[str, Any]] = []
    for chunk in (stream[:cut], stream[cut:]):
        for message in reader.feed(chunk, lambda p: got.append(("other", p))):
            got.append(("value", message))
    assert len(got) == len(payloads)
    for (kind, item), payload in zip(got, payloads, strict=True):
        if kind == "other":
            assert item == payload
        else:
            assert ("value", _fields(item)) == _outcome(lambda p=payload: cls.from_bytes(p))
