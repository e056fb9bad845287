"""The adapter's vocabulary and the parts of it that use paho's public API only.

:class:`PublicClient` is paho's client as documented; the adapter uses it when the
speed-ups of :mod:`._paho_fast` are switched off (see :mod:`._paho_layout`).
"""

from __future__ import annotations

import contextlib
import enum
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolTimeoutError,
)
from eq1_network.common.logging import get_logger
from eq1_network.protocols.mqtt._messages import MessageMeta
from eq1_network.protocols.mqtt.config import MQTT_V5, MQTT_V31, BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import Reason

__all__ = [
    "AdapterListener",
    "PublicClient",
    "NOT_CONNECTED",
    "SENT",
    "PublishStatus",
    "ServerLimits",
    "Will",
    "WriteReport",
    "connack_reason",
    "mapped_socket_errors",
    "configure_client",
    "connect_properties",
    "publish_properties",
    "reason_of",
    "server_limits",
    "subscribe_properties",
    "subscription_ids",
    "tls_close_detail",
]

logger = get_logger(__name__)

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


SENT = PublishStatus.SENT
NOT_CONNECTED = PublishStatus.NOT_CONNECTED
"""``SENT`` and ``NOT_CONNECTED``, bound once for the publish path (see ``_paho_io.MQTT_OK``)."""


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

    def on_publish_results(self, mids: Sequence[int], reason: Reason, qos: int) -> None:
        """QoS 1/2 publishes were acknowledged (PUBACK / PUBCOMP) with one reason, in order.

        ``reason`` may be a failure (MQTT 5).
        """

    def on_session_lost(self, mids: list[int] | None) -> None:
        """CONNACK said the broker has no session while QoS 2 messages had reached PUBREC.

        Called before :meth:`on_connack`. The broker accepted those messages and then
        lost them, so their delivery is unknown; the PUBCOMP paho still gets for each
        (it resends PUBREL) is not a delivery. ``mids`` is ``None`` when the client
        library cannot tell which messages reached PUBREC (paho's public API): then
        every QoS 2 message awaiting PUBCOMP counts.
        """

    def before_write(self) -> None:
        """Called in every network round after reading and before writing."""

    def on_subscribe_result(self, mid: int, reasons: list[Reason]) -> None:
        """SUBACK arrived, one reason per filter."""

    def on_unsubscribe_result(self, mid: int, reasons: list[Reason]) -> None:
        """UNSUBACK arrived."""


class WriteReport:
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


class PublicClient(paho.Client):
    """paho's client used through its documented API only.

    Acknowledgements arrive through ``on_publish``. paho also calls ``on_publish`` when
    it writes a QoS 0 message, which it does only inside ``loop_write()``; reports made
    there are not acknowledgements and are not passed on.

    paho's API does not report PUBREC, so this client cannot tell which QoS 2 messages
    paho will finish with PUBREL (:meth:`lost_qos2_mids` returns ``None``).

    Attributes:
        ack_listener: Called with ``((packet id,), reason)`` for every acknowledged QoS
            1/2 publish (PUBACK or PUBCOMP).
        last_socket: Always ``None``: the connection socket is paho's own.
    """

    fastpath = False
    last_socket: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ack_listener: Callable[[Sequence[int], ReasonCode], None] | None = None
        self.in_loop_write = False
        self.on_publish = self._report_ack

    def loop_write(self) -> MQTTErrorCode:
        """Write what paho has queued (see ``paho.mqtt.client.Client.loop_write``)."""
        self.in_loop_write = True
        try:
            return super().loop_write()
        finally:
            self.in_loop_write = False

    def lost_qos2_mids(self) -> list[int] | None:
        """Which QoS 2 messages paho will finish with PUBREL: unknown through paho's API.

        Returns:
            ``None``: the caller treats every QoS 2 message still awaiting PUBCOMP as
            possibly past PUBREC.
        """
        return None

    def _report_ack(
        self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        listener = self.ack_listener
        if listener is None or self.in_loop_write:
            return
        try:
            listener((mid,), reason)
        except Exception:
            logger.exception("publish acknowledgement handler failed for packet id %d", mid)


_REASONS: dict[int, Reason] = {}


def reason_of(code: ReasonCode | int) -> Reason:
    value = int(code.value if isinstance(code, ReasonCode) else code)
    reason = _REASONS.get(value)
    if reason is None:
        reason = _REASONS[value] = Reason(value, v5=True)
    return reason


def connack_reason(reason: ReasonCode, v5: bool) -> Reason:
    """Translate CONNACK's reason; on MQTT 3.1.1 back to its return code where paho mapped it.

    Args:
        reason: paho's reason code.
        v5: Whether the connection speaks MQTT 5.

    Returns:
        The reason (an MQTT 3.1.1 return code when paho named one, else the MQTT 5 code).
    """
    if not v5:
        code = _V3_CONNACK_BY_NAME.get(reason.getName())
        if code is not None:
            return Reason(code, v5=False)
    return Reason(int(reason.value), v5=True)


ClientT = TypeVar("ClientT", bound=paho.Client)


def configure_client(
    cls: type[ClientT], broker: BrokerConfig, config: ClientConfig, client_id: str
) -> ClientT:
    """Build paho's client from the configuration (callbacks are the caller's to set).

    Args:
        cls: The client class (:class:`PublicClient` or the fast client).
        broker: Where to connect, credentials and TLS.
        config: Client behaviour.
        client_id: The client identifier to send.

    Returns:
        The client.

    Raises:
        ProtocolConfigurationError: If the TLS files cannot be loaded.
    """
    v5 = config.protocol_version == MQTT_V5
    protocol = {MQTT_V31: paho.MQTTv31, MQTT_V5: paho.MQTTv5}.get(
        config.protocol_version, paho.MQTTv311
    )
    client = cls(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else config.clean_session,
        protocol=protocol,
        reconnect_on_failure=False,
    )
    client.suppress_exceptions = True
    client.connect_timeout = broker.connect_timeout
    # The in-flight window is enforced by the protocol (``_window``), so that paho
    # holds only in-flight messages and its resend on reconnection stays inside it.
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    tls = broker.tls_config
    if tls is not None:
        try:
            context = tls.client_context()
        except ProtocolConfigurationError as exc:
            raise ProtocolConfigurationError(
                f"cannot load the TLS files of BrokerConfig.tls: {exc}"
            ) from exc
        client.tls_set_context(context)
        if not tls.check_hostname:
            client.tls_insecure_set(True)
    return client


def tls_close_detail(broker: BrokerConfig, error: OSError | None) -> str:
    """Explain a TLS connection that closed before the broker sent anything.

    Args:
        broker: The broker's settings (whether a client certificate was configured).
        error: The error the first read raised, if known.

    Returns:
        A sentence for the error message.
    """
    alert = f" (TLS: {error})" if error is not None else ""
    hint = (
        "the broker probably requires a client certificate (set "
        "BrokerConfig.tls=TLSConfig(certfile=..., keyfile=...)) or rejected the TLS handshake"
        if broker.tls_config is None or broker.tls_config.certfile is None
        else "the broker probably rejected the TLS handshake or the client certificate"
    )
    return f"it closed during or right after the TLS handshake{alert}: {hint}"


def connect_properties(config: ClientConfig) -> Properties:
    """MQTT 5 CONNECT properties: the session expiry and the user properties."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = config.effective_session_expiry
    if config.user_properties:
        props.UserProperty = list(config.user_properties)
    return props


def publish_properties(
    message_expiry: int | None, user_properties: Sequence[tuple[str, str]]
) -> Properties:
    """MQTT 5 PUBLISH properties.

    Args:
        message_expiry: Message Expiry Interval in seconds, or ``None``.
        user_properties: User properties.

    Returns:
        The properties for paho's ``publish()``.
    """
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if message_expiry is not None:
        props.MessageExpiryInterval = message_expiry
    if user_properties:
        props.UserProperty = list(user_properties)
    return props


def subscribe_properties(subscription_id: int | None) -> Properties | None:
    """MQTT 5 SUBSCRIBE properties: the subscription identifier, if any."""
    if subscription_id is None:
        return None
    props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
    props.SubscriptionIdentifier = subscription_id
    return props


def server_limits(props: Properties | None) -> ServerLimits:
    """What an MQTT 5 broker announced in CONNACK's properties.

    Args:
        props: The CONNACK properties, or ``None``.

    Returns:
        The limits; the defaults when ``props`` is ``None``.
    """
    if props is None:
        return ServerLimits()
    receive_max = getattr(props, "ReceiveMaximum", None)
    return ServerLimits(
        receive_maximum=int(receive_max) if receive_max is not None else None,
        subscription_identifiers=bool(getattr(props, "SubscriptionIdentifierAvailable", 1)),
    )


def subscription_ids(props: Properties | None) -> tuple[int, ...]:
    """The subscription identifiers of a received PUBLISH (MQTT 5), possibly none."""
    ids = getattr(props, "SubscriptionIdentifier", None) if props is not None else None
    if not ids:
        return ()
    return tuple(int(i) for i in ids) if isinstance(ids, list) else (int(ids),)


@contextlib.contextmanager
def mapped_socket_errors(broker: BrokerConfig) -> Iterator[None]:
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
