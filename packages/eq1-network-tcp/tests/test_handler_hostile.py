"""NetworkHandler on ``tcp-server`` next to hostile clients: each is dropped alone.

Hostile clients are raw sockets; the legitimate ones are NetworkHandlers on ``tcp``
whose round trips (requests answered by the server) must keep working before, during
and after each attack, while the server keeps accepting new connections.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from eq1_network import PacketError, ProtocolTimeoutError
from eq1_network.network import NetworkConfig, NetworkEvent, NetworkEventType, NetworkHandler
from eq1_network.package import TEXT_PACKAGE
from eq1_network.packets import MessageType, TextSendData
from eq1_network.testing import EventLog, free_port, wait_until

DEADLINE = 60.0
FRAME_TIMEOUT = 2.0


class Service:
    """A server handler that answers every COMMAND with ``"re: <value>"``.

    ``mode`` chooses where the answer is sent from: the event callback (the receive
    worker) or an application thread that calls ``receive()``.
    """

    def __init__(self, mode: str) -> None:
        self.port = free_port()
        self.log = EventLog()
        self.mode = mode
        self.handler = NetworkHandler(
            NetworkConfig(
                protocol="tcp-server",
                params={"host": "127.0.0.1", "port": self.port},
                package=TEXT_PACKAGE,
                receive_queue=mode == "receive",
                peer_frame_timeout=FRAME_TIMEOUT,
            ),
            self._on_event,
        )
        self.handler.start()
        self.clients: list[NetworkHandler] = []
        self._serving = threading.Thread(target=self._serve, daemon=True)
        if mode == "receive":
            self._serving.start()

    def _answer(self, command: Any) -> None:
        self.handler.send_data(
            TextSendData(
                f"re: {command.value}",
                message_type=MessageType.RESPONSE,
                reply_to=command.sequence,
            )
        )

    def _on_event(self, event: NetworkEvent) -> None:
        self.log(event)
        if self.mode == "callback" and event.type is NetworkEventType.RECEIVED:
            self._answer(event.data)

    def _serve(self) -> None:
        while self.handler.is_running():
            try:
                self._answer(self.handler.receive(timeout=0.2))
            except ProtocolTimeoutError:
                continue
            except Exception:  # the handler stopped
                return

    def client(self) -> NetworkHandler:
        client = NetworkHandler(
            NetworkConfig(
                protocol="tcp",
                params={"host": "127.0.0.1", "port": self.port},
                package=TEXT_PACKAGE,
                receive_queue=True,
            )
        )
        client.start()
        self.clients.append(client)
        return client

    def peer_errors(self, port: int) -> list[NetworkEvent]:
        """ERROR events about the client whose local port is ``port``."""
        return [
            e
            for e in self.log.of(NetworkEventType.ERROR)
            if getattr(e.data, "port", None) == port and str(e.data) in str(e.error)
        ]

    def close(self) -> None:
        for client in self.clients:
            client.stop(timeout=10)
        self.handler.stop(timeout=10)
        self._serving.join(10) if self._serving.is_alive() else None


@pytest.fixture(params=["callback", "receive"])
def service(request: pytest.FixtureRequest) -> Iterator[Service]:
    made = Service(request.param)
    try:
        yield made
    finally:
        made.close()


def round_trips(client: NetworkHandler, tag: str, count: int = 20) -> None:
    """Make ``count`` requests and check each reply is the answer to that request."""
    for i in range(count):
        reply = client.request(TextSendData(f"{tag} {i}"), timeout=DEADLINE)
        assert reply.value == f"re: {tag} {i}"


class Pinger:
    """A legitimate client making round trips on a thread until told to stop."""

    def __init__(self, client: NetworkHandler, tag: str) -> None:
        self.client, self.tag = client, tag
        self.done = 0
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and self.done < 100_000:
                round_trips(self.client, f"{self.tag}.{self.done}", 1)
                self.done += 1
        except BaseException as exc:
            self.failure = exc

    def finish(self) -> int:
        self._stop.set()
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive()
        assert self.failure is None, self.failure
        return self.done


def _raw_client(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(DEADLINE)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def _still_accepts(service: Service) -> None:
    round_trips(service.client(), "newcomer", 5)


def test_replies_go_to_the_client_that_asked(service: Service) -> None:
    # Every client numbers its messages from 1: the same sequence numbers arrive from
    # each, and each reply must still reach the client whose request it answers.
    clients = [service.client() for _ in range(4)]
    pingers = [Pinger(client, f"client{n}") for n, client in enumerate(clients)]
    wait_until(lambda: all(p.done >= 50 or p.failure for p in pingers), DEADLINE, "round trips")
    for pinger in pingers:
        assert pinger.finish() >= 50


@pytest.mark.parametrize(
    "garbage",
    [b"\xff\xff\xff\xff", struct.pack(">I", 2**20 + 100) + b"x" * 16],
    ids=["ff-ff-ff-ff", "oversized-frame"],
)
def test_a_client_sending_a_corrupt_frame_is_dropped_alone(
    service: Service, garbage: bytes
) -> None:
    legit = service.client()
    round_trips(legit, "before")
    pinger = Pinger(legit, "during")
    hostile = _raw_client(service.port)
    port = hostile.getsockname()[1]
    try:
        hostile.sendall(garbage)
        assert _closed_by_server(hostile)
    finally:
        hostile.close()
    wait_until(
        lambda: service.peer_errors(port), DEADLINE, "the ERROR event naming the hostile client"
    )
    [event] = service.peer_errors(port)
    assert isinstance(event.error, PacketError)
    assert pinger.finish() >= 1
    round_trips(legit, "after")
    _still_accepts(service)
    assert service.handler.is_connected()
    assert not any(e.type is NetworkEventType.DISCONNECTED for e in service.log.events)


def test_a_client_stalling_mid_frame_is_dropped_alone(service: Service) -> None:
    legit = service.client()
    round_trips(legit, "before")
    pinger = Pinger(legit, "during")
    hostile = _raw_client(service.port)
    port = hostile.getsockname()[1]
    frame = TEXT_PACKAGE.encode(TextSendData("x" * 100))
    sent = 0
    try:
        # One byte per second, bounded: the server drops it after FRAME_TIMEOUT seconds.
        while sent < 30 and not service.peer_errors(port):
            try:
                hostile.sendall(frame[sent : sent + 1])
            except OSError:
                break
            sent += 1
            threading.Event().wait(1.0)
        wait_until(lambda: service.peer_errors(port), DEADLINE, "the stalled client to be dropped")
        assert _closed_by_server(hostile)
    finally:
        hostile.close()
    assert sent < len(frame)
    assert "did not complete a frame" in str(service.peer_errors(port)[0].error)
    assert pinger.finish() >= 1
    round_trips(legit, "after")
    _still_accepts(service)


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.timeout(300)
def test_hundreds_of_clients_resetting_mid_frame_leave_nothing_behind(service: Service) -> None:
    legit = service.client()
    round_trips(legit, "before")
    pinger = Pinger(legit, "during")
    half = TEXT_PACKAGE.encode(TextSendData("y" * 200))[:100]
    started = time.monotonic()
    for _ in range(300):
        hostile = _raw_client(service.port)
        hostile.sendall(half)
        _reset(hostile)
        if time.monotonic() - started > 120:
            break
    listener = service.handler._listener
    assert listener is not None
    # The state of every client that left is freed; the legitimate one's stays.
    wait_until(
        lambda: listener.peer_count <= 1, DEADLINE, "the state of departed clients to be freed"
    )
    assert pinger.finish() >= 1
    round_trips(legit, "after")
    _still_accepts(service)
    assert service.handler.is_connected()
