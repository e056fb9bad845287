"""Fixtures of the gateway tests: a mosquitto broker, a watcher, Modbus simulators."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_peers import Broker, Watcher

from eq1_network.protocols.modbus import ModbusDevice, ModbusTCPServer
from eq1_network.testing import allow_interrupts


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """One mosquitto for the tests that do not stop it."""
    peer = Broker().start()
    yield peer
    peer.close()


@pytest.fixture
def own_broker() -> Iterator[Broker]:
    """A mosquitto of this test alone (it may be killed and restarted)."""
    peer = Broker().start()
    yield peer
    peer.close()


@pytest.fixture
def watcher(broker: Broker) -> Iterator[Watcher]:
    """A subscriber to every topic of the shared broker."""
    peer = Watcher(broker.port)
    yield peer
    peer.close()


@pytest.fixture
def device() -> ModbusDevice:
    """A unit with 200 of each table."""
    return ModbusDevice(coils=200, discrete_inputs=200, holding_registers=200, input_registers=200)


@pytest.fixture
def plc(device: ModbusDevice) -> Iterator[ModbusTCPServer]:
    """The device on a Modbus TCP server (unit 1) on a free port."""
    with ModbusTCPServer("127.0.0.1", 0, units={1: device}) as server:
        yield server


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT its handler back in a run started with it ignored (Ctrl-C tests)."""
    allow_interrupts()
