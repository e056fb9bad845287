"""SerialProtocol and AtClient against the simulated AT modem over real pseudo-terminals."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from eq1_network import ReqResManager
from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolTimeoutError
from eq1_network.protocols.serial.at import AtClient
from eq1_network.protocols.serial.at_parser import AtStatus, Unsolicited
from eq1_network.protocols.serial.serial_protocol import SerialProtocol
from eq1_network.protocols.serial.simulator import SimulatedModem

TIMEOUT = 20.0


def read_until(proto: SerialProtocol, marker: bytes) -> bytes:
    manager = ReqResManager.isolated()
    manager.register("m", proto)
    got = b""
    while marker not in got:
        got += manager.read("m", timeout=TIMEOUT)
    return got


def test_at_through_the_manager(modem: SimulatedModem) -> None:
    manager = ReqResManager.isolated()
    manager.register("modem", SerialProtocol(modem.path, 115200, timeout=TIMEOUT))
    assert manager.connect("modem") is True
    assert manager.send("modem", b"AT\r\n") == 4
    got = manager.read("modem")
    while b"OK\r\n" not in got:
        got += manager.read("modem")
    assert got == b"\r\nOK\r\n"
    manager.disconnect("modem")
    assert modem.logic.commands == ["AT"]


def test_information_error_and_dial_results(modem: SimulatedModem) -> None:
    with SerialProtocol(modem.path, 9600) as proto:
        at = AtClient(proto, timeout=TIMEOUT)
        ati = at.command("ATI")
        assert ati.ok and ati.lines == ("EQ1 Simulated Modem", "Revision: 1.0")
        assert at.command("AT+CGMI").lines == ("EQ1",)
        assert at.command("AT+CREG?").values("+CREG") == ["0,1"]
        cme = at.command("AT+CPIN?")
        assert (cme.status, cme.error_code) == (AtStatus.CME_ERROR, 10)
        cms = at.command("AT+CMSS=3")
        assert (cms.status, cms.error_code) == (AtStatus.CMS_ERROR, 321)
        assert at.command("AT+NONSENSE").status is AtStatus.ERROR
        outcomes = {n: at.command(f"ATD{n}").status for n in ("555", "000", "999", "111", "42")}
        assert outcomes == {
            "555": AtStatus.BUSY,
            "000": AtStatus.NO_ANSWER,
            "999": AtStatus.NO_DIALTONE,
            "111": AtStatus.NO_CARRIER,
            "42": AtStatus.CONNECT,
        }
        assert at.command("ATD42").value == "9600"
        assert at.command("ATD42;").ok


def test_echo_on_is_handled(modem: SimulatedModem) -> None:
    with SerialProtocol(modem.path) as proto:
        at = AtClient(proto, timeout=TIMEOUT)
        assert at.command("ATE1").ok
        csq = at.command("AT+CSQ")
        assert csq.lines == ("+CSQ: 20,99",)
        assert at.command("ATE0").ok
    assert modem.logic.echo is False


def test_slow_reply_is_waited_for(modem: SimulatedModem) -> None:
    with SerialProtocol(modem.path) as proto:
        at = AtClient(proto, timeout=TIMEOUT)
        slow = at.command("AT+SLOW=400")
        assert slow.ok and slow.lines == ("+SLOW: 400",)


def test_slow_reply_beyond_the_timeout_raises_and_the_next_command_is_clean(
    modem: SimulatedModem,
) -> None:
    with SerialProtocol(modem.path) as proto:
        at = AtClient(proto, timeout=TIMEOUT)
        with pytest.raises(ProtocolTimeoutError, match=r"AT\+SLOW=4000"):
            at.command("AT+SLOW=4000", timeout=0.5)
        # The modem answers in order: the late OK arrives before this command's answer
        # and is dropped, so this command gets its own information line.
        assert at.command("AT+CSQ").lines == ("+CSQ: 20,99",)


def test_unsolicited_codes_during_and_between_commands(modem: SimulatedModem) -> None:
    urcs: list[Unsolicited] = []
    arrived = threading.Event()

    def on_urc(urc: Unsolicited) -> None:
        urcs.append(urc)
        arrived.set()

    with SerialProtocol(modem.path) as proto:
        at = AtClient(proto, on_urc=on_urc, timeout=TIMEOUT)
        response = at.command("AT+URCTEST")
        assert response.lines == ("+URCTEST: 1", "+URCTEST: 2")
        assert [u.text for u in urcs] == ["RING", '+CMTI: "SM",3']
        modem.send_urc("+CREG: 5")
        assert at.poll(TIMEOUT) == 1
        assert urcs[-1].text == "+CREG: 5"
        modem.send_urc("RING")
        arrived.clear()
        assert at.command("AT").ok
        if not arrived.is_set():  # RING may come before or after the command's answer
            assert at.poll(TIMEOUT) == 1
        assert urcs[-1].text == "RING"


def test_text_and_binary_payloads(modem: SimulatedModem) -> None:
    with SerialProtocol(modem.path) as proto:
        at = AtClient(proto, timeout=TIMEOUT)
        assert at.command("AT+ECHO=안녕하세요 hello").values("+ECHO") == ["안녕하세요 hello"]
        binary = bytes(b for b in range(256) if b not in (0x1A, 0x1B))  # Ctrl-Z ends, ESC cancels
        sms = at.command('AT+CMGS="+821012345678"', payload=binary)
        assert sms.ok and sms.values("+CMGS") == [str(len(binary))]
        assert modem.logic.payloads == [binary]
        data = at.command("AT+READ=300")
        assert (data.status, data.value) == (AtStatus.CONNECT, "300")
        assert at.read_raw(300) == bytes(i % 256 for i in range(300))
        assert at.wait_result().ok


def test_wait_readable_wakes_on_data_without_polling(modem: SimulatedModem) -> None:
    proto = SerialProtocol(modem.path, timeout=TIMEOUT)
    calls = 0
    original = proto.read

    def counting_read() -> tuple[bool, bytes | None]:
        nonlocal calls
        calls += 1
        return original()

    proto.read = counting_read  # type: ignore[method-assign]
    manager = ReqResManager.isolated()
    manager.register("m", proto)
    manager.connect("m")
    try:
        manager.send("m", b"AT+SLOW=300\r")
        got = b""
        while b"\r\nOK\r\n" not in got:
            got += manager.read("m")
    finally:
        manager.disconnect("m")
    # Two replies (the information line, then OK 0.3 s later) need a handful of reads;
    # a sleeping poll loop would have made dozens.
    assert calls <= 8, calls


def test_wait_readable_reports_timeout_and_data(modem: SimulatedModem) -> None:
    with SerialProtocol(modem.path) as proto:
        assert proto.wait_readable(0.05) is False
        assert proto.read() == (False, None)
        modem.send_urc("RING")
        assert proto.wait_readable(TIMEOUT) is True
        assert read_until(proto, b"RING\r\n") == b"\r\nRING\r\n"


def test_disconnect_wakes_a_waiting_reader(modem: SimulatedModem) -> None:
    proto = SerialProtocol(modem.path)
    proto.connect()
    started = threading.Event()
    result: list[bool] = []

    def waiter() -> None:
        started.set()
        result.append(proto.wait_readable(TIMEOUT * 3))

    thread = threading.Thread(target=waiter)
    thread.start()
    assert started.wait(TIMEOUT)
    proto.disconnect()
    thread.join(TIMEOUT * 2)
    assert not thread.is_alive()
    assert result == [True]
    assert proto.is_connected() is False


def test_exclusive_access_makes_a_second_opener_busy(modem: SimulatedModem) -> None:
    with SerialProtocol(modem.path):
        second = SerialProtocol(modem.path)
        with pytest.raises(ProtocolConnectionError, match=r"port is busy") as info:
            second.connect()
        assert modem.path in str(info.value)
        assert second.is_connected() is False
        # The lock is advisory: an opener that does not ask for it still gets in, as
        # other programs can (see docs/serial.md).
        shared = SerialProtocol(modem.path, exclusive=False)
        assert shared.connect() is True
        shared.disconnect()


def test_connect_is_idempotent_and_reconnects_after_disconnect(modem: SimulatedModem) -> None:
    proto = SerialProtocol(modem.path)
    assert proto.connect() is True
    assert proto.connect() is True
    assert "open" in repr(proto)
    proto.disconnect()
    assert proto.connect() is True
    at = AtClient(proto, timeout=TIMEOUT)
    assert at.command("AT").ok
    proto.disconnect()


def test_socat_pair_with_the_modem_on_the_far_end(socat_pair: Any) -> None:
    a, b = socat_pair.links
    with SimulatedModem(attach=b) as modem, SerialProtocol(a, 115200) as proto:
        at = AtClient(proto, timeout=TIMEOUT)
        assert at.command("AT+CSQ").values("+CSQ") == ["20,99"]
        assert at.command("AT+SLOW=100").ok
        modem.send_urc("RING")
        urcs: list[Unsolicited] = []
        at.on_urc = urcs.append
        assert at.poll(TIMEOUT) == 1 and urcs[0].text == "RING"


@pytest.mark.parametrize("make", [lambda m: m.vanish, lambda m: m.stop])
def test_simulator_is_idempotent(modem: SimulatedModem, make: Callable[[Any], Any]) -> None:
    make(modem)()
    make(modem)()
    assert modem.present is False
