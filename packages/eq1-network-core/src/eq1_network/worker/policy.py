"""Reconnection and back-pressure policies."""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator
from dataclasses import dataclass

from eq1_network.common.backoff import backoff_delays
from eq1_network.common.exceptions import ProtocolConfigurationError

__all__ = ["QueueFullPolicy", "ReconnectPolicy"]


class QueueFullPolicy(enum.Enum):
    """What ``send_data`` does when the bounded send queue is full."""

    BLOCK = "block"
    """Wait up to the send timeout for room, then raise ``QueueFullError``."""
    RAISE = "raise"
    """Raise ``QueueFullError`` at once."""


@dataclass(frozen=True)
class ReconnectPolicy:
    """Exponential backoff with full jitter between reconnection attempts.

    The n-th delay (n = 0, 1, ...) is drawn uniformly from
    ``[0, min(max_delay, initial_delay * multiplier ** n)]`` ("full jitter"), so many
    clients that lost the same peer do not reconnect in lock step.

    Args:
        enabled: Reconnect automatically when the connection drops. Off by default:
            the requirements demand an explicit ``connect()``.
        initial_delay: Upper bound of the first delay, in seconds.
        max_delay: Cap of every delay, in seconds.
        multiplier: Growth factor of the bound per attempt.
        max_attempts: Give up after this many failed attempts; ``None`` retries until stopped.
        jitter: Draw delays at random below the bound; ``False`` uses the bound itself.

    Raises:
        ProtocolConfigurationError: If a value is out of range.
    """

    enabled: bool = False
    initial_delay: float = 0.1
    max_delay: float = 5.0
    multiplier: float = 2.0
    max_attempts: int | None = None
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise ProtocolConfigurationError(
                "ReconnectPolicy needs 0 <= initial_delay <= max_delay, got "
                f"initial_delay={self.initial_delay}, max_delay={self.max_delay}"
            )
        if self.multiplier < 1:
            raise ProtocolConfigurationError(
                f"ReconnectPolicy.multiplier must be >= 1, got {self.multiplier}"
            )
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ProtocolConfigurationError(
                f"ReconnectPolicy.max_attempts must be >= 1 or None, got {self.max_attempts}"
            )

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the delay before each attempt; stops after ``max_attempts``.

        Args:
            rng: Random source, for reproducible tests.

        Returns:
            An iterator of seconds to wait before the next attempt.
        """
        return backoff_delays(
            self.initial_delay,
            self.max_delay,
            multiplier=self.multiplier,
            jitter=1.0 if self.jitter else 0.0,
            max_attempts=self.max_attempts,
            rng=rng,
        )
