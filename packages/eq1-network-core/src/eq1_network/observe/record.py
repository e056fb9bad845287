"""Recording tap events to JSON Lines, reading recordings back, and replaying them.

A recording is a text file with one JSON object per line. The first line is a header
(``{"type": "header", "format": "eq1-network-recording", "version": 1, ...}``) with the
library and Python versions and the endpoints; every other line is an event
(``{"type": "event", "t": seconds since the start, "wall": ..., "kind": ..., "dir":
..., "endpoint": ..., "len": ..., "data": base64, "preview": printable text}`` plus
``topic``, ``qos``, ``retain``, ``peer`` or ``error`` when they apply). When the file
would grow past ``max_bytes`` it is renamed ``FILE.1`` (older ones ``FILE.2`` ...) and
a new file starts with its own header.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolUsageError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import BaseProtocol, PubSubProtocol, ReqResProtocol
from eq1_network.observe.tap import TapEvent

__all__ = ["FORMAT", "RecordedEvent", "Recorder", "preview", "read_recording", "replay"]

logger = get_logger(__name__)

FORMAT = "eq1-network-recording"
VERSION = 1
_PREVIEW = 48
_DATA_KINDS = ("send", "read", "publish", "message")


def preview(data: bytes, limit: int = _PREVIEW) -> str:
    """Return a short printable rendering of ``data``.

    Printable ASCII is kept, other bytes become ``\\xNN`` (``\\n``, ``\\r``, ``\\t``
    as such); longer data is cut and ends with ``...``.

    Args:
        data: The bytes.
        limit: Most bytes shown.

    Returns:
        The text.
    """
    text = repr(bytes(data[:limit]))[2:-1]
    return text + ("..." if len(data) > limit else "")


@dataclass(frozen=True)
class RecordedEvent:
    """One event read back from a recording.

    Attributes:
        t: Seconds since the recording started (monotonic clock).
        wall: ``time.time()`` when it happened.
        kind: The tap event kind (``"send"``, ``"read"``, ``"publish"``, ``"message"``...).
        direction: ``"in"``, ``"out"`` or ``""``.
        endpoint: The endpoint it happened on.
        data: The bytes.
        topic: The topic, for publish/subscribe events.
        qos: The QoS of a publish, when recorded.
        retain: The retain flag of a publish, when recorded.
    """

    t: float
    wall: float
    kind: str
    direction: str
    endpoint: str
    data: bytes
    topic: str | None = None
    qos: int | None = None
    retain: bool | None = None


class Recorder:
    """Writes tap events to a JSON Lines file; use it as a tap listener.

    Args:
        path: The file; it is replaced if it exists.
        endpoints: Endpoint names written in the header.
        max_bytes: Rotate once the file would grow past this many bytes; ``None``
            never rotates.
        backups: Rotated files kept (``FILE.1`` is the newest).
        data_only: Record only events that carry data (sends, reads, publishes,
            messages), not connects and errors.

    Raises:
        ProtocolArgumentError: If ``max_bytes`` or ``backups`` is not positive.
        OSError: If the file cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        endpoints: Sequence[str] = (),
        max_bytes: int | None = None,
        backups: int = 5,
        data_only: bool = False,
    ) -> None:
        if max_bytes is not None and max_bytes <= 0:
            raise ProtocolArgumentError(f"max_bytes must be positive or None, got {max_bytes}")
        if backups < 1:
            raise ProtocolArgumentError(f"backups must be at least 1, got {backups}")
        self.path = Path(path)
        self.endpoints = list(endpoints)
        self.max_bytes = max_bytes
        self.backups = backups
        self.data_only = data_only
        self.events = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._file: IO[str] | None = None
        self._size = 0
        self._open()

    def _open(self) -> None:
        self._file = self.path.open("w", encoding="utf-8")
        self._size = 0
        from eq1_network import __version__

        self._write(
            {
                "type": "header",
                "format": FORMAT,
                "version": VERSION,
                "eq1_network": __version__,
                "python": platform.python_version(),
                "endpoints": self.endpoints,
                "started": time.time(),
            }
        )

    def _write(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, separators=(",", ":")) + "\n"
        assert self._file is not None
        self._file.write(line)
        self._file.flush()
        self._size += len(line.encode("utf-8"))

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._open()

    def __call__(self, event: TapEvent) -> None:
        """Write one event.

        Args:
            event: The event from the tap.
        """
        if self.data_only and event.kind not in _DATA_KINDS:
            return
        obj: dict[str, Any] = {
            "type": "event",
            "t": round(event.monotonic - self._started, 6),
            "wall": event.wall,
            "kind": event.kind,
            "dir": event.direction,
            "endpoint": event.endpoint,
            "len": len(event.data),
            "data": base64.b64encode(event.data).decode("ascii"),
            "preview": preview(event.data),
        }
        for name in ("topic", "qos", "retain", "peer", "error"):
            value = getattr(event, name)
            if value is not None:
                obj[name] = value
        with self._lock:
            if self._file is None:
                return
            if self.max_bytes is not None and self._size >= self.max_bytes and self.events:
                self._rotate()
            self._write(obj)
            self.events += 1

    def close(self) -> None:
        """Close the file; later events are dropped."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_recording(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[RecordedEvent]]:
    """Read a recording.

    Args:
        path: The file written by :class:`Recorder`.

    Returns:
        The header and the events, in order.

    Raises:
        ProtocolArgumentError: If the file is not a recording (no header, a line that
            is not JSON, an event without data); the message names the line.
        OSError: If the file cannot be read.
    """
    header: dict[str, Any] | None = None
    events: list[RecordedEvent] = []
    with Path(path).open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if header is None:
                    if obj.get("format") != FORMAT:
                        raise ValueError(f"the first line is not a {FORMAT} header")
                    header = obj
                    continue
                if obj.get("type") != "event":
                    continue
                events.append(
                    RecordedEvent(
                        t=float(obj["t"]),
                        wall=float(obj.get("wall", 0.0)),
                        kind=str(obj["kind"]),
                        direction=str(obj.get("dir", "")),
                        endpoint=str(obj.get("endpoint", "")),
                        data=base64.b64decode(obj.get("data", ""), validate=True),
                        topic=obj.get("topic"),
                        qos=obj.get("qos"),
                        retain=obj.get("retain"),
                    )
                )
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ProtocolArgumentError(
                    f"{os.fspath(path)!r} line {number} is not a valid recording line: {exc}; "
                    "replay a file written by 'eq1-network record' or Recorder"
                ) from exc
    if header is None:
        raise ProtocolArgumentError(
            f"{os.fspath(path)!r} is empty; replay a file written by 'eq1-network record'"
        )
    return header, events


def select_events(events: Sequence[RecordedEvent], direction: str = "auto") -> list[RecordedEvent]:
    """Pick the events a replay sends.

    Args:
        events: The recording's events.
        direction: ``"out"`` (what the recorded side sent), ``"in"`` (what it
            received), ``"both"``, or ``"auto"``: ``"out"`` when the recording has
            outgoing data, ``"in"`` otherwise.

    Returns:
        The data events of that direction, in order.

    Raises:
        ProtocolArgumentError: If ``direction`` is not one of those.
    """
    if direction not in ("auto", "in", "out", "both"):
        raise ProtocolArgumentError(
            f"direction must be 'auto', 'in', 'out' or 'both', got {direction!r}"
        )
    data = [e for e in events if e.kind in _DATA_KINDS]
    if direction == "auto":
        direction = "out" if any(e.direction == "out" for e in data) else "in"
    if direction == "both":
        return data
    return [e for e in data if e.direction == direction]


def replay(
    events: Sequence[RecordedEvent],
    protocol: BaseProtocol,
    *,
    speed: float | None = 1.0,
    loops: int = 1,
    topic: str | None = None,
    qos: int | None = None,
    stop: Callable[[], bool] | None = None,
    sent: Callable[[RecordedEvent], None] | None = None,
) -> int:
    """Send recorded events onto a connected endpoint.

    Each event's bytes are sent with ``send()`` on a request/response protocol, or
    published on a publish/subscribe one (to the event's topic, or ``topic``), so a
    capture from one protocol can be replayed onto another.

    Args:
        events: The events to send (see :func:`select_events`).
        protocol: A connected protocol.
        speed: ``1.0`` keeps the recorded pace, ``2.0`` is twice as fast; ``None``
            sends as fast as possible.
        loops: Times to play the events; ``0`` repeats until ``stop`` says so.
        topic: Topic for publish/subscribe targets; required when an event has none.
        qos: QoS of the publishes; the recorded one (or 0) when ``None``.
        stop: Polled between events; returning ``True`` ends the replay.
        sent: Called after each event is sent.

    Returns:
        The number of events sent.

    Raises:
        ProtocolArgumentError: If ``speed`` is not positive, ``loops`` is negative, or
            an event has no topic for a publish/subscribe target and ``topic`` is unset.
        ProtocolUsageError: If ``protocol`` is neither kind.
    """
    _check_replay(protocol, speed, loops)
    count = 0
    played = 0
    while (loops == 0 or played < loops) and events:
        start = time.monotonic()
        first = events[0].t
        for event in events:
            if stop is not None and stop():
                return count
            if speed is not None:
                delay = (event.t - first) / speed - (time.monotonic() - start)
                if delay > 0:
                    time.sleep(delay)
            _send_one(protocol, event, topic, qos)
            count += 1
            if sent is not None:
                sent(event)
        played += 1
    return count


def _check_replay(protocol: BaseProtocol, speed: float | None, loops: int) -> None:
    """Raise what :func:`replay` documents for a bad ``speed``, ``loops`` or ``protocol``."""
    if speed is not None and speed <= 0:
        raise ProtocolArgumentError(
            f"speed must be positive or None (as fast as possible), got {speed}"
        )
    if loops < 0:
        raise ProtocolArgumentError(f"loops must be 0 (forever) or more, got {loops}")
    if not isinstance(protocol, (ReqResProtocol, PubSubProtocol)):
        raise ProtocolUsageError(
            f"cannot replay onto {protocol!r}: not a ReqRes or PubSub protocol"
        )


def _send_one(
    protocol: BaseProtocol, event: RecordedEvent, topic: str | None, qos: int | None
) -> None:
    if isinstance(protocol, ReqResProtocol):
        protocol.send(event.data)
        return
    assert isinstance(protocol, PubSubProtocol)
    name = topic or event.topic
    if not name:
        raise ProtocolArgumentError(
            "a recorded event has no topic; give the topic to publish to (--topic)"
        )
    level = qos if qos is not None else (event.qos or 0)
    handle = protocol.publish(name, event.data, qos=level, retain=bool(event.retain))
    if level:
        handle.wait(10.0)
