"""Acknowledged mode: the sender's window of unacknowledged messages and the receiver's ledger.

Protocol (both handlers must run in acknowledged mode):

* After every (re)connection the sender writes a *hello*: a typed message with flags
  ``ACK | ACK_REQUESTED``, sequence 0, its 8-byte *epoch* (a random number fixed for
  the sender's lifetime) as the BINARY value, and as ``reply_to`` its *floor*: every
  sequence up to it was acknowledged or will never be sent (it could not be encoded).
* Data messages carry the sender's sequence numbers 1, 2, 3, ... The receiver delivers
  each number once per epoch, drops repeats, and answers with an *ack*: flags ``ACK`` and
  ``reply_to`` = the highest sequence delivered so far (cumulative). It also answers the
  hello with such an ack.
* The sender keeps every written message until it is acknowledged and writes the kept
  ones again, in order, after a hello, after a reconnection, and, over a message
  transport (which may lose or reorder messages), when no acknowledgement came for a
  while. Over such a transport the receiver delivers only the next sequence
  (``last + 1``, or the first above the hello's floor) and drops the others, which come
  again.

With a ``state_path`` the receiver appends each delivered number to a file before it
acknowledges it, so a restarted receiver process still drops what it delivered before.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Generic, TypeVar

from eq1_network.common.exceptions import MalformedPacketError
from eq1_network.common.logging import get_logger
from eq1_network.packets.kinds import DataFormat, MessageFlags, MessageType
from eq1_network.packets.message import Message

__all__ = ["CONTROL_FLAGS", "AckWindow", "DeliveryLedger", "ack_message", "hello_message"]

logger = get_logger(__name__)

CONTROL_FLAGS = MessageFlags.ACK
"""Messages with this flag are acknowledged-mode control messages, never delivered."""
_HELLO_FLAGS = MessageFlags.ACK | MessageFlags.ACK_REQUESTED
_EPOCH = struct.Struct(">Q")
_COMPACT_BYTES = 256 * 1024

_T = TypeVar("_T")


def hello_message(epoch: int, floor: int = 0) -> Message:
    """Build the hello a sender writes after each connection (and before each resend).

    Args:
        epoch: The sender's epoch.
        floor: Every sequence up to this one was acknowledged or will never be sent.

    Returns:
        The control message.
    """
    return Message(
        _EPOCH.pack(epoch),
        message_type=MessageType.STATUS,
        data_format=DataFormat.BINARY,
        flags=_HELLO_FLAGS,
        reply_to=floor,
    )


def ack_message(sequence: int) -> Message:
    """Build a cumulative acknowledgement.

    Args:
        sequence: Highest sequence number delivered.

    Returns:
        The control message.
    """
    return Message(
        b"",
        message_type=MessageType.STATUS,
        data_format=DataFormat.BINARY,
        flags=MessageFlags.ACK,
        reply_to=sequence,
    )


def parse_hello(message: Message) -> int | None:
    """Return the epoch of a hello, or ``None`` if the message is a plain ack.

    Raises:
        MalformedPacketError: If a hello does not carry an 8-byte epoch.
    """
    if message.flags & _HELLO_FLAGS != _HELLO_FLAGS:
        return None
    if len(message.body) != _EPOCH.size:
        raise MalformedPacketError(f"hello must carry an 8-byte epoch, got {len(message.body)}")
    return int(_EPOCH.unpack(message.body)[0])


class AckWindow(Generic[_T]):
    """The sender's written-but-unacknowledged messages, oldest first, bounded.

    Args:
        limit: Most messages kept; the sender waits for acks when it is reached.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[int, tuple[_T, list[bytes]]] = OrderedDict()
        self._cond = threading.Condition()
        self._aborted = False
        self._highest = 0
        self._progress = time.monotonic()

    def add(self, sequence: int, item: _T, frames: list[bytes]) -> None:
        """Keep a written message until it is acknowledged."""
        with self._cond:
            if not self._items:
                self._progress = time.monotonic()
            self._items[sequence] = (item, frames)
            self._highest = max(self._highest, sequence)

    def floor(self) -> int:
        """Return the highest sequence below which nothing is kept any more.

        Every sequence up to it was acknowledged, or never added (it could not be
        encoded): the hello carries it so that a receiver does not wait for those.
        """
        with self._cond:
            if self._items:
                return next(iter(self._items)) - 1
            return self._highest

    def stalled(self, after: float) -> bool:
        """Tell whether messages are kept and nothing was acknowledged for ``after`` seconds."""
        with self._cond:
            return bool(self._items) and time.monotonic() - self._progress >= after

    def touch(self) -> None:
        """Restart the :meth:`stalled` clock (after the kept messages were written again)."""
        with self._cond:
            self._progress = time.monotonic()

    def acknowledge(self, sequence: int) -> int:
        """Forget every message up to ``sequence`` (cumulative).

        Returns:
            How many were released.
        """
        released = 0
        with self._cond:
            while self._items:
                first = next(iter(self._items))
                if first > sequence:
                    break
                del self._items[first]
                released += 1
            if released:
                self._progress = time.monotonic()
                self._cond.notify_all()
        return released

    def wait_room(self, timeout: float) -> bool:
        """Wait until fewer than ``limit`` messages are kept; ``False`` if not (or aborted)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._items) < self.limit or self._aborted, timeout)
            return len(self._items) < self.limit and not self._aborted

    def wait_empty(self, timeout: float | None) -> bool:
        """Wait until every message is acknowledged; ``False`` if not (or aborted)."""
        with self._cond:
            self._cond.wait_for(lambda: not self._items or self._aborted, timeout)
            return not self._items

    def abort(self) -> None:
        """End every wait at once: no acknowledgement can come any more."""
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    def frames(self) -> list[bytes]:
        """Return the frames of every kept message, oldest first, for a resend."""
        with self._cond:
            return [frame for _, frames in self._items.values() for frame in frames]

    def items(self) -> list[_T]:
        """Return the kept messages, oldest first."""
        with self._cond:
            return [item for item, _ in self._items.values()]

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class DeliveryLedger:
    """The receiver's record of the highest sequence delivered per sender epoch.

    Args:
        state_path: File that keeps the record across process restarts; ``None`` keeps it
            in memory only.
    """

    def __init__(self, state_path: str | os.PathLike[str] | None = None) -> None:
        self._delivered: dict[int, int] = {}
        self._path = Path(state_path) if state_path is not None else None
        self._fd: int | None = None
        self._written = 0
        if self._path is not None:
            self._load(self._path)
            self._compact()

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            fields = line.split()
            if len(fields) != 2 or not all(f.isdigit() for f in fields):
                logger.warning("ignoring a damaged line in %s: %r", path.name, line)
                continue
            epoch, sequence = int(fields[0]), int(fields[1])
            self._delivered[epoch] = max(sequence, self._delivered.get(epoch, 0))

    def _compact(self) -> None:
        assert self._path is not None
        if self._fd is not None:
            os.close(self._fd)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text("".join(f"{e} {s}\n" for e, s in self._delivered.items()), "ascii")
        os.replace(tmp, self._path)
        self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND)
        self._written = 0

    def last(self, epoch: int) -> int:
        """Return the highest sequence delivered for ``epoch`` (0 if none)."""
        return self._delivered.get(epoch, 0)

    def record(self, epoch: int, sequence: int) -> None:
        """Record a delivery (persisted at once when a state file is used)."""
        self._delivered[epoch] = sequence
        if self._fd is not None:
            line = f"{epoch} {sequence}\n".encode("ascii")
            os.write(self._fd, line)
            self._written += len(line)
            if self._written > _COMPACT_BYTES:
                self._compact()

    def close(self) -> None:
        """Close the state file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
