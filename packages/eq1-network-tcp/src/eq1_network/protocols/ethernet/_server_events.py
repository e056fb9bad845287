"""Events of the server loop: connect and disconnect notifications, and the INFO summary.

Connect and disconnect notifications are collected while the loop runs and delivered
by its owner after it has given the loop up (:func:`deliver`), so a callback may
call any server method. :class:`Activity` counts connects, disconnects and refusals
and logs their summary at INFO at most once per interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from eq1_network.common.logging import get_logger
from eq1_network.protocols.ethernet._peer import Peer

__all__ = ["LOGGER_NAME", "NO_NOTES", "Activity", "Note", "PeerCallback", "deliver"]

LOGGER_NAME = "eq1_network.protocols.ethernet._server_loop"
"""Name of the logger of everything the server loop records, whichever module records it."""

logger = get_logger(LOGGER_NAME)

PeerCallback = Callable[[Peer], None]
"""Signature of the connect and disconnect notifications: ``callback(peer)``."""

Note = tuple[PeerCallback, Peer]
"""A notification waiting for delivery: the callback and its client."""

NO_NOTES: tuple[Note, ...] = ()


class Activity:
    """Connects, disconnects and refusals since the last INFO summary.

    Args:
        where: The listening address, for the summary.
        now: The time (``time.monotonic()``) counting starts.
        interval: Shortest time between two summaries, in seconds.
    """

    __slots__ = (
        "connected",
        "disconnected",
        "due",
        "failed",
        "interval",
        "refused",
        "since",
        "where",
    )

    def __init__(self, where: str, now: float, interval: float) -> None:
        self.where = where
        self.interval = interval
        self.since = now
        self.due = now + interval
        self.connected = self.disconnected = self.failed = self.refused = 0

    def tick(self, now: float, open_now: int, *, final: bool = False) -> None:
        """Log the summary at INFO if it is due (or ``final``) and anything happened.

        A summary is due once ``interval`` seconds have passed since the previous one
        (or since counting started); logging it starts the next interval.

        Args:
            now: The current ``time.monotonic()``.
            open_now: Clients connected now.
            final: Log now if anything happened, due or not (the server stops).
        """
        if not final and now < self.due:
            return
        if self.connected or self.disconnected or self.refused:
            logger.info(
                "server %s, last %.0f s: %d client(s) connected, %d disconnected "
                "(%d after an error), %d refused; %d connected now",
                self.where,
                now - self.since,
                self.connected,
                self.disconnected,
                self.failed,
                self.refused,
                open_now,
            )
        self.since = now
        self.due = now + self.interval
        self.connected = self.disconnected = self.failed = self.refused = 0


def deliver(notes: Sequence[Note]) -> None:
    """Call each notification's callback; one that raises is logged and the rest go on.

    Args:
        notes: The notifications, in order.
    """
    for callback, peer in notes:
        try:
            callback(peer)
        except Exception:
            logger.exception("notification callback %r raised for client %s", callback, peer)
