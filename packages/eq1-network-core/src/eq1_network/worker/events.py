"""Events that the workers and :class:`~eq1_network.network.NetworkHandler` report."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["NetworkEvent", "NetworkEventType"]


class NetworkEventType(enum.Enum):
    """Kinds of :class:`NetworkEvent`."""

    CONNECTED = "connected"
    """The protocol connected (first time or after a reconnection)."""
    DISCONNECTED = "disconnected"
    """The connection was lost or closed."""
    RECEIVED = "received"
    """A message arrived; ``data`` is the decoded ``ReceivedData``."""
    SENT = "sent"
    """A message was written to the protocol; ``data`` is the ``SendData``."""
    ERROR = "error"
    """Something failed; ``error`` holds the exception, ``data`` what it concerns, if anything."""


class NetworkEvent:
    """One event passed to the handler's ``event_callback``.

    Attributes:
        type: What happened.
        data: The ``ReceivedData`` (RECEIVED), the ``SendData`` (SENT), or ``None``.
        error: The exception for ERROR (and for DISCONNECTED caused by a failure).
        sequence: The message sequence number, when the event concerns one message.
    """

    __slots__ = ("data", "error", "sequence", "type")

    def __init__(
        self,
        type: NetworkEventType,
        data: Any = None,
        error: BaseException | None = None,
        sequence: int | None = None,
    ) -> None:
        self.type = type
        self.data = data
        self.error = error
        self.sequence = sequence

    def __repr__(self) -> str:
        parts = [f"type={self.type.name}"]
        if self.sequence is not None:
            parts.append(f"sequence={self.sequence}")
        if self.data is not None:
            parts.append(f"data={self.data!r}")
        if self.error is not None:
            parts.append(f"error={self.error!r}")
        return f"NetworkEvent({', '.join(parts)})"
