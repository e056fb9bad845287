"""The one module that talks to paho-mqtt.

Everything paho-specific lives here and in the modules beside it: building the client
from our configuration, TLS, the Will, MQTT 5 properties, translating paho's callbacks
and return codes into plain events (:class:`AdapterListener`) and statuses, and mapping
socket/TLS errors to our exceptions (:mod:`._adapter_parts`); the speed-ups built on
paho's internals (:mod:`._paho_fast`) and the check that decides whether they are used
(:mod:`._paho_layout`). Replacing the MQTT library means rewriting these modules only.

The network loop is ours: :meth:`PahoAdapter.loop` runs one ``select()`` round over the
connection and a wake-up socket and lets paho read, write and keep the connection
alive. Publishing threads never write to the socket themselves; they queue packets and
wake the loop.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Sequence
from typing import Any, cast

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from eq1_network.common.exceptions import ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.protocols.mqtt._adapter_parts import (
    NOT_CONNECTED,
    SENT,
    AdapterListener,
    PublicClient,
    PublishStatus,
    ServerLimits,
    Will,
    WriteReport,
    configure_client,
    connack_reason,
    connect_properties,
    mapped_socket_errors,
    publish_properties,
    reason_of,
    server_limits,
    subscribe_properties,
    subscription_ids,
    tls_close_detail,
)
from eq1_network.protocols.mqtt._paho_fast import BufferedSocket, FastClient
from eq1_network.protocols.mqtt._paho_io import MQTT_OK
from eq1_network.protocols.mqtt._paho_layout import use_fastpath
from eq1_network.protocols.mqtt._tracking import Completion
from eq1_network.protocols.mqtt.config import MQTT_V5, BrokerConfig, ClientConfig

__all__ = [
    "AdapterListener",
    "PahoAdapter",
    "PublishStatus",
    "ServerLimits",
    "Will",
]

logger = get_logger(__name__)

_MAX_READ_ROUNDS = 64


def _pending(sock: Any) -> int:
    """Bytes already read from the connection but not yet handed to paho."""
    pending = getattr(sock, "pending", None)  # BufferedSocket, ssl.SSLSocket
    return int(pending()) if pending is not None else 0


def _more_input(sock: Any) -> bool:
    if isinstance(sock, BufferedSocket):
        return sock.buffered() > 0
    if _pending(sock):
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return bool(readable)


class PahoAdapter:
    """One paho-mqtt client, driven by the caller's network thread.

    The client is :class:`._paho_fast.FastClient` (speed-ups built on paho's internals)
    or :class:`._adapter_parts.PublicClient` (paho's public API only), as
    :func:`._paho_layout.use_fastpath` decides at construction.

    Args:
        broker: Where to connect.
        config: Client behaviour.
        client_id: The client identifier to send.
        listener: Receives the events.
        will: The Will message, or ``None``.
        fastpath: ``"0"``, ``"1"`` or ``"auto"``; ``None`` reads the environment
            variable ``EQ1_MQTT_PAHO_FASTPATH`` (see :mod:`._paho_layout`).

    Raises:
        ProtocolConfigurationError: If the TLS files cannot be loaded, or the fast-path
            setting is invalid or forces speed-ups the installed paho cannot take.
    """

    def __init__(
        self,
        broker: BrokerConfig,
        config: ClientConfig,
        client_id: str,
        listener: AdapterListener,
        will: Will | None = None,
        *,
        fastpath: str | None = None,
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
        self._connack_seen = False
        self._client = self._build(client_id, use_fastpath(fastpath))
        self.set_will(will)

    @property
    def fastpath(self) -> bool:
        """Whether the client uses the speed-ups built on paho's internals."""
        return self._client.fastpath

    def _build(self, client_id: str, fast: bool) -> FastClient | PublicClient:
        broker, config = self._broker, self._config
        client: FastClient | PublicClient = (
            configure_client(FastClient, broker, config, client_id)
            if fast
            else configure_client(PublicClient, broker, config, client_id)
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.ack_listener = self._on_ack
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_socket_register_write = self._on_register_write
        self._fast = cast(FastClient, client) if fast else None
        if self._fast is not None:
            self._fast.deliver_messages_to(self._listener.on_message)
        return client

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
            kwargs["properties"] = connect_properties(self._config)
        self._connack_seen = False
        with mapped_socket_errors(broker):
            self._client.connect(broker.broker_address, broker.port, broker.keepalive, **kwargs)

    def reconnect(self) -> None:
        """Open a new connection with the same settings and queue CONNECT.

        Raises:
            ProtocolConnectionError: If the broker is unreachable or TLS fails.
            ProtocolTimeoutError: If the TCP or TLS connection timed out.
        """
        self._connack_seen = False
        with mapped_socket_errors(self._broker):
            self._client.reconnect()

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
        received = sock.received if sock is not None else self._connack_seen
        if not self._broker.use_tls or received:
            return None
        return tls_close_detail(self._broker, sock.read_error if sock is not None else None)

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
        if self._wake_pending:  # the loop clears it before it looks for work
            return
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
        wrapped = sock if isinstance(sock, BufferedSocket) else None
        if _pending(sock):
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
        if (sock in readable or _pending(sock)) and not self._read(client, sock):
            return False
        self._listener.before_write()
        # Always: paho asks for a wake-up only when its "write registered" flag is clear,
        # and only loop_write() clears it once the queue is empty.
        client.loop_write()
        if wrapped is not None and wrapped.has_output():
            wrapped.flush()
            if wrapped.broken:
                client.loop_read()
        client.loop_misc()
        return client.socket() is not None

    def _read(self, client: paho.Client, sock: Any) -> bool:
        # paho reads one packet per call: read while input waits, a bounded number of
        # times; in between, the fast client takes the whole PUBLISH packets read.
        for _ in range(_MAX_READ_ROUNDS):
            rc = client.loop_read()
            if rc != MQTT_OK or client.socket() is None:
                return client.socket() is not None
            if self._fast is not None:
                self._fast.take_publishes()
            if not _more_input(sock):
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
            write (QoS 1/2 outcomes arrive as :meth:`AdapterListener.on_publish_results`).
        """
        props = None
        if self._v5 and (message_expiry is not None or user_properties):
            props = publish_properties(message_expiry, user_properties)
        if not qos and props is None and (fast := self._fast) is not None:
            written = fast.publish_qos0(topic, payload, retain)
            if written is None:
                return NOT_CONNECTED, 0, None
            self.wake()
            return SENT, 0, written
        if qos and props is None and (fast := self._fast) is not None:
            mid = fast.publish_acknowledged(topic, payload, qos, retain)
            if mid is not None:
                self.wake()
                return SENT, mid, None
        info = self._client.publish(topic, payload, qos, retain, props)
        if info.rc == MQTT_OK:
            return SENT, info.mid, None if qos else WriteReport(info)
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            return (PublishStatus.KEPT if qos else NOT_CONNECTED), info.mid, None
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
            rc, mid = self._client.subscribe(
                topic_filter,
                options=SubscribeOptions(qos=qos),
                properties=subscribe_properties(subscription_id),
            )
        else:
            rc, mid = self._client.subscribe(topic_filter, qos)
        return mid if rc == MQTT_OK and mid is not None else None

    def unsubscribe(self, topic_filter: str) -> int | None:
        """Queue an UNSUBSCRIBE for one filter.

        Args:
            topic_filter: The filter.

        Returns:
            The packet id, or ``None`` when not connected.
        """
        rc, mid = self._client.unsubscribe(topic_filter)
        return mid if rc == MQTT_OK and mid is not None else None

    # -- paho callbacks (network thread) --------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._connack_seen = True
        code = connack_reason(reason, self._v5)
        if not flags.session_present and not code.is_failure:
            # paho finishes these with PUBREL, which a broker without the session answers
            # with PUBCOMP (3.1.1: a success) for a message it no longer holds.
            lost = self._client.lost_qos2_mids()  # None: unknown, any QoS 2 in flight
            if (lost is None or lost) and not self._config.clean_session:
                self._listener.on_session_lost(lost)
        limits = server_limits(props) if self._v5 else ServerLimits()
        self._listener.on_connack(code, bool(flags.session_present), limits)

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        from_server = bool(getattr(flags, "is_disconnect_packet_from_server", False))
        self._listener.on_connection_closed(reason_of(reason) if from_server else None)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            logger.warning("dropped a message whose topic is not valid UTF-8")
            return
        props = message.properties
        sub_ids = subscription_ids(props)
        meta = (message.qos, bool(message.retain), props)
        self._listener.on_message(topic, bytes(message.payload), sub_ids, meta)

    def _on_ack(self, mids: Sequence[int], reason: ReasonCode) -> None:
        qos = 1 if reason.packetType == PacketTypes.PUBACK else 2
        self._listener.on_publish_results(mids, reason_of(reason), qos)

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        self._listener.on_subscribe_result(mid, [reason_of(r) for r in reasons])

    def _on_unsubscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        codes = reasons if isinstance(reasons, list) else [reasons]
        self._listener.on_unsubscribe_result(mid, [reason_of(r) for r in codes])
