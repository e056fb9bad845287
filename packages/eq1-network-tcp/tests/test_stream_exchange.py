"""``SocketStream.exchange``: a write and the wait for its answer in one call.

A connected pair of TCP sockets on 127.0.0.1 per test: the stream under test on one
end, the test playing the peer on the other. Each test checks the outcome that
``send_all`` followed by ``recv_wait`` would have, including which of the two failed.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from eq1_network.protocols.ethernet._stream import ReceiveError, SendTimeoutError, SocketStream
from eq1_network.testing import DEFAULT_TIMEOUT, recv_exactly

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="waits inside recv exist on Linux only"
)

LOCALHOST = "127.0.0.1"
TIMEOUT = DEFAULT_TIMEOUT


@pytest.fixture
def pair() -> Iterator[tuple[SocketStream, socket.socket]]:
    """A kernel-wait stream and the peer's end of its connection."""
    with socket.create_server((LOCALHOST, 0)) as listener:
        near = socket.create_connection(listener.getsockname(), timeout=TIMEOUT)
        far, _ = listener.accept()
    far.settimeout(TIMEOUT)
    stream = SocketStream(near, kernel_waits=True)
    assert stream.kernel_waits
    yield stream, far
    stream.close()
    far.close()


def echo_once(conn: socket.socket, size: int) -> threading.Thread:
    """Answer the next ``size`` bytes with themselves, from a thread."""
    thread = threading.Thread(target=lambda: conn.sendall(recv_exactly(conn, size)))
    thread.start()
    return thread


def set_the_wait(stream: SocketStream, far: socket.socket) -> None:
    """One round trip with the tests' timeout, so that the next call takes the short path."""
    peer = echo_once(far, 1)
    assert stream.exchange(b"a", TIMEOUT, 1024, TIMEOUT) == b"a"
    peer.join(TIMEOUT)


def test_the_answer_comes_back_and_the_same_wait_is_not_set_again(
    pair: tuple[SocketStream, socket.socket],
) -> None:
    stream, far = pair
    for round_trip in range(3):
        request = b"ping %d" % round_trip
        peer = echo_once(far, len(request))
        got = stream.exchange(request, TIMEOUT, 1024, TIMEOUT)
        peer.join(TIMEOUT)
        assert got == request
    seconds, micros = struct.unpack(
        "@ll", stream.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
    )
    assert seconds + micros / 1e6 == pytest.approx(TIMEOUT, abs=0.01)


def test_silence_returns_none_after_the_timeout_on_each_path(
    pair: tuple[SocketStream, socket.socket],
) -> None:
    stream, far = pair
    for _ in range(2):  # the first call sets the wait, the second reuses it
        started = time.monotonic()
        assert stream.exchange(b"anyone?", TIMEOUT, 1024, 0.05) is None
        assert time.monotonic() - started >= 0.04
        assert recv_exactly(far, 7) == b"anyone?"
    assert stream.exchange(b"now", TIMEOUT, 1024, 0.0) is None  # a zero wait only looks
    assert recv_exactly(far, 3) == b"now"


def test_a_close_by_the_peer_returns_empty_and_marks_the_end(
    pair: tuple[SocketStream, socket.socket],
) -> None:
    stream, far = pair
    set_the_wait(stream, far)
    closer = threading.Thread(target=lambda: (recv_exactly(far, 3), far.shutdown(socket.SHUT_WR)))
    closer.start()
    assert stream.exchange(b"bye", TIMEOUT, 1024, TIMEOUT) == b""  # the short path
    closer.join(TIMEOUT)
    assert stream.eof
    assert stream.exchange(b"more", TIMEOUT, 1024, TIMEOUT) == b""  # no wait once ended


def test_a_reset_during_the_wait_is_a_receive_error_not_a_send_error(
    pair: tuple[SocketStream, socket.socket],
) -> None:
    stream, far = pair
    set_the_wait(stream, far)

    def reset() -> None:
        recv_exactly(far, 5)
        far.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        far.close()

    resetter = threading.Thread(target=reset)
    resetter.start()
    with pytest.raises(ReceiveError, match="ConnectionResetError") as caught:
        stream.exchange(b"reset", TIMEOUT, 1024, TIMEOUT)
    resetter.join(TIMEOUT)
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    with pytest.raises(OSError) as failed:  # now the write fails: a plain OSError
        stream.exchange(b"again", TIMEOUT, 1024, TIMEOUT)
    assert not isinstance(failed.value, ReceiveError)


def test_a_write_that_cannot_finish_times_out_before_any_read(
    pair: tuple[SocketStream, socket.socket],
) -> None:
    stream, far = pair
    stream.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    far.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    big = b"z" * (8 * 1024 * 1024)  # far more than both buffers; the peer reads nothing
    started = time.monotonic()
    with pytest.raises(SendTimeoutError) as caught:
        stream.exchange(big, 0.2, 1024, TIMEOUT)
    assert time.monotonic() - started < TIMEOUT  # the read's wait never started
    assert 0 < caught.value.sent < len(big)


def test_a_write_longer_than_one_send_call_is_completed(
    pair: tuple[SocketStream, socket.socket],
) -> None:
    stream, far = pair
    big = bytes(range(256)) * 16384  # 4 MiB: more than one send() call takes
    peer = echo_once(far, len(big))
    got = stream.exchange(big, TIMEOUT, len(big), TIMEOUT)
    assert got is not None
    while len(got) < len(big):
        more = stream.recv_wait(len(big) - len(got), TIMEOUT)
        assert more, "the echo stopped"
        got += more
    peer.join(TIMEOUT)
    assert got == big
