"""Shared pieces of the peer benchmark's child processes (see ``bench_peers.py``).

Every child prints one JSON object per line on stdout: a receiver or server first
prints ``{"port": N}`` (or ``{"ready": true}``), a sender or client prints its result
when its loop is done, a receiver prints its result when it has all it waits for (or
its time is up). A child stops when a line or end of file arrives on its stdin, or at
its deadline.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import socket
import struct
import sys
import threading
import time
from typing import Any

HOST = "127.0.0.1"
PAYLOAD = bytes(range(64))
LENGTH = struct.Struct(">I")
FRAME = LENGTH.pack(len(PAYLOAD)) + PAYLOAD
"""One length-prefixed frame of the raw lanes: 4-byte big-endian length, 64 bytes."""

# The fixed part of the typed message header of ``eq1_network.packets.header``
# (version 1, big-endian): version, message_type, data_format, flags, header_length,
# source_length, destination_length, sequence, reply_to, timestamp_us.
HEADER = struct.Struct(">BBBBHBBQQq")
HEADER_VERSION = 1
DATA, RESPONSE = 2, 3  # MessageType values
BINARY = 2  # DataFormat.BINARY
MAX_FRAME = 1 << 20
PROFILE_ENV = "EQ1_BENCH_PROFILE"
"""When set in a child's environment: profile every thread, dump the stats there."""


def emit(**fields: Any) -> None:
    """Print one result line for the parent."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def stop_requested() -> threading.Event:
    """Return an event set when the parent writes a line to stdin or closes it."""
    event = threading.Event()

    def watch() -> None:
        try:
            sys.stdin.readline()
        finally:
            event.set()

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()
    return event


def listener() -> socket.socket:
    """A TCP listener on a free port of 127.0.0.1."""
    return socket.create_server((HOST, 0))


def nodelay(sock: socket.socket) -> socket.socket:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def count_frames(buf: bytes | bytearray, offset: int) -> tuple[int, int]:
    """Count the whole length-prefixed frames of ``buf`` from ``offset``.

    Returns:
        ``(frames, offset of the first byte not consumed)``.
    """
    frames = 0
    size = len(buf)
    unpack = LENGTH.unpack_from
    while size - offset >= 4:
        (length,) = unpack(buf, offset)
        if size - offset < 4 + length:
            break
        offset += 4 + length
        frames += 1
    return frames, offset


def typed_frame(sequence: int) -> bytes:
    """The payload of one typed BINARY message, built with ``struct`` (no library code)."""
    return (
        HEADER.pack(
            HEADER_VERSION,
            DATA,
            BINARY,
            0,
            HEADER.size,
            0,
            0,
            sequence,
            0,
            time.time_ns() // 1000,
        )
        + PAYLOAD
    )


def decode_typed(payload: bytes) -> tuple[int, int, int, int, int, int, bytes]:
    """Decode a typed message payload the way the library's header checks do.

    Returns:
        ``(message_type, data_format, flags, sequence, reply_to, timestamp_us, value)``.

    Raises:
        ValueError: If the header is truncated, of another version or inconsistent.
    """
    version, mtype, dformat, flags, header_len, src_len, dst_len, seq, reply, stamp = (
        HEADER.unpack_from(payload)
    )
    if version != HEADER_VERSION or header_len < HEADER.size + src_len + dst_len:
        raise ValueError("bad header")
    if header_len > len(payload):
        raise ValueError("bad header length")
    return mtype, dformat, flags, seq, reply, stamp, payload[header_len:]


# -- profiling every thread of a child ---------------------------------------------

_profiles: list[cProfile.Profile] = []


def install_profiler(impl: str) -> None:
    """Profile the main thread and every thread started later, if PROFILE_ENV is set.

    For the library's sides (``impl`` ``lib``), its modules are imported first, so that
    the profile shows the run rather than the imports.
    """
    if not os.environ.get(PROFILE_ENV):
        return
    if impl == "lib":
        import eq1_network
        import eq1_network.testing
        from eq1_network.protocols.ethernet import tcp_client, tcp_server  # noqa: F401

        for name in ("tcp", "tcp-server"):
            eq1_network.get_protocol(name)
        for name in ("NetworkHandler", "NetworkConfig", "BINARY_PACKAGE", "BinarySendData"):
            getattr(eq1_network, name)
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        _profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile()
    _profiles.append(main)
    main.enable()


def dump_profile() -> None:
    """Write the merged statistics of every profiled thread to PROFILE_ENV's path."""
    path = os.environ.get(PROFILE_ENV)
    if not path or not _profiles:
        return
    _profiles[0].disable()
    stats: pstats.Stats | None = None
    for profile in _profiles:
        try:
            profile.create_stats()
        except Exception:
            continue
        if not getattr(profile, "stats", None):
            continue
        if stats is None:
            stats = pstats.Stats(profile)
        else:
            stats.add(profile)
    if stats is not None:
        stats.dump_stats(path)
