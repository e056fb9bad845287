"""The AT parser under arbitrary bytes and chunkings, and the cost of small chunks."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eq1_network.common.exceptions import PacketSizeError
from eq1_network.protocols.serial import at_parser
from eq1_network.protocols.serial.at_parser import (
    AtParser,
    Echo,
    FinalResult,
    InfoLine,
    NeedData,
    Prompt,
    Unsolicited,
)

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_TOKENS = [
    b"\r",
    b"\n",
    b"\r\n",
    b" ",
    b">",
    b"> ",
    b"OK",
    b"ERROR",
    b"+CME ERROR: ",
    b"+CMS ERROR:",
    "³".encode(),
    b"1" * 4400,
    b"42",
    b"CONNECT",
    b"NO CARRIER",
    b"RING",
    b'+CMTI: "SM",3',
    b"+CSQ: 20,99",
    b"AT+CSQ",
    b"\xff\xfe",
    b"\x00",
    b"x" * 50,
]

stream = st.one_of(
    st.binary(max_size=600),
    st.lists(st.sampled_from(_TOKENS) | st.binary(max_size=8), max_size=40).map(b"".join),
)

Outcome = tuple[str, object]


def _drain(parser: AtParser, out: list[Outcome]) -> None:
    """Take events until NEED_DATA; a PacketSizeError is an outcome, and the parser goes on."""
    while True:
        try:
            event = parser.next_event()
        except PacketSizeError:
            out.append(("PacketSizeError", None))
            continue
        if isinstance(event, NeedData):
            return
        out.append(("event", event))


def _run(parser: AtParser, chunks: list[bytes]) -> list[Outcome]:
    out: list[Outcome] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        _drain(parser, out)
    return out


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _parser(max_line: int, command: str | None, prompt: bool = False) -> AtParser:
    parser = AtParser(max_line=max_line)
    if command is not None:
        parser.start_command(command, expect_prompt=prompt)
    return parser


@SETTINGS
@given(
    data=stream,
    cuts=st.lists(st.integers(min_value=0), max_size=60),
    max_line=st.integers(min_value=1, max_value=80) | st.just(at_parser.DEFAULT_MAX_LINE),
    command=st.sampled_from([None, "AT", "AT+CSQ", "AT+CPIN?", "ATD123"]),
)
def test_any_chunking_gives_the_events_of_one_chunk(
    data: bytes, cuts: list[int], max_line: int, command: str | None
) -> None:
    whole = _run(_parser(max_line, command), [data])
    chunked = _run(_parser(max_line, command), _split(data, cuts))
    bytewise = _run(_parser(max_line, command), [data[i : i + 1] for i in range(len(data))])
    assert chunked == whole
    assert bytewise == whole
    for kind, event in whole:
        if kind == "event":
            assert isinstance(event, (Echo, InfoLine, Unsolicited, FinalResult))
            assert len(event.raw) <= max_line


@SETTINGS
@given(data=stream, cuts=st.lists(st.integers(min_value=0), max_size=60))
def test_prompts_never_raise_and_every_byte_is_accounted_for(data: bytes, cuts: list[int]) -> None:
    parser = _parser(at_parser.DEFAULT_MAX_LINE, 'AT+CMGS="+1"', prompt=True)
    out = _run(parser, _split(data, cuts))
    prompts = [e for kind, e in out if isinstance(e, Prompt)]
    assert len(prompts) <= 1
    assert all(p.raw in (b">", b"> ") for p in prompts)
    assert parser.buffered <= len(data)


@SETTINGS
@given(
    value=st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)
    | st.text(alphabet="0123456789", min_size=1, max_size=5000),
    status=st.sampled_from([b"+CME ERROR:", b"+CMS ERROR:"]),
)
def test_error_results_are_always_reported(value: str, status: bytes) -> None:
    line = status + b" " + value.encode()
    parser = _parser(1 << 20, "AT+CPIN?")
    out = _run(parser, [b"\r\n" + line + b"\r\n"])
    finals = [e for kind, e in out if isinstance(e, FinalResult)]
    assert len(out) == 1 and len(finals) == 1 and not parser.pending
    code = finals[0].error_code
    assert code is None or (0 <= code < 10**at_parser.MAX_ERROR_CODE_DIGITS)


def _count_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make every search for a line end add the bytes it covers to the returned counter."""
    scanned = [0]
    real: Callable[[bytearray, int], int] = at_parser._find_line_end

    def counting(buffer: bytearray, start: int) -> int:
        end = real(buffer, start)
        scanned[0] += (len(buffer) if end < 0 else end + 1) - start
        return end

    monkeypatch.setattr(at_parser, "_find_line_end", counting)
    return scanned


@pytest.mark.parametrize("size", [8 * 1024, 64 * 1024])
def test_an_unterminated_line_fed_bytewise_is_scanned_once(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    scanned = _count_scans(monkeypatch)
    parser = AtParser(max_line=size)
    parser.start_command("AT")
    for _ in range(size):
        parser.receive_data(b"x")
        assert isinstance(parser.next_event(), NeedData)
    parser.receive_data(b"\r\nOK\r\n")
    assert parser.next_event() == InfoLine("x" * size, b"x" * size)
    assert isinstance(parser.next_event(), FinalResult)
    # Every byte is looked at about once: the quadratic scan looked at size**2 / 2.
    assert scanned[0] <= size + 16


def test_the_line_cap_keeps_the_buffer_and_the_scanning_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanned = _count_scans(monkeypatch)
    parser = AtParser(max_line=1024)
    errors = 0
    size = 64 * 1024
    for _ in range(size):
        parser.receive_data(b"x")
        try:
            assert isinstance(parser.next_event(), NeedData)
        except PacketSizeError:
            errors += 1
        assert parser.buffered <= 1025
    assert errors == 1
    assert scanned[0] <= size + 16
