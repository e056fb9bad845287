"""Sends are bounded by write_timeout and are interrupted by disconnect()."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest

from eq1_network.common.exceptions import ProtocolNotConnectedError, ProtocolTimeoutError
from eq1_network.protocols.serial.serial_protocol import SerialProtocol

TIMEOUT = 20.0


@pytest.fixture
def silent_peer(posix: None) -> Iterator[str]:
    """A pseudo-terminal whose other end never reads: sends fill the buffers and stall."""
    import tty

    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_a_stalled_send_times_out(silent_peer: str) -> None:
    with SerialProtocol(silent_peer, write_timeout=0.3) as proto:
        with pytest.raises(ProtocolTimeoutError, match=r"write_timeout=0.3 s") as info:
            proto.send(bytes(1024 * 1024))
        assert silent_peer in str(info.value)
        assert proto.is_connected() is True  # a timeout is not a lost device


def test_disconnect_interrupts_a_stalled_send(silent_peer: str, until: Callable[..., bool]) -> None:
    proto = SerialProtocol(silent_peer, write_timeout=TIMEOUT * 3)
    proto.connect()
    outcome: list[BaseException] = []
    started = threading.Event()

    def sender() -> None:
        started.set()
        try:
            proto.send(bytes(1024 * 1024))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=sender)
    thread.start()
    assert started.wait(TIMEOUT)
    port = proto._port
    assert port is not None
    assert until(port._write_lock.locked)  # the sender is inside its write
    proto.disconnect()
    thread.join(TIMEOUT * 2)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ProtocolNotConnectedError)


def test_empty_send_writes_nothing(silent_peer: str) -> None:
    with SerialProtocol(silent_peer) as proto:
        assert proto.send(b"") == 0
        assert proto.send(bytearray(b"ab")) == 2
        assert proto.send(memoryview(b"cd")) == 2
