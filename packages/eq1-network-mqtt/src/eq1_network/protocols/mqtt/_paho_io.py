"""The connection socket and the QoS 0 write reports of the fast paho client.

:class:`BufferedSocket` wraps paho's connection socket for :class:`._paho_fast.FastClient`;
:class:`QoS0Write` is what paho sees as the ``MQTTMessageInfo`` of a QoS 0 message the fast
client queues.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from eq1_network.common.exceptions import ProtocolConnectionError, ProtocolError

__all__ = ["MQTT_OK", "BufferedSocket", "QoS0Write"]

_READ_CHUNK = 65536
_WAITER_LOCK = threading.Lock()

MQTT_OK = MQTTErrorCode.MQTT_ERR_SUCCESS
"""paho's success code, bound once for per-message paths: on Python 3.10 and 3.11 an enum
class's ``__getattr__`` makes every ``Enum.MEMBER`` read about ten times a global's."""


class BufferedSocket:
    """Wraps the connection socket: buffered reads, coalesced writes.

    paho reads a packet one header byte at a time; here one ``recv()`` fills a buffer
    that serves those reads. Writes are collected and sent by :meth:`flush`, which the
    network loop calls once per round.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._rbuf = b""
        self._rpos = 0
        self._wbuf = bytearray()
        self._broken: OSError | None = None
        self.received = 0
        self.read_error: OSError | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def recv(self, size: int) -> bytes:
        if self._broken is not None:
            raise self._broken
        if self._rpos >= len(self._rbuf):
            try:
                data = self._sock.recv(_READ_CHUNK)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except OSError as exc:
                self.read_error = exc
                raise
            if not data:
                return b""
            self.received += len(data)
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = min(start + size, len(self._rbuf))
        return self._rbuf[start : self._rpos]

    def buffered(self) -> int:
        return len(self._rbuf) - self._rpos

    def unread(self) -> tuple[bytes, int]:
        """The read buffer and where its unread part starts."""
        return self._rbuf, self._rpos

    def consume_to(self, pos: int) -> int:
        """Mark the buffer read up to ``pos`` (taken from :meth:`unread`).

        Returns:
            The number of bytes consumed.
        """
        count, self._rpos = pos - self._rpos, pos
        return count

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return self.buffered() + (int(inner()) if inner is not None else 0)

    def send(self, data: bytes | bytearray | memoryview) -> int:
        if self._broken is not None:
            raise self._broken
        self._wbuf += data
        return len(data)

    @property
    def broken(self) -> bool:
        """Whether a write failed (later reads and writes raise that error)."""
        return self._broken is not None

    def has_output(self) -> bool:
        return bool(self._wbuf)

    def flush(self) -> None:
        """Send what the socket takes now; on a socket error, remember it for reads."""
        while self._wbuf and self._broken is None:
            try:
                sent = self._sock.send(self._wbuf)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            except OSError as exc:
                self._broken = exc
                return
            del self._wbuf[:sent]

    def close(self) -> None:
        if self._wbuf and self._broken is None:
            with contextlib.suppress(OSError, ValueError):
                self._sock.settimeout(1.0)
                self._sock.sendall(self._wbuf)
        self._wbuf.clear()
        self._sock.close()


class QoS0Write:
    """The write report of one QoS 0 message queued by :meth:`FastClient.publish_qos0`.

    paho sees it as the message's ``MQTTMessageInfo``: its writer calls
    ``_set_as_published()`` once the packet went to the socket, and a reconnection sets
    ``rc`` before calling it for a packet it drops. The adapter hands it to the publish
    handle as its completion. A waiting thread gets an event only when it has to wait.

    Attributes:
        rc: paho's result code: success, or why the packet was dropped.
    """

    __slots__ = ("_published", "_waiter", "rc")

    def __init__(self) -> None:
        self.rc = MQTT_OK
        self._published = False
        self._waiter: threading.Event | None = None

    def _set_as_published(self) -> None:
        self._published = True
        waiter = self._waiter
        if waiter is not None:
            waiter.set()

    def done(self) -> bool:
        """Whether the packet was written or dropped."""
        return self._published

    def wait(self, timeout: float | None) -> bool:
        """Wait until :meth:`done`.

        Args:
            timeout: Longest wait in seconds; ``None`` waits without limit.

        Returns:
            :meth:`done` at return.
        """
        if self._published:
            return True
        with _WAITER_LOCK:
            if self._waiter is None:
                self._waiter = threading.Event()
        # The writer sets the flag before reading ``_waiter``; the flag is read again
        # after ``_waiter`` is set, so one side always sees the other.
        if self._published:
            return True
        return self._waiter.wait(timeout)

    def error(self) -> ProtocolError | None:
        """Why the packet was dropped, once done; ``None`` if it was written."""
        if self.rc == MQTT_OK:
            return None
        return ProtocolConnectionError(f"QoS 0 message not sent: {paho.error_string(self.rc)}")
