"""The core's ReqResContract, in message-oriented mode, over every Modbus client.

A Modbus client's raw face sends one request PDU and reads one response PDU. The
contract's payloads travel as Diagnostics / Return Query Data requests (function
0x08, sub-function 0x0000), which a server answers with the same bytes: the contract
kit's ``to_message``/``from_message`` wrap and unwrap them, and a PDU holds at most
253 bytes, so a payload at most 250.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from modbus_peers import PeerFactory

from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.modbus import (
    ModbusASCIIProtocol,
    ModbusDevice,
    ModbusProtocol,
    ModbusRTUOverTCPProtocol,
    ModbusRTUProtocol,
    ModbusRTUServer,
    ModbusTCPServer,
)
from eq1_network.testing import DEFAULT_TIMEOUT, ReqResContract

ECHO = b"\x08\x00\x00"


class ModbusContract(ReqResContract):
    """The contract with payloads carried by the diagnostics echo."""

    preserves_boundaries = True
    max_message_size = 253 - len(ECHO)

    def to_message(self, payload: bytes) -> bytes:
        return ECHO + payload

    def from_message(self, message: bytes) -> bytes:
        assert message[: len(ECHO)] == ECHO, f"not a diagnostics echo: {message[:8].hex(' ')}"
        return message[len(ECHO) :]


@pytest.fixture
def tcp_server() -> Iterator[ModbusTCPServer]:
    with ModbusTCPServer("127.0.0.1", 0, units={1: ModbusDevice()}) as server:
        yield server


class TestModbusTCP(ModbusContract):
    @pytest.fixture
    def protocol(self, tcp_server: ModbusTCPServer) -> Iterator[ReqResProtocol]:
        host, port = tcp_server.address
        proto = ModbusProtocol(host, port, timeout=DEFAULT_TIMEOUT)
        yield proto
        proto.disconnect()


class TestModbusRTUOverTCP(ModbusContract):
    @pytest.fixture
    def protocol(self) -> Iterator[ReqResProtocol]:
        units = {1: ModbusDevice()}
        with ModbusTCPServer("127.0.0.1", 0, units=units, framer="rtu") as server:
            proto = ModbusRTUOverTCPProtocol(*server.address, timeout=DEFAULT_TIMEOUT)
            yield proto
            proto.disconnect()


@pytest.mark.parametrize("framer", ["rtu", "ascii"])
class TestModbusSerial(ModbusContract):
    @pytest.fixture
    def protocol(
        self, posix: None, modbus_peers: PeerFactory, framer: str
    ) -> Iterator[ReqResProtocol]:
        server_end, client_end = modbus_peers.pty_pair()
        server = ModbusRTUServer(server_end, units={1: ModbusDevice()}, framer=framer)  # type: ignore[arg-type]
        with server:
            cls = ModbusRTUProtocol if framer == "rtu" else ModbusASCIIProtocol
            proto = cls(str(Path(client_end)), timeout=DEFAULT_TIMEOUT)
            yield proto
            proto.disconnect()
