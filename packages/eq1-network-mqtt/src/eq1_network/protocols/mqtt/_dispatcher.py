"""The dispatcher thread: runs subscription callbacks outside the network thread.

The network thread collects the messages of one I/O round and hands them over as one
batch (one cross-thread wake-up per round, not per message); one named daemon thread
takes them in arrival order, looks up the callbacks at that moment (so a callback
removed by ``unsubscribe()`` is no longer called) and calls them with no library lock
held. A callback may therefore publish, subscribe or unsubscribe itself; one that
raises is logged and the next message is delivered as usual. A callback taking one
positional parameter receives an :class:`MQTTMessage`, any other ``(topic, payload)``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, cast

from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import MessageCallback
from eq1_network.protocols.mqtt._messages import (
    MessageMeta,
    MQTTMessage,
    takes_message,
    to_properties,
)

__all__ = ["Dispatcher"]

logger = get_logger(__name__)

Resolver = Callable[[str, tuple[int, ...]], tuple[MessageCallback, ...]]
_Item = tuple[str, bytes, tuple[int, ...], MessageMeta | None]
_FORM_CACHE_LIMIT = 1024
_STOP = object()


class Dispatcher:
    """Delivers messages to callbacks on its own thread, in arrival order.

    Args:
        resolve: ``resolve(topic, subscription_ids)`` returns the callbacks for a message.
        name: Thread name, for logs and debuggers.
    """

    def __init__(self, resolve: Resolver, name: str) -> None:
        self._resolve = resolve
        self._queue: queue.SimpleQueue[list[_Item] | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self.delivered = 0
        self.unmatched = 0
        self.failures = 0
        self._takes_message: dict[Any, bool] = {}

    def start(self) -> None:
        """Start the thread (once)."""
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(
        self,
        topic: str,
        payload: bytes,
        subscription_ids: tuple[int, ...],
        meta: MessageMeta | None = None,
    ) -> None:
        """Queue one received message (never blocks).

        Args:
            topic: Topic name.
            payload: Payload.
            subscription_ids: MQTT 5 subscription identifiers, or ``()``.
            meta: ``(qos, retain, paho properties)``, or ``None`` if unknown.
        """
        self._queue.put([(topic, payload, subscription_ids, meta)])

    def submit_batch(self, batch: list[_Item]) -> None:
        """Queue received messages, in order (never blocks).

        Args:
            batch: ``(topic, payload, subscription_ids, meta)`` tuples; the list is
                taken over.
        """
        self._queue.put(batch)

    def backlog(self) -> int:
        """Return the approximate number of batches waiting for delivery."""
        return self._queue.qsize()

    def in_dispatch_thread(self) -> bool:
        """Tell whether the caller runs on the dispatcher thread (inside a callback)."""
        return threading.current_thread() is self._thread

    def stop(self, timeout: float) -> bool:
        """Deliver what is queued, then end the thread.

        Called from a callback, it only asks the thread to end after that callback.

        Args:
            timeout: Longest wait for the thread, in seconds.

        Returns:
            ``True`` if the thread ended (or will, when called from a callback).
        """
        self._queue.put(_STOP)
        if not self._started or self.in_dispatch_thread():
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        get = self._queue.get
        while True:
            batch = get()
            if batch is _STOP:
                return
            for topic, payload, sub_ids, meta in cast(list[_Item], batch):
                self._deliver(topic, payload, sub_ids, meta)

    def _wants_message(self, callback: MessageCallback) -> bool:
        try:
            return self._takes_message[callback]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable
            return takes_message(callback)
        if len(self._takes_message) >= _FORM_CACHE_LIMIT:
            self._takes_message.clear()
        wanted = self._takes_message[callback] = takes_message(callback)
        return wanted

    def _deliver(
        self, topic: str, payload: bytes, sub_ids: tuple[int, ...], meta: MessageMeta | None
    ) -> None:
        callbacks = self._resolve(topic, sub_ids)
        if not callbacks:
            self.unmatched += 1
            logger.debug("message on %r matches no subscription; ignored", topic)
            return
        self.delivered += 1
        message: MQTTMessage | None = None
        for callback in callbacks:
            try:
                if self._wants_message(callback):
                    if message is None:
                        message = _message(topic, payload, meta)
                    cast(Callable[[MQTTMessage], None], callback)(message)
                else:
                    callback(topic, payload)
            except Exception:
                self.failures += 1
                logger.exception("subscription callback %r raised on topic %r", callback, topic)


def _message(topic: str, payload: bytes, meta: MessageMeta | None) -> MQTTMessage:
    if meta is None:
        return MQTTMessage(topic, payload)
    qos, retain, props = meta
    return MQTTMessage(topic, payload, qos, retain, to_properties(props))
