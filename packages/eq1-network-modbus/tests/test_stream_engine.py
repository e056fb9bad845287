"""The Modbus TCP transaction engine over a scripted link: which path runs, and that each
path matches ids, drops stale answers, times out and decodes exceptions alike.

The link here answers from a script (a list of reads), so every case is exact: the
whole-answer check of one request at a time, the framing fallback behind it, the
pipelined windows and their slots, and the typed calls' reuse of built requests.
"""

from __future__ import annotations

import enum
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from modbus_test_links import Read, ScriptLink

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolConnectionError,
    ProtocolTimeoutError,
)
from eq1_network.protocols.modbus._frame import make_frame
from eq1_network.protocols.modbus._stream_engine import _GRID, StreamEngine
from eq1_network.protocols.modbus._transaction import IdPolicy
from eq1_network.protocols.modbus.client import ModbusClient
from eq1_network.protocols.modbus.errors import ModbusExceptionError
from eq1_network.protocols.modbus.framers import Frame, MBAPFramer
from eq1_network.testing import DEFAULT_TIMEOUT

READ = bytes.fromhex("03 0000 0001")


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def registers(*values: int) -> bytes:
    return bytes((0x03, 2 * len(values))) + struct.pack(f">{len(values)}H", *values)


def last_tid(sent: list[bytes]) -> int:
    return int(struct.unpack_from(">H", sent[-1])[0])


class CountingFramer(MBAPFramer):
    """An MBAP framer that counts the chunks it frames the general way."""

    def __init__(self) -> None:
        super().__init__()
        self.fed = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.fed += 1
        return super().feed(data)


def engine_on(
    reads: list[Read], *, max_outstanding: int = 1, id_policy: IdPolicy = "strict"
) -> tuple[StreamEngine, ScriptLink, CountingFramer]:
    link, framer = ScriptLink(reads), CountingFramer()
    engine = StreamEngine(link, framer, max_outstanding=max_outstanding, id_policy=id_policy)
    return engine, link, framer


def answer(pdu: bytes, *, unit: int = 1, shift: int = 0) -> Callable[[list[bytes]], bytes]:
    """A read answering the last request sent (its id plus ``shift``)."""
    return lambda sent: mbap((last_tid(sent) + shift) & 0xFFFF, unit, pdu)


# -- MBAPFramer.take_answer ---------------------------------------------------------


def test_take_answer_returns_the_pdu_of_exactly_the_answer() -> None:
    framer = MBAPFramer()
    assert framer.take_answer(mbap(7, 1, registers(5)), 7, 1, 3) == registers(5)
    assert framer.take_answer(mbap(7, 1, b"\x83\x02"), 7, 1, 3) == b"\x83\x02"
    assert framer.pending() == 0
    assert framer.dropped == 0


@pytest.mark.parametrize(
    "data",
    [
        mbap(8, 1, registers(5)),  # another transaction
        mbap(7, 2, registers(5)),  # another unit
        mbap(7, 1, b"\x04\x02\x00\x05"),  # another function
        mbap(7, 1, registers(5))[:-1],  # cut short
        mbap(7, 1, registers(5)) + mbap(8, 1, registers(6)),  # followed by more
        b"\x00\x07\x00\x01" + mbap(7, 1, registers(5))[4:],  # protocol id 1
        mbap(7, 1, registers(5))[:7],  # a header alone
        struct.pack(">HHHB", 7, 0, 300, 1) + bytes(299),  # longer than any frame
    ],
)
def test_take_answer_declines_anything_else_and_consumes_nothing(data: bytes) -> None:
    framer = MBAPFramer()
    assert framer.take_answer(data, 7, 1, 3) is None
    assert framer.pending() == 0
    assert framer.dropped == 0


def test_take_answer_declines_while_a_partial_frame_is_buffered() -> None:
    framer = MBAPFramer()
    whole = mbap(7, 1, registers(5))
    assert framer.feed(whole[:3]) == []
    assert framer.take_answer(whole, 7, 1, 3) is None
    assert framer.pending() == 3


def test_make_frame_builds_a_frame() -> None:
    frame = make_frame(Frame, (1, b"\x03", 9))
    assert type(frame) is Frame
    assert frame == Frame(1, b"\x03", 9)
    assert frame.transaction_id == 9


# -- one request at a time -------------------------------------------------------------


def test_a_whole_answer_is_taken_without_framing() -> None:
    engine, link, framer = engine_on([answer(registers(5)), answer(registers(6))])
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(5)
    assert engine.executor()(1, READ, DEFAULT_TIMEOUT) == registers(6)
    assert framer.fed == 0
    assert [last_tid([frame]) for frame in link.sent] == [1, 2]
    assert link.waits == [DEFAULT_TIMEOUT, DEFAULT_TIMEOUT]  # one unchanged wait per request


@pytest.mark.parametrize(
    ("unit", "pdu", "rule"),
    [(256, READ, "unit=256"), (-1, READ, "unit=-1"), (1, b"", "pdu"), (1, bytes(254), "pdu")],
)
def test_arguments_the_framer_refuses_are_refused_before_anything_is_sent(
    unit: int, pdu: bytes, rule: str
) -> None:
    engine, link, _ = engine_on([answer(registers(5))])
    with pytest.raises(ProtocolArgumentError, match=rule):
        engine.execute(unit, pdu, DEFAULT_TIMEOUT)
    assert link.sent == []
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(5)  # the engine is free


def test_a_stale_answer_in_its_own_read_is_dropped() -> None:
    engine, _, framer = engine_on([answer(registers(1), shift=-1), answer(registers(2))])
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(2)
    assert engine.stale == 1
    assert framer.fed == 1  # only the stale read was framed


def test_a_stale_answer_before_the_answer_in_one_read_is_dropped() -> None:
    def both(sent: list[bytes]) -> bytes:
        tid = last_tid(sent)
        return mbap(tid - 1, 1, registers(1)) + mbap(tid, 1, registers(2))

    engine, _, _ = engine_on([both])
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(2)
    assert engine.stale == 1


@pytest.mark.parametrize(
    ("wrong", "label"),
    [(answer(registers(1), unit=2), "unit"), (answer(b"\x04\x02\x00\x01"), "function")],
)
def test_an_answer_from_another_unit_or_function_is_not_taken(
    wrong: Callable[[list[bytes]], bytes], label: str
) -> None:
    engine, _, _ = engine_on([wrong])
    with pytest.raises(ProtocolTimeoutError, match="no answer to transaction 1"):
        engine.execute(1, READ, 0.05)
    assert engine.stale == 1, label


def test_an_answer_in_pieces_is_assembled() -> None:
    def piece(part: slice) -> Callable[[list[bytes]], bytes]:
        return lambda sent: mbap(last_tid(sent), 1, registers(9))[part]

    engine, _, framer = engine_on([piece(slice(0, 5)), piece(slice(5, None))])
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(9)
    assert framer.fed == 2
    assert framer.pending() == 0


def test_silence_times_out_within_the_timeout() -> None:
    engine, link, _ = engine_on([])
    started = time.monotonic()
    with pytest.raises(ProtocolTimeoutError, match=r"no answer to transaction 1 \(unit 1"):
        engine.execute(1, READ, 0.1)
    assert 0.1 <= time.monotonic() - started < DEFAULT_TIMEOUT
    assert link.waits[0] == 0.1
    assert all(wait <= 0.1 for wait in link.waits)


def test_a_late_answer_is_dropped_by_the_next_request() -> None:
    engine, link, _ = engine_on([None])
    with pytest.raises(ProtocolTimeoutError):
        engine.execute(1, READ, 0.01)
    link.reads = [lambda sent: mbap(1, 1, registers(1)), answer(registers(2))]
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(2)
    assert engine.stale == 1


def test_an_exception_answer_is_taken_whole_and_decoded_by_the_client() -> None:
    link, framer = ScriptLink([answer(b"\x83\x02")]), CountingFramer()
    engine = StreamEngine(link, framer)
    client = ModbusClient(
        link, framer, engine, unit=1, timeout=DEFAULT_TIMEOUT, retries=0, retry_writes=False
    )
    with pytest.raises(ModbusExceptionError) as caught:
        client.read_holding_registers(0)
    assert (caught.value.function_code, caught.value.exception_code) == (3, 2)
    assert framer.fed == 0


def test_a_broken_link_resets_the_framer() -> None:
    def part(sent: list[bytes]) -> bytes:
        return mbap(last_tid(sent), 1, registers(1))[:4]

    engine, _, framer = engine_on([part, ProtocolConnectionError("gone")])
    with pytest.raises(ProtocolConnectionError):
        engine.execute(1, READ, DEFAULT_TIMEOUT)
    assert framer.pending() == 0


def test_bytes_left_in_the_framer_send_the_answer_the_general_way() -> None:
    engine, _, framer = engine_on([answer(registers(4))])
    framer.feed(b"\x00\x09\x00")  # e.g. left by the raw face
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(4)
    assert framer.fed == 2
    assert framer.dropped == 3  # the leftover bytes, skipped to the answer's header
    assert framer.pending() == 0


@pytest.mark.parametrize("shift", [0, 1])
def test_lenient_ids_take_the_general_way(shift: int) -> None:
    def echo(sent: list[bytes]) -> bytes:
        tid = (last_tid(sent) + shift) & 0xFFFF if shift else 0
        return mbap(tid, 1, registers(3))

    engine, _, framer = engine_on([echo], id_policy="lenient")
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(3)
    assert framer.fed == 1


def test_a_busy_connection_times_out_waiting_for_its_turn() -> None:
    engine, _, _ = engine_on([])
    turn = engine._single
    turn.lock.acquire()
    turn.turn += 1  # inside, as a running transaction is
    try:
        with pytest.raises(ProtocolTimeoutError, match="stayed busy"):
            engine.execute(1, READ, 0.05)
    finally:
        turn.turn += 1
        turn.lock.release()


# -- several outstanding ---------------------------------------------------------------


def reversed_answers(sent: list[bytes]) -> bytes:
    """Answer every request of the last write, in reverse order, with its id as value."""
    data, out = sent[-1], []
    while data:
        size = 6 + struct.unpack_from(">H", data, 4)[0]
        tid = struct.unpack_from(">H", data)[0]
        out.append(mbap(tid, data[6], registers(tid)))
        data = data[size:]
    return b"".join(reversed(out))


def test_a_window_goes_out_in_one_write_and_is_matched_by_id() -> None:
    engine, link, _ = engine_on([reversed_answers], max_outstanding=4)
    assert engine.execute_many(1, [READ] * 3, DEFAULT_TIMEOUT) == [
        registers(1),
        registers(2),
        registers(3),
    ]
    assert len(link.sent) == 1
    assert engine.execute_many(1, [], DEFAULT_TIMEOUT) == []
    assert engine._free == 4
    assert engine._waiting == {}


def test_windows_split_at_max_outstanding() -> None:
    engine, link, _ = engine_on([reversed_answers, reversed_answers], max_outstanding=2)
    assert engine.execute_many(1, [READ] * 3, DEFAULT_TIMEOUT) == [
        registers(1),
        registers(2),
        registers(3),
    ]
    assert len(link.sent) == 2


def test_pipelined_waits_keep_one_value_while_time_is_plenty() -> None:
    engine, link, _ = engine_on([None, reversed_answers], max_outstanding=2)
    engine.execute(1, READ, 5.0)
    assert all(wait <= 5.0 and (wait / _GRID).is_integer() for wait in link.waits)


def test_a_late_pipelined_answer_is_dropped() -> None:
    engine, link, _ = engine_on([], max_outstanding=2)
    with pytest.raises(ProtocolTimeoutError, match="no answer to transaction 1"):
        engine.execute(1, READ, 0.05)
    link.reads = [lambda sent: mbap(1, 1, registers(1)) + reversed_answers(sent)]
    assert engine.execute(1, READ, DEFAULT_TIMEOUT) == registers(2)
    assert engine.stale == 1
    assert engine._free == 2


def test_no_free_slot_times_out_and_a_freed_slot_wakes_the_waiter() -> None:
    engine, _, _ = engine_on([reversed_answers], max_outstanding=2)
    held: list[tuple[int, Any]] = []
    engine._enter(1, [READ, READ], time.monotonic() + 1, 1, held)
    with pytest.raises(ProtocolTimeoutError, match="no free request slot"):
        engine.execute(1, READ, 0.05)
    results: list[bytes] = []
    waiter = threading.Thread(
        target=lambda: results.append(engine.execute(1, READ, DEFAULT_TIMEOUT))
    )
    waiter.start()
    time.sleep(0.05)
    assert not results
    engine._leave(held)
    waiter.join(DEFAULT_TIMEOUT)
    assert results == [registers(3)]


def test_an_id_still_awaited_is_not_given_again() -> None:
    engine, _, _ = engine_on([], max_outstanding=4)
    engine._next_id = 0xFFFE
    first: list[tuple[int, Any]] = []
    engine._enter(1, [READ, READ], time.monotonic() + 1, 1, first)
    assert [tid for tid, _ in first] == [0xFFFF, 0]
    engine._next_id = 0xFFFE
    second: list[tuple[int, Any]] = []
    engine._enter(1, [READ], time.monotonic() + 1, 1, second)
    assert [tid for tid, _ in second] == [1]
    engine._leave(first)
    engine._leave(second)
    assert engine._free == 4


def test_concurrent_callers_share_the_read_role() -> None:
    lock = threading.Lock()
    pending: list[bytes] = []

    def gather(sent: list[bytes]) -> bytes | None:
        with lock:
            pending.extend(sent[len(pending) :])
            if len(pending) < 4:
                time.sleep(0.01)
                return None
            return b"".join(reversed_answers([frame]) for frame in pending)

    engine, _, _ = engine_on([gather] * 50, max_outstanding=4)
    results: dict[int, bytes] = {}
    threads = [
        threading.Thread(
            target=lambda i=i: results.__setitem__(i, engine.execute(1, READ, DEFAULT_TIMEOUT))
        )
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEFAULT_TIMEOUT)
    assert sorted(results.values()) == [registers(tid) for tid in (1, 2, 3, 4)]
    assert engine._sleepers == 0
    assert engine._free == 4


# -- typed calls reuse built requests -------------------------------------------------


class Address(enum.IntEnum):
    FIRST = 1


@pytest.fixture
def client() -> ModbusClient:
    link, framer = ScriptLink([answer(registers(7))] * 300), MBAPFramer()
    engine = StreamEngine(link, framer)
    return ModbusClient(
        link, framer, engine, unit=1, timeout=DEFAULT_TIMEOUT, retries=0, retry_writes=False
    )


def test_typed_reads_reuse_their_request(client: ModbusClient) -> None:
    assert client.read_holding_registers(1) == [7]
    kept = client._register_reads[(3, 1, 1)]
    assert client.read_holding_registers(1) == [7]
    assert client._register_reads == {(3, 1, 1): kept}
    link = client.link
    assert isinstance(link, ScriptLink)
    assert [frame[7:] for frame in link.sent] == [bytes.fromhex("03 0001 0001")] * 2
    link.reads = [answer(b"\x01\x01\x01"), answer(b"\x02\x01\x00")]
    assert client.read_coils(1) == [True]
    assert client.read_discrete_inputs(1) == [False]
    assert set(client._bit_reads) == {(1, 1, 1), (2, 1, 1)}


@pytest.mark.parametrize("address", [True, 1.0])
def test_a_kept_request_is_never_taken_for_a_bool_or_float(
    client: ModbusClient, address: object
) -> None:
    client.read_holding_registers(1)
    with pytest.raises(ProtocolArgumentError, match="address="):
        client.read_holding_registers(address)  # type: ignore[arg-type]
    with pytest.raises(ProtocolArgumentError, match="count="):
        client.read_holding_registers(1, True)
    with pytest.raises(ProtocolArgumentError, match="address="):
        client.read_coils(address)  # type: ignore[arg-type]


def test_int_subclasses_and_bad_units_are_still_checked(client: ModbusClient) -> None:
    assert client.read_holding_registers(Address.FIRST) == [7]
    with pytest.raises(ProtocolArgumentError, match="unit=300"):
        client.read_holding_registers(1, unit=300)


def test_kept_requests_are_bounded(client: ModbusClient) -> None:
    for address in range(300):
        assert client.read_holding_registers(address) == [7]
    assert len(client._register_reads) == 256
    assert (3, 299, 1) not in client._register_reads
