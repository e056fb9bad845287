"""The fast client's writer: paho's output queue handed to the buffered socket at once."""

from __future__ import annotations

import socket
import time
from typing import Any
from unittest import mock

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from eq1_network.protocols.mqtt._paho_fast import BufferedSocket, FastClient, QoS0Write


def client_on(sock: Any) -> FastClient:
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="writer")
    client.max_inflight_messages_set(0)  # the adapter keeps the window itself
    # As the adapter does: paho asks for a write instead of writing from its caller.
    client.on_socket_register_write = lambda *args: None
    client._sock = sock
    return client


def fill(client: FastClient) -> tuple[list[QoS0Write], list[bytes]]:
    """Queue QoS 0, QoS 1 and QoS 2 publishes and a PINGREQ (paho's own queueing)."""
    reports = []
    for n in range(3):
        report = client.publish_qos0(f"t/{n}", b"zero %d" % n, False)
        assert report is not None
        reports.append(report)
    assert client.publish_acknowledged("t/1", b"one", 1, False) is not None
    assert client.publish_acknowledged("t/2", b"two", 2, True) is not None
    client._send_pingreq()
    return reports, [bytes(p["packet"]) for p in client._out_packet]


def paho_writes(packets: list[dict[str, Any]]) -> bytes:
    """What paho's own writer sends for ``packets``, packet by packet."""
    sent = bytearray()
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="reference")
    sock = mock.Mock()
    sock.send.side_effect = lambda data: sent.extend(data) or len(data)
    client._sock = sock
    client._out_packet.extend(dict(p) for p in packets)
    assert paho.Client._packet_write(client) == MQTTErrorCode.MQTT_ERR_SUCCESS
    client._sock = None
    return bytes(sent)


def test_the_queue_is_written_in_one_piece_as_paho_writes_it(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sock = BufferedSocket(pair[0])
    client = client_on(sock)
    reports, packets = fill(client)
    assert len(packets) == 6
    expected = paho_writes([dict(p) for p in client._out_packet])
    assert expected == b"".join(packets)
    sends = mock.patch.object(
        BufferedSocket, "send", autospec=True, side_effect=BufferedSocket.send
    )
    client._last_msg_out = 0.0
    with sends as send:
        assert client._packet_write() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert send.call_count == 1 and bytes(sock._wbuf) == expected
    assert not client._out_packet
    assert all(report.done() and report.error() is None for report in reports)
    assert 0.0 < client._last_msg_out <= time.monotonic()
    sock.flush()
    got = b""
    while len(got) < len(expected):
        got += pair[1].recv(65536)
    assert got == expected
    client._sock = None


def test_a_disconnect_ends_the_piece_and_paho_s_writer_takes_it(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sock = BufferedSocket(pair[0])
    client = client_on(sock)
    before = client.publish_qos0("t/a", b"before", False)
    client._send_disconnect()  # paho queues DISCONNECT
    after = client.publish_qos0("t/b", b"after", False)
    assert before is not None and after is not None
    first, disconnect, rest = (bytes(p["packet"]) for p in client._out_packet)
    on_disconnect = mock.Mock()
    client.on_disconnect = on_disconnect
    client._packet_write()
    assert before.done() and not after.done()
    assert [bytes(p["packet"]) for p in client._out_packet] == [rest]
    assert client._sock is None  # paho closed the connection after its DISCONNECT
    on_disconnect.assert_called_once()
    got = b""
    while len(got) < len(first + disconnect):
        data = pair[1].recv(65536)
        assert data
        got += data
    assert got == first + disconnect


@pytest.mark.parametrize("position", ["broken socket", "on_publish set", "plain socket"])
def test_paho_s_writer_keeps_what_the_fast_writer_does_not_handle(
    pair: tuple[socket.socket, socket.socket], position: str
) -> None:
    sock: Any = BufferedSocket(pair[0])
    client = client_on(sock)
    report = client.publish_qos0("t/x", b"payload", False)
    assert report is not None
    paho_writer = mock.patch.object(
        paho.Client, "_packet_write", autospec=True, return_value=MQTTErrorCode.MQTT_ERR_AGAIN
    )
    if position == "broken socket":
        sock._broken = OSError("reset")
    elif position == "on_publish set":
        client.on_publish = mock.Mock()
    else:
        client._sock = pair[0]
    with paho_writer as written:
        assert client._packet_write() == MQTTErrorCode.MQTT_ERR_AGAIN
    written.assert_called_once_with(client)
    assert len(client._out_packet) == 1 and not report.done()
    client._sock = None


def one_qos0_queued(ours: socket.socket) -> tuple[BufferedSocket, FastClient]:
    """A fast client on ``ours`` (buffered) with one QoS 0 PUBLISH queued."""
    sock = BufferedSocket(ours)
    client = client_on(sock)
    assert client.publish_qos0("t/x", b"payload", False) is not None
    return sock, client


def test_a_broken_socket_keeps_the_packet_queued_as_paho_does(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sock, client = one_qos0_queued(pair[0])
    sock._broken = OSError("reset")
    assert client._packet_write() == MQTTErrorCode.MQTT_ERR_CONN_LOST
    assert len(client._out_packet) == 1
    client._sock = None


def test_a_packet_paho_started_is_finished_from_where_it_stopped(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sock, client = one_qos0_queued(pair[0])
    packet = client._out_packet[0]
    whole = bytes(packet["packet"])
    packet["pos"], packet["to_process"] = 3, len(whole) - 3  # paho wrote 3 bytes earlier
    client._packet_write()
    assert bytes(sock._wbuf) == whole[3:]
    assert packet["to_process"] == 0 and packet["pos"] == len(whole)
    client._sock = None
