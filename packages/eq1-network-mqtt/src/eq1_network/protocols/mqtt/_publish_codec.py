"""PUBLISH packets of MQTT 3.1.1 without properties, encoded and decoded without I/O.

The speed-ups of :mod:`._paho_fast` use these for the common packets: PUBLISH going
out (every QoS), PUBLISH coming in, and the acknowledgement packets of both directions
(PUBACK, PUBREC, PUBREL, PUBCOMP). Everything else coming in (MQTT 5 properties, other
packet types, anything malformed) is left to
paho-mqtt's own code, which reports
errors as it always does: :func:`scan_publishes` stops in front of such a packet and
consumes nothing of it.
"""

from __future__ import annotations

from collections.abc import Callable

from eq1_network.common.logging import get_logger

__all__ = [
    "DISCONNECT_COMMAND",
    "PUBACK_COMMAND",
    "PUBCOMP_COMMAND",
    "PUBLISH_COMMAND",
    "PUBREC_COMMAND",
    "PUBREL_COMMAND",
    "PublishEncoder",
    "ack_packet",
    "scan_acks",
    "scan_publishes",
]

logger = get_logger(__name__)

PUBLISH_COMMAND = 0x30
"""The PUBLISH packet type in the first byte of the fixed header."""

DISCONNECT_COMMAND = 0xE0
"""The DISCONNECT packet type in the first byte of the fixed header."""

PUBACK_COMMAND = 0x40
"""The PUBACK packet type in the first byte of the fixed header."""

PUBREC_COMMAND = 0x50
"""The PUBREC packet type in the first byte of the fixed header."""

PUBREL_COMMAND = 0x62
"""The first byte of a PUBREL: its packet type and the reserved flags ``0010``."""

PUBCOMP_COMMAND = 0x70
"""The PUBCOMP packet type in the first byte of the fixed header."""

_ACKS = frozenset((PUBACK_COMMAND, PUBREC_COMMAND, PUBREL_COMMAND, PUBCOMP_COMMAND))

_MAX_REMAINING = 268_435_455


def remaining_length(size: int) -> bytes:
    """Encode the fixed header's Remaining Length.

    Args:
        size: 0 to 268,435,455.

    Returns:
        One to four bytes.
    """
    out = bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | 0x80 if size else byte)
        if not size:
            return bytes(out)


def ack_packet(first: int, mid: int) -> bytes:
    """A PUBACK, PUBREC, PUBREL or PUBCOMP packet (MQTT 3.1.1).

    Args:
        first: The first byte, e.g. :data:`PUBREC_COMMAND`.
        mid: The packet id, 1 to 65535.

    Returns:
        The four bytes of the packet.
    """
    return bytes((first, 2, mid >> 8, mid & 0xFF))


class PublishEncoder:
    """Encodes PUBLISH packets without properties; remembers each topic's encoded form.

    Args:
        v5: Whether the connection speaks MQTT 5 (an empty property list is added).
        cache_size: Most topics remembered; the memory is cleared when full.
    """

    def __init__(self, v5: bool, cache_size: int = 4096) -> None:
        self._v5 = v5
        self._cache_size = cache_size
        self._prefixes: dict[str, bytes] = {}

    def _prefix(self, topic: str) -> bytes:
        """The topic's length and UTF-8 bytes, and for MQTT 5 an empty property list."""
        prefix = self._prefixes.get(topic)
        if prefix is None:
            encoded = topic.encode()
            prefix = len(encoded).to_bytes(2, "big") + encoded + (b"\x00" if self._v5 else b"")
            if len(self._prefixes) >= self._cache_size:
                self._prefixes.clear()
            self._prefixes[topic] = prefix
        return prefix

    def qos0(self, topic: str, payload: bytes, retain: bool) -> bytes:
        """Encode one QoS 0 PUBLISH.

        Args:
            topic: A valid topic name (checked by the caller).
            payload: The payload.
            retain: The retain flag.

        Returns:
            The whole packet.

        Raises:
            ValueError: If the packet would exceed MQTT's largest Remaining Length.
        """
        prefix = self._prefixes.get(topic) or self._prefix(topic)
        size = len(prefix) + len(payload)
        command = PUBLISH_COMMAND | 1 if retain else PUBLISH_COMMAND
        if size < 0x80:
            return b"".join((bytes((command, size)), prefix, payload))
        return b"".join((bytes((command,)), _remaining(size), prefix, payload))

    def acknowledged(self, topic: str, payload: bytes, qos: int, retain: bool, mid: int) -> bytes:
        """Encode one QoS 1 or QoS 2 PUBLISH, sent for the first time (DUP clear).

        Args:
            topic: A valid topic name (checked by the caller).
            payload: The payload.
            qos: 1 or 2.
            retain: The retain flag.
            mid: The packet id, 1 to 65535.

        Returns:
            The whole packet.

        Raises:
            ValueError: If the packet would exceed MQTT's largest Remaining Length.
        """
        prefix = self._prefixes.get(topic) or self._prefix(topic)
        if self._v5:  # the packet id comes between the topic and the property list
            prefix = prefix[:-1]
            packet_id = bytes((mid >> 8, mid & 0xFF, 0))
        else:
            packet_id = bytes((mid >> 8, mid & 0xFF))
        size = len(prefix) + len(packet_id) + len(payload)
        command = PUBLISH_COMMAND | qos << 1 | (1 if retain else 0)
        if size < 0x80:
            return b"".join((bytes((command, size)), prefix, packet_id, payload))
        return b"".join((bytes((command,)), _remaining(size), prefix, packet_id, payload))


def _remaining(size: int) -> bytes:
    """:func:`remaining_length` of a packet's size, refusing sizes beyond MQTT's limit."""
    if size > _MAX_REMAINING:
        raise ValueError(f"a PUBLISH of {size} bytes exceeds MQTT's limit of {_MAX_REMAINING}")
    return remaining_length(size)


Deliver = Callable[[str, bytes, int, bool], None]
"""Receives ``(topic, payload, qos, retain)`` of each PUBLISH taken."""

Held = tuple[int, str, bytes, bool, bool]
"""A QoS 2 PUBLISH taken: ``(packet id, topic, payload, retain, dup)``."""


def scan_publishes(
    buf: bytes, pos: int, deliver: Deliver, acks: list[int], held: list[Held]
) -> int:
    """Take the whole PUBLISH packets (MQTT 3.1.1) at ``buf[pos:]``, up to the first other.

    Another type, an incomplete or malformed packet, or a topic not in UTF-8 stays unread.

    Args:
        buf: Bytes read from the connection.
        pos: Where the next packet starts.
        deliver: Called for each QoS 0/1 message, in order.
        acks: Gets the PUBACK (QoS 1) or PUBREC (QoS 2) owed, as :func:`scan_acks` entries.
        held: Gets each QoS 2 message, undelivered until its PUBREL.

    Returns:
        Where the first packet not taken starts.
    """
    end = len(buf)
    while pos + 4 <= end:
        first = buf[pos]
        if first & 0xF0 != PUBLISH_COMMAND or first & 0x06 == 0x06 or first & 0x0E == 0x08:
            break  # another type, the invalid QoS 3, or DUP set on QoS 0
        index, length, shift = pos + 1, 0, 0
        while index < end and shift <= 21:
            byte = buf[index]
            index += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        else:
            break  # incomplete or malformed length
        stop = index + length
        if stop > end or length < 2:
            break  # incomplete, or malformed: paho reports it
        qos = (first >> 1) & 0x03
        topic_end = index + 2 + ((buf[index] << 8) | buf[index + 1])
        body = topic_end + 2 if qos else topic_end
        if body > stop or topic_end == index + 2:
            break  # malformed, or an empty topic: paho reports it
        try:
            topic = buf[index + 2 : topic_end].decode()
        except UnicodeDecodeError:
            break
        if qos:
            mid = (buf[topic_end] << 8) | buf[topic_end + 1]
            if not mid:
                break
            if qos == 2:
                held.append((mid, topic, buf[body:stop], bool(first & 1), bool(first & 8)))
                acks.append((PUBREC_COMMAND << 16) | mid)
                pos = stop
                continue
            acks.append((PUBACK_COMMAND << 16) | mid)
        try:
            deliver(topic, buf[body:stop], qos, bool(first & 1))
        except Exception:
            logger.exception("message handler failed for a message on %r", topic)
        pos = stop
    return pos


def scan_acks(buf: bytes, pos: int, acks: list[int]) -> int:
    """Take the PUBACK, PUBREC, PUBREL and PUBCOMP packets (MQTT 3.1.1) at ``buf[pos:]``.

    Each is a packet id only.

    Args:
        buf: Bytes read from the connection.
        pos: Where the next packet starts.
        acks: One entry per packet taken is appended, in order: the packet's first byte
            (``PUBACK_COMMAND``, ``PUBREC_COMMAND``, ``PUBREL_COMMAND`` or
            ``PUBCOMP_COMMAND``) shifted 16 bits left, or'ed with its packet id.

    Returns:
        Where the first packet not taken starts.
    """
    end = len(buf)
    while pos + 4 <= end and buf[pos + 1] == 2 and buf[pos] in _ACKS:
        acks.append((buf[pos] << 16) | (buf[pos + 2] << 8) | buf[pos + 3])
        pos += 4
    return pos
