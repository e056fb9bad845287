"""JSON messages over a byte stream, one message per length-prefixed frame.

Each message is one frame of a :class:`~eq1_network.packets.NetworkPacketStructure`
(4-byte big-endian length, then the payload): compact UTF-8 JSON whose top level is an
object or an array. Any transport that moves a byte stream can use it; the TCP
transports' ``send_json``/``read_json`` do. Two kinds of bad input are told apart, so a
stream is never left half-parsed:

* a frame whose *payload* is not such JSON is consumed whole and reported with
  :class:`~eq1_network.common.exceptions.MalformedPacketError`; the stream stays in
  step and the next message decodes normally;
* a corrupt or oversized *length header* (reported with
  :class:`~eq1_network.common.exceptions.PacketSizeError` or ``MalformedPacketError``)
  means message boundaries are lost: the messages completed before it are still
  delivered, then the error, and the owner closes the connection.

Typed messages of the JSON format (``JSON_PACKAGE``) carry a JSON value inside the
versioned message header instead; this module is for peers that exchange bare JSON.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from eq1_network.common.exceptions import (
    MalformedPacketError,
    PacketError,
    ProtocolArgumentError,
    ProtocolTypeError,
)
from eq1_network.packets.framing import NetworkPacketStructure
from eq1_network.packets.stream import PacketStream

__all__ = [
    "JsonDecoder",
    "JsonStructure",
    "JsonValue",
    "decode_payload",
    "encode_frame",
]

JsonValue = dict[str, Any] | list[Any]
"""A JSON message: an object (``dict``) or an array (``list``)."""

JsonStructure = NetworkPacketStructure | type[NetworkPacketStructure]
"""The framing of JSON messages: ``NetworkPacketStructure`` or an instance of it."""


def encode_frame(value: JsonValue, structure: JsonStructure) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON in one frame.

    Args:
        value: A ``dict`` or ``list`` of JSON data (``NaN`` and infinities refused).
        structure: The framing.

    Returns:
        The frame, ready to send.

    Raises:
        ProtocolTypeError: If ``value`` is not a dict or a list, or holds an object
            JSON cannot represent.
        ProtocolValidationError: If it holds ``NaN``, an infinity or a circular reference.
        PacketSizeError: If the encoded message exceeds the structure's ``max_payload``.
    """
    if not isinstance(value, (dict, list)):
        raise ProtocolTypeError(
            f"a JSON message must be a dict or a list, got {type(value).__name__}"
        )
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except TypeError as exc:
        raise ProtocolTypeError(f"value cannot be sent as JSON: {exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise ProtocolArgumentError(f"value cannot be sent as JSON: {exc}") from exc
    return structure.to_packet(text.encode("utf-8", "surrogatepass"))


def decode_payload(payload: bytes) -> JsonValue:
    """Decode one frame's payload.

    Args:
        payload: The payload bytes.

    Returns:
        The ``dict`` or ``list``.

    Raises:
        MalformedPacketError: If it is not UTF-8 JSON with an object or array at the
            top level.
    """
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedPacketError(
            f"frame of {len(payload)} bytes is not valid UTF-8 JSON: {exc}"
        ) from exc
    if not isinstance(value, (dict, list)):
        raise MalformedPacketError(
            f"a JSON message must be an object or an array, got {type(value).__name__}"
        )
    return value


class JsonDecoder:
    """Decoding state of one connection: its frame stream and undelivered messages.

    Not thread-safe on its own; the owner serialises access.

    Args:
        structure: The framing.
    """

    __slots__ = ("_items", "_stream")

    def __init__(self, structure: JsonStructure) -> None:
        self._stream = PacketStream(structure)
        self._items: deque[bytes | PacketError] = deque()

    def feed(self, data: bytes) -> bool:
        """Add received bytes.

        Args:
            data: The next chunk of the connection.

        Returns:
            ``False`` if the frame stream broke (the connection must be closed); the
            error is queued behind the messages completed before it.
        """
        try:
            payloads = self._stream.feed_payloads(data)
        except PacketError as exc:
            self._items.append(exc)
            self._stream.reset()
            return False
        self._items.extend(payloads)
        error = self._stream.error
        if error is not None:
            self._items.append(error)
            self._stream.reset()
            return False
        return True

    def feed_eof(self, where: str) -> None:
        """Note that the connection ended; a partly received frame becomes an error.

        Args:
            where: Who closed, for the message (e.g. ``"127.0.0.1:5000"``).
        """
        buffered = self._stream.buffered
        self._stream.reset()
        if buffered:
            self._items.append(
                MalformedPacketError(
                    f"connection to {where} ended inside a frame: {buffered} bytes of an "
                    "incomplete message were discarded"
                )
            )

    def restart(self) -> None:
        """Start a new connection's stream; undelivered messages are kept."""
        self._stream.reset()

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held."""
        return self._stream.buffered

    def drain(self) -> list[bytes | PacketError]:
        """Remove and return every undecoded message and error, in order.

        Returns:
            Payloads and errors.
        """
        items = list(self._items)
        self._items.clear()
        return items

    def has_items(self) -> bool:
        """Tell whether a message (or an error) is ready.

        Returns:
            ``True`` if :meth:`pop` has something to return or raise.
        """
        return bool(self._items)

    def pop(self) -> JsonValue | None:
        """Return the next message.

        Returns:
            The next message, or ``None`` if none is ready.

        Raises:
            MalformedPacketError: If the next frame's payload is not a JSON message
                (that frame is consumed), or the frame stream broke.
            PacketSizeError: If a frame header announced more than the limit.
        """
        if not self._items:
            return None
        item = self._items.popleft()
        if isinstance(item, PacketError):
            raise item
        return decode_payload(item)
