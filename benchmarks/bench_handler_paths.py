"""Per-message cost of NetworkHandler's send and receive paths, without a network.

``bench_network.py`` measures the whole pipeline between two processes, and its figures
move with the machine's speed. This benchmark isolates the Python work of each end, in
one process, over in-memory transports, and keeps the best of many rounds (alternating
with the baseline's), so that a change to either path shows up as a stable difference:

- **send**: ``handler.send_data(BinarySendData(payload))`` into a transport that drops
  what it is given (framing, queueing and the batch writes included). Baseline: the
  least a sender must do per message, ``struct.pack`` of the length prefix and the
  32-byte header (sequence number and timestamp included) joined with the payload.
- **receive**: chunks of encoded 64-byte messages handed to the handler's receive
  thread, until its event callback has counted every message. Baseline: the least a
  receiver must do, an ``unpack_from`` loop over the same chunks that slices each value
  and passes a tuple of the header fields to a callback.

Every round is bounded by ``--messages`` and every case by ``--duration`` seconds.

Usage: ``python benchmarks/bench_handler_paths.py [--messages N] [--rounds R] [--duration S]``
"""

from __future__ import annotations

import argparse
import struct
import threading
import time
from collections import deque
from collections.abc import Callable

from eq1_network import (
    BINARY_PACKAGE,
    BinarySendData,
    NetworkConfig,
    NetworkEventType,
    NetworkHandler,
    ReqResProtocol,
)

PAYLOAD = bytes(range(64))
CHUNK_MESSAGES = 600  # about 60 KiB per read, as a busy TCP receiver gets
FRAME_HEAD = struct.Struct(">IBBBBHBBQQq")


class _Transport(ReqResProtocol):
    """In memory: writes are dropped; reads return the chunks queued by the benchmark.

    It implements the transport hooks, so the handler goes through the base class's
    ``send()``/``read()`` as it does with every first-party transport.
    """

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.ready = threading.Event()
        self.connected = False

    def connect(self) -> bool:
        self.connected = True
        return True

    def disconnect(self) -> None:
        self.connected = False
        self.ready.set()

    def is_connected(self) -> bool:
        return self.connected

    def _send_raw(self, data: bytes) -> int:
        return len(data)

    def _read_raw(self) -> bytes | None:
        try:
            return self.chunks.popleft()
        except IndexError:
            self.ready.clear()
            return None

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        if self.chunks:
            return True
        return self.ready.wait(timeout)


def best_of_alternating(
    ours: Callable[[], float], raw: Callable[[], float], rounds: int, duration: float
) -> tuple[float, float]:
    """Smallest seconds per message of each side, over rounds that alternate the two.

    Alternating keeps both sides in the same spells of the machine's speed.
    """
    best_ours = best_raw = float("inf")
    deadline = time.perf_counter() + duration
    for _ in range(rounds):
        best_ours = min(best_ours, ours())
        best_raw = min(best_raw, raw())
        if time.perf_counter() > deadline:
            break
    return best_ours, best_raw


def send_ours(count: int) -> tuple[Callable[[], float], NetworkHandler]:
    config = NetworkConfig(
        protocol=_Transport(), package=BINARY_PACKAGE, sent_events=False, send_queue_size=65536
    )
    handler = NetworkHandler(config)
    handler.start()

    def run() -> float:
        send = handler.send_data
        started = time.perf_counter()
        for _ in range(count):
            send(BinarySendData(PAYLOAD))
        return (time.perf_counter() - started) / count

    return run, handler


def send_raw(count: int) -> Callable[[], float]:
    pack = FRAME_HEAD.pack
    size = FRAME_HEAD.size - 4 + len(PAYLOAD)

    def run() -> float:
        out: list[bytes] = []
        append = out.append
        sequence = 0
        started = time.perf_counter()
        for _ in range(count):
            sequence += 1
            append(pack(size, 1, 1, 2, 0, 32, 0, 0, sequence, 0, time.time_ns() // 1000) + PAYLOAD)
        elapsed = time.perf_counter() - started
        assert len(out) == count
        return elapsed / count

    return run


def _chunks(count: int) -> list[bytes]:
    frames = [BINARY_PACKAGE.encode(BinarySendData(PAYLOAD)) for _ in range(count)]
    return [b"".join(frames[i : i + CHUNK_MESSAGES]) for i in range(0, len(frames), CHUNK_MESSAGES)]


def receive_ours(count: int) -> tuple[Callable[[], float], NetworkHandler]:
    chunks = _chunks(count)
    transport = _Transport()
    state = {"got": 0, "target": 0}
    done = threading.Event()
    received = NetworkEventType.RECEIVED

    def on_event(event: object) -> None:
        if event.type is received:  # type: ignore[attr-defined]
            state["got"] += 1
            if state["got"] == state["target"]:
                done.set()

    handler = NetworkHandler(NetworkConfig(protocol=transport, package=BINARY_PACKAGE), on_event)
    handler.start()

    def run() -> float:
        done.clear()
        state["target"] = state["got"] + count
        started = time.perf_counter()
        transport.chunks.extend(chunks)
        transport.ready.set()
        if not done.wait(60):
            raise SystemExit("the receive thread did not deliver every message within 60 s")
        return (time.perf_counter() - started) / count

    return run, handler


def receive_raw(count: int) -> Callable[[], float]:
    chunks = _chunks(count)
    unpack = FRAME_HEAD.unpack_from
    got = [0]

    def callback(message: tuple[tuple[int, ...], bytes]) -> None:
        got[0] += 1

    def run() -> float:
        got[0] = 0
        tail = b""
        started = time.perf_counter()
        for chunk in chunks:
            data = tail + chunk if tail else chunk
            pos, size = 0, len(data)
            while size - pos >= FRAME_HEAD.size:
                fields = unpack(data, pos)
                end = pos + 4 + fields[0]
                if end > size:
                    break
                callback((fields, data[pos + 4 + fields[5] : end]))
                pos = end
            tail = data[pos:]
        elapsed = time.perf_counter() - started
        assert got[0] == count
        return elapsed / count

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=25, help="rounds per case (best kept)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per case at most")
    args = parser.parse_args()
    print(f"{args.messages:,} messages of {len(PAYLOAD)} B per round, best of {args.rounds}")
    for title, ours, raw in (
        ("send: BinarySendData + send_data", send_ours, send_raw),
        ("receive: read to event callback", receive_ours, receive_raw),
    ):
        (mine_run, handler), base_run = ours(args.messages), raw(args.messages)
        try:
            mine, base = best_of_alternating(mine_run, base_run, args.rounds, args.duration)
        finally:
            handler.stop(timeout=10)
        print(
            f"  {title:34} {mine * 1e6:6.2f} us/msg  raw {base * 1e6:5.2f} us/msg  "
            f"ratio {base / mine:.2f}x  ({1 / mine:,.0f} msg/s of one core)"
        )


if __name__ == "__main__":
    main()
