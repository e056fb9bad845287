"""One side of a one-way streaming run (a child of ``bench_peers.py``).

Usage: ``stream.py recv|send IMPL MODE COUNT MAX_SECONDS [PORT]``, with IMPL one of
``lib``, ``twisted``, ``asyncio``, ``raw`` and MODE ``raw`` (plain length-prefixed
frames) or ``typed`` (the typed message header, timestamp and sequence in each frame).

A receiver counts frames (decoding the header of each in ``typed`` mode) and reports
``{"got": N, "last": T}`` with T the ``time.monotonic()`` of the last frame; a sender
reports ``{"start": T, "sent": N}`` with T taken before its first send.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

from _common import (
    FRAME,
    HOST,
    LENGTH,
    MAX_FRAME,
    PAYLOAD,
    count_frames,
    decode_typed,
    dump_profile,
    emit,
    install_profiler,
    listener,
    nodelay,
    stop_requested,
    typed_frame,
)

BURST = 1000
"""Messages the event-loop senders write per loop turn."""


# -- the library -------------------------------------------------------------------


def raw_package() -> Any:
    """A user-defined plain-bytes package: no header, the payload is the frame body."""
    from eq1_network import DataPackage, NetworkPacketStructure, ReceivedData, SendData

    class RawBytes(SendData, ReceivedData):
        __slots__ = ("data",)

        def __init__(self, data: bytes) -> None:
            self.data = data

        def to_bytes(self) -> bytes:
            return self.data

        @classmethod
        def from_bytes(cls, data: bytes) -> RawBytes:
            return cls(data)

    return DataPackage(NetworkPacketStructure, RawBytes, RawBytes)


def lib_recv(mode: str, count: int, max_seconds: float) -> None:
    from eq1_network import BINARY_PACKAGE, NetworkConfig, NetworkEventType, NetworkHandler
    from eq1_network.testing import free_port

    port = free_port()
    received = NetworkEventType.RECEIVED
    done = threading.Event()
    state = {"got": 0, "last": 0.0}

    def on_event(event: Any) -> None:
        if event.type is received:
            state["got"] += 1
            if state["got"] >= count:
                state["last"] = time.monotonic()
                done.set()

    config = NetworkConfig(
        protocol="tcp-server",
        params={"host": HOST, "port": port},
        package=BINARY_PACKAGE if mode == "typed" else raw_package(),
        sent_events=False,
    )
    handler = NetworkHandler(config, on_event)
    handler.start()
    emit(port=port)
    done.wait(max_seconds)
    emit(got=state["got"], last=state["last"] or time.monotonic())
    stop_requested().wait(max_seconds)
    handler.stop(timeout=10)


def lib_send(mode: str, count: int, max_seconds: float, port: int) -> None:
    from eq1_network import BINARY_PACKAGE, BinarySendData, NetworkConfig, NetworkHandler

    package = BINARY_PACKAGE if mode == "typed" else raw_package()
    make = BinarySendData if mode == "typed" else package.send_data_class
    config = NetworkConfig(
        protocol="tcp",
        params={"host": HOST, "port": port},
        package=package,
        sent_events=False,
        send_queue_size=65536,
    )
    deadline = time.monotonic() + max_seconds
    with NetworkHandler(config) as handler:
        send = handler.send_data
        sent = 0
        start = time.monotonic()
        for _ in range(count):
            send(make(PAYLOAD))
            sent += 1
            if not sent % 4096 and time.monotonic() > deadline:
                break
        emit(start=start, sent=sent)
        stop_requested().wait(max_seconds)


# -- Twisted -----------------------------------------------------------------------


def twisted_recv(mode: str, count: int, max_seconds: float) -> None:
    from twisted.internet import protocol, reactor
    from twisted.protocols.basic import Int32StringReceiver

    state = {"got": 0, "last": 0.0, "reported": False}

    def report() -> None:
        if not state["reported"]:
            state["reported"] = True
            emit(got=state["got"], last=state["last"] or time.monotonic())

    class Sink(Int32StringReceiver):
        MAX_LENGTH = MAX_FRAME

        def stringReceived(self, string: bytes) -> None:  # noqa: N802 (Twisted's name)
            if typed:
                decode_typed(string)
            state["got"] += 1
            if state["got"] >= count:
                state["last"] = time.monotonic()
                report()

    typed = mode == "typed"
    factory = protocol.ServerFactory.forProtocol(Sink)
    port = reactor.listenTCP(0, factory, interface=HOST)  # type: ignore[attr-defined]
    emit(port=port.getHost().port)
    stop = stop_requested()
    reactor.callLater(max_seconds, report)  # type: ignore[attr-defined]
    watch_stop(reactor, stop, max_seconds)
    reactor.run()  # type: ignore[attr-defined]


def watch_stop(reactor: Any, stop: threading.Event, max_seconds: float) -> None:
    """Stop ``reactor`` when the parent says so, or after ``2 * max_seconds``."""

    def wait() -> None:
        stop.wait(2 * max_seconds)
        reactor.callFromThread(reactor.stop)

    threading.Thread(target=wait, daemon=True).start()


def twisted_send(mode: str, count: int, max_seconds: float, port: int) -> None:
    from twisted.internet import protocol, reactor
    from twisted.protocols.basic import Int32StringReceiver

    typed = mode == "typed"
    deadline = time.monotonic() + max_seconds
    state = {"sent": 0, "start": 0.0}

    class Source(Int32StringReceiver):
        MAX_LENGTH = MAX_FRAME

        def connectionMade(self) -> None:  # noqa: N802 (Twisted's name)
            self.transport.setTcpNoDelay(True)  # type: ignore[union-attr]
            state["start"] = time.monotonic()
            self.burst()

        def burst(self) -> None:
            send = self.sendString
            sent = state["sent"]
            for _ in range(min(BURST, count - sent)):
                sent += 1
                send(typed_frame(sent) if typed else PAYLOAD)
            state["sent"] = sent
            if sent < count and time.monotonic() < deadline:
                reactor.callLater(0, self.burst)  # type: ignore[attr-defined]
            else:
                emit(start=state["start"], sent=sent)

    factory = protocol.ClientFactory.forProtocol(Source)
    reactor.connectTCP(HOST, port, factory)  # type: ignore[attr-defined]
    watch_stop(reactor, stop_requested(), max_seconds)
    reactor.run()  # type: ignore[attr-defined]


# -- asyncio streams ---------------------------------------------------------------


def asyncio_recv(mode: str, count: int, max_seconds: float) -> None:
    import asyncio

    async def main() -> None:
        state = {"got": 0, "last": 0.0}
        done = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            buf = b""
            while state["got"] < count:
                data = await reader.read(1 << 16)
                if not data:
                    break
                buf += data
                if mode == "typed":
                    frames, offset = decode_frames_typed(buf)
                else:
                    frames, offset = count_frames(buf, 0)
                buf = buf[offset:]
                state["got"] += frames
            state["last"] = time.monotonic()
            done.set()

        server = await asyncio.start_server(serve, HOST, 0)
        emit(port=server.sockets[0].getsockname()[1])
        try:
            await asyncio.wait_for(done.wait(), max_seconds)
        except asyncio.TimeoutError:
            pass
        emit(got=state["got"], last=state["last"] or time.monotonic())
        await asyncio.get_running_loop().run_in_executor(None, stop_requested().wait, 60)
        server.close()

    asyncio.run(main())


def decode_frames_typed(buf: bytes) -> tuple[int, int]:
    """Decode the header of every whole frame of ``buf``; return (frames, consumed)."""
    frames = offset = 0
    size = len(buf)
    while size - offset >= 4:
        (length,) = LENGTH.unpack_from(buf, offset)
        end = offset + 4 + length
        if end > size:
            break
        decode_typed(buf[offset + 4 : end])
        offset = end
        frames += 1
    return frames, offset


def asyncio_send(mode: str, count: int, max_seconds: float, port: int) -> None:
    import asyncio

    async def main() -> None:
        _, writer = await asyncio.open_connection(HOST, port)
        nodelay(writer.get_extra_info("socket"))
        deadline = time.monotonic() + max_seconds
        pack = LENGTH.pack
        start = time.monotonic()
        sent = 0
        while sent < count and time.monotonic() < deadline:
            for _ in range(min(BURST, count - sent)):
                sent += 1
                if mode == "typed":
                    body = typed_frame(sent)
                    writer.write(pack(len(body)) + body)
                else:
                    writer.write(FRAME)
            await writer.drain()
        emit(start=start, sent=sent)
        await asyncio.get_running_loop().run_in_executor(None, stop_requested().wait, 60)
        writer.close()

    asyncio.run(main())


# -- raw sockets -------------------------------------------------------------------


def raw_recv(mode: str, count: int, max_seconds: float) -> None:
    server = listener()
    emit(port=server.getsockname()[1])
    server.settimeout(max_seconds)
    conn, _ = server.accept()
    conn.settimeout(max_seconds)
    buf, got = b"", 0
    try:
        while got < count:
            data = conn.recv(1 << 20)
            if not data:
                break
            buf += data
            if mode == "typed":
                frames, offset = decode_frames_typed(buf)
            else:
                frames, offset = count_frames(buf, 0)
            buf = buf[offset:]
            got += frames
    except TimeoutError:
        pass
    emit(got=got, last=time.monotonic())
    stop_requested().wait(60)
    conn.close()


def raw_send(mode: str, count: int, max_seconds: float, port: int) -> None:
    sock = nodelay(socket.create_connection((HOST, port)))
    deadline = time.monotonic() + max_seconds
    pack = LENGTH.pack
    sendall = sock.sendall
    start = time.monotonic()
    sent = 0
    for _ in range(count):
        sent += 1
        if mode == "typed":
            body = typed_frame(sent)
            sendall(pack(len(body)) + body)
        else:
            sendall(pack(len(PAYLOAD)) + PAYLOAD)
        if not sent % 4096 and time.monotonic() > deadline:
            break
    emit(start=start, sent=sent)
    stop_requested().wait(60)
    sock.close()


ROLES: dict[str, Any] = {
    "recv": {"lib": lib_recv, "twisted": twisted_recv, "asyncio": asyncio_recv, "raw": raw_recv},
    "send": {"lib": lib_send, "twisted": twisted_send, "asyncio": asyncio_send, "raw": raw_send},
}


def main() -> None:
    role, impl, mode, count, max_seconds = sys.argv[1:6]
    args: list[Any] = [mode, int(count), float(max_seconds)]
    if role == "send":
        args.append(int(sys.argv[6]))
    install_profiler(impl)
    try:
        ROLES[role][impl](*args)
    finally:
        dump_profile()


if __name__ == "__main__":
    main()
