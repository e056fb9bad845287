"""The requirements document's ``$`` example, and framing interoperability."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eq1_network import (
    BINARY_PACKAGE,
    BinarySendData,
    DataPackage,
    MalformedPacketError,
    NetworkPacketStructure,
    PacketStream,
)

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "packet_structure_example.py"
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    """The example's globals after running it as a script (prints are captured)."""
    return runpy.run_path(str(EXAMPLE), run_name="__main__")


def test_example_runs_as_written(
    example: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert example["packet_bytes"] == b"$TEST#1#2#3#4#5$"
    received = example["main"]()
    assert [(r.cmd, r.data) for r in received] == [
        ("TEST", ["1", "2", "3", "4", "5"]),
        ("PING", []),
    ]
    assert "packet_bytes: b'$TEST#1#2#3#4#5$'" in capsys.readouterr().out


def test_example_structure_methods(example: dict[str, Any]) -> None:
    structure = example["PacketStructure"]
    assert structure.from_packet(b"$abc$") == b"abc"
    assert structure.is_valid(b"$abc$")
    assert not structure.is_valid(b"$a$$b$")
    assert structure.split_packet(b"$a$$b$") == [b"$a$", b"$b$"]
    with pytest.raises(ValueError, match="Packet Structure Error"):
        structure.from_packet(b"abc")
    send = example["TestSendData"]("CMD", [1, "x"])
    assert send.to_bytes() == b"CMD#1#x"


def test_example_received_class_as_written_needs_a_constructor(example: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        example["TestReceivedData"].from_bytes(b"TEST#1")
    command = example["CommandData"].from_bytes(b"TEST#1#2")
    assert (command.cmd, command.data) == ("TEST", ["1", "2"])
    assert example["CommandData"].from_bytes(b"PING").data == []


@SETTINGS
@given(st.data())
def test_example_structure_streams_with_any_chunking(data: st.DataObject) -> None:
    namespace = runpy.run_path(str(EXAMPLE))  # not as __main__: nothing is printed
    structure = namespace["PacketStructure"]
    package = DataPackage(structure, namespace["TestSendData"], namespace["CommandData"])
    commands = data.draw(
        st.lists(
            st.tuples(
                st.text(alphabet="ABCXYZ", min_size=1, max_size=6),
                st.lists(st.text(alphabet="0123456789abc", min_size=1, max_size=4), max_size=4),
            ),
            max_size=8,
        )
    )
    wire = b"".join(package.encode(namespace["TestSendData"](cmd, args)) for cmd, args in commands)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    stream = PacketStream(structure)
    decoded = []
    pos = 0
    for cut in [*cuts, len(wire)]:
        decoded += [package.decode_payload(p) for p in stream.feed_payloads(wire[pos:cut])]
        pos = max(pos, cut)
    assert [(d.cmd, d.data) for d in decoded] == [(cmd, args) for cmd, args in commands]


def test_example_structure_reports_garbage(example: dict[str, Any]) -> None:
    stream = PacketStream(example["PacketStructure"])
    assert stream.feed(b"$ok$") == [b"$ok$"]
    with pytest.raises(MalformedPacketError):
        stream.feed(b"junk$")


def test_interoperates_with_twisted_int32_string_receiver() -> None:
    """Frames are exactly what Twisted's length-prefixed receiver speaks, both ways."""
    from twisted.internet.testing import StringTransport
    from twisted.protocols.basic import Int32StringReceiver

    class Peer(Int32StringReceiver):
        MAX_LENGTH = 4 * 1024 * 1024

        def __init__(self) -> None:
            self.received: list[bytes] = []

        def stringReceived(self, string: bytes) -> None:
            self.received.append(string)

    peer = Peer()
    transport = StringTransport()
    peer.makeConnection(transport)
    payloads = [b"", b"a", bytes(range(256)) * 300]
    wire = NetworkPacketStructure.join_packets(payloads)
    for start in range(0, len(wire), 1000):
        peer.dataReceived(wire[start : start + 1000])
    assert peer.received == payloads

    typed = BINARY_PACKAGE.encode(BinarySendData(b"typed", source="twisted"))
    peer.received.clear()
    peer.dataReceived(typed)
    for payload in peer.received:
        peer.sendString(payload)
    for payload in payloads:
        peer.sendString(payload)
    stream = PacketStream(NetworkPacketStructure)
    echoed = stream.feed_payloads(transport.value())
    assert BINARY_PACKAGE.decode_payload(echoed[0]).source == "twisted"
    assert echoed[1:] == payloads
