"""The one module that talks to paho-mqtt.

Everything paho-specific lives here: building the client from our configuration, TLS,
the Will, MQTT 5 properties, translating paho's callbacks and return codes into plain
events (:class:`AdapterListener`) and statuses, and mapping socket/TLS errors to our
exceptions. Replacing the MQTT library means rewriting this module only.

The network loop is ours: :meth:`PahoAdapter.loop` runs one ``select()`` round over the
connection and a wake-up socket and lets paho read, write and keep the connection
alive. Publishing threads never write to the socket themselves; they queue packets and
wake the loop. The connection socket is wrapped so that paho's many one-byte reads are
served from one large ``recv()`` and its many small writes leave in one ``send()``.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolTimeoutError,
)
from eq1_network.common.policies import TLSConfig
from eq1_network.protocols.mqtt._messages import MessageMeta
from eq1_network.protocols.mqtt._tracking import Completion
from eq1_network.protocols.mqtt.config import MQTT_V5, MQTT_V31, BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import Reason

__all__ = [
    "AdapterListener",
    "PahoAdapter",
    "PublishStatus",
    "ServerLimits",
    "Will",
]

logger = logging.getLogger(__name__)


def _properties_of(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]


_MID = struct.Struct("!H")
_ACK_SUCCESS = {
    is_puback: (ReasonCode(packet_type), _properties_of(packet_type))
    for is_puback, packet_type in ((True, PacketTypes.PUBACK), (False, PacketTypes.PUBCOMP))
}
_READ_CHUNK = 65536
_MAX_READ_ROUNDS = 64
_V3_CONNACK_BY_NAME = {
    "Success": 0,
    "Unsupported protocol version": 1,
    "Client identifier not valid": 2,
    "Server unavailable": 3,
    "Bad user name or password": 4,
    "Not authorized": 5,
}


class PublishStatus(enum.Enum):
    """What became of a publish handed to the library."""

    SENT = "sent"
    """Queued on the live connection (QoS 0 is written by the loop, QoS 1/2 awaits ack)."""
    KEPT = "kept"
    """QoS 1/2 while the link just dropped: the library keeps it and resends on reconnect."""
    NOT_CONNECTED = "not_connected"
    """QoS 0 while the link just dropped: nothing was queued."""


@dataclass(frozen=True)
class ServerLimits:
    """What the broker announced in CONNACK (MQTT 5; defaults for 3.1.1).

    Attributes:
        receive_maximum: Most unacknowledged QoS 1/2 messages it accepts, if announced.
        subscription_identifiers: Whether it supports subscription identifiers.
    """

    receive_maximum: int | None = None
    subscription_identifiers: bool = False


@dataclass(frozen=True)
class Will:
    """The Will message the broker publishes if the connection ends without DISCONNECT.

    Attributes:
        topic: Topic name.
        payload: Payload bytes.
        qos: 0, 1 or 2.
        retain: Retain flag.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool


class AdapterListener(Protocol):
    """Receives the adapter's events; every method runs on the network thread."""

    def on_connack(self, reason: Reason, session_present: bool, limits: ServerLimits) -> None:
        """CONNACK arrived (accepted or refused)."""

    def on_connection_closed(self, reason: Reason | None) -> None:
        """The connection ended (lost, refused, or closed by ``disconnect()``)."""

    def on_message(
        self,
        topic: str,
        payload: bytes,
        subscription_ids: tuple[int, ...],
        meta: MessageMeta | None = None,
    ) -> None:
        """A PUBLISH arrived (already acknowledged as its QoS requires).

        ``meta`` is ``(qos, retain, paho properties or None)``.
        """

    def on_publish_result(self, mid: int, reason: Reason, qos: int) -> None:
        """A QoS 1/2 publish was acknowledged (PUBACK / PUBCOMP), possibly with a failure."""

    def before_write(self) -> None:
        """Called in every network round after reading and before writing."""

    def on_subscribe_result(self, mid: int, reasons: list[Reason]) -> None:
        """SUBACK arrived, one reason per filter."""

    def on_unsubscribe_result(self, mid: int, reasons: list[Reason]) -> None:
        """UNSUBACK arrived."""


class _BufferedSocket:
    """Wraps the connection socket: buffered reads, coalesced writes.

    paho reads a packet one header byte at a time; here one ``recv()`` fills a buffer
    that serves those reads. Writes are collected and sent by :meth:`flush`, which the
    network loop calls once per round.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._rbuf = b""
        self._rpos = 0
        self._wbuf = bytearray()
        self._broken: OSError | None = None
        self.received = 0
        self.read_error: OSError | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def recv(self, size: int) -> bytes:
        if self._broken is not None:
            raise self._broken
        if self._rpos >= len(self._rbuf):
            try:
                data = self._sock.recv(_READ_CHUNK)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except OSError as exc:
                self.read_error = exc
                raise
            if not data:
                return b""
            self.received += len(data)
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = min(start + size, len(self._rbuf))
        return self._rbuf[start : self._rpos]

    def buffered(self) -> int:
        return len(self._rbuf) - self._rpos

    def take_frame(self) -> tuple[int, int, bytes] | None:
        """Remove one complete MQTT packet from the buffer, if there is one.

        Returns:
            ``(first header byte, remaining length, rest of the packet)``, or ``None``
            when the buffer holds no complete packet (paho then reads it its own way).
        """
        buf, pos = self._rbuf, self._rpos
        end = len(buf)
        if end - pos < 2:
            return None
        length, mult, index = 0, 1, pos + 1
        while True:
            if index >= end or index - pos > 4:
                return None
            byte = buf[index]
            length += (byte & 127) * mult
            mult *= 128
            index += 1
            if not byte & 128:
                break
        if index + length > end:
            return None
        self._rpos = index + length
        return buf[pos], length, buf[index : self._rpos]

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return self.buffered() + (int(inner()) if inner is not None else 0)

    def send(self, data: bytes | bytearray | memoryview) -> int:
        if self._broken is not None:
            raise self._broken
        self._wbuf += data
        return len(data)

    def has_output(self) -> bool:
        return bool(self._wbuf)

    def flush(self) -> None:
        """Send what the socket takes now; on a socket error, remember it for reads."""
        while self._wbuf and self._broken is None:
            try:
                sent = self._sock.send(self._wbuf)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            except OSError as exc:
                self._broken = exc
                return
            del self._wbuf[:sent]

    def close(self) -> None:
        if self._wbuf and self._broken is None:
            with contextlib.suppress(OSError, ValueError):
                self._sock.settimeout(1.0)
                self._sock.sendall(self._wbuf)
        self._wbuf.clear()
        self._sock.close()


class _WriteReport:
    """Completion of a QoS 0 message, read from paho's ``MQTTMessageInfo``."""

    __slots__ = ("_info",)

    def __init__(self, info: paho.MQTTMessageInfo) -> None:
        self._info = info

    def done(self) -> bool:
        try:
            return self._info.is_published()
        except (RuntimeError, ValueError):  # paho raises once the message was dropped
            return True

    def wait(self, timeout: float | None) -> bool:
        try:
            self._info.wait_for_publish(timeout)  # returns quietly on timeout
        except (RuntimeError, ValueError):
            return True
        return self.done()

    def error(self) -> ProtocolError | None:
        if self._info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return ProtocolConnectionError(
            f"QoS 0 message not sent: {paho.error_string(self._info.rc)}"
        )


class _Client(paho.Client):
    """paho's client, tuned for throughput where paho spends most per message.

    - Socket: the connection is wrapped in :class:`_BufferedSocket`, and a packet that is
      already buffered whole is handed to paho's read state in one step instead of one
      ``recv()`` per header byte.
    - Acknowledgements: for every PUBACK/PUBCOMP paho builds a fresh ``ReasonCode`` and
      ``Properties``, even on MQTT 3.1.1 where the packet is only a packet id. On 3.1.1
      connections the override decodes the packet id and hands paho's own completion
      routine shared "Success" objects.
    - Reporting: acknowledgements are reported from ``_do_on_publish`` so that
      ``on_publish`` stays unset; otherwise paho builds both objects again for every QoS 0
      message it writes.

    These rely on internals that are identical in paho-mqtt 2.0 to 2.2 (the dependency is
    pinned below 3) and fall back to paho's code for MQTT 5 and anything unexpected.
    """

    ack_listener: Callable[[int, ReasonCode], None] | None = None
    session_internals: bool = False

    def restart_lost_qos2(self) -> int:
        """Make QoS 2 messages waiting for PUBCOMP start over with PUBLISH.

        Called from the CONNACK callback when the broker has no stored session: it does
        not know their packet ids, so a PUBREL would be answered with a PUBCOMP (MQTT
        3.1.1: a success) for a message it never released. paho resends the messages in
        the state set here right after the callback returns.

        Returns:
            How many messages were changed (0 when the internals are switched off).
        """
        if not self.session_internals:
            return 0
        changed = 0
        with self._out_message_mutex:
            for message in self._out_messages.values():
                if message.qos == 2 and message.state == paho.mqtt_ms_resend_pubrel:
                    message.state = paho.mqtt_ms_publish
                    message.dup = True
                    changed += 1
        return changed

    def _handle_pubrec(self) -> MQTTErrorCode:
        # paho ignores a PUBREC's reason code and answers PUBREL even to a refusal. In
        # MQTT 5 a failure code (>= 0x80) ends the flow: report it like a PUBACK failure.
        packet = self._in_packet["packet"]
        if not self.session_internals or self._protocol != paho.MQTTv5 or len(packet) < 3:
            return super()._handle_pubrec()
        (mid,) = _MID.unpack_from(packet)
        code = packet[2]
        if code < 0x80:
            return super()._handle_pubrec()
        with self._out_message_mutex:
            if mid in self._out_messages:
                reason = ReasonCode(PacketTypes.PUBREC, identifier=code)
                return self._do_on_publish(mid, reason, _properties_of(PacketTypes.PUBREC))
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    last_socket: _BufferedSocket | None = None

    def _create_socket(self) -> Any:
        self.last_socket = None
        wrapped = _BufferedSocket(super()._create_socket())
        self.last_socket = wrapped
        return wrapped

    def _do_on_publish(self, mid: int, reason_code: ReasonCode, properties: Any) -> MQTTErrorCode:
        # paho calls this only for acknowledged QoS 1/2 messages. Reporting from here
        # instead of through ``on_publish`` keeps ``on_publish`` unset, which spares paho
        # building a ReasonCode and a Properties object for every QoS 0 message written.
        listener = self.ack_listener
        if listener is not None:
            try:
                listener(mid, reason_code)
            except Exception:
                logger.exception("publish acknowledgement handler failed for packet id %d", mid)
        return super()._do_on_publish(mid, reason_code, properties)

    def _packet_read(self) -> MQTTErrorCode:
        # When a whole packet is buffered, hand it to paho as if it had been read byte by
        # byte: paho's own code then dispatches it and resets its read state.
        sock = self._sock
        if type(sock) is _BufferedSocket and self._in_packet["command"] == 0:
            frame = sock.take_frame()
            if frame is not None:
                command, length, body = frame
                packet = self._in_packet
                packet["command"] = command
                packet["have_remaining"] = 1
                packet["remaining_length"] = length
                packet["packet"] = bytearray(body)
                packet["to_process"] = 0
        return super()._packet_read()

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        if self._protocol == paho.MQTTv5 or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)
        (mid,) = _MID.unpack(packet)
        with self._out_message_mutex:
            if mid in self._out_messages:
                reason, props = _ACK_SUCCESS[cmd == "PUBACK"]
                return self._do_on_publish(mid, reason, props)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def _paho_session_layout() -> bool:
    """Tell whether paho's session internals look as :class:`_Client` expects.

    The outgoing-message states, ``_out_messages`` and the PUBREC handler are private
    to paho; they are identical from paho-mqtt 2.0 to 2.2. On any other layout the
    adapter leaves paho's own handling in place.
    """
    version = tuple(int(p) for p in paho_version.split(".")[:2] if p.isdigit())
    names = ("mqtt_ms_publish", "mqtt_ms_resend_pubrel", "mqtt_ms_wait_for_pubcomp")
    return (
        (2, 0) <= version <= (2, 2)
        and all(hasattr(paho, name) for name in names)
        and callable(getattr(paho.Client, "_handle_pubrec", None))
        and callable(getattr(paho.Client, "_do_on_publish", None))
    )


PAHO_SESSION_INTERNALS = _paho_session_layout()
"""Whether the adapter may adjust paho's session state (see :class:`_Client`)."""

_REASONS: dict[int, Reason] = {}


def _reason(code: ReasonCode | int) -> Reason:
    value = int(code.value if isinstance(code, ReasonCode) else code)
    reason = _REASONS.get(value)
    if reason is None:
        reason = _REASONS[value] = Reason(value, v5=True)
    return reason


class PahoAdapter:
    """One paho-mqtt client, driven by the caller's network thread.

    ``session_internals`` (class attribute, from :data:`PAHO_SESSION_INTERNALS`) says
    whether the client may adjust paho's private session state: restart QoS 2 flows
    the broker forgot, and fail an MQTT 5 publish on a refusing PUBREC.

    Args:
        broker: Where to connect.
        config: Client behaviour.
        client_id: The client identifier to send.
        listener: Receives the events.
        will: The Will message, or ``None``.

    Raises:
        ProtocolConfigurationError: If the TLS files cannot be loaded.
    """

    session_internals: bool = PAHO_SESSION_INTERNALS

    def __init__(
        self,
        broker: BrokerConfig,
        config: ClientConfig,
        client_id: str,
        listener: AdapterListener,
        will: Will | None = None,
    ) -> None:
        self._broker = broker
        self._config = config
        self._listener = listener
        self._v5 = config.protocol_version == MQTT_V5
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_pending = False
        self._wake_lock = threading.Lock()
        self._client = self._build(client_id)
        self.set_will(will)

    def _build(self, client_id: str) -> _Client:
        cfg, broker = self._config, self._broker
        protocol = {MQTT_V31: paho.MQTTv31, MQTT_V5: paho.MQTTv5}.get(
            cfg.protocol_version, paho.MQTTv311
        )
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if self._v5 else cfg.clean_session,
            protocol=protocol,
            reconnect_on_failure=False,
        )
        client.suppress_exceptions = True
        client.connect_timeout = broker.connect_timeout
        # The in-flight window is enforced by the protocol (``_window``), so that paho
        # holds only in-flight messages and its resend on reconnection stays inside it.
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        client.session_internals = self.session_internals
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        tls = broker.tls_config
        if tls is not None:
            client.tls_set_context(self._tls_context(tls))
            if not tls.check_hostname:
                client.tls_insecure_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.ack_listener = self._on_ack
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_socket_register_write = self._on_register_write
        return client

    @staticmethod
    def _tls_context(tls: TLSConfig) -> ssl.SSLContext:
        try:
            return tls.client_context()
        except ProtocolConfigurationError as exc:
            raise ProtocolConfigurationError(
                f"cannot load the TLS files of BrokerConfig.tls: {exc}"
            ) from exc

    # -- connection ------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection and queue CONNECT; CONNACK arrives through :meth:`loop`.

        Raises:
            ProtocolConnectionError: If the broker is unreachable or TLS fails.
            ProtocolTimeoutError: If the TCP or TLS connection timed out.
        """
        broker = self._broker
        kwargs: dict[str, Any] = {}
        if self._v5:
            kwargs["clean_start"] = self._config.clean_session
            kwargs["properties"] = self._connect_properties()
        with _mapped_socket_errors(broker):
            self._client.connect(broker.broker_address, broker.port, broker.keepalive, **kwargs)

    def reconnect(self) -> None:
        """Open a new connection with the same settings and queue CONNECT.

        Raises:
            ProtocolConnectionError: If the broker is unreachable or TLS fails.
            ProtocolTimeoutError: If the TCP or TLS connection timed out.
        """
        with _mapped_socket_errors(self._broker):
            self._client.reconnect()

    def _connect_properties(self) -> Properties:
        props = _properties_of(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._config.effective_session_expiry
        if self._config.user_properties:
            props.UserProperty = list(self._config.user_properties)
        return props

    def set_will(self, will: Will | None) -> None:
        """Set or clear the Will sent with the next CONNECT.

        Args:
            will: The Will, or ``None`` to clear it.
        """
        if will is None:
            self._client.will_clear()
        else:
            self._client.will_set(will.topic, will.payload, will.qos, will.retain)

    def close_detail(self) -> str | None:
        """Explain a connection that closed before CONNACK, when the cause is likely.

        Returns:
            A sentence for the error message, or ``None`` when there is nothing to add.
        """
        sock = self._client.last_socket
        if not self._broker.use_tls or sock is None or sock.received:
            return None
        alert = f" (TLS: {sock.read_error})" if sock.read_error is not None else ""
        hint = (
            "the broker probably requires a client certificate (set "
            "BrokerConfig.tls=TLSConfig(certfile=..., keyfile=...)) or rejected the TLS handshake"
            if self._broker.tls_config is None or self._broker.tls_config.certfile is None
            else "the broker probably rejected the TLS handshake or the client certificate"
        )
        return f"it closed during or right after the TLS handshake{alert}: {hint}"

    def disconnect(self) -> None:
        """Queue DISCONNECT; the loop sends it and closes the socket."""
        self._client.disconnect()
        self.wake()

    def close(self) -> None:
        """Close the socket at once (no DISCONNECT) and release the wake-up sockets."""
        sock = self._client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        for end in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                end.close()

    def abort(self) -> None:
        """Close the current connection without DISCONNECT (the Will is published)."""
        sock: Any = self._client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.wake()

    # -- network loop ----------------------------------------------------------------

    def wake(self) -> None:
        """Interrupt a :meth:`loop` waiting in ``select()``.

        One byte is in the wake-up socket whenever ``_wake_pending`` is set, so a wake
        that finds the flag set can rely on the loop seeing that byte.
        """
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\x00")

    def _on_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self.wake()

    def _drain_wake(self) -> None:
        # Read first, clear the flag after: a wake() between the two finds the flag set
        # and sends nothing, and the loop sees its work because it looks for work only
        # after this. Clearing first would let the read swallow the byte of a wake()
        # that set the flag again, leaving the flag set with no byte to wake the loop:
        # every later wake() would be ignored and the loop would run only on its timeout.
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        with self._wake_lock:
            self._wake_pending = False

    def loop(self, timeout: float) -> bool:
        """Run one round of network I/O.

        Args:
            timeout: Longest wait for activity, in seconds.

        Returns:
            ``False`` once there is no connection (events were already reported).
        """
        client = self._client
        sock = client.socket()
        if sock is None:
            return False
        wrapped = sock if isinstance(sock, _BufferedSocket) else None
        if wrapped is not None and wrapped.pending():
            timeout = 0.0
        wants_write = client.want_write() or (wrapped is not None and wrapped.has_output())
        try:
            readable, _, _ = select.select(
                [sock, self._wake_r], [sock] if wants_write else [], [], timeout
            )
        except (OSError, ValueError):
            readable = [sock]
        if self._wake_r in readable:
            self._drain_wake()
        if sock in readable or (wrapped is not None and wrapped.pending()):
            if not self._read(client, wrapped):
                return False
        self._listener.before_write()
        # Always: paho asks for a wake-up only when its "write registered" flag is clear,
        # and only loop_write() clears it once the queue is empty.
        client.loop_write()
        if wrapped is not None and wrapped.has_output():
            wrapped.flush()
            if wrapped._broken is not None:
                client.loop_read()
        client.loop_misc()
        return client.socket() is not None

    @staticmethod
    def _read(client: paho.Client, wrapped: _BufferedSocket | None) -> bool:
        for _ in range(_MAX_READ_ROUNDS):
            rc = client.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or client.socket() is None:
                return client.socket() is not None
            if wrapped is None or not wrapped.buffered():
                break
        return True

    # -- operations ------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        message_expiry: int | None = None,
        user_properties: Sequence[tuple[str, str]] = (),
    ) -> tuple[PublishStatus, int, Completion | None]:
        """Queue a PUBLISH.

        Args:
            topic: Topic name (validated by the caller).
            payload: Payload.
            qos: 0, 1 or 2.
            retain: Retain flag.
            message_expiry: MQTT 5 Message Expiry Interval in seconds, or ``None``.
            user_properties: MQTT 5 user properties.

        Returns:
            The status, the packet id, and for a sent QoS 0 message the report of its
            write (QoS 1/2 outcomes arrive as :meth:`AdapterListener.on_publish_result`).
        """
        props = None
        if self._v5 and (message_expiry is not None or user_properties):
            props = _properties_of(PacketTypes.PUBLISH)
            if message_expiry is not None:
                props.MessageExpiryInterval = message_expiry
            if user_properties:
                props.UserProperty = list(user_properties)
        info = self._client.publish(topic, payload, qos, retain, props)
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return PublishStatus.SENT, info.mid, None if qos else _WriteReport(info)
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            return (PublishStatus.KEPT if qos else PublishStatus.NOT_CONNECTED), info.mid, None
        raise ProtocolError(
            f"paho-mqtt refused to publish on {topic!r}: {paho.error_string(info.rc)}"
        )

    def subscribe(self, topic_filter: str, qos: int, subscription_id: int | None) -> int | None:
        """Queue a SUBSCRIBE for one filter.

        Args:
            topic_filter: The filter.
            qos: Maximum QoS asked for.
            subscription_id: MQTT 5 subscription identifier, or ``None``.

        Returns:
            The packet id, or ``None`` when not connected.
        """
        if self._v5:
            props = None
            if subscription_id is not None:
                props = _properties_of(PacketTypes.SUBSCRIBE)
                props.SubscriptionIdentifier = subscription_id
            rc, mid = self._client.subscribe(
                topic_filter, options=SubscribeOptions(qos=qos), properties=props
            )
        else:
            rc, mid = self._client.subscribe(topic_filter, qos)
        return mid if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None else None

    def unsubscribe(self, topic_filter: str) -> int | None:
        """Queue an UNSUBSCRIBE for one filter.

        Args:
            topic_filter: The filter.

        Returns:
            The packet id, or ``None`` when not connected.
        """
        rc, mid = self._client.unsubscribe(topic_filter)
        return mid if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None else None

    # -- paho callbacks (network thread) --------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self._v5:
            code = Reason(int(reason.value), v5=True)
        else:
            name = reason.getName()
            code = (
                Reason(_V3_CONNACK_BY_NAME[name], v5=False)
                if name in _V3_CONNACK_BY_NAME
                else Reason(int(reason.value), v5=True)
            )
        if not flags.session_present and not code.is_failure:
            restarted = self._client.restart_lost_qos2()
            if restarted:
                logger.warning(
                    "broker has no stored session: %d QoS 2 messages awaiting PUBCOMP are "
                    "sent again from PUBLISH",
                    restarted,
                )
        limits = ServerLimits()
        if self._v5 and props is not None:
            receive_max = getattr(props, "ReceiveMaximum", None)
            sub_ids = getattr(props, "SubscriptionIdentifierAvailable", 1)
            limits = ServerLimits(
                receive_maximum=int(receive_max) if receive_max is not None else None,
                subscription_identifiers=bool(sub_ids),
            )
        self._listener.on_connack(code, bool(flags.session_present), limits)

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        from_server = bool(getattr(flags, "is_disconnect_packet_from_server", False))
        self._listener.on_connection_closed(_reason(reason) if from_server else None)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            logger.warning("dropped a message whose topic is not valid UTF-8")
            return
        sub_ids: tuple[int, ...] = ()
        props = message.properties
        if props is not None:
            ids = getattr(props, "SubscriptionIdentifier", None)
            if ids:
                sub_ids = tuple(int(i) for i in ids) if isinstance(ids, list) else (int(ids),)
        meta = (message.qos, bool(message.retain), props)
        self._listener.on_message(topic, bytes(message.payload), sub_ids, meta)

    def _on_ack(self, mid: int, reason: ReasonCode) -> None:
        qos = 1 if reason.packetType == PacketTypes.PUBACK else 2
        self._listener.on_publish_result(mid, _reason(reason), qos)

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        self._listener.on_subscribe_result(mid, [_reason(r) for r in reasons])

    def _on_unsubscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        codes = reasons if isinstance(reasons, list) else [reasons]
        self._listener.on_unsubscribe_result(mid, [_reason(r) for r in codes])


@contextlib.contextmanager
def _mapped_socket_errors(broker: BrokerConfig) -> Any:
    where = f"{broker.broker_address}:{broker.port}"
    try:
        yield
    except ssl.SSLCertVerificationError as exc:
        raise ProtocolConnectionError(
            f"TLS certificate of broker {where} failed verification: {exc.verify_message}"
        ) from exc
    except ssl.SSLError as exc:
        raise ProtocolConnectionError(f"TLS handshake with broker {where} failed: {exc}") from exc
    except socket.gaierror as exc:
        raise ProtocolConnectionError(f"cannot resolve broker address {where}: {exc}") from exc
    except TimeoutError as exc:
        raise ProtocolTimeoutError(
            f"connecting to broker {where} timed out after {broker.connect_timeout} s"
        ) from exc
    except ConnectionRefusedError as exc:
        raise ProtocolConnectionError(
            f"broker {where} refused the TCP connection (is it running?)"
        ) from exc
    except OSError as exc:
        raise ProtocolConnectionError(f"cannot connect to broker {where}: {exc}") from exc
    except ValueError as exc:
        raise ProtocolConfigurationError(f"invalid connection settings for {where}: {exc}") from exc
