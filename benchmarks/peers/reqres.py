"""One side of a request/response run (a child of ``bench_peers.py``).

Usage: ``reqres.py server IMPL COUNT MAX_SECONDS`` with IMPL ``lib`` (a
``NetworkHandler`` answering each typed request with a RESPONSE whose ``reply_to``
is the request's sequence), ``typed`` (the same answer from a blocking raw loop that
unpacks and packs the header with ``struct``), ``raw`` (blocking echo of each
length-prefixed frame) or ``twisted`` (``Int32StringReceiver`` echoing each string); and
``reqres.py client IMPL COUNT MAX_SECONDS PORT`` with IMPL ``lib``
(``NetworkHandler.request()``), ``lib-worker`` (the same with the receive worker
reading every reply, as before requests read their own), ``raw`` (blocking
``sendall``/``recv`` ping-pong),
``typed`` (the same ping-pong with a typed header packed per request, the reply's
``reply_to`` checked),
``twisted`` (a Deferred per request, the next request sent from its callback) or
``manager`` (``ReqResManager`` + ``TCPClient``: ``send`` of a prebuilt frame, ``read``
until the whole echo is back).

A server reports ``{"got": N}`` after N requests; a client reports
``{"done": N, "rate": R}``, R in round trips per second over N after a warm-up.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from _common import (
    BINARY,
    DATA,
    FRAME,
    HEADER,
    HEADER_VERSION,
    HOST,
    LENGTH,
    MAX_FRAME,
    PAYLOAD,
    RESPONSE,
    count_frames,
    dump_profile,
    emit,
    install_profiler,
    listener,
    nodelay,
    stop_requested,
)

WARMUP = 200


# -- servers -----------------------------------------------------------------------


def lib_server(count: int, max_seconds: float) -> None:
    from eq1_network import (
        BINARY_PACKAGE,
        BinarySendData,
        MessageType,
        NetworkConfig,
        NetworkEventType,
        NetworkHandler,
    )
    from eq1_network.testing import free_port

    port = free_port()
    received, response = NetworkEventType.RECEIVED, MessageType.RESPONSE
    total = count + WARMUP
    state = {"got": 0}
    done = threading.Event()
    handler: Any = None

    def on_event(event: Any) -> None:
        if event.type is received:
            data = event.data
            handler.send_data(
                BinarySendData(data.value, message_type=response, reply_to=data.sequence)
            )
            state["got"] += 1
            if state["got"] >= total:
                done.set()

    config = NetworkConfig(
        protocol="tcp-server",
        params={"host": HOST, "port": port},
        package=BINARY_PACKAGE,
        sent_events=False,
    )
    handler = NetworkHandler(config, on_event)
    handler.start()
    emit(port=port)
    done.wait(max_seconds)
    emit(got=state["got"])
    stop_requested().wait(max_seconds)
    handler.stop(timeout=10)


def _blocking_server(
    count: int, max_seconds: float, answer: Callable[[bytes], tuple[bytes, int, int]]
) -> None:
    """Serve one connection with a blocking loop.

    ``answer(buffered)`` returns ``(bytes to send, frames answered, bytes consumed)``.
    """
    server = listener()
    emit(port=server.getsockname()[1])
    server.settimeout(max_seconds)
    conn, _ = server.accept()
    nodelay(conn).settimeout(max_seconds)
    got, buf, reported = 0, b"", False
    deadline = time.monotonic() + max_seconds
    try:
        while time.monotonic() < deadline:
            data = conn.recv(65536)
            if not data:
                break
            buf += data
            out, frames, used = answer(buf)
            if frames:
                conn.sendall(out)
                buf = buf[used:]
                got += frames
            if got >= count + WARMUP and not reported:
                emit(got=got)
                reported = True
    except TimeoutError:
        pass
    if not reported:
        emit(got=got)
    stop_requested().wait(10)
    conn.close()


def _echo(buf: bytes) -> tuple[bytes, int, int]:
    """Echo the whole frames of ``buf``."""
    frames, offset = count_frames(buf, 0)
    return buf[:offset], frames, offset


def _typed_answers(buf: bytes) -> tuple[bytes, int, int]:
    """A RESPONSE, with the request's sequence as ``reply_to``, per whole request of ``buf``."""
    answers, pos = [], 0
    while len(buf) - pos >= LENGTH.size:
        end = pos + LENGTH.size + LENGTH.unpack_from(buf, pos)[0]
        if len(buf) < end:
            break
        fields = HEADER.unpack_from(buf, pos + LENGTH.size)
        body = buf[pos + LENGTH.size + fields[4] : end]
        header = HEADER.pack(HEADER_VERSION, RESPONSE, fields[2], 0, HEADER.size, 0, 0, 0,
                             fields[7], fields[9])  # fmt: skip
        answers.append(LENGTH.pack(len(header) + len(body)) + header + body)
        pos = end
    return b"".join(answers), len(answers), pos


def raw_server(count: int, max_seconds: float) -> None:
    _blocking_server(count, max_seconds, _echo)


def typed_server(count: int, max_seconds: float) -> None:
    _blocking_server(count, max_seconds, _typed_answers)


def twisted_server(count: int, max_seconds: float) -> None:
    from twisted.internet import protocol, reactor
    from twisted.protocols.basic import Int32StringReceiver

    state = {"got": 0, "reported": False}

    def report() -> None:
        if not state["reported"]:
            state["reported"] = True
            emit(got=state["got"])

    class Echo(Int32StringReceiver):
        MAX_LENGTH = MAX_FRAME

        def connectionMade(self) -> None:  # noqa: N802 (Twisted's name)
            self.transport.setTcpNoDelay(True)  # type: ignore[union-attr]

        def stringReceived(self, string: bytes) -> None:  # noqa: N802 (Twisted's name)
            self.sendString(string)
            state["got"] += 1
            if state["got"] >= count + WARMUP:
                report()

    port = reactor.listenTCP(  # type: ignore[attr-defined]
        0, protocol.ServerFactory.forProtocol(Echo), interface=HOST
    )
    emit(port=port.getHost().port)
    reactor.callLater(max_seconds, report)  # type: ignore[attr-defined]
    stop = stop_requested()

    def wait() -> None:
        stop.wait(2 * max_seconds)
        reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]

    threading.Thread(target=wait, daemon=True).start()
    reactor.run()  # type: ignore[attr-defined]


# -- clients -----------------------------------------------------------------------


def timed(one: Callable[[], None], count: int, max_seconds: float) -> None:
    """Warm up, then time ``count`` calls of ``one`` (bounded by ``max_seconds``)."""
    for _ in range(WARMUP):
        one()
    deadline = time.monotonic() + max_seconds
    done = 0
    started = time.perf_counter()
    while done < count:
        one()
        done += 1
        if not done % 256 and time.monotonic() > deadline:
            break
    elapsed = time.perf_counter() - started
    emit(done=done, rate=done / elapsed)


def lib_client(count: int, max_seconds: float, port: int, worker_reads: bool = False) -> None:
    from eq1_network import BINARY_PACKAGE, BinarySendData, NetworkConfig, NetworkHandler

    config = NetworkConfig(
        protocol="tcp", params={"host": HOST, "port": port}, package=BINARY_PACKAGE
    )
    with NetworkHandler(config) as handler:
        if worker_reads:
            # Without the handoff the receive worker reads every reply and wakes the
            # requesting thread: the path that requests reading their own replies replace.
            assert handler._listener is not None
            handler._listener.handoff = None
        request = handler.request
        timed(lambda: request(BinarySendData(PAYLOAD), timeout=30), count, max_seconds)
        stop_requested().wait(10)


def raw_client(count: int, max_seconds: float, port: int) -> None:
    sock = nodelay(socket.create_connection((HOST, port)))
    sock.settimeout(30)
    size = len(FRAME)

    def one() -> None:
        sock.sendall(FRAME)
        need = size
        while need:
            chunk = sock.recv(need)
            if not chunk:
                raise ConnectionError("echo server closed")
            need -= len(chunk)

    timed(one, count, max_seconds)
    stop_requested().wait(10)
    sock.close()


def typed_client(count: int, max_seconds: float, port: int) -> None:
    sock = nodelay(socket.create_connection((HOST, port)))
    sock.settimeout(30)
    sequence = 0

    def one() -> None:
        nonlocal sequence
        sequence += 1
        stamp = time.time_ns() // 1000
        header = HEADER.pack(HEADER_VERSION, DATA, BINARY, 0, HEADER.size, 0, 0, sequence,
                             0, stamp)  # fmt: skip
        sock.sendall(LENGTH.pack(len(header) + len(PAYLOAD)) + header + PAYLOAD)
        buf = b""
        while len(buf) < LENGTH.size or len(buf) < LENGTH.size + LENGTH.unpack_from(buf)[0]:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("typed responder closed")
            buf += chunk
        if HEADER.unpack_from(buf, LENGTH.size)[8] != sequence:
            raise RuntimeError("reply to another request")

    timed(one, count, max_seconds)
    stop_requested().wait(10)
    sock.close()


def manager_client(count: int, max_seconds: float, port: int) -> None:
    from eq1_network import ReqResManager
    from eq1_network.protocols.ethernet.tcp_client import TCPClient

    manager = ReqResManager.isolated()
    manager.register("bench", TCPClient(HOST, port, timeout=10))
    manager.connect("bench")
    size = len(FRAME)

    def one() -> None:
        manager.send("bench", FRAME)
        got = len(manager.read("bench"))
        while got < size:
            got += len(manager.read("bench"))

    timed(one, count, max_seconds)
    stop_requested().wait(10)
    manager.disconnect("bench")


def twisted_client(count: int, max_seconds: float, port: int) -> None:
    from twisted.internet import defer, protocol, reactor
    from twisted.protocols.basic import Int32StringReceiver

    total = WARMUP + count
    deadline = time.monotonic() + max_seconds
    state: dict[str, Any] = {"n": 0, "started": 0.0}

    class Requester(Int32StringReceiver):
        MAX_LENGTH = MAX_FRAME
        pending: defer.Deferred[bytes] | None = None

        def connectionMade(self) -> None:  # noqa: N802 (Twisted's name)
            self.transport.setTcpNoDelay(True)  # type: ignore[union-attr]
            self.next(b"")

        def request(self, data: bytes) -> defer.Deferred[bytes]:
            self.pending = defer.Deferred()
            self.sendString(data)
            return self.pending

        def stringReceived(self, string: bytes) -> None:  # noqa: N802 (Twisted's name)
            pending, self.pending = self.pending, None
            if pending is not None:
                pending.callback(string)

        def next(self, _: bytes) -> None:
            n = state["n"]
            if n == WARMUP:
                state["started"] = time.perf_counter()
            if n >= total or (not n % 256 and time.monotonic() > deadline):
                done = max(n - WARMUP, 0)
                emit(done=done, rate=done / (time.perf_counter() - state["started"]))
                return
            state["n"] = n + 1
            self.request(PAYLOAD).addCallback(self.next)

    reactor.connectTCP(HOST, port, protocol.ClientFactory.forProtocol(Requester))  # type: ignore[attr-defined]
    stop = stop_requested()

    def wait() -> None:
        stop.wait(2 * max_seconds)
        reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]

    threading.Thread(target=wait, daemon=True).start()
    reactor.run()  # type: ignore[attr-defined]


SERVERS: dict[str, Any] = {
    "lib": lib_server,
    "typed": typed_server,
    "raw": raw_server,
    "twisted": twisted_server,
}
CLIENTS: dict[str, Any] = {
    "lib": lib_client,
    "lib-worker": lambda count, max_seconds, port: lib_client(count, max_seconds, port, True),
    "raw": raw_client,
    "typed": typed_client,
    "twisted": twisted_client,
    "manager": manager_client,
}


def main() -> None:
    role, impl, count, max_seconds = sys.argv[1:5]
    install_profiler(impl)
    try:
        if role == "server":
            SERVERS[impl](int(count), float(max_seconds))
        else:
            CLIENTS[impl](int(count), float(max_seconds), int(sys.argv[5]))
    finally:
        dump_profile()


if __name__ == "__main__":
    main()
