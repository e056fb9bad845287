"""Configuration of :class:`~eq1_network.protocols.mqtt.mqtt_protocol.MQTTProtocol`.

:class:`BrokerConfig` says *where* to connect and how to authenticate (address, credentials,
TLS); :class:`ClientConfig` says *how this client behaves* (client id, protocol version,
sessions, flow control, reconnection, offline queue). Both validate their values when
created and raise :class:`~eq1_network.common.exceptions.ProtocolConfigurationError` with a
message naming the field and the rule. Neither imports paho-mqtt.

Defaults at a glance:

======================================  ==========  ============================================
Setting                                 Default     Meaning
======================================  ==========  ============================================
``ClientConfig.protocol_version``       ``4``       MQTT 3.1.1 (``5`` for MQTT 5.0, ``3`` for 3.1)
``ClientConfig.clean_session``          ``True``    ``False`` + fixed ``client_id``: persistent
``ClientConfig.subscribe_qos``          ``2``       the publisher's QoS is kept end to end
``ClientConfig.max_inflight``           ``0``       automatic: Receive Maximum / 1000 (QoS 2: 16)
``ClientConfig.max_queued_messages``    ``10000``   accepted QoS 1/2 publishes not yet acknowledged
``ClientConfig.offline_queue_*``        10000/16MiB publishes kept while the link is down
``ClientConfig.overflow_policy``        ``reject``  full offline queue: ``publish()`` raises
``ClientConfig.reconnect_*_delay``      0.5 s/30 s  exponential backoff with full jitter, capped
======================================  ==========  ============================================
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from eq1_network.common.exceptions import ProtocolConfigurationError

__all__ = [
    "MQTT_V31",
    "MQTT_V311",
    "MQTT_V5",
    "OVERFLOW_DROP_OLDEST",
    "OVERFLOW_REJECT",
    "BrokerConfig",
    "ClientConfig",
    "UserProperties",
]

MQTT_V31 = 3
"""Protocol level of MQTT 3.1."""
MQTT_V311 = 4
"""Protocol level of MQTT 3.1.1 (the default)."""
MQTT_V5 = 5
"""Protocol level of MQTT 5.0."""

OVERFLOW_REJECT = "reject"
"""Offline queue full: ``publish()`` raises :class:`QueueFullError`; nothing queued is lost."""
OVERFLOW_DROP_OLDEST = "drop_oldest"
"""Offline queue full: the oldest queued message is evicted and its handle fails."""

_VERSIONS = (MQTT_V31, MQTT_V311, MQTT_V5)
_POLICIES = (OVERFLOW_REJECT, OVERFLOW_DROP_OLDEST)
_MAX_UINT32 = 0xFFFFFFFF
_MAX_MID_WINDOW = 65000

UserProperties = tuple[tuple[str, str], ...]
"""MQTT 5 user properties: ordered ``(name, value)`` pairs; names may repeat."""


def _fail(field_name: str, rule: str, value: object) -> ProtocolConfigurationError:
    return ProtocolConfigurationError(f"`{field_name}` {rule}, got {value!r}")


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, "must be an int", value)
    if value < low or (high is not None and value > high):
        rule = f"must be >= {low}" if high is None else f"must be between {low} and {high}"
        raise _fail(name, rule, value)


def _check_float(name: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, "must be a number", value)
    if math.isnan(value) or math.isinf(value) or value < 0 or (positive and value == 0):
        rule = "must be a finite number > 0" if positive else "must be a finite number >= 0"
        raise _fail(name, rule, value)


def _check_optional_str(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise _fail(name, "must be a str or None", value)


def _check_file(name: str, value: str | None) -> None:
    if value is not None and not os.path.isfile(value):
        raise ProtocolConfigurationError(f"`{name}` must name a readable file, got {value!r}")


def normalize_user_properties(name: str, value: Sequence[tuple[str, str]] | None) -> UserProperties:
    """Check MQTT 5 user properties and return them as a tuple of pairs.

    Args:
        name: The parameter name, for the error message.
        value: ``(name, value)`` pairs, or ``None``.

    Returns:
        The pairs as a tuple (empty when ``value`` is ``None``).

    Raises:
        ProtocolConfigurationError: If an item is not a pair of strings.
    """
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        raise _fail(name, "must be a sequence of (name, value) pairs of str", value)
    pairs = tuple(value)
    for pair in pairs:
        if (
            not isinstance(pair, tuple)
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            raise _fail(name, "must be a sequence of (name, value) pairs of str", pair)
    return pairs


@dataclass(frozen=True)
class BrokerConfig:
    """Where the broker is and how to authenticate to it.

    TLS is used when ``tls`` is true or any of ``ca_certs``, ``certfile`` is given. The
    server certificate and its host name are always verified unless ``tls_insecure`` is
    set (do that only for tests).

    Args:
        broker_address: Host name or IP address of the broker.
        port: TCP port; 1883 is plain MQTT, 8883 is MQTT over TLS by convention.
        username: User name for the broker's password check, or ``None``.
        password: Password, or ``None``; never logged nor shown in ``repr``.
        keepalive: Seconds between PINGREQs when idle (the broker drops the client
            after 1.5 times this without traffic).
        tls: Use TLS even without ``ca_certs`` (the system's trusted CAs are used).
        ca_certs: File of CA certificates that signed the broker's certificate.
        certfile: Client certificate file (PEM) for mutual TLS.
        keyfile: Private key of ``certfile`` (PEM); may be inside ``certfile``.
        keyfile_password: Password of an encrypted ``keyfile``; never logged.
        tls_insecure: Skip the host name check of the broker's certificate. Off by default.
        connect_timeout: Seconds allowed for the TCP/TLS connection and for the CONNACK.

    Raises:
        ProtocolConfigurationError: If a value is invalid or a TLS file does not exist.
    """

    broker_address: str = "localhost"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive: int = 60
    tls: bool = False
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    keyfile_password: str | None = field(default=None, repr=False)
    tls_insecure: bool = False
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.broker_address, str) or not self.broker_address.strip():
            raise _fail("broker_address", "must be a non-empty str", self.broker_address)
        _check_int("port", self.port, 1, 65535)
        _check_int("keepalive", self.keepalive, 0, 65535)
        for name in ("username", "password", "ca_certs", "certfile", "keyfile"):
            _check_optional_str(name, getattr(self, name))
        _check_optional_str("keyfile_password", self.keyfile_password)
        if self.password is not None and self.username is None:
            raise ProtocolConfigurationError("`password` needs a `username` as well")
        for name in ("tls", "tls_insecure"):
            if not isinstance(getattr(self, name), bool):
                raise _fail(name, "must be a bool", getattr(self, name))
        if self.keyfile is not None and self.certfile is None:
            raise ProtocolConfigurationError("`keyfile` needs a `certfile` as well")
        for name in ("ca_certs", "certfile", "keyfile"):
            _check_file(name, getattr(self, name))
        _check_float("connect_timeout", self.connect_timeout, positive=True)

    @property
    def use_tls(self) -> bool:
        """Whether the connection is made over TLS."""
        return self.tls or self.ca_certs is not None or self.certfile is not None


@dataclass(frozen=True)
class ClientConfig:
    """How the client behaves: identity, sessions, flow control, reconnection, queueing.

    Args:
        client_id: The MQTT client identifier; a random ``eq1-...`` id when empty. A
            persistent session (``clean_session=False``) needs a fixed, non-empty id.
        protocol_version: ``4`` (MQTT 3.1.1, default), ``5`` (MQTT 5.0) or ``3`` (3.1).
        clean_session: ``True`` starts a new session on every connection. ``False`` keeps
            subscriptions and queued QoS 1/2 messages at the broker while disconnected
            (MQTT 5: the ``clean_start`` flag, kept for ``session_expiry`` seconds).
        session_expiry: MQTT 5 only: seconds the broker keeps the session after the
            connection closes. ``None`` means 0 with ``clean_session=True`` and "never
            expires" with ``clean_session=False``, as in MQTT 3.1.1.
        message_expiry: MQTT 5 only: default lifetime in seconds of published messages at
            the broker, or ``None`` for no expiry. ``publish()`` may override it.
        user_properties: MQTT 5 only: user properties sent with CONNECT.
        subscribe_qos: Maximum QoS asked for in SUBSCRIBE when ``subscribe()`` gives none.
        max_inflight: QoS 1/2 messages sent but not yet acknowledged by the broker;
            further ones wait in the client, in order, and also after a reconnection
            no more than this many are resent at once. ``0`` (default) is automatic:
            with MQTT 5 the broker's Receive Maximum; with MQTT 3.1.1 at most 1000
            messages, of which at most 16 QoS 2. A broker cannot report an overflow
            over 3.1.1: mosquitto's ``max_inflight_messages`` (default 20) limits the
            incoming QoS 2 messages awaiting PUBREL and silently drops further QoS 1/2
            messages while that quota is used up. A value set here applies to QoS 1
            and 2 alike and is capped by the Receive Maximum.
        max_queued_messages: Accepted QoS 1/2 publishes not yet acknowledged, in flight
            or waiting for a window slot. When reached, ``publish()`` waits up to
            ``publish_timeout`` for room, then raises ``QueueFullError``.
        publish_timeout: Seconds ``publish()`` may block waiting for room.
        ack_timeout: Seconds ``subscribe()``/``unsubscribe()`` wait for SUBACK/UNSUBACK.
        drain_timeout: Seconds ``disconnect()`` waits for unacknowledged publishes.
        offline_queue_max_messages: Publishes kept while the connection is down.
        offline_queue_max_bytes: Payload bytes kept while the connection is down.
        overflow_policy: ``"reject"`` (``publish()`` raises ``QueueFullError``) or
            ``"drop_oldest"`` (the oldest queued message's handle fails with
            ``QueueFullError`` and a warning is logged).
        queue_qos0: Also queue QoS 0 publishes while disconnected; otherwise such a
            publish raises ``ProtocolNotConnectedError``.
        reconnect_min_delay: Base of the exponential backoff, in seconds.
        reconnect_max_delay: Cap of the backoff, in seconds.
        max_reconnect_attempts: Give up after this many failed attempts in a row
            (``None``: retry network failures forever). Authentication and
            authorisation refusals are never retried.

    Raises:
        ProtocolConfigurationError: If a value is invalid or settings contradict.
    """

    client_id: str = ""
    protocol_version: int = MQTT_V311
    clean_session: bool = True
    session_expiry: int | None = None
    message_expiry: int | None = None
    user_properties: UserProperties = ()
    subscribe_qos: int = 2
    max_inflight: int = 0
    max_queued_messages: int = 10_000
    publish_timeout: float = 30.0
    ack_timeout: float = 10.0
    drain_timeout: float = 10.0
    offline_queue_max_messages: int = 10_000
    offline_queue_max_bytes: int = 16 * 1024 * 1024
    overflow_policy: str = OVERFLOW_REJECT
    queue_qos0: bool = False
    reconnect_min_delay: float = 0.5
    reconnect_max_delay: float = 30.0
    max_reconnect_attempts: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str):
            raise _fail("client_id", "must be a str", self.client_id)
        if len(self.client_id.encode("utf-8")) > 65535:
            raise ProtocolConfigurationError("`client_id` must be at most 65535 bytes")
        if self.protocol_version not in _VERSIONS or isinstance(self.protocol_version, bool):
            raise _fail("protocol_version", f"must be one of {_VERSIONS}", self.protocol_version)
        for name in ("clean_session", "queue_qos0"):
            if not isinstance(getattr(self, name), bool):
                raise _fail(name, "must be a bool", getattr(self, name))
        if not self.clean_session and not self.client_id:
            raise ProtocolConfigurationError(
                "`clean_session=False` needs a fixed, non-empty `client_id`: "
                "the broker finds the session by that id"
            )
        self._check_v5_fields()
        _check_int("subscribe_qos", self.subscribe_qos, 0, 2)
        _check_int("max_inflight", self.max_inflight, 0, _MAX_MID_WINDOW)
        _check_int("max_queued_messages", self.max_queued_messages, 1, _MAX_MID_WINDOW)
        if self.max_inflight > self.max_queued_messages:
            raise ProtocolConfigurationError(
                f"`max_inflight` ({self.max_inflight}) must not exceed "
                f"`max_queued_messages` ({self.max_queued_messages})"
            )
        for name in ("publish_timeout", "ack_timeout", "drain_timeout"):
            _check_float(name, getattr(self, name), positive=False)
        _check_int("offline_queue_max_messages", self.offline_queue_max_messages, 1)
        _check_int("offline_queue_max_bytes", self.offline_queue_max_bytes, 1)
        if self.overflow_policy not in _POLICIES:
            raise _fail("overflow_policy", f"must be one of {_POLICIES}", self.overflow_policy)
        _check_float("reconnect_min_delay", self.reconnect_min_delay, positive=True)
        _check_float("reconnect_max_delay", self.reconnect_max_delay, positive=True)
        if self.reconnect_max_delay < self.reconnect_min_delay:
            raise ProtocolConfigurationError(
                "`reconnect_max_delay` must be >= `reconnect_min_delay`, got "
                f"{self.reconnect_max_delay!r} < {self.reconnect_min_delay!r}"
            )
        if self.max_reconnect_attempts is not None:
            _check_int("max_reconnect_attempts", self.max_reconnect_attempts, 1)

    def _check_v5_fields(self) -> None:
        for name in ("session_expiry", "message_expiry"):
            value = getattr(self, name)
            if value is not None:
                _check_int(name, value, 0, _MAX_UINT32)
        object.__setattr__(
            self,
            "user_properties",
            normalize_user_properties("user_properties", self.user_properties),
        )
        uses_v5 = (
            self.session_expiry is not None
            or self.message_expiry is not None
            or bool(self.user_properties)
        )
        if uses_v5 and self.protocol_version != MQTT_V5:
            raise ProtocolConfigurationError(
                "`session_expiry`, `message_expiry` and `user_properties` are MQTT 5 "
                f"features: set `protocol_version=5` (got {self.protocol_version})"
            )

    @property
    def effective_session_expiry(self) -> int:
        """The MQTT 5 Session Expiry Interval sent in CONNECT."""
        if self.session_expiry is not None:
            return self.session_expiry
        return 0 if self.clean_session else _MAX_UINT32

    def resolved_client_id(self) -> str:
        """Return ``client_id``, or a new random id when it is empty.

        Returns:
            The client identifier to send in CONNECT.
        """
        return self.client_id or f"eq1-{uuid.uuid4().hex[:16]}"
