"""The poll plan of a unit: what stays the same from one poll to the next, worked out once.

A unit reads the same blocks at every poll and publishes each point with the same
topic, QoS, retain flag and format. :class:`BlockPlan` keeps, per block, a decoder of
all its points at once (:func:`block_decoder`) and, per point, its resolved publishing
settings (:class:`PointPlan`), so that a poll costs one pass over the block's data.

Every value is decoded with the struct codes :mod:`eq1_network.protocols.modbus.values`
uses, so it is the same value, of the same type and with the same bits, that
:func:`~eq1_network.gateway.points.decode_point` returns.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, cast

from eq1_network.gateway.broker import Outgoing
from eq1_network.gateway.config import BIT_TABLES, BridgeConfig, PointConfig
from eq1_network.gateway.points import Block, PointState, format_payload
from eq1_network.protocols.modbus import values

__all__ = ["BlockDecoder", "BlockPlan", "PointPlan", "block_decoder"]

BlockDecoder: TypeAlias = Callable[[Sequence[Any]], list[Any] | None]
"""Takes the data of a block's read; returns its points' values, or ``None``."""

# value type -> struct code, as values.decode() reads it
_CODES = {
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}
# order -> (registers packed low byte first, value read least significant byte first).
# Packing the registers low byte first swaps the bytes inside each register; reading
# the bytes least significant first reverses them all, which also reverses the words.
_LAYOUTS = {
    "ABCD": (False, False),
    "BADC": (True, False),
    "CDAB": (True, True),
    "DCBA": (False, True),
}
_PACK_ERRORS = (struct.error, TypeError, ValueError, OverflowError)
_UNSET = object()


def _layout(order: str, span: int) -> tuple[bool, bool]:
    """Return how a value of ``span`` registers in ``order`` is read (see ``_LAYOUTS``)."""
    swapped, little = _LAYOUTS[order]
    if span == 1:  # one register: only the byte order counts
        return False, swapped != little
    return swapped, little


class _Group:
    """Points read by one struct format: one layout, in address order, none overlapping."""

    def __init__(self, swapped: bool, little: bool) -> None:
        self.swapped = swapped
        self.little = little
        self.end = 0  # first register after the last point
        self.size = 0
        self._parts: list[str] = ["<" if little else ">"]

    def takes(self, swapped: bool, little: bool, offset: int) -> bool:
        return swapped is self.swapped and little is self.little and offset >= self.end

    def add(self, offset: int, span: int, code: str) -> int:
        """Append a point; return its position among the group's values."""
        if offset > self.end:
            self._parts.append(f"{2 * (offset - self.end)}x")
        self._parts.append(code)
        self.end = offset + span
        self.size += 1
        return self.size - 1

    def compile(self) -> tuple[bool, struct.Struct]:
        return self.swapped, struct.Struct("".join(self._parts))


class _RegisterDecoder:
    """All the points of a register block, decoded by one struct call per layout."""

    __slots__ = ("_big", "_count", "_groups", "_little", "_order", "_scaled", "_swapped")

    def __init__(self, block: Block) -> None:
        self._count = block.count
        self._big = struct.Struct(f">{block.count}H")
        self._little = struct.Struct(f"<{block.count}H")
        groups: list[_Group] = []
        slots: list[tuple[int, int]] = []  # per point: its group, its place in the group
        self._scaled: list[tuple[int, float, float]] = []
        for index, state in enumerate(block.points):
            point = state.config
            kind = cast("values.ValueType", point.value_type)
            span = values.register_count(kind)
            offset = point.address - block.address
            swapped, little = _layout(point.order, span)
            number = next(
                (n for n, g in enumerate(groups) if g.takes(swapped, little, offset)), len(groups)
            )
            if number == len(groups):
                groups.append(_Group(swapped, little))
            slots.append((number, groups[number].add(offset, span, _CODES[kind])))
            if point.scale != 1.0 or point.offset != 0.0:
                self._scaled.append((index, point.scale, point.offset))
        starts = list(itertools.accumulate((g.size for g in groups), initial=0))
        order = [starts[number] + place for number, place in slots]
        self._order = None if order == sorted(order) else order
        self._groups = [group.compile() for group in groups]
        self._swapped = any(swapped for swapped, _ in self._groups)

    def __call__(self, data: Sequence[Any]) -> list[Any] | None:
        if len(data) != self._count:
            return None
        try:
            big = self._big.pack(*data)
            little = self._little.pack(*data) if self._swapped else big
        except _PACK_ERRORS:
            return None
        if len(self._groups) == 1:
            swapped, layout = self._groups[0]
            out = list(layout.unpack_from(little if swapped else big))
        else:
            out = []
            for swapped, layout in self._groups:
                out += layout.unpack_from(little if swapped else big)
        if self._order is not None:
            out = [out[i] for i in self._order]
        for index, scale, offset in self._scaled:
            out[index] = out[index] * scale + offset
        return out


class _BitDecoder:
    """All the points of a coil or discrete input block."""

    __slots__ = ("_count", "_offsets")

    def __init__(self, block: Block) -> None:
        self._count = block.count
        self._offsets = [state.config.address - block.address for state in block.points]

    def __call__(self, data: Sequence[Any]) -> list[Any] | None:
        if len(data) != self._count:
            return None
        try:
            return [bool(data[offset]) for offset in self._offsets]
        except _PACK_ERRORS:
            return None


def block_decoder(block: Block) -> BlockDecoder:
    """Return a decoder of every point of ``block`` at once.

    Args:
        block: A block of :func:`~eq1_network.gateway.points.plan_blocks` (its points
            are not changed afterwards).

    Returns:
        A function of the data of the block's read that returns the values of
        ``block.points`` in their order, each what
        :func:`~eq1_network.gateway.points.decode_point` returns for it (same value,
        type and bits); or ``None`` when the data is not ``block.count`` items or holds
        an item that is not a register value, for the caller to decode point by point
        (and so raise what ``decode_point`` raises).
    """
    if block.table in BIT_TABLES:
        return _BitDecoder(block)
    return _RegisterDecoder(block)


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _plain_text(point: PointConfig, fmt: str) -> Callable[[Any], str] | None:
    """The text of a good value when it depends on the value alone (ints and bools)."""
    if fmt != "plain":
        return None
    if point.table in BIT_TABLES:
        return _bool_text
    if point.value_type.startswith("float") or point.scale != 1.0 or point.offset != 0.0:
        return None
    return str


class PointPlan:
    """One point's publishing settings, resolved against its bridge once.

    Args:
        state: The point.
        bridge: Its bridge (the defaults of ``qos``, ``retain`` and ``format``).

    Attributes:
        state: The point.
        topic: Where its values go.
        qos: Its QoS.
        retain: Its retain flag.
        fmt: ``plain`` or ``json``.
    """

    __slots__ = ("_item", "_key", "_text", "fmt", "qos", "retain", "state", "topic")

    def __init__(self, state: PointState, bridge: BridgeConfig) -> None:
        point = state.config
        self.state = state
        self.topic = point.topic
        self.qos = bridge.qos if point.qos is None else point.qos
        self.retain = point.retain or bridge.retain
        self.fmt = point.format or bridge.format
        self._text = _plain_text(point, self.fmt)
        self._key: object = _UNSET  # the value or payload of the last message
        self._item: Outgoing | None = None

    def message(self, value: Any, wall: float) -> Outgoing | None:
        """Return the message of a good reading that is due, as ``format_payload`` words it.

        The state must already hold the reading (``value``). A message equal to the
        previous one is that same (immutable) message.

        Args:
            value: The reading.
            wall: Its wall-clock time (for a JSON timestamp).

        Returns:
            The message, or ``None`` when the format sends none.
        """
        text = self._text
        if text is not None:
            if value != self._key or self._item is None:
                self._item = Outgoing(self.topic, text(value), self.qos, self.retain)
                self._key = value
            return self._item
        payload = format_payload(self.state, self.fmt, wall)
        if payload is None:
            return None
        if payload != self._key or self._item is None:
            self._item = Outgoing(self.topic, payload, self.qos, self.retain)
            self._key = payload
        return self._item


class BlockPlan:
    """One block of a unit: its decoder and its points' publishing settings.

    Args:
        block: The block.
        bridge: The bridge polling it.

    Attributes:
        block: The block.
        decode: Its :func:`block_decoder`.
        points: A :class:`PointPlan` per point, in the order of ``block.points``.
    """

    __slots__ = ("block", "decode", "points")

    def __init__(self, block: Block, bridge: BridgeConfig) -> None:
        self.block = block
        self.decode = block_decoder(block)
        self.points = [PointPlan(state, bridge) for state in block.points]
