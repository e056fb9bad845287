"""Encode+decode throughput of the packet layer, next to a raw ``struct`` baseline.

Messages are processed in batches (``--batch``, default 1000, at most 1 MiB), as a
sender that coalesces queued messages and a receiver that reads 64 KiB chunks would:
each batch is encoded, concatenated, cut into 64 KiB chunks and decoded. Two cases,
for 64 B, 1 KiB and 64 KiB payloads:

(a) framing: ``NetworkPacketStructure.to_packet`` for each message (and, in (a'),
    ``join_packets`` for the whole batch), then ``PacketStream.feed_payloads`` for
    every chunk. Baseline: ``struct.pack`` + concatenation per message; on receipt,
    the unparsed tail of the previous chunk + the chunk, and an ``unpack_from`` loop
    that slices out the payloads (the plainest correct stream receiver).
(b) typed messages: build a ``BinarySendData`` (with source and destination),
    ``BINARY_PACKAGE.encode`` it, then ``PacketStream.feed_payloads`` and
    ``BINARY_PACKAGE.decode_payload`` for every payload; (b') the same, decoded with
    ``TypedStreamReader`` (what the receive worker uses). Baseline: ``struct.pack`` of
    the same 4-byte length and 32-byte header plus identifiers and payload, and the
    same chunked receiver with ``unpack_from`` of the header fields and slicing of
    identifiers and value (no objects, no validation).

A rate is messages divided by the time to encode *and* decode them; each case is run
``--repeat`` times and the best run is kept. Every run is bounded by ``--count``
messages (and 64 MiB of payload), and each case by ``--duration`` seconds. Targets:
(a) at least 0.5x the baseline; (b) at least 200,000 typed 64 B messages per second.

Usage: ``python benchmarks/bench_packets.py [--count N] [--batch B] [--repeat R] [--duration S]``
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import struct
import time
from collections.abc import Callable

from eq1_network import (
    BINARY_PACKAGE,
    BinaryReceivedData,
    BinarySendData,
    NetworkPacketStructure,
    PacketStream,
)

SIZES = (64, 1024, 64 * 1024)
CHUNK = 64 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_BATCH_BYTES = 1024 * 1024
LENGTH = struct.Struct(">I")
HEADER = struct.Struct(">BBBBHBBQQq")
SOURCE = b"cam1"
DESTINATION = b"plc"

Case = Callable[[list[bytes], int], float]


def chunks(buffer: bytes) -> list[bytes]:
    return [buffer[i : i + CHUNK] for i in range(0, len(buffer), CHUNK)]


def batches(payloads: list[bytes], size: int) -> list[list[bytes]]:
    return [payloads[i : i + size] for i in range(0, len(payloads), size)]


def raw_framing(payloads: list[bytes], batch: int) -> float:
    pack = LENGTH.pack
    unpack_from = LENGTH.unpack_from
    received = 0
    tail = b""
    started = time.perf_counter()
    for group in batches(payloads, batch):
        for chunk in chunks(b"".join([pack(len(p)) + p for p in group])):
            data = tail + chunk if tail else chunk
            out = []
            pos, size = 0, len(data)
            while size - pos >= 4:
                (length,) = unpack_from(data, pos)
                end = pos + 4 + length
                if end > size:
                    break
                out.append(data[pos + 4 : end])
                pos = end
            tail = data[pos:]
            received += len(out)
    elapsed = time.perf_counter() - started
    assert received == len(payloads) and not tail
    return elapsed


def our_framing(payloads: list[bytes], batch: int) -> float:
    to_packet = NetworkPacketStructure.to_packet
    stream = PacketStream(NetworkPacketStructure)
    received = 0
    started = time.perf_counter()
    for group in batches(payloads, batch):
        for chunk in chunks(b"".join([to_packet(p) for p in group])):
            received += len(stream.feed_payloads(chunk))
    elapsed = time.perf_counter() - started
    assert received == len(payloads) and stream.buffered == 0
    return elapsed


def our_framing_batched(payloads: list[bytes], batch: int) -> float:
    join_packets = NetworkPacketStructure.join_packets
    stream = PacketStream(NetworkPacketStructure)
    received = 0
    started = time.perf_counter()
    for group in batches(payloads, batch):
        for chunk in chunks(join_packets(group)):
            received += len(stream.feed_payloads(chunk))
    elapsed = time.perf_counter() - started
    assert received == len(payloads) and stream.buffered == 0
    return elapsed


def raw_typed(payloads: list[bytes], batch: int) -> float:
    pack_len = LENGTH.pack
    pack_header = HEADER.pack
    unpack_len = LENGTH.unpack_from
    unpack_header = HEADER.unpack_from
    ids = SOURCE + DESTINATION
    header_len = HEADER.size + len(ids)
    received = 0
    seq = 0
    tail = b""
    started = time.perf_counter()
    for group in batches(payloads, batch):
        frames = []
        for p in group:
            seq += 1
            stamp = time.time_ns() // 1000
            header = pack_header(1, 2, 2, 0, header_len, 4, 3, seq, 0, stamp)
            frames.append(pack_len(header_len + len(p)) + header + ids + p)
        for chunk in chunks(b"".join(frames)):
            data = tail + chunk if tail else chunk
            out = []
            pos, size = 0, len(data)
            while size - pos >= 4:
                (length,) = unpack_len(data, pos)
                end = pos + 4 + length
                if end > size:
                    break
                fields = unpack_header(data, pos + 4)
                body = pos + 4 + fields[4]
                src_end = pos + 4 + HEADER.size + fields[5]
                source = data[pos + 4 + HEADER.size : src_end].decode()
                destination = data[src_end : src_end + fields[6]].decode()
                out.append((fields, source, destination, data[body:end]))
                pos = end
            tail = data[pos:]
            received += len(out)
    elapsed = time.perf_counter() - started
    assert received == len(payloads) and not tail
    return elapsed


def our_typed(payloads: list[bytes], batch: int) -> float:
    package = BINARY_PACKAGE
    encode = package.encode
    decode_payload = package.decode_payload
    stream = package.stream()
    received = 0
    last = None
    started = time.perf_counter()
    for group in batches(payloads, batch):
        frames = [encode(BinarySendData(p, source="cam1", destination="plc")) for p in group]
        for chunk in chunks(b"".join(frames)):
            out = [decode_payload(x) for x in stream.feed_payloads(chunk)]
            received += len(out)
            last = out[-1] if out else last
    elapsed = time.perf_counter() - started
    assert received == len(payloads) and last is not None and last.value == payloads[-1]
    return elapsed


def our_typed_reader(payloads: list[bytes], batch: int) -> float:
    package = BINARY_PACKAGE
    encode = package.encode
    reader = package.stream_reader(package.stream())
    assert reader is not None
    out: list[object] = []

    def other(payload: bytes) -> None:
        # Frames cut by a chunk boundary are completed by the stream: the slow path.
        out.append(package.decode_payload(payload))

    started = time.perf_counter()
    for group in batches(payloads, batch):
        frames = [encode(BinarySendData(p, source="cam1", destination="plc")) for p in group]
        for chunk in chunks(b"".join(frames)):
            out.clear()
            out.extend(reader.feed(chunk, other))  # in stream order with what other adds
    elapsed = time.perf_counter() - started
    last = out[-1] if out else None
    assert isinstance(last, BinaryReceivedData) and last.value == payloads[-1]
    assert reader.stream.buffered == 0
    return elapsed


def best_rate(case: Case, size: int, args: argparse.Namespace) -> float:
    """Messages per second of the best run, each run bounded in bytes and in time."""
    count = max(1, min(args.count, MAX_TOTAL_BYTES // size))
    batch = max(1, min(args.batch, MAX_BATCH_BYTES // size))
    payloads = [bytes([i % 251]) * size for i in range(count)]
    best = float("inf")
    deadline = time.perf_counter() + args.duration
    for _ in range(args.repeat):
        best = min(best, case(payloads, batch))
        if time.perf_counter() > deadline:
            break
    return count / best


def tune_malloc() -> str:
    """Stop glibc from returning freed memory to the OS between batches.

    Otherwise the cost of page faults on 64 KiB buffers swings with the allocator's
    state from run to run and hides the cost of the code being measured; the setting
    applies to both sides of every comparison.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return "malloc tuning: not available (not glibc); large-payload rows may be noisy"
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 64 * 1024 * 1024) and mallopt(m_trim_threshold, 1 << 30)
    return "malloc tuning: glibc trim/mmap thresholds raised" if ok else "malloc tuning: refused"


def report(title: str, ours: Case, raw: Case, args: argparse.Namespace) -> dict[int, float]:
    print(title)
    print(f"  {'payload':>8} {'ours msg/s':>12} {'raw msg/s':>12} {'ratio':>6}")
    rates = {}
    for size in SIZES:
        mine = best_rate(ours, size, args)
        base = best_rate(raw, size, args)
        rates[size] = mine
        print(f"  {size:>8} {mine:>12,.0f} {base:>12,.0f} {mine / base:>6.2f}")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="messages per run")
    parser.add_argument("--batch", type=int, default=1000, help="messages per batch")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (best kept)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per case at most")
    parser.add_argument(
        "--no-malloc-tuning", action="store_true", help="keep glibc's default trimming"
    )
    args = parser.parse_args()
    if not args.no_malloc_tuning:
        print(tune_malloc())
    started = time.perf_counter()
    report("(a) framing: to_packet + PacketStream.feed_payloads", our_framing, raw_framing, args)
    report(
        "(a') framing, batched: join_packets + PacketStream.feed_payloads",
        our_framing_batched,
        raw_framing,
        args,
    )
    typed = report(
        "(b) typed: BinarySendData + DataPackage.encode/decode_payload", our_typed, raw_typed, args
    )
    report(
        "(b') typed, one step: BinarySendData + DataPackage.encode/TypedStreamReader",
        our_typed_reader,
        raw_typed,
        args,
    )
    verdict = "meets" if typed[64] >= 200_000 else "misses"
    print(f"typed 64 B: {typed[64]:,.0f} msg/s ({verdict} the 200,000 msg/s target)")
    print(f"total time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
