"""The sans-I/O packet layer: framing, stream decoding, typed messages, fragmentation.

Bytes in, packets and objects out; nothing here touches a socket or starts a thread.
The wire format is specified in ``docs/wire-format.md``.
"""

from eq1_network.interfaces.packet import hybridmethod
from eq1_network.packets.fragmentation import (
    DEFAULT_REASSEMBLY_BYTES,
    DEFAULT_REASSEMBLY_TIMEOUT,
    ExpiredTransfer,
    Reassembler,
    split_message,
)
from eq1_network.packets.framing import (
    DEFAULT_MAX_PAYLOAD,
    LENGTH_PREFIX_SIZE,
    NetworkPacketStructure,
)
from eq1_network.packets.header import FIXED_HEADER_SIZE, HEADER_VERSION
from eq1_network.packets.kinds import DataFormat, MessageFlags, MessageType
from eq1_network.packets.message import Message
from eq1_network.packets.reader import TypedStreamReader
from eq1_network.packets.received import (
    BinaryReceivedData,
    IntReceivedData,
    JsonReceivedData,
    TextReceivedData,
    TypedReceivedData,
)
from eq1_network.packets.send import (
    BinarySendData,
    IntSendData,
    JsonSendData,
    TextSendData,
    TypedSendData,
)
from eq1_network.packets.stream import DEFAULT_MAX_BUFFER, PacketStream

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_MAX_PAYLOAD",
    "DEFAULT_REASSEMBLY_BYTES",
    "DEFAULT_REASSEMBLY_TIMEOUT",
    "FIXED_HEADER_SIZE",
    "HEADER_VERSION",
    "LENGTH_PREFIX_SIZE",
    "BinaryReceivedData",
    "BinarySendData",
    "DataFormat",
    "ExpiredTransfer",
    "IntReceivedData",
    "IntSendData",
    "JsonReceivedData",
    "JsonSendData",
    "Message",
    "MessageFlags",
    "MessageType",
    "NetworkPacketStructure",
    "PacketStream",
    "Reassembler",
    "TextReceivedData",
    "TextSendData",
    "TypedReceivedData",
    "TypedSendData",
    "TypedStreamReader",
    "hybridmethod",
    "split_message",
]
