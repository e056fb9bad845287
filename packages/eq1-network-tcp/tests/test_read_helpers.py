"""Whole-answer reads (read_until, read_exactly, query) against TCP instruments on 127.0.0.1.

Two independent peers: ``socat`` running a shell script that answers SCPI-like
commands, and a raw-socket instrument thread whose test decides when each piece of an
answer is written.
"""

from __future__ import annotations

import queue
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eq1_network import PacketSizeError, ProtocolTimeoutError, ReqResManager
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.testing import DEFAULT_TIMEOUT, PeerProcess, free_port

LOCALHOST = "127.0.0.1"
WAIT = DEFAULT_TIMEOUT

# An instrument in the shell: one answer per command line, some written in pieces.
INSTRUMENT = """\
while IFS= read -r line; do
  case "$line" in
    '*IDN?'*) printf 'EQ1,SIM'; sleep 0.05; printf ',0001,'; sleep 0.05; printf '1.0\\r\\n' ;;
    'MEAS?'*) printf '+1.5E0\\r\\n+2.5E0\\r\\n' ;;
    *) printf 'ERR\\r\\n' ;;
  esac
done
"""


class _SpyClient(TCPClient):
    """A TCPClient that reports every chunk its raw reads return."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.chunks: queue.Queue[bytes] = queue.Queue()

    def read_within(self, timeout: float) -> bytes | None:
        data = super().read_within(timeout)
        if data:
            self.chunks.put(data)
        return data


class _Instrument:
    """A raw-socket instrument: accepts one client; the test writes its answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server((LOCALHOST, 0))
        self.port: int = self.listener.getsockname()[1]
        self.accepted: queue.Queue[socket.socket] = queue.Queue()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        self.accepted.put(conn)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def instrument() -> Iterator[tuple[_SpyClient, socket.socket]]:
    """``(client, peer socket)`` of a connected raw-socket instrument."""
    inst = _Instrument()
    client = _SpyClient(LOCALHOST, inst.port, timeout=WAIT)
    client.connect()
    peer = inst.accepted.get(timeout=WAIT)
    yield client, peer
    client.disconnect()
    peer.close()
    inst.close()


@pytest.fixture
def scpi_port(socat_factory: Callable[..., PeerProcess], tmp_path: Path) -> int:
    """Port of a ``socat`` instrument answering ``*IDN?`` in pieces and ``MEAS?`` twice."""
    script = tmp_path / "instrument.sh"  # a file: socat splits its addresses at commas
    script.write_text(INSTRUMENT)
    port = free_port()
    socat_factory(
        f"TCP-LISTEN:{port},bind={LOCALHOST},reuseaddr,fork", f"SYSTEM:sh {script}"
    ).wait_listening(port)
    return port


def test_query_a_socat_instrument_whose_answer_comes_in_pieces(scpi_port: int) -> None:
    with TCPClient(LOCALHOST, scpi_port, timeout=WAIT) as client:
        assert client.query(b"*IDN?\r\n", until=b"\r\n") == b"EQ1,SIM,0001,1.0\r\n"
        assert client.query(b"BOGUS\r\n", until=b"\r\n") == b"ERR\r\n"


def test_two_answers_in_one_chunk_from_socat_come_back_one_per_call(scpi_port: int) -> None:
    with TCPClient(LOCALHOST, scpi_port, timeout=WAIT) as client:
        assert client.query(b"MEAS?\r\n", until=b"\r\n") == b"+1.5E0\r\n"
        assert client.read_until(b"\r\n") == b"+2.5E0\r\n"
        assert client.query(b"*IDN?\r\n", until=b"\r\n") == b"EQ1,SIM,0001,1.0\r\n"


def test_query_by_name_through_the_manager(scpi_port: int) -> None:
    mgr = ReqResManager.isolated()
    mgr.register("dmm", TCPClient(LOCALHOST, scpi_port, timeout=WAIT))
    mgr.connect("dmm")
    try:
        assert mgr.query("dmm", b"MEAS?\r\n", until=b"\r\n") == b"+1.5E0\r\n"
        assert mgr.read_until("dmm", b"\r\n") == b"+2.5E0\r\n"
    finally:
        mgr.disconnect("dmm")


def test_an_answer_written_in_pieces_is_reassembled_in_one_call(
    instrument: tuple[_SpyClient, socket.socket],
) -> None:
    client, peer = instrument
    pieces = [b"+12", b".50E", b"-3\r", b"\n"]
    results: list[bytes] = []
    reader = threading.Thread(target=lambda: results.append(client.read_until(b"\r\n")))
    reader.start()
    for piece in pieces:  # each piece is written only once the previous one was read
        peer.sendall(piece)
        assert client.chunks.get(timeout=WAIT) == piece
    reader.join(WAIT)
    assert results == [b"+12.50E-3\r\n"]


def test_two_answers_in_one_chunk_come_back_one_per_call(
    instrument: tuple[_SpyClient, socket.socket],
) -> None:
    client, peer = instrument
    peer.sendall(b"OK 1\r\nOK 2\r\n")
    assert client.read_until(b"\r\n") == b"OK 1\r\n"
    assert client.read_until(b"\r\n") == b"OK 2\r\n"
    peer.sendall(b"\x00\x01\x02\x03\x04")
    assert client.read_exactly(3) == b"\x00\x01\x02"
    assert client.read() == (True, b"\x03\x04")


def test_timeout_raises_and_the_partial_answer_is_kept(
    instrument: tuple[_SpyClient, socket.socket],
) -> None:
    client, peer = instrument
    peer.sendall(b"+1.2")
    assert client.wait_readable(WAIT) is True  # the first piece has arrived
    with pytest.raises(ProtocolTimeoutError, match=r"b'\\r\\n'.*4 bytes arrived"):
        client.read_until(b"\r\n", timeout=0.1)
    peer.sendall(b"34\r\n")
    assert client.read_until(b"\r\n") == b"+1.234\r\n"
    peer.sendall(b"ab")
    assert client.wait_readable(WAIT) is True
    with pytest.raises(ProtocolTimeoutError, match="2 bytes arrived"):
        client.read_exactly(4, timeout=0.1)
    peer.sendall(b"cd")
    assert client.read_exactly(4) == b"abcd"


def test_max_bytes_stops_a_runaway_answer_and_keeps_it(
    instrument: tuple[_SpyClient, socket.socket],
) -> None:
    client, peer = instrument
    peer.sendall(b"x" * 100)
    with pytest.raises(PacketSizeError, match="max_bytes=50"):
        client.read_until(b"\r\n", max_bytes=50)
    got = b""
    while len(got) < 100:  # the bytes stay buffered; read() drains them
        got += client.read_within(WAIT) or b""
    assert got == b"x" * 100
    peer.sendall(b"ok\r\n")
    assert client.read_until(b"\r\n", max_bytes=50) == b"ok\r\n"


def test_the_getting_started_round_trip_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    guide = Path(__file__).resolve().parents[3] / "docs" / "getting-started.md"
    section = guide.read_text(encoding="utf-8").split("## Reading a whole answer", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None, "docs/getting-started.md lost its round-trip example"
    exec(compile(block.group(1), str(guide), "exec"), {})
    assert capsys.readouterr().out.splitlines() == [
        r"b'ACME,DMM,1234,1.0\r\n'",
        r"b'+1.5E0\r\n'",
        r"b'+2.5E0\r\n'",
        r"read_until(b'\r\n'): terminator b'\r\n' did not arrive within 0.2 s; 0 bytes "
        "arrived and stay buffered for the next read",
    ]
