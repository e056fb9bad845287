"""NetworkHandler over UDP on 127.0.0.1: frames fit datagrams, replies reach the right
sender, and acknowledged mode through a relay that drops 1% of the datagrams."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eq1_network import ProtocolTimeoutError
from eq1_network.network import NetworkConfig, NetworkEventType, NetworkHandler, ReconnectPolicy
from eq1_network.package import BINARY_PACKAGE, TEXT_PACKAGE
from eq1_network.packets import BinarySendData, MessageType, TextSendData
from eq1_network.protocols.udp import UDPClient, UDPServer
from eq1_network.testing import EventLog

LOCALHOST = "127.0.0.1"
DEADLINE = 60.0
BUFFER = 4 << 20


class _Spy(UDPClient):
    """A UDPClient that records the size of every datagram it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sizes: list[int] = []

    def _send_raw(self, data: bytes) -> int:
        self.sizes.append(len(data))
        return super()._send_raw(data)


@pytest.fixture
def handlers() -> Iterator[Callable[..., NetworkHandler]]:
    """Start handlers over given protocols; all are stopped at the end."""
    made: list[NetworkHandler] = []

    def start(
        protocol: UDPClient | UDPServer, callback: Any = None, **config: Any
    ) -> NetworkHandler:
        handler = NetworkHandler(NetworkConfig(protocol=protocol, **config), callback)
        handler.start()
        made.append(handler)
        return handler

    yield start
    for handler in reversed(made):
        handler.stop(timeout=10)


def _bound_server(**kwargs: Any) -> tuple[UDPServer, int]:
    server = UDPServer(LOCALHOST, 0, receive_buffer=BUFFER, **kwargs)
    server.connect()
    assert server.address is not None
    return server, server.address[1]


def test_typed_messages_arrive_in_order(handlers: Callable[..., NetworkHandler]) -> None:
    server_proto, port = _bound_server()
    server = handlers(server_proto, package=TEXT_PACKAGE, receive_queue=True)
    client = handlers(UDPClient(LOCALHOST, port, receive_buffer=BUFFER), package=TEXT_PACKAGE)
    for i in range(300):
        client.send_data(TextSendData(f"reading {i}"))
    assert [server.receive(timeout=DEADLINE).value for _ in range(300)] == [
        f"reading {i}" for i in range(300)
    ]


def test_a_large_message_is_split_to_fit_the_datagrams(
    handlers: Callable[..., NetworkHandler],
) -> None:
    server_proto, port = _bound_server()
    server = handlers(server_proto, package=BINARY_PACKAGE, receive_queue=True)
    spy = _Spy(LOCALHOST, port, max_datagram=1400, receive_buffer=BUFFER)
    client = handlers(spy, package=BINARY_PACKAGE)
    blob = os.urandom(300_000)
    client.send_data(BinarySendData(blob, message_type=MessageType.FILE_TRANSFER))
    client.send_data(BinarySendData(b"small"))
    received = server.receive(timeout=DEADLINE)
    assert received.value == blob
    assert server.receive(timeout=DEADLINE).value == b"small"
    assert len(spy.sizes) > 300_000 // 1400
    assert max(spy.sizes) <= 1400


def test_replies_reach_the_client_that_asked(handlers: Callable[..., NetworkHandler]) -> None:
    server_proto, port = _bound_server()
    server = handlers(server_proto, package=TEXT_PACKAGE, receive_queue=True)
    clients = [
        handlers(UDPClient(LOCALHOST, port, receive_buffer=BUFFER), package=TEXT_PACKAGE)
        for _ in range(3)
    ]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                command = server.receive(timeout=0.2)
            except ProtocolTimeoutError:
                continue
            server.send_data(
                TextSendData(
                    f"done {command.value}",
                    message_type=MessageType.RESPONSE,
                    reply_to=command.sequence,
                )
            )

    responder = threading.Thread(target=serve, daemon=True)
    responder.start()
    try:
        for round_ in range(10):
            for index, client in enumerate(clients):
                reply = client.request(TextSendData(f"{index}.{round_}"), timeout=DEADLINE)
                assert reply.value == f"done {index}.{round_}"
    finally:
        stop.set()
        responder.join(DEADLINE)


@pytest.mark.timeout(120)
def test_acknowledged_mode_through_a_lossy_relay(
    handlers: Callable[..., NetworkHandler], lossy_relay: Callable[..., Any]
) -> None:
    server_proto, port = _bound_server()
    relay = lossy_relay(port, 0.01, 7)
    ack = {"acknowledged": True, "ack_timeout": 0.2, "max_unacknowledged": 64}
    receiver = handlers(server_proto, package=TEXT_PACKAGE, receive_queue=True, **ack)
    sender = handlers(
        UDPClient(LOCALHOST, relay.port, receive_buffer=BUFFER),
        package=TEXT_PACKAGE,
        max_batch=1,  # one message per datagram: the relay has many datagrams to drop
        **ack,
    )
    count = 2000
    for i in range(count):
        sender.send_data(TextSendData(f"m{i}"))
    got = [receiver.receive(timeout=DEADLINE).value for _ in range(count)]
    assert got == [f"m{i}" for i in range(count)]  # nothing lost, nothing repeated
    report = sender.stop(timeout=DEADLINE)
    assert report.complete, report
    with pytest.raises(ProtocolTimeoutError):
        receiver.receive(timeout=0.5)  # no late duplicate either
    assert relay.dropped >= 5, f"the relay dropped {relay.dropped}: the test proved little"


@pytest.mark.timeout(120)
def test_acknowledged_mode_with_a_server_that_starts_late(
    handlers: Callable[..., NetworkHandler], free_port_udp: Callable[[], int]
) -> None:
    port = free_port_udp()
    ack = {"acknowledged": True, "ack_timeout": 0.2, "max_unacknowledged": 64}
    policy = ReconnectPolicy(initial_delay=0.05, max_delay=0.2)
    events = EventLog()
    sender = handlers(
        UDPClient(LOCALHOST, port, receive_buffer=BUFFER),
        events,
        package=TEXT_PACKAGE,
        reconnect=policy,
        **ack,
    )
    for i in range(20):
        sender.send_data(TextSendData(f"early {i}"))
    # Nothing listens yet: the host answers port-unreachable, which the client reports
    # as a broken link; the policy reconnects and the window is written again.
    lost = events.wait_for(NetworkEventType.DISCONNECTED, 1, timeout=DEADLINE)
    assert "port unreachable" in str(lost[0].error)
    server = UDPServer(LOCALHOST, port, receive_buffer=BUFFER)
    receiver = handlers(server, package=TEXT_PACKAGE, receive_queue=True, **ack)
    assert [receiver.receive(timeout=DEADLINE).value for _ in range(20)] == [
        f"early {i}" for i in range(20)
    ]
    assert sender.stop(timeout=DEADLINE).complete
