"""Exponential backoff with jitter, shared by every reconnecting component.

The n-th delay (n = 0, 1, ...) is drawn uniformly from
``[ceiling * (1 - jitter), ceiling]`` where ``ceiling = min(maximum, initial *
multiplier ** n)``. ``jitter=1`` is "full jitter" (uniform from 0 to the ceiling), which
spreads the reconnections of many clients that lost the same peer; ``jitter=0`` gives the
ceilings themselves.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from eq1_network.common.exceptions import ProtocolConfigurationError

__all__ = ["Backoff", "backoff_delays"]

Uniform = Callable[[float, float], float]


def _check(initial: float, maximum: float, multiplier: float, jitter: float) -> None:
    if not 0 <= initial <= maximum:
        raise ProtocolConfigurationError(
            f"backoff needs 0 <= initial <= maximum, got initial={initial}, maximum={maximum}"
        )
    if multiplier < 1:
        raise ProtocolConfigurationError(f"backoff multiplier must be >= 1, got {multiplier}")
    if not 0 <= jitter <= 1:
        raise ProtocolConfigurationError(f"backoff jitter must be in [0, 1], got {jitter}")


class Backoff:
    """Stateful delays: :meth:`next_delay` after each failure, :meth:`reset` after a success.

    Args:
        initial: Ceiling of the first delay, in seconds.
        maximum: Largest ceiling, in seconds.
        multiplier: Growth of the ceiling per attempt (>= 1).
        jitter: Fraction of the ceiling that is randomised, in ``[0, 1]``; 1 is full jitter.
        uniform: Source of randomness, ``uniform(low, high)`` (tests pass their own).

    Raises:
        ProtocolConfigurationError: If a value is out of range.
    """

    def __init__(
        self,
        initial: float,
        maximum: float,
        *,
        multiplier: float = 2.0,
        jitter: float = 1.0,
        uniform: Uniform = random.uniform,
    ) -> None:
        _check(initial, maximum, multiplier, jitter)
        self._initial = initial
        self._maximum = maximum
        self._multiplier = multiplier
        self._jitter = jitter
        self._uniform = uniform
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Number of delays handed out since the last :meth:`reset`."""
        return self._attempt

    def ceiling(self, attempt: int) -> float:
        """Return the largest delay before an attempt.

        Args:
            attempt: 0 for the first attempt after a success.

        Returns:
            ``min(maximum, initial * multiplier ** attempt)``.
        """
        bound = self._initial
        for _ in range(attempt):
            if bound >= self._maximum:
                break
            bound *= self._multiplier
        return float(min(self._maximum, bound))

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt.

        Returns:
            Seconds, between ``ceiling * (1 - jitter)`` and the ceiling of this attempt.
        """
        high = self.ceiling(self._attempt)
        self._attempt += 1
        if self._jitter == 0:
            return high
        low = high * (1.0 - self._jitter)
        return max(low, min(high, self._uniform(low, high)))

    def reset(self) -> None:
        """Start over after a successful attempt."""
        self._attempt = 0


def backoff_delays(
    initial: float,
    maximum: float,
    *,
    multiplier: float = 2.0,
    jitter: float = 1.0,
    max_attempts: int | None = None,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Yield the delay before each attempt; stop after ``max_attempts`` delays, or never.

    Args:
        initial: Ceiling of the first delay, in seconds.
        maximum: Largest ceiling, in seconds.
        multiplier: Growth of the ceiling per attempt (>= 1).
        jitter: Fraction of the ceiling that is randomised, in ``[0, 1]``.
        max_attempts: How many delays to yield; ``None`` for no limit.
        rng: Random source, for reproducible tests.

    Yields:
        Seconds to wait before the next attempt.

    Raises:
        ProtocolConfigurationError: If a value is out of range.
    """
    source = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not secrets
    backoff = Backoff(
        initial, maximum, multiplier=multiplier, jitter=jitter, uniform=source.uniform
    )
    while max_attempts is None or backoff.attempt < max_attempts:
        yield backoff.next_delay()
