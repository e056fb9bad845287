"""Plain packages (send classes neither typed nor Message): framed by the sending thread."""

from __future__ import annotations

from typing import Any

import pytest

from eq1_network.common.exceptions import PayloadTooLargeError
from eq1_network.data import ReceivedData, SendData
from eq1_network.network import NetworkConfig, NetworkEventType, NetworkHandler
from eq1_network.package import BINARY_PACKAGE, DataPackage
from eq1_network.packets import Message, NetworkPacketStructure
from eq1_network.protocols.loopback.reqres import LoopbackProtocol
from eq1_network.testing import EventLog


class RawBytes(SendData, ReceivedData):
    """A plain message: the payload is the frame body."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def to_bytes(self) -> bytes:
        return self.data

    @classmethod
    def from_bytes(cls, data: bytes) -> RawBytes:
        return cls(data)


class TaggedBytes(RawBytes):
    """A subclass of the send class: it takes the package's general path."""


class _OwnEncode(DataPackage[RawBytes, RawBytes]):
    def encode(self, send_data: RawBytes) -> bytes:
        return super().encode(RawBytes(send_data.data.upper()))


def plain_package() -> DataPackage[RawBytes, RawBytes]:
    return DataPackage(NetworkPacketStructure, RawBytes, RawBytes)


@pytest.fixture
def counted_encodes(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record each message that went through ``DataPackage.encode``."""
    seen: list[object] = []
    original = DataPackage.encode

    def encode(self: DataPackage[Any, Any], send_data: Any) -> bytes:
        seen.append(send_data)
        return original(self, send_data)

    monkeypatch.setattr(DataPackage, "encode", encode)
    return seen


def test_the_encoder_is_the_framing_of_plain_classes_only() -> None:
    package = plain_package()
    to_packet = package.plain_packet_encoder()
    assert to_packet is not None
    assert to_packet(b"abc") == package.encode(RawBytes(b"abc")) == b"\x00\x00\x00\x03abc"
    assert BINARY_PACKAGE.plain_packet_encoder() is None  # typed
    assert DataPackage(NetworkPacketStructure, Message, Message).plain_packet_encoder() is None
    own = _OwnEncode(NetworkPacketStructure, RawBytes, RawBytes)
    assert own.plain_packet_encoder() is None  # its own encode() must run


def test_plain_messages_arrive_in_order_without_the_package_s_encode(
    handler_pair: Any, counted_encodes: list[object]
) -> None:
    sender, receiver = handler_pair(package=plain_package(), receive_queue=True)
    payloads = [f"message {i}".encode() * (1 + i % 5) for i in range(2000)]
    for payload in payloads[:1000]:
        sender.send_data(RawBytes(payload))
    tagged = TaggedBytes(b"through the package")
    sender.send_data(tagged)
    for payload in payloads[1000:]:
        sender.send_data(RawBytes(payload))
    got = [receiver.receive(timeout=30).data for _ in range(len(payloads) + 1)]
    assert got == [*payloads[:1000], b"through the package", *payloads[1000:]]
    assert counted_encodes == [tagged]  # only the subclass took the general path


def test_a_package_with_its_own_encode_keeps_it(handler_pair: Any) -> None:
    package = _OwnEncode(NetworkPacketStructure, RawBytes, RawBytes)
    sender, receiver = handler_pair(package=package, receive_queue=True)
    sender.send_data(RawBytes(b"shout"))
    assert receiver.receive(timeout=30).data == b"SHOUT"


def test_an_oversized_plain_message_is_reported_and_the_next_ones_go() -> None:
    log = EventLog()
    a = LoopbackProtocol(10, channel="plain-oversized", side="a")
    b = LoopbackProtocol(10, channel="plain-oversized", side="b")
    package = plain_package()
    with (
        NetworkHandler(NetworkConfig(protocol=a, package=package), log) as sender,
        NetworkHandler(NetworkConfig(protocol=b, package=package, receive_queue=True)) as peer,
    ):
        too_big = RawBytes(bytes(NetworkPacketStructure.max_payload + 1))
        assert sender.send_data(too_big) == 0  # accepted: the send worker reports it
        sender.send_data(RawBytes(b"after"))
        assert peer.receive(timeout=30).data == b"after"
        errors = log.wait_for(NetworkEventType.ERROR, 1)
        assert errors[0].data is too_big
        assert isinstance(errors[0].error, PayloadTooLargeError)
        assert "max_payload" in str(errors[0].error)
