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
``ClientConfig.overflow_policy``        ``REJECT``  full offline queue: ``publish()`` raises
``ClientConfig.reconnect``              0.5 s/30 s  exponential backoff with full jitter, capped
======================================  ==========  ============================================

TLS, reconnection and the overflow policy use the core types :class:`eq1_network.TLSConfig`,
:class:`eq1_network.ReconnectPolicy` and :class:`eq1_network.OverflowPolicy`. The former flat
spellings (``ca_certs``, ``certfile``, ``keyfile``, ``keyfile_password``, ``tls_insecure``,
``reconnect_min_delay``, ``reconnect_max_delay``, ``max_reconnect_attempts``, overflow policy
strings and the ``OVERFLOW_*`` constants) still work and emit a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.common.policies import OverflowPolicy, ReconnectPolicy, TLSConfig, deprecated

__all__ = [
    "MQTT_V31",
    "MQTT_V311",
    "MQTT_V5",
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

_DEPRECATED_CONSTANTS = {
    "OVERFLOW_REJECT": OverflowPolicy.REJECT,
    "OVERFLOW_DROP_OLDEST": OverflowPolicy.DROP_OLDEST,
}
_OLD_TLS_FIELDS = ("ca_certs", "certfile", "keyfile", "keyfile_password", "tls_insecure")
_OLD_RECONNECT_FIELDS = {
    "reconnect_min_delay": "initial_delay",
    "reconnect_max_delay": "max_delay",
    "max_reconnect_attempts": "max_attempts",
}


def __getattr__(name: str) -> OverflowPolicy:
    member = _DEPRECATED_CONSTANTS.get(name)
    if member is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    deprecated(name, f"eq1_network.OverflowPolicy.{member.name}")
    return member


_VERSIONS = (MQTT_V31, MQTT_V311, MQTT_V5)
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

    TLS is used when ``tls`` is a :class:`eq1_network.TLSConfig` (or ``True``, meaning
    ``TLSConfig()``: the system's trusted CAs). The broker's certificate is always
    verified, and its host name too unless ``TLSConfig(check_hostname=False)`` (do that
    only for tests). ``TLSConfig.server_hostname`` is not supported: the name checked is
    ``broker_address``.

    Args:
        broker_address: Host name or IP address of the broker.
        port: TCP port; 1883 is plain MQTT, 8883 is MQTT over TLS by convention.
        username: User name for the broker's password check, or ``None``.
        password: Password, or ``None``; never logged nor shown in ``repr``.
        keepalive: Seconds between PINGREQs when idle (the broker drops the client
            after 1.5 times this without traffic).
        tls: A :class:`eq1_network.TLSConfig`, ``True`` for ``TLSConfig()``, or
            ``False``/``None`` for plain MQTT.
        ca_certs: Deprecated: use ``tls=TLSConfig(cafile=...)``.
        certfile: Deprecated: use ``tls=TLSConfig(certfile=...)``.
        keyfile: Deprecated: use ``tls=TLSConfig(keyfile=...)``.
        keyfile_password: Deprecated: use ``tls=TLSConfig(password=...)``.
        tls_insecure: Deprecated: use ``tls=TLSConfig(check_hostname=False)``.
        connect_timeout: Seconds allowed for the TCP/TLS connection and for the CONNACK.

    Raises:
        ProtocolConfigurationError: If a value is invalid or a TLS file does not exist.
    """

    broker_address: str = "localhost"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive: int = 60
    tls: TLSConfig | bool | None = False
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    keyfile_password: str | None = field(default=None, repr=False)
    tls_insecure: bool | None = None
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.broker_address, str) or not self.broker_address.strip():
            raise _fail("broker_address", "must be a non-empty str", self.broker_address)
        _check_int("port", self.port, 1, 65535)
        _check_int("keepalive", self.keepalive, 0, 65535)
        for name in ("username", "password"):
            _check_optional_str(name, getattr(self, name))
        if self.password is not None and self.username is None:
            raise ProtocolConfigurationError("`password` needs a `username` as well")
        if self.tls is not None and not isinstance(self.tls, (bool, TLSConfig)):
            raise _fail("tls", "must be a TLSConfig, a bool or None", self.tls)
        if isinstance(self.tls, TLSConfig) and self.tls.server_hostname is not None:
            raise ProtocolConfigurationError(
                "`tls.server_hostname` is not supported by MQTT: the broker certificate is "
                "checked against `broker_address`; leave server_hostname None"
            )
        self._fold_old_tls_fields()
        if self.tls is True:
            object.__setattr__(self, "tls", TLSConfig())
        _check_float("connect_timeout", self.connect_timeout, positive=True)

    def _fold_old_tls_fields(self) -> None:
        given = [name for name in _OLD_TLS_FIELDS if getattr(self, name) not in (None, False)]
        if not given:
            return
        for name in ("ca_certs", "certfile", "keyfile", "keyfile_password"):
            _check_optional_str(name, getattr(self, name))
        if not isinstance(self.tls_insecure, (bool, type(None))):
            raise _fail("tls_insecure", "must be a bool", self.tls_insecure)
        if self.keyfile is not None and self.certfile is None:
            raise ProtocolConfigurationError("`keyfile` needs a `certfile` as well")
        for name in ("ca_certs", "certfile", "keyfile"):
            _check_file(name, getattr(self, name))
        if isinstance(self.tls, TLSConfig):
            raise ProtocolConfigurationError(
                f"give the TLS settings either as `tls=TLSConfig(...)` or as {given}, not both"
            )
        deprecated(
            f"BrokerConfig({', '.join(f'{name}=...' for name in given)})",
            "BrokerConfig(tls=eq1_network.TLSConfig(cafile=..., certfile=..., keyfile=..., "
            "password=..., check_hostname=...))",
            stacklevel=5,
        )
        if self.tls is True or self.ca_certs is not None or self.certfile is not None:
            tls = TLSConfig(
                cafile=self.ca_certs,
                certfile=self.certfile,
                keyfile=self.keyfile,
                password=self.keyfile_password,
                check_hostname=not self.tls_insecure,
            )
            object.__setattr__(self, "tls", tls)
        for name in _OLD_TLS_FIELDS:
            object.__setattr__(self, name, None)

    @property
    def tls_config(self) -> TLSConfig | None:
        """The TLS settings, or ``None`` for plain MQTT."""
        return self.tls if isinstance(self.tls, TLSConfig) else None

    @property
    def use_tls(self) -> bool:
        """Whether the connection is made over TLS."""
        return isinstance(self.tls, TLSConfig)


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
        overflow_policy: ``OverflowPolicy.REJECT`` (``publish()`` raises
            ``QueueFullError``) or ``OverflowPolicy.DROP_OLDEST`` (the oldest queued
            message's handle fails with ``QueueFullError`` and a warning is logged). The
            strings ``"reject"``/``"drop_oldest"`` are a deprecated spelling.
        queue_qos0: Also queue QoS 0 publishes while disconnected; otherwise such a
            publish raises ``ProtocolNotConnectedError``.
        reconnect_min_delay: Deprecated: use ``reconnect=ReconnectPolicy(initial_delay=...)``.
        reconnect_max_delay: Deprecated: use ``reconnect=ReconnectPolicy(max_delay=...)``.
        max_reconnect_attempts: Deprecated: use
            ``reconnect=ReconnectPolicy(max_attempts=...)``.
        reconnect: How a broken connection is re-established: backoff delays and
            ``max_attempts`` failed attempts in a row before giving up (``None``: retry
            network failures forever). Authentication and authorisation refusals are
            never retried. MQTT always reconnects: ``enabled=False`` is rejected.

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
    overflow_policy: OverflowPolicy = OverflowPolicy.REJECT
    queue_qos0: bool = False
    reconnect_min_delay: float | None = None
    reconnect_max_delay: float | None = None
    max_reconnect_attempts: int | None = None
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)

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
        policy = OverflowPolicy.coerce("overflow_policy", self.overflow_policy, stacklevel=5)
        if policy is OverflowPolicy.BLOCK:
            raise ProtocolConfigurationError(
                "`overflow_policy` must be OverflowPolicy.REJECT or DROP_OLDEST (the offline "
                "queue fills while the broker is away, so waiting could last forever), got BLOCK"
            )
        object.__setattr__(self, "overflow_policy", policy)
        self._fold_old_reconnect_fields()
        if not isinstance(self.reconnect, ReconnectPolicy):
            raise _fail("reconnect", "must be a ReconnectPolicy", self.reconnect)
        if not self.reconnect.enabled:
            raise ProtocolConfigurationError(
                "`reconnect.enabled` must be True: MQTT always re-establishes a broken "
                "connection; limit the attempts with ReconnectPolicy(max_attempts=...)"
            )

    def _fold_old_reconnect_fields(self) -> None:
        given = {
            new: getattr(self, old)
            for old, new in _OLD_RECONNECT_FIELDS.items()
            if getattr(self, old) is not None
        }
        if not given:
            return
        low, high = self.reconnect_min_delay, self.reconnect_max_delay
        for name, value in (("reconnect_min_delay", low), ("reconnect_max_delay", high)):
            if value is not None:
                _check_float(name, value, positive=True)
        if low is not None and high is not None and high < low:
            raise ProtocolConfigurationError(
                f"`reconnect_max_delay` must be >= `reconnect_min_delay`, got {high!r} < {low!r}"
            )
        if self.max_reconnect_attempts is not None:
            _check_int("max_reconnect_attempts", self.max_reconnect_attempts, 1)
        old = [name for name in _OLD_RECONNECT_FIELDS if getattr(self, name) is not None]
        if self.reconnect != ReconnectPolicy():
            raise ProtocolConfigurationError(
                f"give the reconnection settings either as `reconnect=ReconnectPolicy(...)` "
                f"or as {old}, not both"
            )
        deprecated(
            f"ClientConfig({', '.join(f'{name}=...' for name in old)})",
            "ClientConfig(reconnect=eq1_network.ReconnectPolicy(initial_delay=..., "
            "max_delay=..., max_attempts=...))",
            stacklevel=5,
        )
        if "max_delay" not in given and "initial_delay" in given:
            given["max_delay"] = max(given["initial_delay"], self.reconnect.max_delay)
        if "initial_delay" not in given and "max_delay" in given:
            given["initial_delay"] = min(given["max_delay"], self.reconnect.initial_delay)
        object.__setattr__(self, "reconnect", dataclasses.replace(self.reconnect, **given))
        for name in _OLD_RECONNECT_FIELDS:
            object.__setattr__(self, name, None)

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
