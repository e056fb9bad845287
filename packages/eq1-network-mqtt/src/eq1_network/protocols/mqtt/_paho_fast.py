"""paho-mqtt's client, made faster through its internals.

:class:`FastClient` overrides private methods of ``paho.mqtt.client.Client``, reads and
updates its private session state and queues packets on paho's own output queue;
:mod:`._paho_layout` checks the installed paho has what these rely on before the adapter
uses this class. :class:`BufferedSocket` (from :mod:`._paho_io`) wraps the connection
socket.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from eq1_network.common.logging import get_logger
from eq1_network.protocols.mqtt._paho_io import MQTT_OK, BufferedSocket, QoS0Write
from eq1_network.protocols.mqtt._paho_settle import AckSettler, MessageRecord, properties_of
from eq1_network.protocols.mqtt._publish_codec import (
    PUBLISH_COMMAND,
    Deliver,
    Held,
    PublishEncoder,
    ack_packet,
    scan_acks,
    scan_publishes,
)

__all__ = ["BufferedSocket", "FastClient", "QoS0Write"]

logger = get_logger(__name__)

_MID = struct.Struct("!H")

_NO_CONN = MQTTErrorCode.MQTT_ERR_NO_CONN  # bound once, as MQTT_OK


_WAIT_STATE = {1: paho.mqtt_ms_wait_for_puback, 2: paho.mqtt_ms_wait_for_pubrec}
"""The state paho gives a QoS 1 or QoS 2 message written for the first time."""


class FastClient(AckSettler):
    """paho's client, tuned for throughput where paho spends most per message.

    - Socket: the connection is wrapped in :class:`BufferedSocket`: paho's reader takes
      each header byte from memory instead of one ``recv()`` per byte.
    - Acknowledgements: for every PUBACK/PUBCOMP paho builds a fresh ``ReasonCode`` and
      ``Properties``, even on MQTT 3.1.1 where the packet is only a packet id. On 3.1.1
      connections the override decodes the packet id and hands paho's own completion
      routine shared "Success" objects.
    - Reporting: acknowledgements are reported from ``_do_on_publish`` so that
      ``on_publish`` stays unset; otherwise paho builds both objects again for every QoS 0
      message it writes.

    - Session state: the QoS 2 flows paho finishes with PUBREL are read from its state
      (:meth:`lost_qos2_mids`), and an MQTT 5 PUBREC with a failure code ends the flow as
      a failed publish.

    - QoS 0 publishing: :meth:`publish_qos0` encodes the PUBLISH packet and appends it
      to paho's output queue, where paho's writer sends it in order with everything
      else. paho's ``publish()`` also checks the topic (the caller already did), takes a
      packet id under a lock, builds a ``MQTTMessageInfo`` with its own condition
      variable and logs through several calls; none of that is needed for QoS 0.
    - QoS 1/2 publishing: :meth:`publish_acknowledged` records the message in paho's
      session state as paho's ``publish()`` does (so that paho resends it after a
      reconnection and completes it on its acknowledgement), without the per-message
      ``MQTTMessageInfo``, and queues the packet as :meth:`publish_qos0` does.
    - Receiving: :meth:`take_publishes` decodes the PUBLISH, PUBACK, PUBREC, PUBREL and
      PUBCOMP packets already in the read buffer and handles them as paho's reader does
      (messages to :attr:`message_listener`, QoS 2 ones at their PUBREL; the answers
      queued; acknowledgements to paho's completion routine), instead of
      paho's reader taking them a byte at a time and building a ``MQTTMessage`` (with
      its own condition variable) and a topic match for each.

    Used only when :func:`._paho_layout.check_layout` found the internals these rely on;
    MQTT 5 acknowledgements and packets the overrides do not expect go to paho's code.

    Attributes:
        ack_listener: As :class:`._paho_settle.AckSettler`'s.
        message_listener: Called with ``(topic, payload, qos, retain)`` for every message
            :meth:`take_publishes` takes; paho's ``on_message`` gets the others.
        last_socket: The wrapped socket of the latest connection, if any.
    """

    fastpath = True
    message_listener: Deliver | None = None
    _encoder: PublishEncoder | None = None

    def deliver_messages_to(self, on_message: Callable[..., None]) -> None:
        """Set :attr:`message_listener` to pass messages on as the adapter's events do.

        Args:
            on_message: Called with ``(topic, payload, subscription ids, (qos, retain,
                properties))``, like ``AdapterListener.on_message``; a message taken by
                :meth:`take_publishes` has no subscription ids and no properties.
        """

        def deliver(topic: str, payload: bytes, qos: int, retain: bool) -> None:
            on_message(topic, payload, (), (qos, retain, None))

        self.message_listener = deliver

    def publish_qos0(self, topic: str, payload: bytes, retain: bool) -> QoS0Write | None:
        """Queue a QoS 0 PUBLISH without properties on paho's output queue.

        The caller has checked the topic and the payload, and wakes the network loop,
        which writes the queue.

        Args:
            topic: A valid topic name.
            payload: The payload.
            retain: The retain flag.

        Returns:
            The write report, or ``None`` when there is no connection (nothing queued).
        """
        if self._sock is None:
            return None
        encoder = self._encoder
        if encoder is None:
            encoder = self._encoder = PublishEncoder(self._protocol == paho.MQTTv5)
        report = QoS0Write()
        self._queue_packet(PUBLISH_COMMAND, 0, encoder.qos0(topic, payload, retain), report)
        return report

    def publish_acknowledged(
        self, topic: str, payload: bytes, qos: int, retain: bool
    ) -> int | None:
        """Queue a QoS 1 or QoS 2 PUBLISH without properties, as paho's ``publish()`` would.

        The caller has checked the topic and the payload, and wakes the network loop,
        which writes the queue. Only for a connected MQTT 3.1.1 session with paho's own
        limits off (the adapter keeps the in-flight window itself).

        Args:
            topic: A valid topic name.
            payload: The payload.
            qos: 1 or 2.
            retain: The retain flag.

        Returns:
            The packet id; ``None`` when paho's ``publish()`` must take the message
            (no connection, MQTT 5, a limit of paho's set, or the id still in use).
        """
        if (
            self._sock is None
            or self._protocol == paho.MQTTv5
            or self._max_inflight_messages
            or self._max_queued_messages
        ):
            return None
        encoder = self._encoder
        if encoder is None:
            encoder = self._encoder = PublishEncoder(False)  # MQTT 3.1.1 only, as checked
        mid = self._mid_generate()
        packet = encoder.acknowledged(topic, payload, qos, retain, mid)
        message = MessageRecord(mid, topic.encode(), payload, qos, retain, _WAIT_STATE[qos])
        with self._out_message_mutex:
            if mid in self._out_messages:
                return None
            self._out_messages[mid] = message
            self._inflight_messages += 1
            self._queue_packet(PUBLISH_COMMAND, mid, packet, None, qos)
        return mid

    def _takes_packets(self) -> bool:
        return (
            self.message_listener is not None
            and self._protocol != paho.MQTTv5
            and not self._manual_ack
        )

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read with paho's reader: one packet when :meth:`take_publishes` takes the rest.

        paho's own ``loop_read`` reads as many packets as messages are in flight, which
        would leave :meth:`take_publishes` nothing to take.

        Args:
            max_packets: Ignored, as paho does.

        Returns:
            paho's result code.
        """
        if not self._takes_packets():
            return super().loop_read(max_packets)
        if self._sock is None:
            return _NO_CONN
        rc = self._packet_read()
        if rc > 0:
            return self._loop_rc_handle(rc)
        return MQTT_OK

    def take_publishes(self) -> int:
        """Take the PUBLISH and the acknowledgement packets waiting in the read buffer.

        Runs on the network thread between paho's reads, when paho is between packets,
        the connection speaks MQTT 3.1.1 or 3.1, and :attr:`message_listener` is set.
        Packets are handled as paho's reader would, in stream order: a QoS 0/1 message
        goes to :attr:`message_listener` (a QoS 1 one's PUBACK queued after it); a QoS 2
        message is held (:meth:`_hold`, its PUBREC queued) and delivered at its PUBREL;
        the acknowledgements of the client's own publishes go to :meth:`_settle`. The
        first packet that is anything else stays in the buffer for paho.

        Returns:
            The number of bytes taken from the buffer.
        """
        sock, deliver = self._sock, self.message_listener
        if (
            deliver is None
            or not isinstance(sock, BufferedSocket)
            or self._in_packet["command"]
            or not self._takes_packets()
        ):
            return 0
        buf, start = sock.unread()
        acks: list[int] = []
        held: list[Held] = []
        entries: list[int] = []
        pos = start
        while True:
            mark = pos
            pos = scan_publishes(buf, pos, deliver, acks, held)
            if held:
                self._hold(held)
                held.clear()
            for entry in acks:  # PUBACK (QoS 1) or PUBREC (QoS 2), in order
                first, mid = entry >> 16, entry & 0xFFFF
                self._queue_packet(first, mid, ack_packet(first, mid), None, 1)
            acks.clear()
            pos = scan_acks(buf, pos, entries)
            if entries:
                self._settle(entries, deliver)
                entries.clear()
            if pos == mark:
                break
        if pos == start:
            return 0
        count = sock.consume_to(pos)
        # When input last arrived, for paho's keep-alive: its name since paho 2.2, before.
        name = "_last_bytes_received" if hasattr(self, "_last_bytes_received") else "_last_msg_in"
        with self._msgtime_mutex:
            setattr(self, name, paho.time_func())
        return count

    def lost_qos2_mids(self) -> list[int]:
        """Packet ids of QoS 2 messages paho will finish with PUBREL on this connection.

        Called from the CONNACK callback, where paho has already marked the QoS 2
        messages whose PUBREC arrived before the connection loss (it resends PUBREL for
        them right after the callback returns). Reads paho's state, never writes it.

        Returns:
            Their packet ids.
        """
        with self._out_message_mutex:
            return [
                mid
                for mid, message in self._out_messages.items()
                if message.qos == 2 and message.state == paho.mqtt_ms_resend_pubrel
            ]

    def _handle_pubrec(self) -> MQTTErrorCode:
        # paho ignores a PUBREC's reason code and answers PUBREL even to a refusal. In
        # MQTT 5 a failure code (>= 0x80) ends the flow: report it like a PUBACK failure.
        packet = self._in_packet["packet"]
        if self._protocol != paho.MQTTv5 or len(packet) < 3:
            return super()._handle_pubrec()
        (mid,) = _MID.unpack_from(packet)
        code = packet[2]
        if code < 0x80:
            return super()._handle_pubrec()
        with self._out_message_mutex:
            if mid in self._out_messages:
                reason = ReasonCode(PacketTypes.PUBREC, identifier=code)
                return self._do_on_publish(mid, reason, properties_of(PacketTypes.PUBREC))
        return MQTT_OK

    last_socket: BufferedSocket | None = None

    def _create_socket(self) -> Any:
        self.last_socket = None
        wrapped = BufferedSocket(super()._create_socket())
        self.last_socket = wrapped
        return wrapped

    def _do_on_publish(self, mid: int, reason_code: ReasonCode, properties: Any) -> MQTTErrorCode:
        # paho calls this only for acknowledged QoS 1/2 messages. Reporting from here
        # instead of through ``on_publish`` keeps ``on_publish`` unset, which spares paho
        # building a ReasonCode and a Properties object for every QoS 0 message written.
        self._report([mid], reason_code)
        return super()._do_on_publish(mid, reason_code, properties)

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        if self._protocol == paho.MQTTv5 or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)
        (mid,) = _MID.unpack(packet)
        return self._acknowledge([mid], cmd == "PUBACK")
