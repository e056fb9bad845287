"""Long runs of acknowledged mode over UDP through a relay that drops and reorders.

Run by the ``faults`` session, not the normal test run: each test takes tens of
seconds. Bounded in count (messages) and time (pytest timeout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eq1_network import ProtocolTimeoutError
from eq1_network.network import NetworkConfig, NetworkHandler
from eq1_network.package import TEXT_PACKAGE
from eq1_network.packets import TextSendData
from eq1_network.protocols.udp import UDPClient, UDPServer

LOCALHOST = "127.0.0.1"
DEADLINE = 120.0
BUFFER = 4 << 20


@pytest.fixture
def handlers() -> Iterator[Callable[..., NetworkHandler]]:
    made: list[NetworkHandler] = []

    def start(protocol: UDPClient | UDPServer, **config: Any) -> NetworkHandler:
        handler = NetworkHandler(NetworkConfig(protocol=protocol, **config))
        handler.start()
        made.append(handler)
        return handler

    yield start
    for handler in reversed(made):
        handler.stop(timeout=10)


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("count", "loss", "reorder"),
    [(20_000, 0.01, 0.0), (5_000, 0.05, 0.0), (5_000, 0.01, 0.02)],
)
def test_nothing_lost_nothing_repeated(
    handlers: Callable[..., NetworkHandler],
    lossy_relay: Callable[..., Any],
    count: int,
    loss: float,
    reorder: float,
) -> None:
    server = UDPServer(LOCALHOST, 0, receive_buffer=BUFFER)
    server.connect()
    assert server.address is not None
    relay = lossy_relay(server.address[1], loss, 11, reorder)
    ack = {"acknowledged": True, "ack_timeout": 0.2, "max_unacknowledged": 64}
    receiver = handlers(server, package=TEXT_PACKAGE, receive_queue=True, **ack)
    sender = handlers(
        UDPClient(LOCALHOST, relay.port, receive_buffer=BUFFER),
        package=TEXT_PACKAGE,
        max_batch=1,
        **ack,
    )
    for i in range(count):
        sender.send_data(TextSendData(f"m{i}"), timeout=DEADLINE)
    got = [receiver.receive(timeout=DEADLINE).value for _ in range(count)]
    assert got == [f"m{i}" for i in range(count)]
    assert sender.stop(timeout=DEADLINE).complete
    with pytest.raises(ProtocolTimeoutError):
        receiver.receive(timeout=1.0)
    assert relay.dropped > count * loss / 2
    assert relay.reordered >= (1 if reorder else 0)
