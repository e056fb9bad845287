"""Acknowledgements of the client's publishes reach the session in order, a read's runs at once.

The fast client hands each run of consecutive PUBACKs (or PUBCOMPs) that one read
brought to the listener in one call; paho's own reader (the public position) hands
them one at a time. Either way the order, the QoS and paho's bookkeeping are the same.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from eq1_network.protocols.mqtt._adapter import PahoAdapter
from eq1_network.protocols.mqtt._paho_fast import BufferedSocket
from eq1_network.protocols.mqtt._tracking import PublishTracker
from eq1_network.protocols.mqtt._window import InflightWindow
from eq1_network.protocols.mqtt.config import BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import Reason


def _ack(first: int) -> Callable[[int], bytes]:
    return lambda mid: bytes((first, 2, mid >> 8, mid & 0xFF))


puback, pubrec, pubcomp = _ack(0x40), _ack(0x50), _ack(0x70)


@pytest.mark.parametrize("fastpath", ["0", "1"])
def test_acknowledgements_keep_their_order_and_one_read_s_runs_go_at_once(
    fastpath: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    listener = mock.Mock()
    adapter = PahoAdapter(BrokerConfig(), ClientConfig(), "cid", listener, fastpath=fastpath)
    try:
        client: Any = adapter._client
        client._sock = BufferedSocket(pair[0]) if fastpath == "1" else pair[0]
        theirs = pair[1]
        q1 = [client.publish("t", b"1", qos=1).mid for _ in range(5)]
        q2 = [client.publish("t", b"2", qos=2).mid for _ in range(2)]
        client._out_packet.clear()
        theirs.sendall(pubrec(q2[0]))  # it now awaits PUBCOMP
        assert adapter._read(client, client._sock)
        theirs.sendall(
            puback(q1[0])
            + puback(q1[1])
            + puback(q1[2])
            + pubcomp(q2[0])  # another kind: a run ends
            + puback(q1[3])
            + puback(999)  # for no message of ours: ignored
            + pubrec(q2[1])  # not a completion: a run ends
            + puback(q1[4])
        )
        assert adapter._read(client, client._sock)

        calls = listener.on_publish_results.call_args_list
        done = [(mid, call.args[1], call.args[2]) for call in calls for mid in call.args[0]]
        success = Reason(0)
        assert done == [
            (q1[0], success, 1),
            (q1[1], success, 1),
            (q1[2], success, 1),
            (q2[0], success, 2),
            (q1[3], success, 1),
            (q1[4], success, 1),
        ]
        assert list(client._out_messages) == [q2[1]] and client._inflight_messages == 1
        sizes = [len(call.args[0]) for call in calls]
        if fastpath == "1":  # paho may read the first packets itself, one at a time
            assert max(sizes) >= 2 and len(calls) < len(done)
        else:
            assert sizes == [1] * len(done)
    finally:
        adapter.close()


def test_a_window_frees_several_slots_at_once_and_never_goes_below_zero() -> None:
    window = InflightWindow((4, 2))
    for qos in (1, 1, 2, 2):
        assert window.admit(qos, mock.Mock())
    window.acknowledged(1, 2)
    assert window.inflight == 2
    window.acknowledged(2, 5)
    assert window.inflight == 0
    assert window.admit(2, mock.Mock()) and window.admit(2, mock.Mock())  # both QoS 2 slots free


def test_a_tracker_settles_several_packet_ids_in_one_call() -> None:
    tracker = PublishTracker()
    first, second = tracker.new_handle(1), tracker.new_handle(1)
    tracker.track(1, first)
    tracker.track(2, second)
    tracker.acknowledge([1, 3, 2], None)  # 3 arrived ahead of its handle: kept
    assert first.wait(0) and second.wait(0) and tracker.unacknowledged() == 0
    late = tracker.new_handle(1)
    tracker.track(3, late)
    assert late.wait(0)  # settled by the outcome that came first
