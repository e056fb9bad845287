"""Whole-answer reads (read_until, read_exactly, query) over a socat pseudo-terminal pair.

The far end of the null-modem cable is opened with pyserial directly and plays the
instrument; the test decides when each piece of an answer is written.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from eq1_network import PacketSizeError, ProtocolTimeoutError, ReqResManager
from eq1_network.protocols.serial.serial_protocol import SerialProtocol
from eq1_network.testing import DEFAULT_TIMEOUT

WAIT = DEFAULT_TIMEOUT


class _SpySerial(SerialProtocol):
    """A SerialProtocol that reports every chunk its raw reads return."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chunks: queue.Queue[bytes] = queue.Queue()

    def read(self) -> tuple[bool, bytes | None]:
        ok, data = super().read()
        if ok and data:
            self.chunks.put(data)
        return ok, data


@pytest.fixture
def cable(socat_pair: Any) -> Iterator[tuple[_SpySerial, serial.Serial]]:
    """``(protocol on end A, instrument's pyserial port on end B)``, both open."""
    a, b = socat_pair.links
    far = serial.Serial(str(b), 115200, timeout=WAIT)
    proto = _SpySerial(a, 115200, timeout=WAIT)
    proto.connect()
    yield proto, far
    proto.disconnect()
    far.close()


def _write(port: serial.Serial, data: bytes) -> None:
    port.write(data)
    port.flush()


def test_an_answer_written_in_pieces_is_reassembled(
    cable: tuple[_SpySerial, serial.Serial],
) -> None:
    proto, far = cable
    pieces = [b"+0.0", b"0123", b"E+0", b"0\r", b"\n"]
    results: list[bytes] = []
    reader = threading.Thread(target=lambda: results.append(proto.read_until(b"\r\n")))
    reader.start()
    for piece in pieces:  # each piece is written only once the previous one was read
        _write(far, piece)
        assert proto.chunks.get(timeout=WAIT) == piece
    reader.join(WAIT)
    assert results == [b"+0.00123E+00\r\n"]


def test_query_sends_the_command_and_reads_one_answer(
    cable: tuple[_SpySerial, serial.Serial],
) -> None:
    proto, far = cable
    answers: list[bytes] = []
    asker = threading.Thread(target=lambda: answers.append(proto.query(b"VOLT?\r", until=b"\r")))
    asker.start()
    assert far.read_until(b"\r") == b"VOLT?\r"
    _write(far, b"12.0")
    assert proto.chunks.get(timeout=WAIT) == b"12.0"
    _write(far, b"1\rnext")
    asker.join(WAIT)
    assert answers == [b"12.01\r"]
    assert proto.read_exactly(4) == b"next"


def test_two_answers_in_one_chunk_come_back_one_per_call(
    cable: tuple[_SpySerial, serial.Serial],
) -> None:
    proto, far = cable
    _write(far, b"OK\r\nERROR 3\r\n")
    assert proto.read_until(b"\r\n") == b"OK\r\n"
    assert proto.read_until(b"\r\n") == b"ERROR 3\r\n"


def test_timeout_raises_and_the_partial_answer_is_kept(
    cable: tuple[_SpySerial, serial.Serial],
) -> None:
    proto, far = cable
    _write(far, b"READ")
    assert proto.wait_readable(WAIT) is True
    with pytest.raises(ProtocolTimeoutError, match=r"b'\\r\\n'.*\d+ bytes arrived"):
        proto.read_until(b"\r\n", timeout=0.1)
    _write(far, b"Y\r\n")
    assert proto.read_until(b"\r\n") == b"READY\r\n"


def test_max_bytes_stops_a_runaway_answer(cable: tuple[_SpySerial, serial.Serial]) -> None:
    proto, far = cable
    _write(far, b"#" * 64)
    with pytest.raises(PacketSizeError, match="max_bytes=32"):
        proto.read_until(b"\r\n", max_bytes=32)
    assert proto.read_exactly(64) == b"#" * 64  # the bytes stayed buffered


def test_read_exactly_and_query_by_name(cable: tuple[_SpySerial, serial.Serial]) -> None:
    proto, far = cable
    mgr = ReqResManager.isolated()
    mgr.register("psu", proto)
    _write(far, b"\x02\x10\x20\x03\x02")
    assert mgr.read_exactly("psu", 4) == b"\x02\x10\x20\x03"
    assert mgr.read("psu") == b"\x02"
