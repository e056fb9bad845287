"""``PacketStream``: a sans-I/O decoder that cuts a byte stream into packets.

Stream transports (TCP, serial) deliver arbitrary chunks. :class:`PacketStream`
keeps the partial tail between calls, so frames split across reads and many frames
in one read decode exactly. It never touches a socket: feed it bytes, get packets.

Error handling follows the *sticky error* model of h11: when the stream meets bytes
that cannot be a packet (a corrupt length header, a packet larger than the limits,
garbage between delimited packets) it does not try to resynchronise, because
anything it found after that point could be garbage that happens to look valid.
Instead it raises, and every later call raises again until :meth:`PacketStream.reset`
(normally after reconnecting). The packets that were complete *before* the corrupt
bytes of the same call are still returned; the error is then raised by the next call
and is visible at once in :attr:`PacketStream.error`.
"""

from __future__ import annotations

import threading
from typing import Final

from eq1_network.common.exceptions import (
    FrameTooLargeError,
    MalformedPacketError,
    PacketError,
    ProtocolConfigurationError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.packet import PacketStructureInterface, delimiters_of
from eq1_network.packets._binding import (
    Structure,
    bind_structure,
    length_prefix_limit,
    static_lookup,
)
from eq1_network.packets.framing import LENGTH_PREFIX, LENGTH_PREFIX_SIZE, as_bytes

__all__ = ["DEFAULT_MAX_BUFFER", "PacketStream"]

logger = get_logger(__name__)

DEFAULT_MAX_BUFFER: Final = 2 * 1024 * 1024
"""Buffer bound for structures other than :class:`NetworkPacketStructure` (2 MiB)."""

_HEADER: Final = LENGTH_PREFIX_SIZE
_unpack_length_from = LENGTH_PREFIX.unpack_from
_VIEW_MIN: Final = 4096


def _buffer_bounds(limit: int | None, max_buffer: int | None) -> tuple[int, int]:
    """The checked ``max_buffer`` of a stream, and its largest payload (-1: no limit).

    Args:
        limit: The structure's largest length-prefixed payload, or ``None`` when the
            structure is not length-prefixed.
        max_buffer: The ``max_buffer`` asked for, or ``None`` for the default.
    """
    minimum = _HEADER if limit is not None else 1
    if max_buffer is not None and (not isinstance(max_buffer, int) or isinstance(max_buffer, bool)):
        raise ProtocolTypeError(f"max_buffer must be an int, got {type(max_buffer).__name__}")
    if max_buffer is not None and max_buffer < minimum:
        raise ProtocolConfigurationError(
            f"max_buffer must be at least {minimum} bytes, got {max_buffer}"
        )
    if limit is None:
        return (DEFAULT_MAX_BUFFER if max_buffer is None else max_buffer), -1
    bound = limit + _HEADER if max_buffer is None else max_buffer
    return bound, min(limit, bound - _HEADER)


class PacketStream:
    """Cut a byte stream into packets of a packet structure.

    With :class:`NetworkPacketStructure` (class, instance or a subclass that only
    changes ``max_payload``) a specialised decoder is used. Any other structure is
    streamed through its :meth:`~PacketStructureInterface.find_packet_end`, which
    delimiter structures get for free by defining ``HEAD_PACKET`` and ``TAIL_PACKET``.

    The stream is thread-safe (calls are serialised), although one reader per stream
    is the normal use.

    Args:
        structure: The packet structure, as a class or an instance.
        max_buffer: Most bytes held while waiting for the rest of a packet. For
            length-prefixed framing the default is one largest frame
            (``max_payload + 4``); a smaller value lowers the largest accepted payload
            to ``max_buffer - 4``. For other structures the default is 2 MiB.

    Raises:
        ProtocolTypeError: If ``structure`` is not a packet structure or ``max_buffer``
            is not an int.
        ProtocolConfigurationError: If ``max_buffer`` is too small, or the structure
            cannot say where its packets end.
    """

    __slots__ = (
        "_buffer",
        "_error",
        "_finder",
        "_from_packet",
        "_have",
        "_head",
        "_is_valid",
        "_limit",
        "_lock",
        "_need",
        "_parts",
        "_scan",
        "_tail",
        "max_buffer",
        "structure",
    )

    def __init__(self, structure: Structure, *, max_buffer: int | None = None) -> None:
        methods = bind_structure(structure, "structure")
        self.structure = structure
        limit = length_prefix_limit(structure)
        self.max_buffer, self._limit = _buffer_bounds(limit, max_buffer)
        self._finder = methods.find_packet_end
        self._head = self._tail = b""
        self._scan = 0
        if limit is None:
            default = PacketStructureInterface.__dict__["find_packet_end"]
            cls = structure if isinstance(structure, type) else type(structure)
            if static_lookup(cls, "find_packet_end") is default:
                self._head, self._tail = delimiters_of(structure)
                self._finder = self._find_delimited
        self._from_packet = methods.from_packet
        self._is_valid = methods.is_valid
        self._buffer = bytearray()
        self._parts: list[bytes | bytearray | memoryview] = []
        self._have = 0
        self._need = _HEADER
        self._error: PacketError | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "error" if self._error is not None else f"{self.buffered} bytes buffered"
        return f"PacketStream({self.structure!r}, max_buffer={self.max_buffer}, {state})"

    @property
    def buffered(self) -> int:
        """Number of bytes held from an incomplete packet."""
        return self._have + len(self._buffer)

    @property
    def payload_limit(self) -> int | None:
        """Largest payload a length-prefixed stream accepts; ``None`` for other structures."""
        return self._limit if self._limit >= 0 else None

    def needed(self) -> int:
        """Tell how many bytes complete the frame begun by earlier chunks, as far as known.

        For length-prefixed structures only: while the length header itself is
        incomplete, the bytes that complete the header; after it, those that complete
        the payload. ``0`` when nothing is buffered.

        Returns:
            A number of bytes; feeding that many returns the frame (or, while the
            header was incomplete, lets the next call of this method tell the rest).

        Raises:
            ProtocolConfigurationError: If the structure is not length-prefixed.
        """
        if self._limit < 0:
            raise ProtocolConfigurationError("needed() is for length-prefixed structures only")
        return self._need - self._have if self._have else 0

    @property
    def error(self) -> PacketError | None:
        """The error that stopped the stream, or ``None`` while it is healthy."""
        return self._error

    def feed(self, data: bytes, start: int = 0) -> list[bytes]:
        """Add received bytes and return the complete packets (whole frames).

        Args:
            data: The next chunk of the stream (bytes-like, may be empty).
            start: Where the stream's bytes begin in ``data`` (what comes before is
                not looked at); saves a copy when the start of a chunk was used
                elsewhere.

        Returns:
            The packets completed by this chunk, in order, header included; possibly
            an empty list.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like or ``start`` not an int
                (the stream stays usable).
            ProtocolValidationError: If ``start`` is outside ``data``.
            MalformedPacketError: If the stream holds bytes that cannot be a packet.
            FrameTooLargeError: If a packet exceeds the limit or ``max_buffer``.
        """
        return self._feed(data, False, start)

    def feed_payloads(self, data: bytes, start: int = 0) -> list[bytes]:
        """Add received bytes and return the payloads of the complete packets.

        The fast path for receivers: the same as ``[structure.from_packet(p) for p in
        feed(data)]`` without building the intermediate frames.

        Args:
            data: The next chunk of the stream (bytes-like, may be empty).
            start: Where the stream's bytes begin in ``data``, as for :meth:`feed`.

        Returns:
            The payloads completed by this chunk, in order; possibly an empty list.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like or ``start`` not an int
                (the stream stays usable).
            ProtocolValidationError: If ``start`` is outside ``data``.
            MalformedPacketError: If the stream holds bytes that cannot be a packet.
            FrameTooLargeError: If a packet exceeds the limit or ``max_buffer``.
        """
        return self._feed(data, True, start)

    def feed_eof(self) -> None:
        """Declare that the byte stream has ended (the peer closed the connection).

        Raises:
            MalformedPacketError: If the stream ended inside a packet; the stream is
                then in the error state.
            PacketError: The stored error, if the stream was already in the error state.
        """
        with self._lock:
            self._raise_if_failed()
            if self.buffered:
                error = MalformedPacketError(
                    f"stream ended inside a packet: {self.buffered} bytes buffered"
                )
                self._set_error(error)
                raise error

    def reset(self) -> None:
        """Forget buffered bytes and any error, as for a new connection."""
        with self._lock:
            self._clear()
            self._error = None

    def _feed(self, data: bytes, payloads: bool, start: int) -> list[bytes]:
        if type(data) is not bytes:
            data = as_bytes(data, "data")
        if start:
            if type(start) is not int:
                raise ProtocolTypeError(f"start must be an int, got {type(start).__name__}")
            if not 0 < start <= len(data):
                raise ProtocolValidationError(
                    f"start must be within the {len(data)} bytes given, got {start}"
                )
        with self._lock:
            self._raise_if_failed()
            if self._limit >= 0:
                return self._feed_length_prefixed(data, _HEADER if payloads else 0, start)
            return self._feed_generic(data[start:] if start else data, payloads)

    def _raise_if_failed(self) -> None:
        error = self._error
        if error is not None:
            raise type(error)(
                f"the stream stopped at an earlier error and must be reset: {error}"
            ) from error

    def _clear(self) -> None:
        self._buffer.clear()
        self._parts.clear()
        self._have = 0
        self._need = _HEADER
        self._scan = 0

    def _set_error(self, error: PacketError) -> None:
        logger.debug("packet stream error: %s", error)
        self._error = error
        self._clear()

    def _fail(self, error: PacketError, out: list[bytes]) -> list[bytes]:
        """Enter the error state; raise now, or after returning the good packets."""
        self._set_error(error)
        if out:
            return out
        raise error

    def _oversize(self, length: int) -> FrameTooLargeError:
        return FrameTooLargeError(
            f"length header announces {length} payload bytes, more than the limit of "
            f"{self._limit} bytes (max_payload or max_buffer - 4)"
        )

    def _feed_length_prefixed(self, data: bytes, skip: int, start: int) -> list[bytes]:
        out: list[bytes] = []
        pos = self._complete_pending(data, skip, out, start) if self._have else start
        limit = self._limit
        size = len(data)
        while size - pos >= _HEADER:
            (length,) = _unpack_length_from(data, pos)
            if length > limit:
                return self._fail(self._oversize(length), out)
            end = pos + _HEADER + length
            if end > size:
                self._parts.append(data[pos : pos + _HEADER])
                self._have = _HEADER
                self._need = _HEADER + length
                pos += _HEADER
                break
            out.append(data[pos + skip : end])
            pos = end
        if pos < size:
            self._stash(data, pos, size)
        return out

    def _stash(self, data: bytes, start: int, end: int) -> None:
        """Keep ``data[start:end]`` as part of the pending frame.

        Large pieces are kept as views of the received chunk (copied once, when the
        frame is complete); small ones are merged, so a peer that sends one byte at a
        time cannot make the part list grow without bound.
        """
        parts = self._parts
        if end - start >= _VIEW_MIN:
            parts.append(memoryview(data)[start:end])
        elif parts and type(parts[-1]) is bytearray:
            parts[-1] += data[start:end]
        else:
            parts.append(bytearray(data[start:end]))
        self._have += end - start

    def _complete_pending(self, data: bytes, skip: int, out: list[bytes], pos: int) -> int:
        """Finish the pending frame with ``data`` from ``pos``; return where it ends."""
        parts = self._parts
        size = len(data)
        while True:
            missing = self._need - self._have
            if size - pos < missing:
                if pos < size:
                    self._stash(data, pos, size)
                return size
            self._stash(data, pos, pos + missing)
            pos += missing
            if self._need == _HEADER:
                header = b"".join(parts)
                (length,) = _unpack_length_from(header)
                if length > self._limit:
                    error = self._oversize(length)
                    self._set_error(error)
                    raise error  # nothing was completed before it in this call
                parts[:] = [header]
                self._need = _HEADER + length
                if length:
                    continue
            out.append(b"".join(parts[1:] if skip else parts))
            parts.clear()
            self._have = 0
            self._need = _HEADER
            return pos

    def _feed_generic(self, data: bytes, payloads: bool) -> list[bytes]:
        out: list[bytes] = []
        buffer = self._buffer
        buffer += data
        size = len(buffer)
        pos = 0
        try:
            while pos < size:
                end = self._finder(buffer, pos)
                if end == -1:
                    break
                if type(end) is not int or not pos < end <= size:
                    raise MalformedPacketError(
                        f"find_packet_end returned {end!r} for a packet at offset {pos} "
                        f"of a {size}-byte buffer"
                    )
                out.append(self._take(bytes(buffer[pos:end]), payloads))
                pos = end
        except PacketError as exc:
            return self._fail(exc, out)
        del buffer[:pos]
        if self._tail:
            # The buffered bytes hold no tail delimiter (except perhaps one cut by the
            # end), so the next search starts near the end instead of at 0.
            self._scan = max(0, len(buffer) - len(self._tail) + 1)
        if len(buffer) > self.max_buffer:
            return self._fail(
                FrameTooLargeError(
                    f"{len(buffer)} bytes buffered without a complete packet, "
                    f"more than max_buffer={self.max_buffer}"
                ),
                out,
            )
        return out

    def _find_delimited(self, buffer: bytes | bytearray, start: int) -> int:
        """The delimiter convention, resuming the tail search where the last one stopped."""
        head, tail = self._head, self._tail
        available = len(buffer) - start
        if available < len(head) or buffer[start : start + len(head)] != head:
            if buffer[start : start + len(head)] == head[:available]:
                return -1
            raise MalformedPacketError(
                f"expected a packet to start with {head!r} at offset {start}, "
                f"got {bytes(buffer[start : start + len(head)])!r}"
            )
        body = start + len(head)
        end = buffer.find(tail, max(body, self._scan) if start == 0 else body)
        return -1 if end < 0 else end + len(tail)

    def _take(self, frame: bytes, payloads: bool) -> bytes:
        """Validate one frame and return it or its payload."""
        if not payloads:
            if not self._is_valid(frame):
                raise MalformedPacketError(f"invalid packet {frame[:64]!r}")
            return frame
        try:
            return self._from_packet(frame)
        except PacketError:
            raise
        except ValueError as exc:
            raise MalformedPacketError(f"invalid packet {frame[:64]!r}: {exc}") from exc
