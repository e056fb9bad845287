"""A transaction interrupted by Ctrl-C never leaves the client unable to run the next one.

``KeyboardInterrupt`` can be raised right after a caller took a lock and before the
block that frees it. The lock below raises at exactly that point, the first time it
is taken, so the tests do not depend on a signal's timing. Afterwards the next request
must take the lock back and be answered by a real server, on the same connection and
after a reconnection; a transaction that really runs, however long, is never robbed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import modbus_peers as expect
import pytest
from modbus_peers import ModbusPeer, client_for
from modbus_test_links import ScriptLink

from eq1_network.common.exceptions import ProtocolTimeoutError
from eq1_network.common.guard import Guard
from eq1_network.protocols.modbus import pdu
from eq1_network.protocols.modbus._stream_engine import StreamEngine
from eq1_network.protocols.modbus._transaction import SETTLE
from eq1_network.protocols.modbus.client import ModbusClient
from eq1_network.protocols.modbus.framers import MBAPFramer
from eq1_network.testing import InterruptingLock

READ = bytes.fromhex("03 0000 0001")


def guard_of(client: ModbusClient, which: str) -> Guard:
    """The client engine's ``Guard`` named ``which``."""
    guard = getattr(client._engine, which)
    assert isinstance(guard, Guard)
    return guard


def interrupt_then_recover(
    client: ModbusClient, guard: Guard, call: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Interrupt ``call`` at the lock of ``guard``, then check the next calls succeed."""
    stuck = InterruptingLock()
    guard.lock = stuck  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        call()
    assert stuck.locked()  # held by nobody: the interrupted caller never got to free it

    with caplog.at_level(logging.WARNING, logger="eq1_network"):
        assert client.read_holding_registers(0, 10) == expect.holding_registers(1, 0, 10)
    assert guard.recovered == 1
    assert guard.lock is not stuck
    assert "was left held" in caplog.text
    call()  # the interrupted kind of call runs again on the same connection

    client.disconnect()
    client.connect()
    assert client.read_holding_registers(0, 10) == expect.holding_registers(1, 0, 10)
    assert guard.recovered == 1


def test_one_request_at_a_time_recovers_on_the_same_connection(
    libmodbus_tcp: ModbusPeer, caplog: pytest.LogCaptureFixture
) -> None:
    with client_for(libmodbus_tcp) as client:
        interrupt_then_recover(
            client,
            guard_of(client, "_single"),
            lambda: client.read_holding_registers(0, 10),
            caplog,
        )


def test_pipelined_requests_recover_the_read_role(
    libmodbus_tcp: ModbusPeer, caplog: pytest.LogCaptureFixture
) -> None:
    requests = [pdu.read_holding_registers(i, 2) for i in range(4)]
    with client_for(libmodbus_tcp, max_outstanding=4) as client:
        interrupt_then_recover(
            client, guard_of(client, "_read_role"), lambda: client.execute_many(requests), caplog
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
            client, guard_of(client, "_guard"), lambda: client.read_holding_registers(0, 10), caplog
        )


def test_a_request_still_waits_for_a_transaction_that_runs() -> None:
    engine = StreamEngine(ScriptLink([]), MBAPFramer())
    guard = engine._single
    lock = guard.lock
    lock.acquire()
    guard.turn += 1  # inside its block, as a running transaction is
    try:
        with pytest.raises(ProtocolTimeoutError, match="stayed busy"):
            engine.execute(1, READ, 3 * SETTLE)
    finally:
        guard.turn += 1
        lock.release()
    assert guard.lock is lock
    assert guard.recovered == 0
