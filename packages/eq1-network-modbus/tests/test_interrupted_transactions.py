"""A transaction interrupted by Ctrl-C never leaves the client unable to run the next one.

``KeyboardInterrupt`` can be raised right after a caller took a lock and before the
block that frees it. The lock below raises at exactly that point, the first time it
is taken, so the tests do not depend on a signal's timing. Afterwards the next request
must take the lock back and be answered by a real server, on the same connection and
after a reconnection; a transaction that really runs, however long, is never robbed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import modbus_peers as expect
import pytest
from modbus_peers import ModbusPeer
from modbus_test_links import ScriptLink

from eq1_network.common.exceptions import ProtocolTimeoutError
from eq1_network.protocols.modbus import ModbusProtocol, ModbusRTUProtocol, pdu
from eq1_network.protocols.modbus._stream_engine import StreamEngine
from eq1_network.protocols.modbus._turn import SETTLE, Turn
from eq1_network.protocols.modbus.client import ModbusClient
from eq1_network.protocols.modbus.framers import MBAPFramer
from eq1_network.testing import DEFAULT_TIMEOUT

LOGGER = "eq1_network.protocols.modbus._turn"
READ = bytes.fromhex("03 0000 0001")


class InterruptedOnceLock:
    """A lock whose first successful acquire raises ``KeyboardInterrupt``, holding it."""

    def __init__(self) -> None:
        self.inner = threading.Lock()
        self.armed = True

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        taken = self.inner.acquire(blocking, timeout)
        if taken and self.armed:
            self.armed = False
            raise KeyboardInterrupt
        return taken

    def release(self) -> None:
        self.inner.release()

    def locked(self) -> bool:
        return self.inner.locked()


def client_for(peer: ModbusPeer, **options: Any) -> ModbusClient:
    """An unconnected client for a Modbus TCP or RTU peer."""
    if peer.device is not None:
        return ModbusRTUProtocol(str(peer.device), timeout=DEFAULT_TIMEOUT, **options)
    assert peer.port is not None
    return ModbusProtocol("127.0.0.1", peer.port, timeout=DEFAULT_TIMEOUT, **options)


def turn_of(client: ModbusClient, which: str) -> Turn:
    """The client engine's ``Turn`` named ``which``."""
    turn = getattr(client._engine, which)
    assert isinstance(turn, Turn)
    return turn


def interrupt_then_recover(
    client: ModbusClient, turn: Turn, call: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Interrupt ``call`` at the lock of ``turn``, then check the next calls succeed."""
    stuck = InterruptedOnceLock()
    turn.lock = stuck  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        call()
    assert stuck.locked()  # held by nobody: the interrupted caller never got to free it

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert client.read_holding_registers(0, 10) == expect.holding_registers(1, 0, 10)
    assert turn.recovered == 1
    assert turn.lock is not stuck
    assert "took back the" in caplog.text
    call()  # the interrupted kind of call runs again on the same connection

    client.disconnect()
    client.connect()
    assert client.read_holding_registers(0, 10) == expect.holding_registers(1, 0, 10)
    assert turn.recovered == 1


def test_one_request_at_a_time_recovers_on_the_same_connection(
    libmodbus_tcp: ModbusPeer, caplog: pytest.LogCaptureFixture
) -> None:
    with client_for(libmodbus_tcp) as client:
        interrupt_then_recover(
            client,
            turn_of(client, "_single"),
            lambda: client.read_holding_registers(0, 10),
            caplog,
        )


def test_pipelined_requests_recover_the_read_role(
    libmodbus_tcp: ModbusPeer, caplog: pytest.LogCaptureFixture
) -> None:
    requests = [pdu.read_holding_registers(i, 2) for i in range(4)]
    with client_for(libmodbus_tcp, max_outstanding=4) as client:
        interrupt_then_recover(
            client, turn_of(client, "_read_role"), lambda: client.execute_many(requests), caplog
        )
        assert client.execute_many(requests) == [
            expect.holding_registers(1, i, 2) for i in range(4)
        ]
        engine = client._engine
        assert isinstance(engine, StreamEngine)
        assert engine._free == 4  # no slot was lost to the interrupt


def test_a_serial_bus_recovers(pymodbus_rtu: ModbusPeer, caplog: pytest.LogCaptureFixture) -> None:
    with client_for(pymodbus_rtu) as client:
        interrupt_then_recover(
            client, turn_of(client, "_turn"), lambda: client.read_holding_registers(0, 10), caplog
        )


def test_a_request_still_waits_for_a_transaction_that_runs() -> None:
    engine = StreamEngine(ScriptLink([]), MBAPFramer())
    turn = engine._single
    lock = turn.lock
    lock.acquire()
    turn.marks += 1  # inside its block, as a running transaction is
    try:
        with pytest.raises(ProtocolTimeoutError, match="stayed busy"):
            engine.execute(1, READ, 3 * SETTLE)
    finally:
        turn.marks += 1
        lock.release()
    assert turn.lock is lock
    assert turn.recovered == 0


def test_a_holder_that_enters_while_a_waiter_watches_is_not_robbed() -> None:
    """A lock held with nobody inside is taken back only if nobody enters meanwhile."""
    turn = Turn("test")
    lock = turn.lock
    lock.acquire()  # taken; its holder has not entered yet
    got: list[threading.Lock | None] = []
    waiter = threading.Thread(target=lambda: got.append(turn.wait(lock, DEFAULT_TIMEOUT)))
    waiter.start()
    turn.marks += 1  # the holder enters, then works for longer than SETTLE
    deadline = time.monotonic() + 2 * SETTLE
    while time.monotonic() < deadline:
        waiter.join(deadline - time.monotonic())
    assert waiter.is_alive()  # still waiting: the lock was not taken back
    turn.marks += 1
    lock.release()
    waiter.join(DEFAULT_TIMEOUT)
    assert got == [lock]
    assert turn.lock is lock
    assert turn.recovered == 0
    lock.release()


def test_a_left_lock_is_taken_back_once_by_several_waiters() -> None:
    turn = Turn("test")
    left = turn.lock
    left.acquire()  # taken by a caller that never entered
    got: list[threading.Lock | None] = []
    done = threading.Barrier(4)

    def wait() -> None:
        lock = turn.wait(left, DEFAULT_TIMEOUT)
        got.append(lock)
        if lock is not None:
            turn.marks += 2  # one short transaction
            lock.release()
        done.wait(DEFAULT_TIMEOUT)

    waiters = [threading.Thread(target=wait) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    done.wait(DEFAULT_TIMEOUT)
    assert turn.recovered == 1
    assert len(got) == 3
    assert all(lock is turn.lock for lock in got)
    assert left.locked()
