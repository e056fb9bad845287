"""The life cycle of a :class:`~eq1_network.network.NetworkHandler`: states and report."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolNotConnectedError
from eq1_network.data import SendData

__all__ = ["HandlerState", "Lifecycle", "StopReport"]


class HandlerState(enum.Enum):
    """Where a handler is in its life: ``NEW -> STARTING -> RUNNING -> STOPPING -> STOPPED``.

    A failed start goes from ``STARTING`` to ``STOPPED``; a worker that dies moves a
    running handler to ``FAILED``, from which :meth:`NetworkHandler.stop` still stops it.
    """

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True)
class StopReport:
    """What :meth:`NetworkHandler.stop` could not finish.

    Attributes:
        unsent: Messages accepted but never written (oldest first), including messages
            that could not be encoded and replies whose peer had left.
        unacknowledged: Acknowledged mode: written messages the peer never acknowledged.
        unconfirmed: Outside acknowledged mode: how many messages were written to
            connections that then broke (each break was also reported in an ERROR
            event). The peer read some of them, maybe all, maybe none: without
            acknowledgements the handler cannot tell. Always 0 in acknowledged mode.
    """

    unsent: list[SendData] = field(default_factory=list)
    unacknowledged: list[SendData] = field(default_factory=list)
    unconfirmed: int = 0

    @property
    def complete(self) -> bool:
        """Whether everything accepted was written (and acknowledged, in that mode).

        ``unconfirmed`` does not count here: those messages were written.
        """
        return not self.unsent and not self.unacknowledged


class Lifecycle:
    """The state of one handler and the failure that ended its workers, if one did.

    Transitions are made under a lock; reading :attr:`state` is not locked (a read of
    one attribute).

    Attributes:
        state: The current state.
        failure: The exception that ended a worker, or ``None``.
    """

    __slots__ = ("_lock", "failure", "state")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = HandlerState.NEW
        self.failure: BaseException | None = None

    def begin_start(self) -> None:
        """``NEW -> STARTING``.

        Raises:
            ProtocolArgumentError: If the handler was started before.
        """
        with self._lock:
            if self.state is not HandlerState.NEW:
                raise ProtocolArgumentError(
                    f"a handler starts once; this one is {self.state.value}"
                )
            self.state = HandlerState.STARTING

    def started(self, ok: bool) -> None:
        """``STARTING -> RUNNING``, or ``STOPPED`` if the start failed."""
        self.state = HandlerState.RUNNING if ok else HandlerState.STOPPED

    def fail(self, exc: BaseException) -> bool:
        """Record the failure of a worker; ``RUNNING -> FAILED``.

        Returns:
            ``False`` if a failure was recorded before (this one is ignored).
        """
        with self._lock:
            if self.failure is not None:
                return False
            self.failure = exc
            if self.state is HandlerState.RUNNING:
                self.state = HandlerState.FAILED
        return True

    def begin_stop(self) -> bool:
        """``RUNNING`` or ``FAILED -> STOPPING``; any other state becomes ``STOPPED``.

        Returns:
            Whether there is anything to stop.
        """
        with self._lock:
            if self.state not in (HandlerState.RUNNING, HandlerState.FAILED):
                self.state = HandlerState.STOPPED
                return False
            self.state = HandlerState.STOPPING
        return True

    def stopped(self) -> None:
        """``STOPPING -> STOPPED``."""
        self.state = HandlerState.STOPPED

    def not_running(self, operation: str) -> ProtocolNotConnectedError:
        """The error of ``operation`` on a handler that is not running.

        Args:
            operation: What was attempted, for the message (``"send_data()"``).

        Returns:
            The error, chained from the worker's failure if there was one.
        """
        failure = self.failure
        if failure is None:
            return ProtocolNotConnectedError(f"{operation} on a handler that is {self.state.value}")
        error = ProtocolNotConnectedError(
            f"{operation}: the handler failed ({type(failure).__name__}: {failure}); "
            "stop it and start a new one"
        )
        error.__cause__ = failure
        return error
