"""Where a handler's received messages and events go: a request, the callback, a queue.

:class:`Delivery` is the receive worker's sink (see
:class:`~eq1_network.worker.listener.ListenerSink`): a reply goes to the request
waiting for it; every other message goes to the event callback as a RECEIVED event
and, when the handler keeps one, to the receive queue. An exception raised by the
callback is logged and reported as an ERROR event. ``NetworkHandler.receive`` takes
from the queue with :meth:`Delivery.take`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from queue import Empty, Full, Queue
from typing import Any

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolTimeoutError
from eq1_network.common.logging import get_logger
from eq1_network.data import ReceivedData
from eq1_network.worker.correlation import Correlator
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.lifecycle import Lifecycle

__all__ = ["Delivery"]

logger = get_logger("eq1_network.network")

_POLL = 0.05
_RECEIVE_SLICE = 0.1
"""Longest wait of :meth:`Delivery.take` between two looks at the workers' health."""
_RECEIVED = NetworkEventType.RECEIVED
_new = object.__new__


class Delivery:
    """Delivers received messages and events for one handler.

    Args:
        callback: The event callback, or ``None``.
        received: The receive queue, or ``None`` when the handler keeps none.
        correlator: The requests waiting for replies.
        stopping: Set when the handler stops: a full receive queue is then given up.
        on_failure: Called with the exception that ended a worker.
    """

    __slots__ = ("_callback", "_correlator", "_on_failure", "_stopping", "received")

    def __init__(
        self,
        callback: Callable[[NetworkEvent], None] | None,
        received: Queue[ReceivedData] | None,
        correlator: Correlator,
        stopping: threading.Event,
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self._callback = callback
        self.received = received
        self._correlator = correlator
        self._stopping = stopping
        self._on_failure = on_failure

    def emit(self, event: NetworkEvent) -> None:
        """Pass ``event`` to the callback, if any."""
        callback = self._callback
        if callback is None:
            return
        try:
            callback(event)
        except Exception as exc:
            logger.exception("event callback raised on %r", event)
            self._report_callback_error(event, exc)

    def deliver(self, received: ReceivedData) -> None:
        """Deliver one message (receive worker only)."""
        correlator = self._correlator
        if correlator.waiting and correlator.claim(received):
            return
        callback = self._callback
        if callback is not None:
            event = NetworkEvent(_RECEIVED, received, None, getattr(received, "sequence", None))
            try:
                callback(event)
            except Exception as exc:
                logger.exception("event callback raised on %r", event)
                self._report_callback_error(event, exc)
        queue = self.received
        if queue is not None:
            while not self._stopping.is_set():
                try:
                    queue.put(received, timeout=_POLL)
                    return
                except Full:
                    continue
            logger.warning("stopping: a received message was not queued: %r", received)

    def deliver_many(self, batch: Iterable[ReceivedData]) -> None:
        """Deliver the messages of one read, in order (receive worker only).

        The common case, events to a callback and no request waiting, runs here with
        one call per message less than :meth:`deliver`. A request made while this
        runs cannot have its reply in ``batch``: those bytes arrived before it was sent.
        """
        callback = self._callback
        if self._correlator.waiting or self.received is not None or callback is None:
            for received in batch:
                self.deliver(received)
            return
        for received in batch:
            # What NetworkEvent.__init__ does, without the call; it fills the four
            # fields of NetworkEvent: type, data, error and sequence.
            event: Any = _new(NetworkEvent)
            event.type = _RECEIVED
            event.data = received
            event.error = None
            event.sequence = getattr(received, "sequence", None)
            try:
                callback(event)
            except Exception as exc:
                logger.exception("event callback raised on %r", event)
                self._report_callback_error(event, exc)

    def after_batch(self) -> None:
        """Wake the requesters whose replies the last read delivered."""
        self._correlator.wake_answered()

    def worker_failed(self, exc: BaseException) -> None:
        """A worker ended on ``exc``."""
        self._on_failure(exc)

    def take(self, timeout: float | None, lifecycle: Lifecycle) -> ReceivedData:
        """Take the next message of the receive queue (``NetworkHandler.receive``).

        Args:
            timeout: Seconds to wait; ``None`` waits without limit.
            lifecycle: The handler's state, for a worker's failure.

        Returns:
            The message.

        Raises:
            ProtocolTimeoutError: If nothing arrived in time.
            ProtocolConfigurationError: If the handler keeps no receive queue.
            ProtocolNotConnectedError: If a worker failed (chained from its exception)
                and every message received before was taken.
        """
        queue = self.received
        if queue is None:
            raise ProtocolConfigurationError(
                "this handler delivers to its event callback; set "
                "NetworkConfig(receive_queue=True) to use receive()"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            failure = lifecycle.failure
            if failure is not None:
                try:
                    return queue.get_nowait()  # what arrived before the failure
                except Empty:
                    raise lifecycle.not_running("receive()") from failure
            wait = _RECEIVE_SLICE
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            try:
                return queue.get(timeout=wait)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise ProtocolTimeoutError(f"no message received within {timeout} s") from None

    def _report_callback_error(self, event: NetworkEvent, exc: Exception) -> None:
        """Report a callback's exception as an ERROR event (unless ``event`` was one)."""
        callback = self._callback
        if callback is not None and event.type is not NetworkEventType.ERROR:
            try:
                callback(NetworkEvent(NetworkEventType.ERROR, data=event, error=exc))
            except Exception:
                logger.exception("event callback raised on the ERROR event too")
