"""The sans-I/O AT parser, tested with byte fixtures alone."""

from __future__ import annotations

import pytest

from eq1_network.common.exceptions import PacketSizeError, ProtocolValidationError
from eq1_network.protocols.serial.at_parser import (
    NEED_DATA,
    AtEvent,
    AtParser,
    AtStatus,
    Echo,
    FinalResult,
    InfoLine,
    NeedData,
    Prompt,
    Unsolicited,
    classify_final,
    expected_prefixes,
)


def events(parser: AtParser) -> list[AtEvent]:
    out: list[AtEvent] = []
    while True:
        event = parser.next_event()
        if isinstance(event, NeedData):
            return out
        out.append(event)


def feed(parser: AtParser, data: bytes, *, bytewise: bool = False) -> list[AtEvent]:
    if not bytewise:
        parser.receive_data(data)
        return events(parser)
    out: list[AtEvent] = []
    for i in range(len(data)):
        parser.receive_data(data[i : i + 1])
        out += events(parser)
    return out


@pytest.mark.parametrize("bytewise", [False, True])
def test_information_lines_then_ok(bytewise: bool) -> None:
    parser = AtParser()
    parser.start_command("ATI")
    got = feed(parser, b"\r\nEQ1 Modem\r\nRevision: 1.0\r\n\r\nOK\r\n", bytewise=bytewise)
    assert got == [
        InfoLine("EQ1 Modem", b"EQ1 Modem"),
        InfoLine("Revision: 1.0", b"Revision: 1.0"),
        FinalResult(AtStatus.OK, "OK", b"OK"),
    ]
    assert not parser.pending and parser.buffered == 0


@pytest.mark.parametrize("bytewise", [False, True])
def test_unsolicited_codes_are_kept_out_of_the_response(bytewise: bool) -> None:
    parser = AtParser()
    parser.start_command("AT+CSQ")
    data = b'\r\n+CSQ: 20,99\r\n\r\nRING\r\n\r\n+CMTI: "SM",3\r\n\r\nOK\r\n'
    got = feed(parser, data, bytewise=bytewise)
    assert got == [
        InfoLine("+CSQ: 20,99", b"+CSQ: 20,99"),
        Unsolicited("RING", b"RING"),
        Unsolicited('+CMTI: "SM",3', b'+CMTI: "SM",3'),
        FinalResult(AtStatus.OK, "OK", b"OK"),
    ]


def test_a_prefix_the_command_asked_for_is_information_not_unsolicited() -> None:
    parser = AtParser()
    parser.start_command("AT+CREG?")
    got = feed(parser, b"\r\n+CREG: 0,1\r\n\r\nOK\r\n")
    assert got[0] == InfoLine("+CREG: 0,1", b"+CREG: 0,1")
    parser.start_command("AT+CSQ")
    got = feed(parser, b"\r\n+CREG: 1\r\n\r\n+CSQ: 9,0\r\n\r\nOK\r\n")
    assert got[:2] == [Unsolicited("+CREG: 1", b"+CREG: 1"), InfoLine("+CSQ: 9,0", b"+CSQ: 9,0")]


def test_every_line_is_unsolicited_while_idle() -> None:
    parser = AtParser()
    got = feed(parser, b"\r\nRING\r\n\r\nNO CARRIER\r\n\r\nOK\r\n")
    assert got == [
        Unsolicited("RING", b"RING"),
        Unsolicited("NO CARRIER", b"NO CARRIER"),
        Unsolicited("OK", b"OK"),
    ]


@pytest.mark.parametrize(
    ("line", "status", "value", "code"),
    [
        (b"OK", AtStatus.OK, None, None),
        (b"ERROR", AtStatus.ERROR, None, None),
        (b"+CME ERROR: 10", AtStatus.CME_ERROR, "10", 10),
        (b"+CME ERROR: SIM not inserted", AtStatus.CME_ERROR, "SIM not inserted", None),
        (b"+CMS ERROR: 321", AtStatus.CMS_ERROR, "321", 321),
        (b"NO CARRIER", AtStatus.NO_CARRIER, None, None),
        (b"BUSY", AtStatus.BUSY, None, None),
        (b"NO ANSWER", AtStatus.NO_ANSWER, None, None),
        (b"NO DIALTONE", AtStatus.NO_DIALTONE, None, None),
        (b"NO DIAL TONE", AtStatus.NO_DIALTONE, None, None),
        (b"CONNECT", AtStatus.CONNECT, None, None),
        (b"CONNECT 115200", AtStatus.CONNECT, "115200", None),
    ],
)
def test_final_result_codes(
    line: bytes, status: AtStatus, value: str | None, code: int | None
) -> None:
    parser = AtParser()
    parser.start_command("ATD123")
    [final] = feed(parser, b"\r\n" + line + b"\r\n")
    assert final == FinalResult(status, line.decode(), line, value, code)
    assert not parser.pending


@pytest.mark.parametrize("text", ["OKAY", "CONNECTED", "ERRORS", "+CME ERRORS", "BUSYNESS"])
def test_lookalikes_are_not_final(text: str) -> None:
    assert classify_final(text) is None


def test_echo_is_recognised_even_after_an_unsolicited_code() -> None:
    parser = AtParser()
    parser.start_command("AT+CSQ")
    got = feed(parser, b"RING\r\nAT+CSQ\r\r\n+CSQ: 1,2\r\n\r\nOK\r\n")
    assert got == [
        Unsolicited("RING", b"RING"),
        Echo("AT+CSQ", b"AT+CSQ"),
        InfoLine("+CSQ: 1,2", b"+CSQ: 1,2"),
        FinalResult(AtStatus.OK, "OK", b"OK"),
    ]


def test_a_line_equal_to_the_command_after_information_is_information() -> None:
    parser = AtParser()
    parser.start_command("ATI")
    got = feed(parser, b"\r\nfirst\r\nATI\r\nOK\r\n")
    assert got[1] == InfoLine("ATI", b"ATI")


@pytest.mark.parametrize("bytewise", [False, True])
def test_prompt_then_final(bytewise: bool) -> None:
    parser = AtParser()
    parser.start_command('AT+CMGS="+123"', expect_prompt=True)
    got = feed(parser, b"\r\n> ", bytewise=bytewise)
    assert got and isinstance(got[0], Prompt)
    got = feed(parser, b"\r\n+CMGS: 7\r\n\r\nOK\r\n", bytewise=bytewise)
    assert got == [InfoLine("+CMGS: 7", b"+CMGS: 7"), FinalResult(AtStatus.OK, "OK", b"OK")]


def test_greater_than_is_text_unless_a_prompt_is_expected() -> None:
    parser = AtParser()
    parser.start_command("AT+X")
    assert feed(parser, b"\r\n> quoted\r\nOK\r\n")[0] == InfoLine("> quoted", b"> quoted")


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 13, 14, 15, 100])
def test_raw_bytes_after_connect(chunk: int) -> None:
    body = bytes(range(10)) + b"\r\n\x1a\xff"
    stream = b"\r\nCONNECT 14\r\n" + body + b"\r\nOK\r\n"
    chunks = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
    parser = AtParser()
    parser.start_command("AT+READ=14")

    def pull(step: object) -> object:
        while True:
            got = step()  # type: ignore[operator]
            if not isinstance(got, NeedData):
                return got
            parser.receive_data(chunks.pop(0))

    assert pull(parser.next_event) == FinalResult(
        AtStatus.CONNECT, "CONNECT 14", b"CONNECT 14", "14"
    )
    assert pull(lambda: parser.take_raw(len(body))) == body
    parser.expect_result()
    assert pull(parser.next_event) == FinalResult(AtStatus.OK, "OK", b"OK")


def test_lone_cr_and_lone_lf_end_lines() -> None:
    parser = AtParser()
    parser.start_command("ATI")
    got = feed(parser, b"one\rtwo\nthree\r\n\rOK\n")
    assert [getattr(e, "text", None) for e in got] == ["one", "two", "three", "OK"]


def test_undecodable_bytes_are_replaced_and_raw_is_exact() -> None:
    parser = AtParser()
    parser.start_command("AT+COPS?")
    [info, _] = feed(parser, b'\r\n+COPS: 0,0,"\xff\xfeNet"\r\nOK\r\n')
    assert isinstance(info, InfoLine)
    assert info.raw == b'+COPS: 0,0,"\xff\xfeNet"'
    assert "\ufffd" in info.text


def test_overlong_line_raises_and_parser_recovers() -> None:
    parser = AtParser(max_line=16)
    parser.start_command("AT")
    parser.receive_data(b"x" * 17)
    with pytest.raises(PacketSizeError, match="max_line=16"):
        parser.next_event()
    assert parser.buffered == 0
    assert feed(parser, b"\r\nOK\r\n") == [FinalResult(AtStatus.OK, "OK", b"OK")]


def test_reset_drops_everything() -> None:
    parser = AtParser()
    parser.start_command("AT")
    parser.receive_data(b"\r\npartial")
    parser.reset()
    assert not parser.pending and parser.buffered == 0
    assert parser.next_event() is NEED_DATA
    assert repr(NEED_DATA) == "NEED_DATA" and NeedData() is NEED_DATA


@pytest.mark.parametrize(
    ("command", "prefixes"),
    [
        ("AT+CSQ", ("+CSQ:",)),
        ("at+creg?", ("+CREG:",)),
        ('AT+CMGS="+8210"', ("+CMGS:",)),
        ("AT+CSQ;+CREG?", ("+CSQ:", "+CREG:")),
        ("AT^SYSINFO", ("^SYSINFO:",)),
        ("ATI", ()),
        ("AT&F", ()),
        ("+CSQ", ("+CSQ:",)),
    ],
)
def test_expected_prefixes(command: str, prefixes: tuple[str, ...]) -> None:
    assert expected_prefixes(command) == prefixes


def test_custom_unsolicited_prefixes() -> None:
    parser = AtParser(urc_prefixes=("+QIURC:",))
    parser.start_command("AT")
    got = feed(parser, b'\r\n+QIURC: "closed",0\r\nRING\r\nOK\r\n')
    assert isinstance(got[0], Unsolicited) and isinstance(got[1], InfoLine)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_line": 0}, {"max_line": "1"}, {"max_line": True}, {"urc_prefixes": ("",)}],
)
def test_bad_parser_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ProtocolValidationError):
        AtParser(**kwargs)  # type: ignore[arg-type]


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(LookupError):
        AtParser(encoding="no-such-codec")


@pytest.mark.parametrize(
    "value",
    ["³", "1" * 4400, "1234567890", "١٢", "12a", "-5", "+7", "1 2"],
)
def test_an_error_value_that_is_no_short_ascii_number_keeps_the_final_result(
    value: str,
) -> None:
    parser = AtParser()
    parser.start_command("AT+CPIN?")
    line = f"+CME ERROR: {value}".encode()
    assert feed(parser, b"\r\n" + line + b"\r\n") == [
        FinalResult(AtStatus.CME_ERROR, line.decode(), line, value, None)
    ]
    assert not parser.pending
    assert feed(parser, b"\r\nRING\r\n") == [Unsolicited("RING", b"RING")]


@pytest.mark.parametrize("value", ["0", "007", "123456789"])
def test_numeric_error_codes_up_to_nine_digits(value: str) -> None:
    parser = AtParser()
    parser.start_command("AT+CMGS=1")
    [final] = feed(parser, f"+CMS ERROR: {value}\r\n".encode())
    assert isinstance(final, FinalResult) and final.error_code == int(value)


def test_a_line_of_exactly_max_line_bytes_is_kept() -> None:
    for bytewise in (False, True):
        parser = AtParser(max_line=16)
        parser.start_command("AT")
        got = feed(parser, b"y" * 16 + b"\r\nOK\r\n", bytewise=bytewise)
        assert got == [InfoLine("y" * 16, b"y" * 16), FinalResult(AtStatus.OK, "OK", b"OK")]


def test_overlong_line_with_its_end_already_received_raises_once_then_goes_on() -> None:
    parser = AtParser(max_line=16)
    parser.start_command("AT")
    parser.receive_data(b"first\r\n" + b"x" * 17 + b"\r\nOK\r\n")
    assert parser.next_event() == InfoLine("first", b"first")
    with pytest.raises(PacketSizeError, match="17 bytes is longer than max_line=16"):
        parser.next_event()
    assert events(parser) == [FinalResult(AtStatus.OK, "OK", b"OK")]


def test_the_tail_of_an_overlong_line_fed_bytewise_is_skipped_not_reported() -> None:
    parser = AtParser(max_line=16)
    parser.start_command("AT")
    errors = 0
    got: list[AtEvent] = []
    for byte in b"x" * 40 + b"tail\r\nOK\r\n":
        parser.receive_data(bytes([byte]))
        try:
            got += events(parser)
        except PacketSizeError:
            errors += 1
        assert parser.buffered <= 17
    assert errors == 1
    assert got == [FinalResult(AtStatus.OK, "OK", b"OK")]


def test_reset_ends_skipping_an_overlong_line() -> None:
    parser = AtParser(max_line=4)
    parser.receive_data(b"xxxxxx")
    with pytest.raises(PacketSizeError):
        parser.next_event()
    parser.reset()
    assert feed(parser, b"RING\r\n") == [Unsolicited("RING", b"RING")]
