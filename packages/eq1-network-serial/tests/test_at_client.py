"""AtClient over the in-process loopback pair: the far end is a scripted modem in a thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from eq1_network.common.exceptions import (
    PacketSizeError,
    ProtocolTimeoutError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.protocols.loopback.reqres import LoopbackProtocol
from eq1_network.protocols.serial.at import AtClient, AtResponse
from eq1_network.protocols.serial.at_parser import AtStatus, Unsolicited
from eq1_network.testing import read_exactly

TIMEOUT = 20.0


class ScriptedModem:
    """Answers each CR-terminated command line with the bytes the script maps it to."""

    def __init__(self, end: LoopbackProtocol, script: dict[bytes, bytes]) -> None:
        self.end = end
        self.script = script
        self.seen: list[bytes] = []
        self._stop = threading.Event()
        self._buffer = bytearray()
        self._thread = threading.Thread(target=self._run, name="scripted-modem", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)

    def _run(self) -> None:
        while not self._stop.is_set():
            ok, data = self.end.read()
            if not ok or not data:
                self.end.wait_readable(0.2)
                continue
            self._buffer += data
            while b"\r" in self._buffer:
                line, _, rest = bytes(self._buffer).partition(b"\r")
                self._buffer = bytearray(rest)
                self.seen.append(line)
                reply = self.script.get(line)
                if reply:
                    self.end.send(reply)


@pytest.fixture
def link() -> Iterator[tuple[LoopbackProtocol, LoopbackProtocol]]:
    near, far = LoopbackProtocol.pair(timeout=TIMEOUT)
    near.connect()
    far.connect()
    yield near, far
    near.disconnect()
    far.disconnect()


@pytest.fixture
def scripted(
    link: tuple[LoopbackProtocol, LoopbackProtocol],
) -> Iterator[Callable[[dict[bytes, bytes]], ScriptedModem]]:
    modems: list[ScriptedModem] = []

    def make(script: dict[bytes, bytes]) -> ScriptedModem:
        modem = ScriptedModem(link[1], script)
        modem.start()
        modems.append(modem)
        return modem

    yield make
    for modem in modems:
        modem.stop()


def test_command_sends_the_line_and_returns_a_structured_response(
    link: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    near, far = link
    client = AtClient(near, timeout=TIMEOUT)
    result: list[AtResponse] = []
    worker = threading.Thread(target=lambda: result.append(client.command("AT+CSQ")))
    worker.start()
    assert read_exactly(far, 7, TIMEOUT) == b"AT+CSQ\r"
    far.send(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    worker.join(TIMEOUT)
    [response] = result
    assert response == AtResponse(
        command="AT+CSQ",
        status=AtStatus.OK,
        result="OK",
        lines=("+CSQ: 20,99",),
        raw_lines=(b"+CSQ: 20,99",),
    )
    assert response.ok and response.values("+CSQ") == ["20,99"]
    assert response.values("+CSQ:") == ["20,99"] and response.values("+CREG") == []


def test_error_results_are_returned_not_raised(
    scripted: Callable[..., ScriptedModem], link: tuple[LoopbackProtocol, LoopbackProtocol]
) -> None:
    scripted({b"AT+CPIN?": b"\r\n+CME ERROR: 10\r\n", b"AT+X": b"\r\nERROR\r\n"})
    client = AtClient(link[0], timeout=TIMEOUT)
    cme = client.command("AT+CPIN?")
    assert (cme.ok, cme.status, cme.error_code, cme.value) == (False, AtStatus.CME_ERROR, 10, "10")
    assert client.command(b"AT+X").status is AtStatus.ERROR


def test_timeout_names_the_command_and_the_lines_so_far(
    link: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    near, far = link
    client = AtClient(near)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            client.command("AT+HALF", timeout=3.0)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert read_exactly(far, 8, TIMEOUT) == b"AT+HALF\r"
    far.send(b"\r\n+HALF: 1\r\n")  # an information line, but no final result code
    worker.join(TIMEOUT)
    [error] = outcome
    assert isinstance(error, ProtocolTimeoutError)
    assert "'AT+HALF'" in str(error) and "['+HALF: 1']" in str(error)


def test_late_reply_of_a_timed_out_command_is_not_taken_for_the_next(
    scripted: Callable[..., ScriptedModem], link: tuple[LoopbackProtocol, LoopbackProtocol]
) -> None:
    modem = scripted({b"AT+B": b"\r\n+B: 2\r\n\r\nOK\r\n"})
    urcs: list[Unsolicited] = []
    client = AtClient(link[0], on_urc=urcs.append, timeout=TIMEOUT)
    with pytest.raises(ProtocolTimeoutError):
        client.command("AT+A", timeout=0.2)
    link[1].send(b"\r\n+A: late\r\n\r\nOK\r\n\r\nRING\r\n")
    response = client.command("AT+B")
    assert response.lines == ("+B: 2",)
    assert [u.text for u in urcs] == ["RING"]
    assert modem.seen == [b"AT+A", b"AT+B"]


def test_an_overlong_line_fails_its_command_and_the_next_commands_stay_in_step(
    scripted: Callable[..., ScriptedModem], link: tuple[LoopbackProtocol, LoopbackProtocol]
) -> None:
    modem = scripted(
        {
            b"AT+BIG": b"\r\n" + b"X" * 300,
            # The tail of the long line and its result code arrive with the next answer.
            b"AT": b"Y" * 50 + b"\r\n\r\nOK\r\n" + b"\r\nOK\r\n",
            b"AT+CSQ": b"\r\n+CSQ: 1,1\r\n\r\nOK\r\n",
        }
    )
    client = AtClient(link[0], timeout=TIMEOUT, max_line=256)
    with pytest.raises(PacketSizeError):
        client.command("AT+BIG")
    first = client.command("AT")
    assert (first.ok, first.lines) == (True, ())
    assert client.command("AT+CSQ").lines == ("+CSQ: 1,1",)
    assert modem.seen == [b"AT+BIG", b"AT", b"AT+CSQ"]


def test_a_command_that_never_answers_costs_one_more_timeout_then_all_is_in_step(
    scripted: Callable[..., ScriptedModem], link: tuple[LoopbackProtocol, LoopbackProtocol]
) -> None:
    scripted({b"AT": b"\r\nOK\r\n", b"AT+CSQ": b"\r\n+CSQ: 1,1\r\n\r\nOK\r\n"})
    client = AtClient(link[0], timeout=TIMEOUT)
    with pytest.raises(ProtocolTimeoutError):
        client.command("AT+NOREPLY", timeout=0.2)
    with pytest.raises(ProtocolTimeoutError):
        client.command("AT", timeout=0.5)  # its OK was taken for the late answer
    assert client.command("AT+CSQ").lines == ("+CSQ: 1,1",)
    assert client.command("AT").ok


def test_unsolicited_codes_go_to_the_callback(
    scripted: Callable[..., ScriptedModem], link: tuple[LoopbackProtocol, LoopbackProtocol]
) -> None:
    scripted({b"AT+CSQ": b'\r\n+CSQ: 5,5\r\n\r\n+CMTI: "SM",1\r\n\r\nOK\r\n'})
    urcs: list[Unsolicited] = []
    client = AtClient(link[0], on_urc=urcs.append, timeout=TIMEOUT)
    assert client.command("AT+CSQ").lines == ("+CSQ: 5,5",)
    link[1].send(b"\r\nRING\r\n")
    assert client.poll(TIMEOUT) == 1
    assert [u.text for u in urcs] == ['+CMTI: "SM",1', "RING"]
    assert client.poll() == 0


def test_a_failing_callback_is_logged_and_the_command_completes(
    scripted: Callable[..., ScriptedModem],
    link: tuple[LoopbackProtocol, LoopbackProtocol],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scripted({b"AT": b"\r\nRING\r\n\r\nOK\r\n"})

    def broken(urc: Unsolicited) -> None:
        raise RuntimeError("callback bug")

    client = AtClient(link[0], on_urc=broken, timeout=TIMEOUT)
    with caplog.at_level(logging.ERROR):
        assert client.command("AT").ok
    assert "on_urc callback raised" in caplog.text and "callback bug" in caplog.text


def test_commands_from_the_callback_are_refused(
    scripted: Callable[..., ScriptedModem], link: tuple[LoopbackProtocol, LoopbackProtocol]
) -> None:
    scripted({b"AT": b"\r\nRING\r\n\r\nOK\r\n"})
    refused: list[BaseException] = []
    client: AtClient

    def reenter(urc: Unsolicited) -> None:
        try:
            client.command("AT+CHUP")
        except ProtocolValidationError as exc:
            refused.append(exc)

    client = AtClient(link[0], on_urc=reenter, timeout=TIMEOUT)
    assert client.command("AT").ok
    assert len(refused) == 1 and "on_urc" in str(refused[0])


def test_concurrent_commands_run_one_at_a_time(
    scripted: Callable[..., ScriptedModem], link: tuple[LoopbackProtocol, LoopbackProtocol]
) -> None:
    script = {f"AT+N={i}".encode(): f"\r\n+N: {i}\r\n\r\nOK\r\n".encode() for i in range(40)}
    scripted(script)
    client = AtClient(link[0], timeout=TIMEOUT)
    answers: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def worker(start: int) -> None:
        try:
            for i in range(start, 40, 4):
                answers[i] = client.command(f"AT+N={i}").values("+N")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not errors
    assert answers == {i: [str(i)] for i in range(40)}


def test_prompt_payload_and_raw_data(
    link: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    near, far = link
    client = AtClient(near, timeout=TIMEOUT)
    result: list[AtResponse] = []
    worker = threading.Thread(
        target=lambda: result.append(client.command("AT+CMGS=3", payload=b"\x00\x01\xff"))
    )
    worker.start()
    assert read_exactly(far, 10, TIMEOUT) == b"AT+CMGS=3\r"
    far.send(b"\r\n> ")
    assert read_exactly(far, 4, TIMEOUT) == b"\x00\x01\xff\x1a"
    far.send(b"\r\n+CMGS: 3\r\n\r\nOK\r\n")
    worker.join(TIMEOUT)
    assert result[0].lines == ("+CMGS: 3",)

    far.send(b"\r\nCONNECT 4\r\n\x00\r\n\xff\r\nOK\r\n")
    connect = client.wait_result()
    assert connect.status is AtStatus.CONNECT and connect.value == "4"
    assert client.read_raw(4) == b"\x00\r\n\xff"
    assert client.wait_result().ok


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.command("AT\r+X"), ProtocolValidationError, "must not contain CR or LF"),
        (lambda c: c.command(""), ProtocolValidationError, "must not be empty"),
        (lambda c: c.command(42), ProtocolTypeError, "command must be str or bytes"),
        (lambda c: c.command("AT+S", payload="text"), ProtocolTypeError, "payload must be bytes"),
        (lambda c: c.command("AT+S", payload=b"a\x1ab"), ProtocolValidationError, "terminator"),
        (lambda c: c.command("AT", timeout=-1), ProtocolValidationError, "non-negative"),
        (lambda c: c.read_raw(-1), ProtocolValidationError, "size must be"),
    ],
)
def test_bad_arguments(
    link: tuple[LoopbackProtocol, LoopbackProtocol],
    call: Callable[[AtClient], object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        call(AtClient(link[0]))


def test_binary_payload_with_fixed_length_needs_no_terminator(
    link: tuple[LoopbackProtocol, LoopbackProtocol],
) -> None:
    near, far = link
    client = AtClient(near, timeout=TIMEOUT, payload_end=b"")
    result: list[AtResponse] = []
    worker = threading.Thread(
        target=lambda: result.append(client.command("AT+QISEND=0,2", payload=b"\x1a\x1b"))
    )
    worker.start()
    read_exactly(far, 14, TIMEOUT)
    far.send(b"> ")
    assert read_exactly(far, 2, TIMEOUT) == b"\x1a\x1b"
    far.send(b"\r\nSEND OK\r\n\r\nOK\r\n")
    worker.join(TIMEOUT)
    assert result[0].lines == ("SEND OK",)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ProtocolTypeError, match="ReqResProtocol"):
        AtClient(object())  # type: ignore[arg-type]
    proto = LoopbackProtocol()
    with pytest.raises(ProtocolValidationError, match="line_ending must not be empty"):
        AtClient(proto, line_ending=b"")
    with pytest.raises(ProtocolValidationError, match="on_urc must be callable"):
        AtClient(proto, on_urc=3)  # type: ignore[arg-type]
    with pytest.raises(ProtocolValidationError, match="timeout"):
        AtClient(proto, timeout=float("nan"))
