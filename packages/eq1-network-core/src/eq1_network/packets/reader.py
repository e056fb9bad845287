"""``TypedStreamReader``: typed messages decoded straight out of a length-prefixed stream.

The receive-side twin of :meth:`TypedSendData.to_frame
<eq1_network.packets.TypedSendData.to_frame>`: where
:meth:`PacketStream.feed_payloads <eq1_network.packets.PacketStream.feed_payloads>`
followed by :meth:`TypedReceivedData.from_bytes
<eq1_network.packets.TypedReceivedData.from_bytes>` cuts each payload out of the chunk and
parses its header again, the reader parses the length prefix and the message header of a
frame in one step, in the received chunk itself, and builds the message. Everything the
one step does not take (a frame begun in an earlier chunk, a fragment, a control message,
flags, anything invalid) is handed, as its payload
and in stream order, to a slow path given by the caller, which decodes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.packets.framing import as_bytes
from eq1_network.packets.header import decode_frames
from eq1_network.packets.received import TypedReceivedData
from eq1_network.packets.stream import PacketStream

__all__ = ["TypedStreamReader"]

_LARGE: Final = 4096
"""Rest of a pending frame from which the stream takes the whole chunk (no copies)."""


class TypedStreamReader:
    """Decodes the typed messages of a length-prefixed byte stream, one chunk at a time.

    The reader keeps no bytes itself: a frame cut by the end of a chunk is kept by
    ``stream``, which also applies its limits and its sticky error state. Like the
    stream, a reader serves one connection and one thread at a time.

    Args:
        received_class: :class:`~eq1_network.packets.TypedReceivedData` (every format)
            or one of its subclasses.
        stream: A stream of a length-prefixed structure
            (:class:`~eq1_network.packets.NetworkPacketStructure` or a subclass that
            only changes ``max_payload``).

    Raises:
        ProtocolConfigurationError: If ``stream`` is not length-prefixed or
            ``received_class`` is not a typed received class.
    """

    __slots__ = ("_by_format", "_limit", "_stream")

    def __init__(self, received_class: type[TypedReceivedData[Any]], stream: PacketStream) -> None:
        limit = stream.payload_limit
        if limit is None:
            raise ProtocolConfigurationError(
                f"TypedStreamReader needs a length-prefixed stream, got {stream.structure!r}"
            )
        if not (isinstance(received_class, type) and issubclass(received_class, TypedReceivedData)):
            raise ProtocolConfigurationError(
                f"TypedStreamReader needs a TypedReceivedData class, got {received_class!r}"
            )
        self._stream = stream
        self._limit = limit
        # A class with its own constructor is left to the slow path (from_bytes).
        self._by_format = tuple(
            None if target is None or not target._plain_init else target
            for target in received_class._by_format
        )

    @property
    def stream(self) -> PacketStream:
        """The stream that keeps incomplete frames."""
        return self._stream

    def feed(
        self, data: bytes, other: Callable[[bytes], object]
    ) -> Iterator[TypedReceivedData[Any]]:
        """Decode the messages that ``data`` completes, in stream order.

        Messages are decoded as the iterator is advanced; a payload the one step does not
        take is passed to ``other`` at its place in the stream, before the messages that
        follow it are decoded. Iterate to the end (or until an exception) before feeding
        the next chunk.

        Args:
            data: The next chunk of the stream (bytes-like).
            other: Called with each payload left to the slow path: see the module text.

        Yields:
            The decoded messages, as
            :meth:`TypedReceivedData.from_bytes <eq1_network.packets.TypedReceivedData.from_bytes>`
            of the reader's class would return them.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like.
            MalformedPacketError: As :meth:`PacketStream.feed_payloads
                <eq1_network.packets.PacketStream.feed_payloads>`, after the messages
                before the bad bytes were yielded.
            FrameTooLargeError: Likewise, for a frame over the stream's limits.
            PacketError: The stream's stored error, once it has failed (see
                :class:`~eq1_network.packets.PacketStream`).
        """
        if data.__class__ is not bytes:
            data = as_bytes(data, "data")
        stream = self._stream
        if stream.error is not None:
            stream.feed_payloads(data)  # raises the stream's stored error
        size = len(data)
        pos = 0
        while pos < size and stream.buffered:
            # The frame begun by earlier chunks is finished by the stream.
            step = stream.needed()
            if step >= _LARGE:
                # A large frame: the stream takes the rest of the chunk without copying it.
                for payload in stream.feed_payloads(data, pos):
                    other(payload)
                return
            for payload in stream.feed_payloads(data[pos : pos + step]):
                other(payload)
            pos += step
        pos = yield from decode_frames(data, pos, self._by_format, self._limit, other)
        if pos < size:  # short frames, and the frame cut by the end of the chunk
            for payload in stream.feed_payloads(data, pos):
                other(payload)
