"""Delays between reconnection attempts: exponential backoff with jitter."""

from __future__ import annotations

import random
from collections.abc import Iterator

from eq1_network.protocols.ethernet._config import ReconnectPolicy

__all__ = ["backoff_delays"]


def backoff_delays(policy: ReconnectPolicy, rng: random.Random | None = None) -> Iterator[float]:
    """Yield the delay before each reconnection attempt.

    The n-th base delay is ``initial_delay * multiplier ** n`` capped at
    ``max_delay``; each yielded delay is the base shortened by a random fraction of
    up to ``jitter``. The iterator ends after ``max_attempts`` delays, or never.

    Args:
        policy: The reconnection policy.
        rng: Random source (tests pass a seeded one).

    Yields:
        Seconds to wait before the next attempt.
    """
    source = rng if rng is not None else random.Random()  # noqa: S311 - not cryptographic
    base = policy.initial_delay
    attempt = 0
    while policy.max_attempts is None or attempt < policy.max_attempts:
        yield base * (1.0 - policy.jitter * source.random())
        attempt += 1
        base = min(policy.max_delay, base * policy.multiplier)
