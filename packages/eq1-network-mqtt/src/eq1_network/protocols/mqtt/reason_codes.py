"""MQTT reason codes, their standard names, and the exception each failure maps to.

Names follow OASIS MQTT 3.1.1 (Table 3.1, CONNACK return codes) and OASIS MQTT 5.0
(section 2.4, reason codes). The mapping is a table, so the documentation in
``docs/mqtt.md`` and the code cannot disagree.

CONNACK refusals:

==========================================  ===================================  =========
Codes (3.1.1 / 5.0)                         Exception                            Retried
==========================================  ===================================  =========
4, 5 / 0x86, 0x87, 0x8A, 0x8C               ProtocolAuthenticationError          never
1, 2 / 0x81, 0x82, 0x84, 0x85, 0x90, 0x95,  ProtocolConfigurationError           never
0x99, 0x9A, 0x9B
3 / 0x80, 0x83, 0x88, 0x89, 0x8B, 0x97,     ProtocolConnectionError              yes
0x9C, 0x9D, 0x9F, others
==========================================  ===================================  =========

SUBACK/UNSUBACK and PUBACK/PUBREC/PUBCOMP failures: 0x87 raises
ProtocolAuthenticationError; 0x8F, 0x90, 0x99, 0x9A, 0x9B, 0x9E, 0xA1, 0xA2 raise
MQTTValidationRefusalError (a ProtocolValidationError); any other failure raises
MQTTRefusalError (a ProtocolError). All three carry ``reason_code`` and ``reason_name``.
"""

from __future__ import annotations

from dataclasses import dataclass

from eq1_network.common.exceptions import (
    ProtocolAuthenticationError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolValidationError,
)

__all__ = [
    "CONNACK_V3_NAMES",
    "MQTTRefusalError",
    "MQTTValidationRefusalError",
    "REASON_NAMES_V5",
    "Reason",
    "connack_error",
    "is_terminal_connack",
    "reason_name",
    "refusal_error",
]

CONNACK_V3_NAMES: dict[int, str] = {
    0: "Connection Accepted",
    1: "Connection Refused, unacceptable protocol version",
    2: "Connection Refused, identifier rejected",
    3: "Connection Refused, Server unavailable",
    4: "Connection Refused, bad user name or password",
    5: "Connection Refused, not authorized",
}
"""MQTT 3.1.1 CONNACK return codes (Table 3.1)."""

REASON_NAMES_V5: dict[int, str] = {
    0x00: "Success",
    0x01: "Granted QoS 1",
    0x02: "Granted QoS 2",
    0x04: "Disconnect with Will Message",
    0x10: "No matching subscribers",
    0x11: "No subscription existed",
    0x18: "Continue authentication",
    0x19: "Re-authenticate",
    0x80: "Unspecified error",
    0x81: "Malformed Packet",
    0x82: "Protocol Error",
    0x83: "Implementation specific error",
    0x84: "Unsupported Protocol Version",
    0x85: "Client Identifier not valid",
    0x86: "Bad User Name or Password",
    0x87: "Not authorized",
    0x88: "Server unavailable",
    0x89: "Server busy",
    0x8A: "Banned",
    0x8B: "Server shutting down",
    0x8C: "Bad authentication method",
    0x8D: "Keep Alive timeout",
    0x8E: "Session taken over",
    0x8F: "Topic Filter invalid",
    0x90: "Topic Name invalid",
    0x91: "Packet Identifier in use",
    0x92: "Packet Identifier not found",
    0x93: "Receive Maximum exceeded",
    0x94: "Topic Alias invalid",
    0x95: "Packet too large",
    0x96: "Message rate too high",
    0x97: "Quota exceeded",
    0x98: "Administrative action",
    0x99: "Payload format invalid",
    0x9A: "Retain not supported",
    0x9B: "QoS not supported",
    0x9C: "Use another server",
    0x9D: "Server moved",
    0x9E: "Shared Subscriptions not supported",
    0x9F: "Connection rate exceeded",
    0xA0: "Maximum connect time",
    0xA1: "Subscription Identifiers not supported",
    0xA2: "Wildcard Subscriptions not supported",
}
"""MQTT 5.0 reason codes (section 2.4)."""

_AUTH_V3 = frozenset({4, 5})
_CONFIG_V3 = frozenset({1, 2})
_AUTH_V5 = frozenset({0x86, 0x87, 0x8A, 0x8C})
_CONFIG_V5 = frozenset({0x81, 0x82, 0x84, 0x85, 0x90, 0x95, 0x99, 0x9A, 0x9B})
_VALIDATION = frozenset({0x8F, 0x90, 0x99, 0x9A, 0x9B, 0x9E, 0xA1, 0xA2})
_NOT_AUTHORIZED = 0x87


@dataclass(frozen=True)
class Reason:
    """A reason code as received, with the MQTT version that defines its meaning.

    Attributes:
        code: The numeric code.
        v5: ``True`` for an MQTT 5 reason code (also used for MQTT 3.1.1 SUBACK return
            codes, which share their values); ``False`` for an MQTT 3.1.1 CONNACK return code.
    """

    code: int
    v5: bool = True

    @property
    def name(self) -> str:
        """The standard name of the code."""
        return reason_name(self.code, v5=self.v5)

    @property
    def is_failure(self) -> bool:
        """Whether the code reports a failure (``>= 0x80``; CONNACK 3.1.1: non-zero)."""
        return self.code >= 0x80 if self.v5 else self.code != 0

    def __str__(self) -> str:
        return f"{self.name} (reason code {self.code:#04x})"


def reason_name(code: int, *, v5: bool = True) -> str:
    """Return the standard name of a reason code.

    Args:
        code: The numeric code.
        v5: ``False`` to read ``code`` as an MQTT 3.1.1 CONNACK return code.

    Returns:
        The name, or ``"Unknown reason code N"``.
    """
    table = REASON_NAMES_V5 if v5 else CONNACK_V3_NAMES
    return table.get(code, f"Unknown reason code {code}")


def is_terminal_connack(reason: Reason) -> bool:
    """Tell whether reconnecting cannot help after this CONNACK refusal.

    Args:
        reason: The refusal.

    Returns:
        ``True`` for authentication, authorisation and configuration refusals.
    """
    if reason.v5:
        return reason.code in _AUTH_V5 or reason.code in _CONFIG_V5
    return reason.code in _AUTH_V3 or reason.code in _CONFIG_V3


def connack_error(reason: Reason, broker: str, username: str | None) -> ProtocolError:
    """Build the exception for a refused CONNACK.

    Args:
        reason: The refusal.
        broker: ``host:port`` for the message.
        username: The user name that was sent (never the password), for the message.

    Returns:
        A :class:`ProtocolAuthenticationError`, :class:`ProtocolConfigurationError` or
        :class:`ProtocolConnectionError` naming the code and its standard name.
    """
    who = f" as user {username!r}" if username else " without credentials"
    text = f"broker {broker} refused the connection{who}: {reason}"
    auth = _AUTH_V5 if reason.v5 else _AUTH_V3
    config = _CONFIG_V5 if reason.v5 else _CONFIG_V3
    if reason.code in auth:
        return ProtocolAuthenticationError(
            text + "; check the user name, password, certificate and the broker's ACL",
            reason_code=reason.code,
            reason_name=reason.name,
        )
    if reason.code in config:
        return ProtocolConfigurationError(text + "; the client configuration must change")
    return ProtocolConnectionError(text)


class MQTTRefusalError(ProtocolError):
    """The broker refused an operation with an MQTT reason code.

    Attributes:
        reason_code: The numeric reason code the broker sent.
        reason_name: Its standard name.
    """

    def __init__(self, message: str, *, reason_code: int, reason_name: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.reason_name = reason_name


class MQTTValidationRefusalError(MQTTRefusalError, ProtocolValidationError):
    """The broker refused a topic, payload or feature (a :class:`ProtocolValidationError`)."""


def refusal_error(reason: Reason, what: str) -> ProtocolError:
    """Build the exception for a failed SUBACK, UNSUBACK, PUBACK, PUBREC or PUBCOMP.

    Args:
        reason: The failure code.
        what: What was refused, for the message (``"SUBSCRIBE to 'a/#'"``).

    Returns:
        :class:`ProtocolAuthenticationError` for "Not authorized",
        :class:`MQTTValidationRefusalError` for topic, payload and feature refusals,
        :class:`MQTTRefusalError` otherwise; each carries the code and its name.
    """
    text = f"broker refused {what}: {reason}"
    if reason.code == _NOT_AUTHORIZED:
        return ProtocolAuthenticationError(text, reason_code=reason.code, reason_name=reason.name)
    if reason.code in _VALIDATION:
        return MQTTValidationRefusalError(text, reason_code=reason.code, reason_name=reason.name)
    return MQTTRefusalError(text, reason_code=reason.code, reason_name=reason.name)
