"""Scripted brokers: one behind a fake adapter (the requirements' mock broker), one on the wire.

``FakeAdapter`` has the interface of ``PahoAdapter``; tests install it with
``unittest.mock.patch.object(MQTTProtocol, "_adapter_factory", broker.factory)``. Events
are delivered from ``loop()``, i.e. on the protocol's network thread, as with paho.
``LostSessionBroker`` speaks MQTT 3.1.1 on 127.0.0.1 and loses a QoS 2 flow's session.
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
from collections import deque
from typing import Any

from eq1_network.common.exceptions import ProtocolError
from eq1_network.common.topics import topic_matches
from eq1_network.protocols.mqtt._adapter import PublishStatus, ServerLimits, Will
from eq1_network.protocols.mqtt.reason_codes import Reason


class WrittenReport:
    """The report of a QoS 0 write; ``error`` set means the message was dropped."""

    def __init__(self, error: ProtocolError | None = None, done: bool = True) -> None:
        self._error = error
        self._done = threading.Event()
        if done:
            self._done.set()

    def finish(self) -> None:
        self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    def error(self) -> ProtocolError | None:
        return self._error


class FakeBroker:
    """What the fake adapters connect to, with knobs for every outcome."""

    def __init__(self) -> None:
        self.connacks: deque[Reason | None] = deque()  # None: never answer
        self.socket_errors: deque[ProtocolError] = deque()
        self.session_present = False
        self.limits = ServerLimits()
        self.suback_codes: dict[str, int] = {}
        self.puback_codes: dict[str, int] = {}
        self.hold_acks = False
        self.hold_subacks = False
        self.echo = True
        self.adapters: list[FakeAdapter] = []
        self.published: list[tuple[str, bytes, int, bool]] = []
        self.publish_options: list[tuple[int | None, tuple[tuple[str, str], ...]]] = []
        self.subscribed: list[tuple[str, int, int | None]] = []
        self.unsubscribed: list[str] = []
        self.connects = 0
        self.lock = threading.Lock()

    def factory(
        self, broker: Any, config: Any, client_id: str, listener: Any, will: Will | None
    ) -> FakeAdapter:
        adapter = FakeAdapter(self, config, client_id, listener, will)
        self.adapters.append(adapter)
        return adapter

    @property
    def adapter(self) -> FakeAdapter:
        return self.adapters[-1]

    def payloads(self) -> list[bytes]:
        with self.lock:
            return [p for _, p, _, _ in self.published]


class FakeAdapter:
    """Implements the adapter interface over :class:`FakeBroker`."""

    _mids = itertools.count(1)

    def __init__(
        self, broker: FakeBroker, config: Any, client_id: str, listener: Any, will: Will | None
    ) -> None:
        self.broker = broker
        self.v5 = config.protocol_version == 5
        self.client_id = client_id
        self.listener = listener
        self.will = will
        self.wills: list[Will | None] = [will]
        self.cond = threading.Condition()
        self.events: deque[tuple[Any, ...]] = deque()
        self.open = False
        self.live = False
        self.subs: dict[str, int | None] = {}
        self.held: list[tuple[int, str]] = []
        self.kept: list[int] = []
        self.qos_of: dict[int, int] = {}
        self.closed = False
        self.qos0_report: Any = None

    # -- connection ----------------------------------------------------------------

    def connect(self) -> None:
        self._open()

    def reconnect(self) -> None:
        self._open()

    def _open(self) -> None:
        broker = self.broker
        broker.connects += 1
        if broker.socket_errors:
            raise broker.socket_errors.popleft()
        with self.cond:
            self.open = True
            self.events.append(("connack",))
            self.cond.notify_all()

    def _push(self, *event: Any) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def loop(self, timeout: float) -> bool:
        with self.cond:
            if not self.open:
                return False
            self.cond.wait_for(lambda: bool(self.events), timeout)
            events = list(self.events)
            self.events.clear()
        for event in events:
            if not self._handle(event):
                return False
        return self.open

    def _handle(self, event: tuple[Any, ...]) -> bool:
        kind = event[0]
        if kind == "connack":
            return self._connack()
        if kind in ("drop", "disconnect"):
            self.open = self.live = False
            self.listener.on_connection_closed(event[1] if len(event) > 1 else None)
            return False
        if kind == "ack":
            self.listener.on_publish_results(
                [event[1]], Reason(event[2]), self.qos_of.pop(event[1], 1)
            )
        elif kind == "suback":
            self.listener.on_subscribe_result(event[1], [Reason(event[2])])
        elif kind == "unsuback":
            self.listener.on_unsubscribe_result(event[1], [Reason(event[2])])
        elif kind == "message":
            self.listener.on_message(event[1], event[2], event[3])
        return True

    def _connack(self) -> bool:
        broker = self.broker
        reason = broker.connacks.popleft() if broker.connacks else Reason(0, v5=self.v5)
        if reason is None:
            return True  # stay silent: the client must time out
        self.listener.on_connack(
            reason, broker.session_present and not reason.is_failure, broker.limits
        )
        if reason.is_failure:
            self.open = False
            self.listener.on_connection_closed(None)
            return False
        self.live = True
        if not broker.session_present:
            self.subs = {}
        for mid in self.kept:  # paho resends what it kept
            self._push("ack", mid, 0)
        self.kept = []
        return True

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def disconnect(self) -> None:
        self._push("disconnect")

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self._push("drop")

    def set_will(self, will: Will | None) -> None:
        self.will = will
        self.wills.append(will)

    def close_detail(self) -> str | None:
        return None

    # -- test controls ---------------------------------------------------------------

    def drop(self, reason: Reason | None = None) -> None:
        """The connection breaks (as if the broker vanished)."""
        self._push("drop", reason)

    def deliver(self, topic: str, payload: bytes, ids: tuple[int, ...] = ()) -> None:
        """A PUBLISH arrives from the broker."""
        self._push("message", topic, payload, ids)

    def release_acks(self) -> None:
        """Acknowledge every held publish."""
        held, self.held = self.held, []
        for mid, topic in held:
            self._push("ack", mid, self.broker.puback_codes.get(topic, 0))

    # -- operations ------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        message_expiry: int | None = None,
        user_properties: Any = (),
    ) -> tuple[PublishStatus, int, Any]:
        mid = next(self._mids)
        broker = self.broker
        if qos:
            self.qos_of[mid] = qos
        if not self.live:
            if qos:
                self.kept.append(mid)
                with broker.lock:
                    broker.published.append((topic, payload, qos, retain))
                return PublishStatus.KEPT, mid, None
            return PublishStatus.NOT_CONNECTED, mid, None
        with broker.lock:
            broker.published.append((topic, payload, qos, retain))
            broker.publish_options.append((message_expiry, tuple(user_properties)))
        report = None
        if qos == 0:
            report = self.qos0_report or WrittenReport()
        elif broker.hold_acks:
            self.held.append((mid, topic))
        else:
            self._push("ack", mid, broker.puback_codes.get(topic, 0))
        if broker.echo:
            self._echo(topic, payload)
        return PublishStatus.SENT, mid, report

    def _echo(self, topic: str, payload: bytes) -> None:
        matched = [(f, sid) for f, sid in self.subs.items() if topic_matches(f, topic)]
        if not matched:
            return
        if self.v5 and all(sid is not None for _, sid in matched):
            for _, sid in matched:  # one copy per subscription, as MQTT 5 brokers do
                assert sid is not None
                self.deliver(topic, payload, (sid,))
        else:
            self.deliver(topic, payload)

    def subscribe(self, topic_filter: str, qos: int, subscription_id: int | None) -> int | None:
        if not self.live:
            return None
        mid = next(self._mids)
        self.broker.subscribed.append((topic_filter, qos, subscription_id))
        code = self.broker.suback_codes.get(topic_filter, qos)
        if code < 0x80:
            self.subs[topic_filter] = subscription_id
        if not self.broker.hold_subacks:
            self._push("suback", mid, code)
        return mid

    def unsubscribe(self, topic_filter: str) -> int | None:
        if not self.live:
            return None
        mid = next(self._mids)
        self.broker.unsubscribed.append(topic_filter)
        self.subs.pop(topic_filter, None)
        self._push("unsuback", mid, 0)
        return mid


class LostSessionBroker:
    """An MQTT 3.1.1 broker on 127.0.0.1 that loses the session of a QoS 2 flow.

    On the first connection it answers a QoS 2 PUBLISH with PUBREC and drops the
    connection when the PUBREL arrives, before PUBCOMP. Every later connection gets
    CONNACK with Session Present 0 and is served normally: PUBLISH gets PUBREC and every
    PUBREL gets PUBCOMP, as a broker without the session answers a PUBREL it cannot match.
    """

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self.connections = 0
        self.pubcomps: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(0.2)
                self._session(conn, first=self.connections == 1)

    def _read_packet(self, conn: socket.socket) -> tuple[int, bytes] | None:
        header = self._read_exact(conn, 1)
        if header is None:
            return None
        length, shift = 0, 0
        while True:
            byte = self._read_exact(conn, 1)
            if byte is None:
                return None
            length |= (byte[0] & 0x7F) << shift
            shift += 7
            if not byte[0] & 0x80:
                break
        body = self._read_exact(conn, length) if length else b""
        return None if body is None else (header[0], body)

    def _read_exact(self, conn: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            if self._stop.is_set():
                return None
            try:
                chunk = conn.recv(size - len(data))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _session(self, conn: socket.socket, first: bool) -> None:
        while (packet := self._read_packet(conn)) is not None:
            kind, body = packet[0] >> 4, packet[1]
            if kind == 1:  # CONNECT: accepted, no stored session
                conn.sendall(b"\x20\x02\x00\x00")
            elif kind == 3 and (packet[0] >> 1) & 3 == 2:  # QoS 2 PUBLISH
                (topic_len,) = struct.unpack_from("!H", body)
                conn.sendall(b"\x50\x02" + body[2 + topic_len : 4 + topic_len])
            elif kind == 6:  # PUBREL
                if first:
                    return  # the connection drops before PUBCOMP
                self.pubcomps.append(struct.unpack_from("!H", body)[0])
                conn.sendall(b"\x70\x02" + body[:2])
            elif kind == 12:  # PINGREQ
                conn.sendall(b"\xd0\x00")
            elif kind == 14:  # DISCONNECT
                return
