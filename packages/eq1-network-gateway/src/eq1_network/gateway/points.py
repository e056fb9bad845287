"""Points of a Modbus bridge: read plans, decoding, payloads and set messages.

Pure functions and small state, no I/O: the poller drives them.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any, cast

from eq1_network.gateway.config import BIT_TABLES, PointConfig
from eq1_network.protocols.modbus import values

__all__ = [
    "Block",
    "PointState",
    "decode_point",
    "format_payload",
    "parse_set_value",
    "plan_blocks",
    "register_span",
]

MAX_REGISTERS = 125
MAX_BITS = 2000
_JSON = json.JSONEncoder(separators=(",", ":"))
"""What ``json.dumps(..., separators=(",", ":"))`` uses, built once."""


def register_span(point: PointConfig) -> int:
    """Return how many registers (or bits) the point occupies."""
    if point.table in BIT_TABLES:
        return 1
    return values.register_count(cast("values.ValueType", point.value_type))


@dataclass
class PointState:
    """What the gateway last published for one point, and its counters."""

    config: PointConfig
    value: Any = None
    quality: str = "unknown"
    published_at: float | None = None
    read_at: float | None = None
    reads: int = 0
    errors: int = 0
    publishes: int = 0
    writes: int = 0
    write_errors: int = 0

    def due(self, value: Any, quality: str, now: float) -> bool:
        """Tell whether a new reading must be published (and remember it if so)."""
        point = self.config
        changed = quality != self.quality or (quality == "good" and value != self.value)
        beat = point.heartbeat is not None and (
            self.published_at is None or now - self.published_at >= point.heartbeat
        )
        publish = changed or beat or not point.on_change
        if quality == "good":
            self.value = value
        self.quality = quality
        if publish:
            self.published_at = now
        return publish


@dataclass
class Block:
    """One read request covering contiguous points of one table."""

    table: str
    address: int
    count: int
    points: list[PointState] = field(default_factory=list)


def plan_blocks(points: list[PointState], max_gap: int = 0) -> list[Block]:
    """Group points into as few reads as the 125-register (2000-bit) limit allows.

    Points of one table whose ranges touch (or leave at most ``max_gap`` unused
    registers between them) share a read.

    Args:
        points: The points of one unit.
        max_gap: Unused registers a read may span to join two points.

    Returns:
        The reads, in table and address order.
    """
    blocks: list[Block] = []
    ordered = sorted(points, key=lambda p: (p.config.table, p.config.address))
    for state in ordered:
        point = state.config
        span = register_span(point)
        limit = MAX_BITS if point.table in BIT_TABLES else MAX_REGISTERS
        last = blocks[-1] if blocks else None
        if (
            last is not None
            and last.table == point.table
            and point.address <= last.address + last.count + max_gap
            and max(last.address + last.count, point.address + span) - last.address <= limit
        ):
            last.count = max(last.count, point.address + span - last.address)
            last.points.append(state)
        else:
            blocks.append(Block(point.table, point.address, span, [state]))
    return blocks


def decode_point(block: Block, data: list[Any], point: PointConfig) -> Any:
    """Decode one point's value from the data of its block's read."""
    offset = point.address - block.address
    if point.table in BIT_TABLES:
        return bool(data[offset])
    registers = data[offset : offset + register_span(point)]
    raw = values.decode(
        registers,
        cast("values.ValueType", point.value_type),
        order=cast("values.ByteOrder", point.order),
    )
    if point.scale != 1.0 or point.offset != 0.0:
        return raw * point.scale + point.offset
    return raw


def _text(value: Any, point: PointConfig) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value).lower()
        if point.value_type == "float32":
            return f"{value:.7g}"
        return repr(value)
    return str(value)


@functools.lru_cache(maxsize=16)  # the points of a poll share their time
def _timestamp(wall: float) -> str:
    moment = datetime.datetime.fromtimestamp(wall, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_payload(state: PointState, fmt: str, wall: float) -> str | None:
    """Return the payload of a point's reading, or ``None`` when there is none to send.

    Plain text carries the value only (nothing is sent while the quality is bad); JSON
    carries ``value``, ``unit``, ``timestamp`` and ``quality``.
    """
    point = state.config
    if fmt == "plain":
        return None if state.quality != "good" else _text(state.value, point)
    value = state.value
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    elif isinstance(value, float) and point.value_type == "float32":
        value = float(f"{value:.7g}")
    body = {
        "value": value,
        "unit": point.unit,
        "timestamp": _timestamp(wall),
        "quality": state.quality,
    }
    return _JSON.encode(body)


_TRUE = {"1", "true", "on", "yes"}
_FALSE = {"0", "false", "off", "no"}


def parse_set_value(payload: bytes, point: PointConfig) -> Any:
    """Parse a set message (plain text, or JSON ``{"value": ...}``) with the point's type.

    Raises:
        ValueError: Naming the point, what was received and what it takes.
    """
    text = payload.decode("utf-8", errors="replace").strip()
    raw: Any = text
    if text.startswith("{"):
        try:
            raw = json.loads(text)["value"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                f'{point.name}: expected {{"value": ...}}, got {text[:40]!r}'
            ) from None
    kind = point.value_type
    if kind == "bool":
        word = str(raw).strip().lower()
        if isinstance(raw, bool) or word in _TRUE | _FALSE:
            return raw if isinstance(raw, bool) else word in _TRUE
        raise ValueError(f"{point.name}: {text[:40]!r} is not a bool (true/false, 1/0, on/off)")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{point.name}: {text[:40]!r} is not a number") from None
    number = (number - point.offset) / point.scale
    if kind.startswith("float"):
        return number
    if not number.is_integer():
        raise ValueError(f"{point.name}: {text[:40]!r} is not a whole number for {kind}")
    return int(number)


def encode_registers(value: Any, point: PointConfig) -> list[int]:
    """Return the registers that hold ``value`` (checked against the point's type)."""
    return values.encode(
        value,
        cast("values.ValueType", point.value_type),
        order=cast("values.ByteOrder", point.order),
    )
