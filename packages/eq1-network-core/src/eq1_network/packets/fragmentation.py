"""Splitting messages larger than a frame, and merging the fragments back.

A message whose payload does not fit in one frame is sent as ``count`` fragment
messages. Each fragment repeats the original header (same type, format, sequence,
reply-to, timestamp, source and destination) with the FRAGMENT flag set, and its
value is a 16-byte fragment header followed by a piece of the original value::

    offset size field
         0    4 index         u32, 0-based
         4    4 count         u32, number of fragments (>= 1)
         8    8 total_length  u64, length of the whole original value
        16    . the piece: value bytes [sum of earlier pieces, + len(piece))

Fragments of one message share its sequence number, so ``(source, sequence)``
identifies a transfer; a split message therefore needs a non-zero sequence number.
:class:`Reassembler` merges fragments arriving in any order, holds at most
``max_bytes`` of announced transfers, drops transfers that receive nothing for
``timeout`` seconds, and raises :class:`~eq1_network.common.exceptions.FragmentError`
on missing, duplicated, oversized or inconsistent fragments.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from eq1_network.common.exceptions import (
    FragmentError,
    PayloadTooLargeError,
    ProtocolConfigurationError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.common.logging import get_logger
from eq1_network.packets._binding import Structure, bind_structure
from eq1_network.packets.framing import NetworkPacketStructure
from eq1_network.packets.kinds import MessageFlags
from eq1_network.packets.message import Message
from eq1_network.packets.send import TypedSendData

__all__ = [
    "DEFAULT_REASSEMBLY_BYTES",
    "DEFAULT_REASSEMBLY_TIMEOUT",
    "FRAGMENT_HEADER",
    "ExpiredTransfer",
    "Reassembler",
    "split_message",
]

logger = get_logger(__name__)

FRAGMENT_HEADER: Final = struct.Struct(">IIQ")
"""The fragment header at the start of a fragment's value: index, count, total length."""

DEFAULT_REASSEMBLY_BYTES: Final = 64 * 1024 * 1024
"""Default bound on the bytes announced by incomplete transfers (64 MiB)."""

DEFAULT_REASSEMBLY_TIMEOUT: Final = 30.0
"""Default seconds without a fragment after which a transfer is dropped."""

_MAX_COUNT: Final = 0xFFFF_FFFF
_FRAGMENT = MessageFlags.FRAGMENT
_FRAGMENT_BIT = int(MessageFlags.FRAGMENT)


def _frame_limit(structure: Structure, max_payload: int | None) -> int:
    limit = max_payload if max_payload is not None else getattr(structure, "max_payload", None)
    if limit is None:
        raise ProtocolConfigurationError(
            "split_message needs max_payload for a structure without a max_payload attribute"
        )
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ProtocolTypeError(f"max_payload must be an int, got {type(limit).__name__}")
    return limit


def split_message(
    message: TypedSendData[Any] | Message,
    *,
    structure: Structure = NetworkPacketStructure,
    max_payload: int | None = None,
) -> list[bytes]:
    """Encode a message as one frame, or as fragment frames if it does not fit.

    Args:
        message: The message. It must have a non-zero ``sequence`` if it has to be
            split (:meth:`DataPackage.encode_frames <eq1_network.DataPackage.encode_frames>`
            assigns one).
        structure: Packet structure that frames each payload.
        max_payload: Largest payload of one frame; defaults to
            ``structure.max_payload``.

    Returns:
        Complete frames, in order; a single frame when the message fits.

    Raises:
        ProtocolTypeError: If ``message`` is not a typed message.
        ProtocolValidationError: If the message must be split but its sequence is 0,
            or it is already a fragment.
        ProtocolConfigurationError: If the frame limit cannot hold a fragment header
            and one byte, or the structure has no limit and none is given.
        PayloadTooLargeError: If the message would need more than 2**32 - 1 fragments.
    """
    message = _whole_message(message)
    to_packet = bind_structure(structure, "structure").to_packet
    limit = _frame_limit(structure, max_payload)
    header = message.header_bytes()
    body = message.body
    if len(header) + len(body) <= limit:
        return [to_packet(header + body)]
    if message.sequence == 0:
        raise ProtocolValidationError(
            "a message split into fragments needs a non-zero sequence number "
            "(DataPackage.encode_frames assigns one)"
        )
    return _fragments(message, to_packet, limit)


def _whole_message(message: object) -> Message:
    """The :class:`Message` of a typed message that is not a fragment already."""
    if isinstance(message, TypedSendData):
        message = message.to_message()
    elif not isinstance(message, Message):
        raise ProtocolTypeError(
            f"message must be a TypedSendData or a Message, got {type(message).__name__}"
        )
    if message.flags & _FRAGMENT:
        raise ProtocolValidationError("message is already a fragment")
    return message


def _fragments(message: Message, to_packet: Callable[[bytes], bytes], limit: int) -> list[bytes]:
    """Frame ``message`` as fragments of at most ``limit`` payload bytes each."""
    body = message.body
    fragment_header = message.header_bytes(message.flags | _FRAGMENT)
    room = limit - len(fragment_header) - FRAGMENT_HEADER.size
    if room < 1:
        raise ProtocolConfigurationError(
            f"max_payload of {limit} bytes cannot hold a {len(fragment_header)}-byte header, "
            f"a {FRAGMENT_HEADER.size}-byte fragment header and one value byte"
        )
    total = len(body)
    count = -(-total // room)
    if count > _MAX_COUNT:  # pragma: no cover - needs a value of more than 4 GiB
        raise PayloadTooLargeError(
            f"a {total}-byte value needs {count} fragments, more than 2**32-1"
        )
    view = memoryview(body)
    return [
        to_packet(
            b"".join(
                (
                    fragment_header,
                    FRAGMENT_HEADER.pack(index, count, total),
                    view[index * room : (index + 1) * room],
                )
            )
        )
        for index in range(count)
    ]


class ExpiredTransfer(NamedTuple):
    """An incomplete transfer that the :class:`Reassembler` dropped after its timeout.

    Attributes:
        source: Sender identifier.
        sequence: Sequence number of the split message.
        missing: Indexes of the fragments that never arrived.
        fragment_count: Number of fragments of the message.
        total_length: Length of the whole value in bytes.
        idle: Seconds since the transfer's last fragment.
    """

    source: str
    sequence: int
    missing: tuple[int, ...]
    fragment_count: int
    total_length: int
    idle: float


class _Transfer:
    """The fragments received so far of one message."""

    __slots__ = ("chunks", "count", "first", "last_seen", "received", "total")

    def __init__(self, first: Message, count: int, total: int, now: float) -> None:
        self.first = first
        self.count = count
        self.total = total
        self.chunks: dict[int, bytes] = {}
        self.received = 0
        self.last_seen = now


def _check_positive(value: object, name: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ProtocolTypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value > 0:
        raise ProtocolConfigurationError(f"{name} must be positive, got {value}")


class Reassembler:
    """Merge fragment messages back into whole messages.

    Thread-safe. Feed it every decoded :class:`Message`; it returns whole messages
    and keeps fragments until their message is complete. Memory is bounded by the
    total length that incomplete transfers announce (``max_bytes``) and by their
    number (``max_transfers``); a transfer that receives nothing for ``timeout``
    seconds is dropped. :meth:`add` drops expired transfers itself (logging a
    warning); call :meth:`expire` to learn which transfers were lost.

    Args:
        max_bytes: Most bytes announced by incomplete transfers together, which is also
            the largest message that can be reassembled (default 64 MiB).
        timeout: Seconds a transfer may wait for its next fragment (default 30).
        max_transfers: Most incomplete transfers at once (default 1024).
        clock: Monotonic clock in seconds (for tests).

    Raises:
        ProtocolTypeError: If an argument has the wrong type.
        ProtocolConfigurationError: If an argument is not positive.
    """

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_REASSEMBLY_BYTES,
        timeout: float = DEFAULT_REASSEMBLY_TIMEOUT,
        max_transfers: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_positive(max_bytes, "max_bytes")
        _check_positive(timeout, "timeout")
        _check_positive(max_transfers, "max_transfers")
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_transfers = max_transfers
        self._clock = clock
        self._transfers: dict[tuple[str, int], _Transfer] = {}
        self._held = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Number of incomplete transfers."""
        return len(self._transfers)

    @property
    def held_bytes(self) -> int:
        """Bytes announced by the incomplete transfers."""
        return self._held

    def add(self, message: Message) -> Message | None:
        """Take one message; return a whole message when there is one.

        Args:
            message: A decoded message, fragment or not.

        Returns:
            ``message`` itself if it is not a fragment; the merged message (FRAGMENT
            flag cleared) when ``message`` completes a transfer; otherwise ``None``.

        Raises:
            ProtocolTypeError: If ``message`` is not a :class:`Message`.
            FragmentError: If the fragment header is invalid; the message is larger
                than ``max_bytes``; the fragment was already received (the transfer is
                kept); the fragment disagrees with earlier ones of its transfer on
                count, length, type, format, reply-to, timestamp or destination, or its
                pieces do not add up (the transfer is dropped); or the limits on
                pending transfers are reached.
        """
        if not isinstance(message, Message):
            raise ProtocolTypeError(f"message must be a Message, got {type(message).__name__}")
        if not int(message.flags) & _FRAGMENT_BIT:
            return message
        index, count, total, piece = self._parse(message)
        key = (message.source, message.sequence)
        with self._lock:
            now = self._clock()
            self._expire_locked(now, log=True)
            transfer = self._transfers.get(key)
            if transfer is None:
                transfer = self._start(key, message, count, total, now)
            else:
                self._check_consistent(key, transfer, message, count, total)
            if index in transfer.chunks:
                raise FragmentError(
                    f"duplicate fragment {index} of message {key[1]} from {key[0]!r}"
                )
            if transfer.received + len(piece) > total:
                self._drop(key)
                raise FragmentError(
                    f"fragments of message {key[1]} from {key[0]!r} exceed the announced "
                    f"{total} bytes"
                )
            transfer.chunks[index] = piece
            transfer.received += len(piece)
            transfer.last_seen = now
            self._transfers[key] = self._transfers.pop(key)
            if len(transfer.chunks) < count:
                return None
            self._drop(key)
        if transfer.received != total:
            raise FragmentError(
                f"fragments of message {key[1]} from {key[0]!r} add up to "
                f"{transfer.received} bytes, not the announced {total}"
            )
        body = b"".join(transfer.chunks[i] for i in range(count))
        return transfer.first.replace(body=body, flags=transfer.first.flags & ~_FRAGMENT)

    def expire(self) -> list[ExpiredTransfer]:
        """Drop the transfers that have waited longer than ``timeout``.

        Returns:
            The dropped transfers (empty if none).
        """
        with self._lock:
            return self._expire_locked(self._clock(), log=False)

    def clear(self) -> None:
        """Drop every incomplete transfer (for example after a reconnect)."""
        with self._lock:
            self._transfers.clear()
            self._held = 0

    def _parse(self, message: Message) -> tuple[int, int, int, bytes]:
        body = message.body
        if len(body) < FRAGMENT_HEADER.size:
            raise FragmentError(
                f"fragment of message {message.sequence} from {message.source!r} is "
                f"{len(body)} bytes, shorter than its {FRAGMENT_HEADER.size}-byte header"
            )
        index, count, total = FRAGMENT_HEADER.unpack_from(body)
        if count == 0 or index >= count or count > max(total, 1):
            raise FragmentError(
                f"invalid fragment header of message {message.sequence} from "
                f"{message.source!r}: index {index}, count {count}, total length {total}"
            )
        if total > self.max_bytes:
            raise FragmentError(
                f"message {message.sequence} from {message.source!r} announces {total} bytes, "
                f"more than max_bytes={self.max_bytes}"
            )
        return index, count, total, body[FRAGMENT_HEADER.size :]

    def _start(
        self, key: tuple[str, int], message: Message, count: int, total: int, now: float
    ) -> _Transfer:
        if len(self._transfers) >= self.max_transfers:
            raise FragmentError(
                f"{len(self._transfers)} transfers are incomplete (max_transfers="
                f"{self.max_transfers}); message {key[1]} from {key[0]!r} refused"
            )
        if self._held + total > self.max_bytes:
            raise FragmentError(
                f"incomplete transfers hold {self._held} bytes; message {key[1]} from "
                f"{key[0]!r} needs {total} more, over max_bytes={self.max_bytes}"
            )
        transfer = _Transfer(message, count, total, now)
        self._transfers[key] = transfer
        self._held += total
        return transfer

    def _check_consistent(
        self,
        key: tuple[str, int],
        transfer: _Transfer,
        message: Message,
        count: int,
        total: int,
    ) -> None:
        first = transfer.first
        differences = [
            name
            for name, same in (
                ("count", count == transfer.count),
                ("total length", total == transfer.total),
                ("message type", message.message_type is first.message_type),
                ("data format", message.data_format is first.data_format),
                ("reply_to", message.reply_to == first.reply_to),
                ("timestamp", message.timestamp_us == first.timestamp_us),
                ("destination", message.destination == first.destination),
            )
            if not same
        ]
        if differences:
            self._drop(key)
            raise FragmentError(
                f"fragment of message {key[1]} from {key[0]!r} disagrees with earlier "
                f"fragments on {', '.join(differences)}; transfer dropped"
            )

    def _drop(self, key: tuple[str, int]) -> None:
        transfer = self._transfers.pop(key)
        self._held -= transfer.total

    def _expire_locked(self, now: float, log: bool) -> list[ExpiredTransfer]:
        expired: list[ExpiredTransfer] = []
        transfers = self._transfers
        while transfers:
            key, transfer = next(iter(transfers.items()))
            idle = now - transfer.last_seen
            if idle <= self.timeout:
                break
            self._drop(key)
            missing = tuple(i for i in range(transfer.count) if i not in transfer.chunks)
            expired.append(
                ExpiredTransfer(key[0], key[1], missing, transfer.count, transfer.total, idle)
            )
            if log:
                logger.warning(
                    "dropped incomplete message %d from %r after %.1f s: %d of %d fragments "
                    "missing",
                    key[1],
                    key[0],
                    idle,
                    len(missing),
                    transfer.count,
                )
        return expired
