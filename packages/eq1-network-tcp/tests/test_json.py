"""JSON messages framed by NetworkPacketStructure: round trips, bad frames, interop."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from eq1_network.common.exceptions import (
    MalformedPacketError,
    PacketSizeError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.packets import NetworkPacketStructure
from eq1_network.protocols.ethernet import JsonMessage
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer

LOCALHOST = "127.0.0.1"
TIMEOUT = 20.0


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def message(value: Any) -> bytes:
    return frame(json.dumps(value).encode())


@pytest.fixture
def pair(server: TCPServer, clients: list[TCPClient]) -> tuple[TCPServer, TCPClient]:
    client = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
    clients.append(client)
    client.connect()
    return server, client


@pytest.fixture
def accepted() -> Iterator[tuple[socket.socket, TCPClient]]:
    """A TCPClient connected to a raw socket the test controls."""
    with socket.create_server((LOCALHOST, 0)) as listener:
        client = TCPClient(LOCALHOST, listener.getsockname()[1], timeout=TIMEOUT)
        client.connect()
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        try:
            yield conn, client
        finally:
            client.disconnect()
            conn.close()


def test_round_trip_between_client_and_server(pair: tuple[TCPServer, TCPClient]) -> None:
    server, client = pair
    request = {"cmd": "measure", "sensor": "온도", "values": [1, 2.5, None, True]}
    assert client.send_json(request) > 0
    received = server.receive_json(TIMEOUT)
    assert isinstance(received, JsonMessage)
    assert received.value == request
    assert received.peer == server.last_peer
    server.send_json({"ok": True, "echo": request})
    assert client.read_json(TIMEOUT) == {"ok": True, "echo": request}
    assert client.read_json() is None
    assert server.receive_json() is None


def test_send_json_to_one_client_and_lists(pair: tuple[TCPServer, TCPClient]) -> None:
    server, client = pair
    client.send_json(["hello"])
    received = server.receive_json(TIMEOUT)
    assert received is not None
    server.send_json_to(received.peer, [1, [2, [3]]])
    assert client.read_json(TIMEOUT) == [1, [2, [3]]]


def test_frames_split_byte_by_byte_and_batched(server: TCPServer) -> None:
    values = [{"n": i, "pad": "x" * i} for i in range(20)]
    stream = b"".join(message(v) for v in values)
    with socket.create_connection((LOCALHOST, server.port), timeout=TIMEOUT) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        half = len(stream) // 2
        for i in range(half):  # the first half one byte at a time
            raw.sendall(stream[i : i + 1])
        raw.sendall(stream[half:])  # the rest in one write
        got = [server.receive_json(TIMEOUT) for _ in values]
    assert [m.value for m in got if m is not None] == values


def test_malformed_payload_is_reported_and_the_connection_stays_usable(
    server: TCPServer, until: Any
) -> None:
    with socket.create_connection((LOCALHOST, server.port), timeout=TIMEOUT) as raw:
        raw.sendall(frame(b"{not json") + frame(b"42") + message({"after": "bad"}))
        with pytest.raises(MalformedPacketError, match=r"client #\d+ 127\.0\.0\.1:\d+.*JSON"):
            server.receive_json(TIMEOUT)
        with pytest.raises(MalformedPacketError, match="object or an array"):
            server.receive_json(TIMEOUT)
        good = server.receive_json(TIMEOUT)
        assert good is not None and good.value == {"after": "bad"}
        assert len(server.peers()) == 1
        server.send_json({"still": "connected"})
        length = struct.unpack(">I", raw.recv(4, socket.MSG_WAITALL))[0]
        assert json.loads(raw.recv(length, socket.MSG_WAITALL)) == {"still": "connected"}


def test_oversized_frame_disconnects_only_that_client(
    server: TCPServer, clients: list[TCPClient], until: Any
) -> None:
    good = TCPClient(LOCALHOST, server.port, timeout=TIMEOUT)
    clients.append(good)
    good.connect()
    with socket.create_connection((LOCALHOST, server.port), timeout=TIMEOUT) as raw:
        raw.sendall(message({"first": 1}) + struct.pack(">I", 2 * 1024 * 1024) + b"garbage")
        first = server.receive_json(TIMEOUT)
        assert first is not None and first.value == {"first": 1}
        with pytest.raises(PacketSizeError, match="client #"):
            server.receive_json(TIMEOUT)
        assert raw.recv(1) == b""  # the server closed that connection cleanly
    good.send_json({"unaffected": True})
    later = server.receive_json(TIMEOUT)
    assert later is not None and later.value == {"unaffected": True}
    until(lambda: len(server.peers()) == 1, what="the bad client to be gone")


def test_client_leaving_inside_a_frame_is_reported(server: TCPServer) -> None:
    with socket.create_connection((LOCALHOST, server.port), timeout=TIMEOUT) as raw:
        raw.sendall(frame(b'{"complete": 1}') + struct.pack(">I", 100) + b'{"cut')
    first = server.receive_json(TIMEOUT)
    assert first is not None and first.value == {"complete": 1}
    with pytest.raises(MalformedPacketError, match="ended inside a frame"):
        server.receive_json(TIMEOUT)
    assert server.receive_json(0.05) is None


def test_client_reports_malformed_payload_and_goes_on(
    accepted: tuple[socket.socket, TCPClient],
) -> None:
    conn, client = accepted
    conn.sendall(frame(b"\xff\xfe not utf-8") + message([1, 2]))
    with pytest.raises(MalformedPacketError, match="not valid UTF-8 JSON"):
        client.read_json(TIMEOUT)
    assert client.read_json(TIMEOUT) == [1, 2]
    assert client.is_connected()
    client.send_json({"reply": 1})
    length = struct.unpack(">I", conn.recv(4, socket.MSG_WAITALL))[0]
    assert json.loads(conn.recv(length, socket.MSG_WAITALL)) == {"reply": 1}


def test_client_closes_on_an_oversized_frame(accepted: tuple[socket.socket, TCPClient]) -> None:
    conn, client = accepted
    conn.sendall(message({"before": 0}) + struct.pack(">I", 0xFFFFFFFF))
    assert client.read_json(TIMEOUT) == {"before": 0}
    with pytest.raises(PacketSizeError, match="limit"):
        client.read_json(TIMEOUT)
    assert client.is_connected() is False
    assert conn.recv(1) == b""  # closed cleanly, not left half-parsed


def test_client_reports_a_server_that_left_inside_a_frame(
    accepted: tuple[socket.socket, TCPClient],
) -> None:
    conn, client = accepted
    conn.sendall(struct.pack(">I", 50) + b"[1, 2")
    conn.close()
    with pytest.raises(MalformedPacketError, match="ended inside a frame"):
        client.read_json(TIMEOUT)
    assert client.read_json(0) is None


def test_send_json_validates_its_argument(pair: tuple[TCPServer, TCPClient]) -> None:
    _server, client = pair
    with pytest.raises(ProtocolTypeError, match="dict or a list"):
        client.send_json("text")  # type: ignore[arg-type]
    with pytest.raises(ProtocolTypeError, match="cannot be sent as JSON"):
        client.send_json({"when": object()})
    with pytest.raises(ProtocolValidationError, match="cannot be sent as JSON"):
        client.send_json({"x": float("nan")})
    small = TCPClient(LOCALHOST, 1, json_structure=NetworkPacketStructure(max_payload=16))
    with pytest.raises(PacketSizeError):
        small._framing().to_packet(b"x" * 17)
    with pytest.raises(PacketSizeError):
        client.json_structure = NetworkPacketStructure(max_payload=16)
        client.send_json({"long": "x" * 64})


def test_interoperates_with_twisted_int32_string_receiver(clients: list[TCPClient]) -> None:
    """Twisted's Int32StringReceiver speaks the same 4-byte big-endian framing."""
    script = textwrap.dedent(
        """
        import json, sys
        from twisted.internet import protocol, reactor
        from twisted.protocols.basic import Int32StringReceiver

        class Echo(Int32StringReceiver):
            MAX_LENGTH = 1024 * 1024
            def stringReceived(self, data):
                value = json.loads(data)
                self.sendString(json.dumps({"twisted": value}).encode())
            def connectionLost(self, reason):
                reactor.callLater(0, reactor.stop)

        factory = protocol.Factory.forProtocol(Echo)
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        print(port.getHost().port, flush=True)
        reactor.callLater(60, reactor.stop)
        reactor.run()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        client = TCPClient(LOCALHOST, port, timeout=TIMEOUT)
        clients.append(client)
        client.connect()
        for value in ({"a": 1}, ["b", 2], {"big": "y" * 100_000}):
            client.send_json(value)
            assert client.read_json(TIMEOUT) == {"twisted": value}
        client.disconnect()
        proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()
