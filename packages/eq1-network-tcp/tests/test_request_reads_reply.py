"""``NetworkHandler.request()`` over TCP against a raw-socket responder, plain and TLS.

The responder is a blocking socket loop written with ``struct`` (not this project's
server). It answers each typed request with a RESPONSE whose ``reply_to`` is the
request's sequence, and varies how the reply travels, so that requests reading their
own replies (see ``eq1_network.worker.handoff``) meet every case: the reply alone, the
reply in the same write as an unrequested message, an unrequested message after it,
the reply cut into two writes, and the connection closed instead of an answer.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from eq1_network import ProtocolTimeoutError
from eq1_network.network import NetworkConfig, NetworkEventType, NetworkHandler, ReconnectPolicy
from eq1_network.package import BINARY_PACKAGE
from eq1_network.packets import BinarySendData, MessageType
from eq1_network.testing import wait_until
from eq1_network.worker import handoff

LENGTH = struct.Struct(">I")
HEADER = struct.Struct(">BBBBHBBQQq")  # the typed message header, version 1
DATA, RESPONSE, BINARY = 2, 3, 2
CLOSE_AT = b"close"


def _frame(message_type: int, reply_to: int, body: bytes) -> bytes:
    header = HEADER.pack(1, message_type, BINARY, 0, HEADER.size, 0, 0, 0, reply_to, 0)
    return LENGTH.pack(len(header) + len(body)) + header + body


class Responder:
    """Answers typed requests on 127.0.0.1; each connection is served in turn."""

    def __init__(self, context: ssl.SSLContext | None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(30)
        self._context = context
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the waiting accept()
        self._listener.close()
        self._thread.join(30)
        assert not self._thread.is_alive()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            if self._context is not None:
                conn = self._context.wrap_socket(conn, server_side=True)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(30)
            with conn:
                self._answer_all(conn)

    def _answer_all(self, conn: socket.socket) -> None:
        buf = b""
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while len(buf) >= LENGTH.size and len(buf) >= LENGTH.size + LENGTH.unpack_from(buf)[0]:
                end = LENGTH.size + LENGTH.unpack_from(buf)[0]
                payload, buf = buf[LENGTH.size : end], buf[end:]
                fields = HEADER.unpack_from(payload)
                body = payload[fields[4] :]
                if body == CLOSE_AT:
                    return  # no answer: the connection closes instead
                self._answer(conn, fields[7], body)

    def _answer(self, conn: socket.socket, sequence: int, body: bytes) -> None:
        reply = _frame(RESPONSE, sequence, body)
        news = _frame(DATA, 0, b"news " + body)
        way = int(body) % 4
        if way == 0:
            conn.sendall(reply)
        elif way == 1:
            conn.sendall(news + reply)  # one write: an unrequested message, then the reply
        elif way == 2:
            conn.sendall(reply)
            conn.sendall(news)
        else:
            conn.sendall(reply[:7])  # the reply cut into two writes
            conn.sendall(reply[7:])


@pytest.fixture(params=["plain", "tls"])
def responder(request: pytest.FixtureRequest, tls_files: Any) -> Iterator[tuple[Responder, Any]]:
    if request.param == "plain":
        server_ctx, client_tls = None, None
    else:
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(tls_files.server_cert, tls_files.server_key)
        client_tls = ssl.create_default_context(cafile=str(tls_files.ca))
    peer = Responder(server_ctx)
    yield peer, client_tls
    peer.close()


def _handler(port: int, tls: Any, callback: Any) -> NetworkHandler:
    params: dict[str, Any] = {"host": "127.0.0.1", "port": port}
    if tls is not None:
        params["tls"] = tls
    config = NetworkConfig(
        protocol="tcp",
        params=params,
        package=BINARY_PACKAGE,
        reconnect=ReconnectPolicy(initial_delay=0.01, max_delay=0.1),
    )
    return NetworkHandler(config, callback)


def test_every_reply_and_every_other_message_arrives(
    responder: tuple[Responder, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff, "LINGER", 0.5)  # keep the receive worker aside
    own = {"replies": 0}
    check = handoff.ReadHandoff._reply

    def counted(self: handoff.ReadHandoff, data: bytes, sequence: int) -> Any:
        reply = check(self, data, sequence)
        own["replies"] += reply is not None
        return reply

    monkeypatch.setattr(handoff.ReadHandoff, "_reply", counted)
    peer, tls = responder
    news: list[bytes] = []
    threads: set[int] = set()

    def on_event(event: Any) -> None:
        if event.type is NetworkEventType.RECEIVED:
            news.append(event.data.value)
            threads.add(threading.get_ident())

    handler = _handler(peer.port, tls, on_event)
    with handler:
        for n in range(400):
            reply = handler.request(BinarySendData(str(n).encode()), timeout=30)
            assert reply.value == str(n).encode()
            assert reply.message_type is MessageType.RESPONSE
        expected = [b"news %d" % n for n in range(400) if n % 4 in (1, 2)]
        assert wait_until(lambda: len(news) >= len(expected), 30)
        assert news == expected  # none lost, none taken for a reply, in order
        assert threads == {handler._listener.ident}  # delivered by the receive worker
        assert own["replies"] > 0  # and requests did read their replies themselves


def test_a_connection_closed_instead_of_an_answer_fails_that_request_only(
    responder: tuple[Responder, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff, "LINGER", 0.5)
    peer, tls = responder
    handler = _handler(peer.port, tls, None)
    with handler:
        for n in range(20):
            assert handler.request(BinarySendData(b"%d" % n), timeout=30).value == b"%d" % n
        with pytest.raises(ProtocolTimeoutError, match="no reply"):
            handler.request(BinarySendData(CLOSE_AT), timeout=1.0)
        assert wait_until(lambda: peer.connections == 2 and handler.is_connected(), 30)
        for n in range(20):
            assert handler.request(BinarySendData(b"%d" % n), timeout=30).value == b"%d" % n
