"""A request's thread reads its own reply while the receive worker stands aside.

Over one connection, a reply read by the receive worker costs a thread hand-off per
round trip: the worker wakes on the bytes, then wakes the requesting thread. When
requests follow one another, :class:`ReadHandoff` lets the requesting thread read the
connection itself instead:

1. A request that finds the receive worker reading is answered as usual (the worker
   reads the reply), and asks the worker to stand aside afterwards (``wanted``).
2. The worker stands aside only between reads, with no partial frame or split message
   in progress and no other request waiting for it (:meth:`ReadHandoff.stand_aside`).
3. The next request, finding the worker aside and no other thread reading, becomes the
   reader (:meth:`ReadHandoff.lead`): it reads until a read is exactly one whole,
   ordinary message answering it. Any other read (part of a frame, several messages,
   a control message, a fragment, bytes that are not a valid stream) is handed back
   to the worker unread by the request, which then waits for its reply as usual; the
   worker processes those bytes before reading again, so nothing is lost or reordered,
   and every other message is still delivered by the worker, on its thread.
4. The worker goes back to reading when another request waits for it, when the
   connection breaks, or when no request read for ``linger`` seconds. Messages that
   arrive unrequested while the worker stands aside wait at most that long (or until a
   request reads them and hands them back).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from eq1_network.common.exceptions import ProtocolError
from eq1_network.data import ReceivedData
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.packets.framing import LENGTH_PREFIX_SIZE
from eq1_network.packets.header import FLAGS_OFFSET
from eq1_network.packets.kinds import MessageFlags
from eq1_network.worker.ack import CONTROL_FLAGS
from eq1_network.worker.correlation import Correlator

__all__ = ["LINGER", "ReadHandoff"]

LINGER = 0.002
"""Seconds the receive worker stays aside after the last request that read its reply."""
_SLICE = 0.05
"""Longest single wait of a reading request between two looks at the handler's state."""
_SPECIAL_BITS = int(CONTROL_FLAGS) | int(MessageFlags.FRAGMENT)


class ReadHandoff:
    """Who reads one connection: the receive worker, or a request waiting for its reply.

    Args:
        protocol: The connection's protocol (one peer; stream framing).
        limit: Largest payload of the handler's length-prefixed packet structure.
        decode: Decodes one payload into a received message.
        requests: The pending requests: while one waits for the worker, the worker
            keeps reading.
        linger: Seconds the worker stays aside after the last request that read;
            ``None`` for :data:`LINGER`.

    Attributes:
        wanted: A request asked the worker to stand aside (read by the worker without
            the lock: a hint, checked again under it).
    """

    __slots__ = (
        "_cond",
        "_decode",
        "_last",
        "_limit",
        "_linger",
        "_lock",
        "_pending",
        "_protocol",
        "_reader",
        "_relies",
        "_requests",
        "parked",
        "wanted",
    )

    def __init__(
        self,
        protocol: ReqResProtocol,
        limit: int,
        decode: Callable[[bytes], Any],
        requests: Correlator,
        linger: float | None = None,
    ) -> None:
        self._protocol = protocol
        self._limit = limit
        self._decode = decode
        self._requests = requests
        self._linger = LINGER if linger is None else linger
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._reader = False  # a request reads the connection now
        self._pending = bytearray()  # read by a request, for the worker to process
        self._last = 0.0  # when a request last finished reading, or asked to
        self._relies: set[int] = set()  # requests waiting for the worker to read
        self.parked = False
        self.wanted = False

    # -- the receive worker ----------------------------------------------------

    def stand_aside(self, stopping: threading.Event) -> bytes:
        """Wait aside while requests read their replies (receive worker only).

        Call it between reads, when nothing of a frame or split message is held.

        Args:
            stopping: Set when the handler stops; ends the wait.

        Returns:
            Bytes a request read and handed back, to be processed before reading again;
            ``b""`` when the worker should read the connection again.
        """
        with self._cond:
            self.parked = True
            try:
                while not stopping.is_set():
                    if not self._reader:
                        if self._pending:
                            data = bytes(self._pending)
                            self._pending.clear()
                            return data
                        if self._relying():
                            break  # a request waits for this worker to read its reply
                        idle = time.monotonic() - self._last
                        if idle >= self._linger:
                            self.wanted = False
                            break
                        self._cond.wait(min(self._linger - idle, _SLICE))
                    else:
                        self._cond.wait(_SLICE)
                return b""
            finally:
                self.parked = False

    def due(self) -> bool:
        """Whether requests asked the worker to stand aside and none relies on it now."""
        return self.wanted and not self._relying()

    def _relying(self) -> bool:
        """Whether a request that did not read itself still waits for its reply."""
        waiting = self._requests.waiting
        return any(sequence in waiting for sequence in tuple(self._relies))

    # -- a requesting thread ---------------------------------------------------

    def lead(
        self, sequence: int, deadline: float, running: Callable[[], bool]
    ) -> ReceivedData | None:
        """Read the reply to request ``sequence`` on this thread, if the worker is aside.

        Call :meth:`done` when the request ends, whatever this returned.

        Args:
            sequence: The request's sequence number (registered with the correlator,
                and written, before this call).
            deadline: ``time.monotonic()`` value after which to give up.
            running: Tells whether the handler still runs.

        Returns:
            The reply; ``None`` if this thread did not read it: the receive worker was
            reading (then it is asked to stand aside after this request), a read was
            handed back to it, the connection broke, the handler stopped or the time
            ran out. The request then waits for its reply as usual, for the time left.
        """
        handed, reply = b"", None
        leading = False
        try:
            with self._lock:
                if sequence not in self._requests.waiting:
                    return None  # the worker read the reply before it stood aside
                if not self.parked or self._reader or self._pending:
                    self.wanted = True
                    self._last = time.monotonic()
                    self._relies.add(sequence)
                    return None
                # Set inside the ``try`` that clears it: an interrupt (KeyboardInterrupt)
                # right after this block cannot keep the worker aside.
                self._reader = leading = True
            handed, reply = self._read(sequence, deadline, running)
            return reply
        finally:
            if leading:
                with self._lock:
                    # First, before any call where an interrupt could land.
                    self._reader = False
                    if reply is None:
                        self._pending += handed
                        self._relies.add(sequence)
                    self._last = time.monotonic()
                    if self._relies:  # the worker may have to read for a request
                        self._cond.notify()
                if reply is not None:
                    # Answered: no longer pending, so the worker stays aside for the next.
                    self._requests.discard(sequence)

    def done(self, sequence: int) -> None:
        """Forget request ``sequence`` (it ended, answered or not)."""
        if sequence in self._relies:
            # The bare lock, not the condition: a ``with`` on it cannot be interrupted
            # between taking it and entering the block.
            with self._lock:
                self._relies.discard(sequence)

    def _read(
        self, sequence: int, deadline: float, running: Callable[[], bool]
    ) -> tuple[bytes, ReceivedData | None]:
        """Read until the reply; return ``(bytes for the worker, reply or None)``."""
        protocol = self._protocol
        while running():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                data = protocol.read_within(min(left, _SLICE))
            except ProtocolError:
                break  # the worker reads again, sees the broken link and reports it
            if data is None:
                if not protocol.is_connected():
                    break
                continue
            reply = self._reply(data, sequence)
            return (b"", reply) if reply is not None else (data, None)
        return b"", None

    def _reply(self, data: bytes, sequence: int) -> ReceivedData | None:
        """The reply to ``sequence`` if ``data`` is exactly it, one whole ordinary frame."""
        size = len(data) - LENGTH_PREFIX_SIZE
        if (
            size <= FLAGS_OFFSET
            or size > self._limit
            or int.from_bytes(data[:LENGTH_PREFIX_SIZE], "big") != size
            or (data[LENGTH_PREFIX_SIZE + FLAGS_OFFSET] & _SPECIAL_BITS)
        ):
            return None
        try:
            received = self._decode(data[LENGTH_PREFIX_SIZE:])
        except (ProtocolError, ValueError, TypeError):
            return None
        if getattr(received, "reply_to", 0) != sequence:
            return None
        result: ReceivedData = received
        return result
