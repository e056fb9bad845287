"""RTU frames whose length the function code does not tell: diagnostics echoes.

Data bytes can end in a false CRC match (one chance in 65536 per position), so a
long echo found by searching for the first matching CRC would be cut short. The
client tells the framer which requests are in flight; the server side takes the
longest match among the bytes received.
"""

from __future__ import annotations

import random

import pytest

from eq1_network.protocols.modbus.framers import Frame, RTUFramer, crc16


def _echo_with_false_match() -> bytes:
    """A diagnostics PDU whose frame has a CRC match inside its data."""
    rng = random.Random(1502)
    encoder = RTUFramer(side="client")
    for _ in range(200_000):
        pdu = b"\x08\x00\x00" + rng.randbytes(200)
        frame = encoder.encode(1, pdu)
        if any(
            crc16(frame[: end - 2]) == int.from_bytes(frame[end - 2 : end], "little")
            for end in range(6, len(frame) - 1)
        ):
            return pdu
    raise AssertionError("no payload with a false CRC match found")


FALSE_MATCH = _echo_with_false_match()


def test_the_client_cuts_an_echo_at_its_request_length() -> None:
    framer = RTUFramer(side="client")
    frame = framer.encode(1, FALSE_MATCH)
    framer.expect_answer_to(FALSE_MATCH)
    assert framer.feed(frame) == [Frame(1, FALSE_MATCH)]
    assert framer.dropped == 0


def test_without_the_hint_the_first_match_would_cut_the_echo() -> None:
    """The hazard the hint removes, shown byte by byte: fed one byte at a time,
    the search stops at the false match."""
    framer = RTUFramer(side="client")
    frame = framer.encode(1, FALSE_MATCH)
    frames = [f for byte in frame for f in framer.feed(bytes([byte]))]
    assert frames and frames[0].pdu != FALSE_MATCH


@pytest.mark.parametrize("side", ["client", "server"])
def test_a_whole_echo_received_at_once_is_found_by_its_last_match(side: str) -> None:
    framer = RTUFramer(side=side)  # type: ignore[arg-type]
    frame = framer.encode(1, FALSE_MATCH)
    assert framer.feed(frame) == [Frame(1, FALSE_MATCH)]


def test_several_echoes_in_flight_are_cut_in_order() -> None:
    framer = RTUFramer(side="client")
    pdus = [b"\x08\x00\x00" + bytes([n]) * n for n in (1, 40, 7)] + [FALSE_MATCH]
    for pdu in pdus:
        framer.expect_answer_to(pdu)
    wire = b"".join(framer.encode(1, pdu) for pdu in pdus)
    assert [f.pdu for f in framer.feed(wire)] == pdus
    framer.expect_answer_to(pdus[0])
    framer.reset()
    assert framer.feed(framer.encode(1, FALSE_MATCH)) == [Frame(1, FALSE_MATCH)]


def test_a_write_request_holding_a_frame_in_its_data_is_not_cut_on_the_server() -> None:
    """Registers 0103 0000 000A C5CD are the bytes of a whole FC03 request."""
    from eq1_network.protocols.modbus import pdu

    request = pdu.write_registers(0, [0x0103, 0x0000, 0x000A, 0xC5CD]).pdu
    framer = RTUFramer(side="server")
    wire = framer.encode(1, request) + framer.encode(1, bytes.fromhex("03 0000 0001"))
    frames = [f for byte in wire for f in framer.feed(bytes([byte]))]
    assert [f.pdu for f in frames] == [request, bytes.fromhex("03 0000 0001")]
    assert framer.dropped == 0


def test_noise_that_looks_like_a_write_is_still_skipped_on_the_server() -> None:
    framer = RTUFramer(side="server")
    good = framer.encode(1, bytes.fromhex("03 0000 0001"))
    noise = bytes.fromhex("01 10 00 00 00 02 09")  # byte count 9 does not fit 2 registers
    assert framer.feed(noise + good) == [Frame(1, bytes.fromhex("03 0000 0001"))]
    assert framer.dropped == len(noise)
