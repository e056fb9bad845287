"""A custom packet structure: ``$``-delimited packets with typed send and receive classes.

The first part defines the classes the simplest way: a ``PacketStructureInterface``
subclass for ``$...$`` packets, a ``SendData`` that writes ``CMD#a#b`` and a
``ReceivedData`` that reads it back, then frames one message. With a ``NetworkHandler``
the same ``send_data`` would be sent with ``network_handler.send_data(send_data)``.

``main()`` then uses the same classes with the packet layer: the delimiter structure
streams through :class:`~eq1_network.packets.PacketStream` (it defines ``HEAD_PACKET``
and ``TAIL_PACKET``, so no extra code is needed) and a :class:`~eq1_network.DataPackage`
bundles it with the send and received classes.

Run it with ``python examples/packet_structure_example.py``.
"""

# ruff: noqa: I001, W293

from __future__ import annotations

from eq1_network import DataPackage, PacketStream
from eq1_network.data import ReceivedData, SendData

# fmt: off
# ---- the classes, written the simplest way -------------------------------------------
# Standardised data handling through the packet interface
from eq1_network.interfaces.packet import PacketStructureInterface

class PacketStructure(PacketStructureInterface):
    HEAD_PACKET = b'$'
    TAIL_PACKET = b'$'

    @classmethod
    def to_packet(cls, data: bytes) -> bytes:
        return cls.HEAD_PACKET + data + cls.TAIL_PACKET

    @classmethod
    def from_packet(cls, packet: bytes) -> bytes:
        if not cls.is_valid(packet):
            raise ValueError(f"Packet Structure Error : {packet}")

        return packet[1:-1]

    @classmethod
    def is_valid(cls, packet: bytes) -> bool:
        if (cls.TAIL_PACKET + cls.HEAD_PACKET) in packet:
            return False

        if packet[:1] != cls.HEAD_PACKET:
            return False

        if packet[-1:] != cls.TAIL_PACKET:
            return False

        return True

    @classmethod
    def split_packet(cls, packet: bytes) -> list[bytes]:
        results = []
        for _d in packet.split(cls.HEAD_PACKET):
            if len(_d) == 0:
                continue
            results.append(cls.HEAD_PACKET+_d+cls.TAIL_PACKET)
        return results

# Using the SendData class
class TestSendData(SendData):
    def __init__(self, cmd: str, data: list):
        self.cmd = cmd
        self.data = data
    
    def to_bytes(self) -> bytes:
        result = self.cmd
        for datum in self.data:
            result += f"#{datum}"
        return result.encode('utf-8')

# Using the ReceivedData class
class TestReceivedData(ReceivedData):
    @classmethod
    def from_bytes(cls, data: bytes):
        data_str = data.decode('utf-8')
        split_data = data_str.split('#')
        if len(split_data) == 1:
            return cls(cmd=split_data[0], data=[])
        return cls(cmd=split_data[0], data=split_data[1:])

send_data = TestSendData("TEST", ["1", "2", "3", "4", "5"])
packet_bytes = PacketStructure.to_packet(send_data.to_bytes())  # serialise the list to bytes

# ---- end of the simple classes --------------------------------------------------------
# fmt: on
# With a NetworkHandler (network_config and event_callback defined by the application):
#     # Using NetworkHandler
#     network_handler = NetworkHandler(network_config, event_callback)
#     network_handler.send_data(send_data)  # sent through the PacketStructure


class CommandData(TestReceivedData):
    """``TestReceivedData`` above calls ``cls(cmd=..., data=...)`` but defines no
    constructor; this subclass adds one so decoding can be shown."""

    def __init__(self, cmd: str, data: list[str]) -> None:
        self.cmd = cmd
        self.data = data

    def __repr__(self) -> str:
        return f"CommandData(cmd={self.cmd!r}, data={self.data!r})"


def main() -> list[CommandData]:
    """Stream two ``$`` packets split across reads and decode them.

    Returns:
        The decoded commands.
    """
    print("packet_bytes:", packet_bytes)
    package = DataPackage(PacketStructure, TestSendData, CommandData)
    wire = package.encode(send_data) + package.encode(TestSendData("PING", []))
    stream = PacketStream(PacketStructure)
    received: list[CommandData] = []
    for chunk in (wire[:7], wire[7:15], wire[15:]):
        for payload in stream.feed_payloads(chunk):
            received.append(package.decode_payload(payload))
    for item in received:
        print("received:", item)
    return received


if __name__ == "__main__":
    main()
