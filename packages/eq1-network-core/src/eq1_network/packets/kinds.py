"""Message types, data formats and header flags of typed messages.

The numeric values are part of the wire format (``docs/wire-format.md``): never
renumber a member, only add new ones.
"""

from __future__ import annotations

import enum

__all__ = ["DataFormat", "MessageFlags", "MessageType"]


class MessageType(enum.IntEnum):
    """What a message is for. Value ``0`` is never used, so zeroed bytes are rejected."""

    COMMAND = 1
    """A request the peer should act on; it may answer with a RESPONSE."""
    DATA = 2
    """Application data (the default)."""
    RESPONSE = 3
    """The answer to a COMMAND; ``reply_to`` holds the COMMAND's sequence number."""
    STATUS = 4
    """A state report (device status, progress)."""
    ERROR = 5
    """An error report."""
    HEARTBEAT = 6
    """A keep-alive; usually an empty BINARY value."""
    FILE_TRANSFER = 7
    """A file's contents (usually BINARY, often split into fragments)."""
    BULK_DATA = 8
    """A large block of data (usually BINARY, often split into fragments)."""


class DataFormat(enum.IntEnum):
    """How the value bytes of a message are encoded."""

    TEXT = 1
    """A ``str`` as UTF-8."""
    BINARY = 2
    """Raw ``bytes``."""
    INT = 3
    """A signed 64-bit ``int``: 8 bytes, big-endian two's complement."""
    JSON = 4
    """A ``dict`` or ``list`` as compact UTF-8 JSON (RFC 8259)."""


class MessageFlags(enum.IntFlag):
    """Header flag bits. Senders set unused bits to 0; receivers keep but ignore them."""

    NONE = 0
    FRAGMENT = 0x01
    """The value is one fragment of a larger message (see ``docs/wire-format.md``)."""
    ACK = 0x02
    """The message acknowledges the message whose sequence number is in ``reply_to``."""
    ACK_REQUESTED = 0x04
    """The sender asks the receiver to acknowledge this message."""
