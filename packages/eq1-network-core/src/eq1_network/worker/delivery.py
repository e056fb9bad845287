"""Where a handler's received messages and events go: a request, the callback, a queue.

:class:`Delivery` is the receive worker's sink (see
:class:`~eq1_network.worker.listener.ListenerSink`): a reply goes to the request
waiting for it; every other message goes to the event callback as a RECEIVED event
and, when the handler keeps one, to the receive queue. An exception raised by the
callback is logged and reported as an ERROR event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from queue import Full, Queue
from typing import Any

from eq1_network.data import ReceivedData
from eq1_network.worker.correlation import Correlator
from eq1_network.worker.events import NetworkEvent, NetworkEventType

__all__ = ["Delivery"]

logger = logging.getLogger("eq1_network.network")

_POLL = 0.05
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

    def _report_callback_error(self, event: NetworkEvent, exc: Exception) -> None:
        """Report a callback's exception as an ERROR event (unless ``event`` was one)."""
        callback = self._callback
        if callback is not None and event.type is not NetworkEventType.ERROR:
            try:
                callback(NetworkEvent(NetworkEventType.ERROR, data=event, error=exc))
            except Exception:
                logger.exception("event callback raised on the ERROR event too")
