"""The in-flight window: how many QoS 1/2 publishes may await acknowledgement at once.

The window is enforced here rather than by the client library, so that it also holds
after a reconnection: the library only ever holds the messages inside the window, and
its resend of unacknowledged messages on reconnection therefore resends at most one
window. Messages beyond the window wait here, in order, and leave one per freed slot.

Locking: the window lock is never held by a publishing thread while it calls the
client library, so the network thread may take it from inside library callbacks
(:meth:`InflightWindow.acknowledged`). Only the network thread calls the library with
the lock held (:meth:`InflightWindow.release`), which keeps released messages in order.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from eq1_network.protocols.mqtt._offline_queue import QueuedPublish

__all__ = ["V311_DEFAULT_WINDOW", "V311_QOS2_WINDOW", "InflightWindow", "default_window"]

V311_QOS2_WINDOW = 16
"""Most QoS 2 messages in flight with MQTT 3.1.1 when ``ClientConfig.max_inflight`` is 0.

MQTT 3.1.1 has no Receive Maximum, and a broker cannot report that it dropped a
message: mosquitto's ``max_inflight_messages`` (default 20) limits the incoming QoS 2
messages awaiting PUBREL, and while that quota is used up it drops every further QoS 1
or QoS 2 message, answering with a PUBACK or PUBREC that 3.1.1 cannot mark as an
error. Staying below 20 keeps room for QoS 1 messages that arrive meanwhile.
"""

V311_DEFAULT_WINDOW = 1000
"""Most QoS 1/2 messages in flight with MQTT 3.1.1 when ``ClientConfig.max_inflight`` is 0.

Brokers hold incoming QoS 1 messages only until they answer PUBACK, so the bound is
there to keep the resend after a reconnection small, not for the broker's sake.
"""

_V5_DEFAULT_RECEIVE_MAXIMUM = 65535


def default_window(configured: int, v5: bool, receive_maximum: int | None) -> tuple[int, int]:
    """Return the window to use on a connection.

    Args:
        configured: ``ClientConfig.max_inflight`` (0 means automatic).
        v5: Whether the connection speaks MQTT 5.
        receive_maximum: The broker's Receive Maximum from CONNACK, if announced.

    Returns:
        ``(most QoS 1/2 messages in flight, most QoS 2 messages among them)``. A
        configured value is capped by the Receive Maximum and applies to both. When
        automatic: MQTT 5 uses the Receive Maximum (65535 if none was announced, as the
        standard says) for both; MQTT 3.1.1 and 3.1 use :data:`V311_DEFAULT_WINDOW` and
        :data:`V311_QOS2_WINDOW`.
    """
    if v5:
        limit = receive_maximum or _V5_DEFAULT_RECEIVE_MAXIMUM
        window = min(configured, limit) if configured else limit
        return window, window
    if configured:
        return configured, configured
    return V311_DEFAULT_WINDOW, V311_QOS2_WINDOW


Send = Callable[[QueuedPublish], None]


class InflightWindow:
    """Counts QoS 1/2 messages handed to the library and holds the ones beyond the limits.

    Args:
        limits: ``(most QoS 1/2 messages in flight, most QoS 2 among them)``, each >= 1;
            :meth:`set_limits` changes them at CONNACK.
    """

    def __init__(self, limits: tuple[int, int]) -> None:
        self._lock = threading.Lock()
        self._limit, self._limit2 = max(1, limits[0]), max(1, limits[1])
        self._inflight = 0
        self._inflight2 = 0
        self._waiting: deque[QueuedPublish] = deque()

    @property
    def limits(self) -> tuple[int, int]:
        """The current window: ``(QoS 1/2 messages, QoS 2 messages)``."""
        return self._limit, self._limit2

    @property
    def inflight(self) -> int:
        """QoS 1/2 messages handed to the library and not yet acknowledged."""
        return self._inflight

    def __len__(self) -> int:
        return len(self._waiting)

    def set_limits(self, limits: tuple[int, int]) -> None:
        """Change the window (messages already in flight stay in flight).

        Args:
            limits: ``(QoS 1/2 messages, QoS 2 messages)``; values below 1 count as 1.
        """
        with self._lock:
            self._limit, self._limit2 = max(1, limits[0]), max(1, limits[1])

    def _room(self, qos: int) -> bool:
        if qos == 0:
            return True
        if self._inflight >= self._limit:
            return False
        return qos == 1 or self._inflight2 < self._limit2

    def _take(self, qos: int) -> None:
        if qos:
            self._inflight += 1
            if qos == 2:
                self._inflight2 += 1

    def admit(self, qos: int, make_item: Callable[[], QueuedPublish]) -> bool:
        """Take a slot for a new message, or queue it behind the ones waiting.

        A QoS 0 message needs no slot, but waits behind queued messages so that the
        messages of one publisher leave in the order it published them.

        Args:
            qos: The message's QoS.
            make_item: Builds the waiting entry; called only when the message must wait.

        Returns:
            ``True`` if the caller must hand the message to the library now (a QoS 1/2
            message then holds a slot); ``False`` if it was queued.
        """
        with self._lock:
            if not self._waiting and self._room(qos):
                self._take(qos)
                return True
            self._waiting.append(make_item())
            return False

    def acknowledged(self, qos: int, count: int = 1) -> None:
        """Free the slots of messages the broker acknowledged or refused.

        Args:
            qos: Their QoS (1 for a PUBACK, 2 for a PUBREC or PUBCOMP).
            count: How many messages.
        """
        with self._lock:
            self._inflight = max(self._inflight - count, 0)
            if qos == 2:
                self._inflight2 = max(self._inflight2 - count, 0)

    def release(self, send: Send) -> int:
        """Hand waiting messages to the library while there are free slots (network thread).

        A message leaves the queue only after ``send`` returned, so a publisher that
        finds the queue empty cannot overtake it.

        Args:
            send: Publishes one entry and records its outcome.

        Returns:
            How many messages left.
        """
        sent = 0
        with self._lock:
            waiting = self._waiting
            while waiting:
                item = waiting[0]
                if not self._room(item.qos):
                    break
                self._take(item.qos)
                send(item)
                waiting.popleft()
                sent += 1
        return sent

    def take_all(self) -> list[QueuedPublish]:
        """Remove every waiting message and forget the in-flight counts.

        Returns:
            The waiting messages, oldest first.
        """
        with self._lock:
            items = list(self._waiting)
            self._waiting.clear()
            self._inflight = self._inflight2 = 0
            return items
