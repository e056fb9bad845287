"""The connection state that the parts of one :class:`MQTTProtocol` share.

:class:`ClientState` holds what the façade, the publisher, the subscriptions and the
connection lifecycle all read: the state, the current :class:`Session` and the error
reconnection gave up with. One lock guards it; its condition wakes the threads that wait
for a state change (``connect()``, ``wait_until_connected()``, ``run_forever()``). Only
the connection lifecycle (``_connection``) changes the state.
"""

from __future__ import annotations

import enum
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eq1_network.common.exceptions import ProtocolError
    from eq1_network.protocols.mqtt._session import Session

__all__ = ["ClientState", "State"]


class State(enum.Enum):
    """Where the connection of a client stands."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    CLOSING = "closing"


class ClientState:
    """The state, session and failure of one client, behind one lock.

    Attributes:
        lock: Guards every attribute below.
        cond: Notified on every state change; uses :attr:`lock`.
        state: The current :class:`State`.
        session: The current connection lifetime, or ``None`` when closed.
        failure: Why reconnection was given up, or ``None``.
    """

    __slots__ = ("cond", "failure", "lock", "session", "state")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.state = State.IDLE
        self.session: Session | None = None
        self.failure: ProtocolError | None = None

    def live_session(self) -> Session | None:
        """Return the session if connected, else ``None`` (lock held)."""
        session = self.session
        return session if self.state is State.CONNECTED else None
