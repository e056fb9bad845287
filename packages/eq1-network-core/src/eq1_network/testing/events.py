"""An event callback for tests of :class:`~eq1_network.network.NetworkHandler`."""

from __future__ import annotations

import threading

from eq1_network.worker.events import NetworkEvent, NetworkEventType

__all__ = ["EventLog"]


class EventLog:
    """Collects :class:`NetworkEvent` s from the worker threads; tests wait on them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.events: list[NetworkEvent] = []

    def __call__(self, event: NetworkEvent) -> None:
        """Record one event."""
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: NetworkEventType) -> list[NetworkEvent]:
        """Return the events of one kind received so far.

        Args:
            kind: The event type.

        Returns:
            The events, in arrival order.
        """
        with self._cond:
            return [e for e in self.events if e.type is kind]

    def wait_for(
        self, kind: NetworkEventType, count: int, timeout: float = 30.0
    ) -> list[NetworkEvent]:
        """Wait until ``count`` events of one kind arrived.

        Args:
            kind: The event type.
            count: How many.
            timeout: Longest wait in seconds.

        Returns:
            The events of that kind.

        Raises:
            AssertionError: If fewer arrived in time.
        """
        with self._cond:
            ok = self._cond.wait_for(
                lambda: sum(e.type is kind for e in self.events) >= count, timeout
            )
        got = self.of(kind)
        if not ok:
            raise AssertionError(
                f"expected {count} {kind.name} events within {timeout} s, got {len(got)}"
            )
        return got
