"""Reconnect delays: exponential backoff with full jitter and a cap.

``delay(n) = uniform(0, min(cap, base * 2**n))`` for the ``n``-th attempt in a row (the
"full jitter" scheme): clients that lost the same broker at the same moment spread
their reconnects instead of arriving together.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays between reconnect attempts.

    Args:
        base: Upper bound of the first delay, in seconds.
        cap: Largest upper bound, in seconds.
        uniform: Source of randomness, ``uniform(low, high)``; ``random.uniform`` by default.
    """

    def __init__(
        self,
        base: float,
        cap: float,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._base = base
        self._cap = cap
        self._uniform = uniform
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Number of delays handed out since the last :meth:`reset`."""
        return self._attempt

    def ceiling(self, attempt: int) -> float:
        """Return the upper bound of the delay before an attempt.

        Args:
            attempt: 0 for the first attempt after a success.

        Returns:
            ``min(cap, base * 2**attempt)``.
        """
        exponent = min(attempt, 62)
        return float(min(self._cap, self._base * (2**exponent)))

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt.

        Returns:
            A delay in seconds between 0 and :meth:`ceiling` of this attempt.
        """
        high = self.ceiling(self._attempt)
        self._attempt += 1
        return max(0.0, min(high, self._uniform(0.0, high)))

    def reset(self) -> None:
        """Start over after a successful connection."""
        self._attempt = 0
