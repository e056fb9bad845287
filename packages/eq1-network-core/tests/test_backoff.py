"""The shared exponential backoff."""

from __future__ import annotations

import random

import pytest

from eq1_network import ProtocolConfigurationError
from eq1_network.common.backoff import Backoff, backoff_delays


def test_full_jitter_draws_from_zero_to_the_ceiling() -> None:
    calls: list[tuple[float, float]] = []

    def top(low: float, high: float) -> float:
        calls.append((low, high))
        return high

    backoff = Backoff(0.5, 4.0, uniform=top)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert {low for low, _ in calls} == {0.0}
    assert backoff.attempt == 5
    backoff.reset()
    assert backoff.next_delay() == 0.5
    assert Backoff(1.0, 8.0).ceiling(10_000) == 8.0


def test_partial_jitter_stays_in_its_band() -> None:
    delays = list(backoff_delays(0.1, 1.0, jitter=0.5, max_attempts=8, rng=random.Random(3)))
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    assert len(delays) == 8
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling * 0.5 <= delay <= ceiling


def test_no_jitter_gives_the_ceilings() -> None:
    assert list(backoff_delays(1, 8, multiplier=3, jitter=0, max_attempts=4)) == [1, 3, 8, 8]


@pytest.mark.parametrize(
    ("initial", "maximum", "multiplier", "jitter"),
    [(-1, 1, 2, 1), (2, 1, 2, 1), (0.1, 1, 0.5, 1), (0.1, 1, 2, 1.5)],
)
def test_bad_values_are_refused(
    initial: float, maximum: float, multiplier: float, jitter: float
) -> None:
    with pytest.raises(ProtocolConfigurationError):
        Backoff(initial, maximum, multiplier=multiplier, jitter=jitter)
