"""The read side of the fast paho client: acknowledgements and QoS 2 flows settled in runs.

:class:`AckSettler` handles the acknowledgement packets the fast client takes from the
read buffer as paho's reader would, in paho's own session state and output queue, a run
of consecutive packets of one kind at a time (one lock of each kind per run).
:class:`._paho_fast.FastClient` builds on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from eq1_network.common.logging import get_logger
from eq1_network.protocols.mqtt._paho_io import MQTT_OK, BufferedSocket, QoS0Write
from eq1_network.protocols.mqtt._publish_codec import (
    DISCONNECT_COMMAND,
    PUBACK_COMMAND,
    PUBCOMP_COMMAND,
    PUBLISH_COMMAND,
    PUBREC_COMMAND,
    PUBREL_COMMAND,
    Deliver,
    Held,
    ack_packet,
)

__all__ = ["AckSettler", "MessageRecord", "properties_of"]

logger = get_logger("eq1_network.protocols.mqtt._paho_fast")
"""Logs under the fast client's module, whose part this is."""


def properties_of(packet_type: int) -> Properties:
    """Return an empty paho ``Properties`` of the packet type ``packet_type``."""
    return Properties(packet_type)  # type: ignore[no-untyped-call]


_ACK_SUCCESS = {
    is_puback: (ReasonCode(packet_type), properties_of(packet_type))
    for is_puback, packet_type in ((True, PacketTypes.PUBACK), (False, PacketTypes.PUBCOMP))
}


class _Unreported:
    """The ``info`` of a QoS 1/2 message queued by ``FastClient.publish_acknowledged()``.

    Its outcome reaches the adapter through :attr:`AckSettler.ack_listener`, so what paho
    reports here (its writer's and acknowledgement routine's ``_set_as_published()``)
    is not needed; one shared instance serves every such message.
    """

    __slots__ = ("rc",)

    def __init__(self) -> None:
        self.rc = MQTT_OK

    def _set_as_published(self) -> None:
        pass


_UNREPORTED = _Unreported()


class MessageRecord(paho.MQTTMessage):
    """paho's record of a QoS 1/2 message, without its own condition variable.

    Used for the messages the client publishes and for the QoS 2 messages it holds until
    their PUBREL.

    paho's ``MQTTMessage()`` builds a ``MQTTMessageInfo``, with a condition variable, for
    every message; the adapter learns outcomes from the acknowledgements instead. Every
    slot paho's class declares is set (:mod:`._paho_layout` checks the slots).
    """

    __slots__ = ()

    def __init__(
        self, mid: int, topic: bytes, payload: bytes, qos: int, retain: bool, state: Any
    ) -> None:
        self.timestamp = paho.time_func()
        self.state = state
        self.dup = False
        self.mid = mid
        self._topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.info = _UNREPORTED  # type: ignore[assignment] # paho calls _set_as_published() only
        self.properties = None


class AckSettler(paho.Client):
    """paho's client with the acknowledgement handling of the fast client.

    Attributes:
        ack_listener: Called with ``(packet ids, reason)`` for acknowledged QoS 1/2
            publishes (PUBACK, PUBCOMP, or a refusing MQTT 5 PUBREC), in the order of
            their acknowledgements: once for a run of PUBACKs (or PUBCOMPs) that one
            read brought, else once per acknowledgement.
    """

    ack_listener: Callable[[Sequence[int], ReasonCode], None] | None = None

    def _queue_packet(
        self, command: int, mid: int, packet: bytes, report: QoS0Write | None, qos: int = 0
    ) -> None:
        """Append a packet to paho's output queue, in the form paho's writer takes."""
        self._out_packet.append(
            {
                "command": command,
                "mid": mid,
                "qos": qos,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": report,  # type: ignore[typeddict-item] # paho reads rc and _set_as_published() only
            }
        )

    def _packet_write(self) -> MQTTErrorCode:
        """Write the output queue into the buffered socket in one piece.

        paho's writer takes one packet per pass: a slice, a ``send``, its bookkeeping and
        a lock for each. Into a :class:`BufferedSocket` (whose ``send`` takes everything
        or raises the error it stored) the packets before the next DISCONNECT are joined
        and handed over at once, and each written QoS 0 message is reported as paho
        reports it. A DISCONNECT, a failed socket, a set ``on_publish`` or another
        socket leave the rest to paho's writer.
        """
        sock, out = self._sock, self._out_packet
        if type(sock) is not BufferedSocket or sock.broken or self.on_publish is not None:
            return super()._packet_write()
        chunks: list[bytes | bytearray] = []
        written: list[Any] = []
        while out:
            packet = out[0]
            kind = packet["command"] & 0xF0
            if kind == DISCONNECT_COMMAND:
                break
            out.popleft()
            pos = packet["pos"]
            chunks.append(packet["packet"][pos:] if pos else packet["packet"])
            packet["pos"], packet["to_process"] = pos + packet["to_process"], 0
            if kind == PUBLISH_COMMAND and not packet["qos"]:
                written.append(packet["info"])
        if chunks:
            sock.send(b"".join(chunks) if len(chunks) > 1 else chunks[0])
            for info in written:
                if info is not None:
                    info._set_as_published()  # noqa: SLF001 - what paho's writer calls
            with self._msgtime_mutex:
                self._last_msg_out = paho.time_func()
        return super()._packet_write() if out else MQTT_OK

    def _acknowledge(self, mids: list[int], is_puback: bool) -> MQTTErrorCode:
        """Complete publishes with successful MQTT 3.1.1 PUBACKs or PUBCOMPs, in order.

        One report to :attr:`ack_listener` for the publishes paho still holds, then paho's
        own completion routine for each, all under paho's lock of its session state.
        """
        rc = MQTT_OK
        with self._out_message_mutex:
            out = self._out_messages
            known = [mid for mid in mids if mid in out]
            if not known:
                return rc
            reason, props = _ACK_SUCCESS[is_puback]
            self._report(known, reason)
            complete = super()._do_on_publish
            for mid in known:
                code = complete(mid, reason, props)
                if code != MQTT_OK and rc == MQTT_OK:
                    rc = code
        return rc

    def _report(self, mids: list[int], reason: ReasonCode) -> None:
        listener = self.ack_listener
        if listener is not None:
            try:
                listener(mids, reason)
            except Exception:
                logger.exception("publish acknowledgement handler failed for packet ids %s", mids)

    def _settle(self, entries: list[int], deliver: Deliver) -> None:
        """Handle acknowledgement packets taken by :func:`scan_acks`, as paho's reader would.

        Consecutive packets of one kind are handled as a run, in order (:meth:`_settle_run`).
        """
        run: list[int] = []  # packet ids of consecutive packets of one kind
        run_kind = 0
        for entry in entries:
            kind = entry >> 16
            if kind != run_kind:
                if run:
                    self._settle_run(run_kind, run, deliver)
                    run = []
                run_kind = kind
            run.append(entry & 0xFFFF)
        if run:
            self._settle_run(run_kind, run, deliver)

    def _settle_run(self, kind: int, mids: list[int], deliver: Deliver) -> None:
        """Handle a run of one kind of acknowledgement packet.

        PUBACK and PUBCOMP complete the client's publishes (through :meth:`_acknowledge`,
        as :meth:`_handle_pubackcomp` does); PUBREC marks them as awaiting PUBCOMP and
        queues their PUBREL; PUBREL delivers the held QoS 2 messages and queues PUBCOMP.
        """
        if kind == PUBREC_COMMAND:
            self._release(mids)
        elif kind == PUBREL_COMMAND:
            self._complete_held(mids, deliver)
        else:
            self._acknowledge(mids, kind == PUBACK_COMMAND)

    def _release(self, mids: list[int]) -> None:
        """PUBRECs of publishes: await PUBCOMP and queue PUBREL (paho's routine)."""
        with self._out_message_mutex:
            out = self._out_messages
            for mid in mids:
                message = out.get(mid)
                if message is not None:
                    message.state = paho.mqtt_ms_wait_for_pubcomp
                    message.timestamp = paho.time_func()
                    packet = ack_packet(PUBREL_COMMAND, mid)
                    self._queue_packet(PUBREL_COMMAND, mid, packet, None, 1)

    def _complete_held(self, mids: list[int], deliver: Deliver) -> None:
        """PUBRELs of held messages: deliver them and queue PUBCOMP (paho's routine)."""
        with self._in_message_mutex:
            held = [self._in_messages.pop(mid, None) for mid in mids]
        for mid, message in zip(mids, held, strict=True):
            if message is not None:
                topic, payload = message.topic, message.payload
                try:
                    deliver(
                        topic,
                        payload if type(payload) is bytes else bytes(payload),
                        2,
                        message.retain,
                    )
                except Exception:
                    logger.exception("message handler failed for a message on %r", topic)
            # paho completes an unknown packet id too, so that the broker stops resending.
            self._queue_packet(PUBCOMP_COMMAND, mid, ack_packet(PUBCOMP_COMMAND, mid), None, 1)
        if self._max_inflight_messages and any(message is not None for message in held):
            with self._out_message_mutex:
                self._update_inflight()

    def _hold(self, held: list[Held]) -> None:
        """Keep QoS 2 messages until their PUBREL, as paho's reader does."""
        with self._in_message_mutex:
            for mid, topic, payload, retain, dup in held:
                message = MessageRecord(
                    mid, topic.encode(), payload, 2, retain, paho.mqtt_ms_wait_for_pubrel
                )
                message.dup = dup
                self._in_messages[mid] = message
