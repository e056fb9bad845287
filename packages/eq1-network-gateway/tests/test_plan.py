"""The poll plan decodes and words every point exactly as the point-by-point functions do."""

from __future__ import annotations

import math
import struct
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eq1_network.common.exceptions import ProtocolArgumentError
from eq1_network.gateway import parse_config
from eq1_network.gateway.config import BridgeConfig, PointConfig
from eq1_network.gateway.modbus import ModbusWorker, UnitPoll
from eq1_network.gateway.plan import BlockPlan, PointPlan, block_decoder
from eq1_network.gateway.points import (
    Block,
    PointState,
    decode_point,
    format_payload,
    plan_blocks,
)
from eq1_network.protocols.modbus import values

REGISTER = st.integers(0, 0xFFFF)
SCALES = st.sampled_from([1.0, 0.1, -2.5, 1e-3, 3.0])
OFFSETS = st.sampled_from([0.0, 10.0, -0.5, 273.15])


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type; floats compared bit for bit (NaNs included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return bool(a == b)


def register_point(
    name: str, address: int, kind: str, order: str, scale: float = 1.0, offset: float = 0.0
) -> PointConfig:
    return PointConfig(
        name=name,
        table="holding",
        address=address,
        type=kind,
        order=order,
        topic=f"t/{name}",
        scale=scale,
        offset=offset,
    )


def decoded_by_plan(points: list[PointConfig], memory: list[int], max_gap: int = 0) -> None:
    """Every block decodes as decode_point decodes each of its points."""
    blocks = plan_blocks([PointState(p) for p in points], max_gap)
    for block in blocks:
        data = memory[block.address : block.address + block.count]
        expected = [decode_point(block, data, state.config) for state in block.points]
        got = block_decoder(block)(data)
        assert got is not None
        assert len(got) == len(expected)
        for point_value, wanted in zip(got, expected, strict=True):
            assert same(point_value, wanted), (block, data, got, expected)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(values.VALUE_TYPES),
    order=st.sampled_from(values.BYTE_ORDERS),
    registers=st.lists(REGISTER, min_size=4, max_size=4),
)
def test_one_point_decodes_as_values_decode(
    kind: values.ValueType, order: values.ByteOrder, registers: list[int]
) -> None:
    point = register_point("p", 0, kind, order)
    block = plan_blocks([PointState(point)])[0]
    data = registers[: block.count]
    got = block_decoder(block)(data)
    assert got is not None
    assert same(got[0], values.decode(data, kind, order=order))


@pytest.mark.parametrize("kind", values.VALUE_TYPES)
@pytest.mark.parametrize("order", values.BYTE_ORDERS)
def test_every_type_and_order_on_known_patterns(
    kind: values.ValueType, order: values.ByteOrder
) -> None:
    patterns = [0x0000, 0xFFFF, 0x8000, 0x7FFF, 0x0001, 0x7F80, 0xFF80, 0x7FC0, 0x1234, 0xABCD]
    span = values.register_count(kind)
    for first in range(len(patterns) - span + 1):
        data = patterns[first : first + span]
        point = register_point("p", 0, kind, order)
        block = plan_blocks([PointState(point)])[0]
        got = block_decoder(block)(data)
        assert got is not None
        assert same(got[0], values.decode(data, kind, order=order))


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[PointConfig], list[int], int]:
    """Points of mixed types and orders over 48 registers, overlapping or not."""
    count = draw(st.integers(1, 24))
    points = [
        register_point(
            f"p{index}",
            draw(st.integers(0, 44)),
            draw(st.sampled_from(values.VALUE_TYPES)),
            draw(st.sampled_from(values.BYTE_ORDERS)),
            draw(SCALES),
            draw(OFFSETS),
        )
        for index in range(count)
    ]
    memory = draw(st.lists(REGISTER, min_size=48, max_size=48))
    return points, memory, draw(st.integers(0, 4))


@settings(max_examples=400, deadline=None)
@given(layout=layouts())
def test_blocks_of_mixed_points_decode_as_decode_point(
    layout: tuple[list[PointConfig], list[int], int],
) -> None:
    points, memory, max_gap = layout
    decoded_by_plan(points, memory, max_gap)


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(values.VALUE_TYPES),
    order=st.sampled_from(values.BYTE_ORDERS),
    memory=st.lists(REGISTER, min_size=125, max_size=125),
)
def test_a_full_block_of_one_type_decodes_as_decode_point(
    kind: values.ValueType, order: values.ByteOrder, memory: list[int]
) -> None:
    span = values.register_count(kind)
    points = [register_point(f"p{a}", a, kind, order) for a in range(0, 125 - span + 1, span)]
    decoded_by_plan(points, memory)


@settings(max_examples=100, deadline=None)
@given(bits=st.lists(st.booleans(), min_size=40, max_size=40), data=st.data())
def test_bit_blocks_decode_as_decode_point(bits: list[bool], data: st.DataObject) -> None:
    table: Literal["coil", "discrete"] = data.draw(st.sampled_from(["coil", "discrete"]))
    addresses = data.draw(st.lists(st.integers(0, 39), min_size=1, max_size=20))
    states = [
        PointState(PointConfig(name=f"b{i}", table=table, address=a, topic=f"b/{i}"))
        for i, a in enumerate(addresses)
    ]
    for block in plan_blocks(states):
        chunk = bits[block.address : block.address + block.count]
        expected = [decode_point(block, chunk, s.config) for s in block.points]
        assert block_decoder(block)(chunk) == expected


def test_data_the_decoder_does_not_take_is_left_to_decode_point() -> None:
    block = plan_blocks([PointState(register_point("p", 0, "uint32", "ABCD"))])[0]
    decode = block_decoder(block)
    assert decode([1]) is None  # short: decode_point raises for it
    assert decode([1, 2, 3]) is None  # longer than the block
    assert decode([1, 70000]) is None  # not a register value
    assert decode([1, 2.0]) is None
    with pytest.raises(ProtocolArgumentError, match=r"registers\[1\]=70000"):
        decode_point(block, [1, 70000], block.points[0].config)


BRIDGE = """\
version: 1
connections:
  plc: {url: 'modbus://127.0.0.1:1'}
  broker: {url: 'mqtt://127.0.0.1:2'}
bridges:
  - from: plc
    to: broker
    qos: 1
    format: FORMAT
    points:
      - {name: i, table: holding, address: 0, type: int16, topic: t/i}
      - {name: s, table: holding, address: 1, scale: 0.5, topic: t/s, retain: true}
      - {name: f, table: holding, address: 2, type: float32, topic: t/f, qos: 2}
      - {name: d, table: holding, address: 4, type: float64, topic: t/d, format: json}
      - {name: c, table: coil, address: 0, topic: t/c, unit: "k\\"Pa\u00b0"}
"""


def bridge(fmt: str) -> BridgeConfig:
    return parse_config(BRIDGE.replace("FORMAT", fmt), "t.yaml").bridges[0]


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_messages_word_the_reading_as_format_payload(fmt: str) -> None:
    config = bridge(fmt)
    plans = [PointPlan(PointState(p), config) for p in config.points or []]
    readings: list[list[Any]] = [
        [-2, 7.5, 21.700000762939453, math.nan, True],
        [-2, 7.5, math.inf, -0.0, False],
        [3, 8.0, -math.inf, 0.0, False],
    ]
    for step, reading in enumerate(readings):
        wall = 1_700_000_000.25 + step
        for plan, value in zip(plans, reading, strict=True):
            plan.state.due(value, "good", 0.0)
            message = plan.message(value, wall)
            assert message is not None
            assert message.payload == format_payload(plan.state, plan.fmt, wall)
            point = plan.state.config
            assert message.topic == point.topic
            assert message.qos == (config.qos if point.qos is None else point.qos)
            assert message.retain is (point.retain or config.retain)


def test_an_unchanged_plain_reading_reuses_its_message() -> None:
    config = bridge("plain")
    plan = PointPlan(PointState((config.points or [])[0]), config)
    first = plan.message(5, 1.0)
    assert plan.message(5, 2.0) is first
    changed = plan.message(6, 3.0)
    assert changed is not first and changed is not None and changed.payload == "6"


class _Broker:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str | bytes, int, bool]] = []

    def post_many(self, items: list[Any]) -> None:
        self.messages += [(m.topic, m.payload, m.qos, m.retain) for m in items]

    def post(self, topic: str, payload: str, qos: int, retain: bool) -> None:
        self.messages.append((topic, payload, qos, retain))


class _Client:
    timeout = 1.0
    retries = 0


def _worker(config: BridgeConfig) -> tuple[ModbusWorker, UnitPoll, _Broker]:
    broker = _Broker()
    poll = UnitPoll(config, broker, [PointState(p) for p in config.points or []])  # type: ignore[arg-type]
    return ModbusWorker("plc", "modbus://h:1", [poll], factory=lambda url: _Client()), poll, broker


def _by_point(poll: UnitPoll, answers: list[list[Any]], wall: float) -> list[Any]:
    """The messages of a poll as decode_point and format_payload make them."""
    out = []
    for block, data in zip(poll.blocks, answers, strict=True):
        for state in block.points:
            state.due(decode_point(block, data, state.config), "good", 0.0)
            fmt = state.config.format or poll.bridge.format
            payload = format_payload(state, fmt, wall)
            if payload is not None:
                qos = poll.bridge.qos if state.config.qos is None else state.config.qos
                retain = state.config.retain or poll.bridge.retain
                out.append((state.config.topic, payload, qos, retain))
    return out


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_poll_publishes_what_the_points_decode_to(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = bridge(fmt)
    worker, poll, broker = _worker(config)
    reference = _worker(config)[1]
    monkeypatch.setattr("time.time", lambda: 1_700_000_000.5)
    floats = values.encode(21.7, "float32") + values.encode(-1e300, "float64")
    answers: list[list[Any]] = [[True], [0xFFFE, 15, *floats]]
    worker._succeeded(poll, answers, 0.0)
    assert broker.messages == _by_point(reference, answers, 1_700_000_000.5)
    assert [s.reads for s in poll.points] == [1] * 5
    assert [s.publishes for s in poll.points] == [1] * 5


def test_a_poll_with_data_the_decoder_refuses_raises_as_before() -> None:
    worker, poll, broker = _worker(bridge("plain"))
    with pytest.raises(ProtocolArgumentError, match="float32 needs 2 registers, got 1"):
        worker._succeeded(poll, [[True], [1, 2, 3]], 0.0)
    assert [s.reads for s in poll.points] == [1, 1, 1, 0, 1]  # as far as decode_point got
    assert broker.messages == []


def test_block_plans_follow_the_blocks() -> None:
    config = bridge("plain")
    _, poll, _ = _worker(config)
    assert [p.block for p in poll.plans] == poll.blocks
    assert all(isinstance(p, BlockPlan) for p in poll.plans)
    assert [[e.state for e in p.points] for p in poll.plans] == [b.points for b in poll.blocks]
    assert isinstance(poll.blocks[0], Block)
