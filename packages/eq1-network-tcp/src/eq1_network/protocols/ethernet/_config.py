"""Option objects of the TCP protocols and the checks shared by their constructors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolTypeError
from eq1_network.common.policies import ReconnectPolicy

__all__ = [
    "DEFAULT_BLOCKING_TIMEOUT",
    "DEFAULT_MAX_BUFFER",
    "KeepAlive",
    "ReconnectPolicy",
    "as_keepalive",
    "as_reconnect_policy",
    "check_address",
    "check_positive_int",
    "check_timeout",
    "pick_timeout",
]

DEFAULT_BLOCKING_TIMEOUT: Final = 30.0
"""Seconds a connect or a send may block when neither it nor ``timeout`` is set."""

DEFAULT_MAX_BUFFER: Final = 4 * 1024 * 1024
"""Most received bytes held per connection before reading from it pauses."""


def check_timeout(name: str, value: float | None, *, allow_none: bool = True) -> float | None:
    """Validate a timeout argument.

    Args:
        name: Parameter name, used in the message.
        value: Seconds, or ``None``.
        allow_none: Whether ``None`` is accepted.

    Returns:
        The value as a float, or ``None``.

    Raises:
        ProtocolTypeError: If the value is not a number.
        ProtocolConfigurationError: If it is negative, not finite, or ``None`` when
            that is not allowed.
    """
    if value is None:
        if allow_none:
            return None
        raise ProtocolConfigurationError(f"{name} must be a number of seconds, got None")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolTypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ProtocolConfigurationError(
            f"{name} must be a finite, non-negative number, got {value}"
        )
    return float(value)


def pick_timeout(explicit: float | None, fallback: float | None) -> float:
    """Choose the timeout of a blocking call: the explicit one, the fallback, or the default.

    Args:
        explicit: The specific option, e.g. ``connect_timeout``.
        fallback: The general ``timeout``.

    Returns:
        A finite number of seconds (never ``None``: every blocking call has a deadline).
    """
    if explicit is not None:
        return explicit
    if fallback is not None:
        return fallback
    return DEFAULT_BLOCKING_TIMEOUT


def check_positive_int(name: str, value: int) -> int:
    """Validate a positive integer argument.

    Args:
        name: Parameter name, used in the message.
        value: The value.

    Returns:
        The value.

    Raises:
        ProtocolTypeError: If it is not an int.
        ProtocolConfigurationError: If it is not positive.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolTypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ProtocolConfigurationError(f"{name} must be positive, got {value}")
    return value


def check_address(host: str, port: int, *, allow_zero_port: bool) -> tuple[str, int]:
    """Validate a host name and a port number.

    Args:
        host: Host name or IP address.
        port: Port number.
        allow_zero_port: Whether ``0`` (let the system choose) is accepted; servers only.

    Returns:
        ``(host, port)``.

    Raises:
        ProtocolTypeError: If host is not a str or port not an int.
        ProtocolConfigurationError: If host is empty or port out of range.
    """
    if not isinstance(host, str):
        raise ProtocolTypeError(f"host must be a str, got {type(host).__name__}")
    if not host.strip():
        raise ProtocolConfigurationError("host must not be empty")
    if isinstance(port, bool) or not isinstance(port, int):
        raise ProtocolTypeError(f"port must be an int, got {type(port).__name__}")
    low = 0 if allow_zero_port else 1
    if not low <= port <= 65535:
        raise ProtocolConfigurationError(f"port must be between {low} and 65535, got {port}")
    return host, port


@dataclass(frozen=True)
class KeepAlive:
    """TCP keep-alive settings: how a silent, vanished peer is eventually detected.

    The system sends a probe after ``idle`` seconds without traffic, repeats it every
    ``interval`` seconds, and declares the peer gone after ``count`` unanswered
    probes, so a peer that disappears without closing its socket (power loss, cable
    pulled) is noticed after about ``idle + interval * count`` seconds. Options the
    platform lacks are skipped.

    Args:
        enabled: Turn keep-alive on (``SO_KEEPALIVE``).
        idle: Seconds of silence before the first probe.
        interval: Seconds between probes.
        count: Unanswered probes before the connection is declared dead.

    Raises:
        ProtocolConfigurationError: If a number is not positive.
    """

    enabled: bool = True
    idle: float = 30.0
    interval: float = 10.0
    count: int = 3

    def __post_init__(self) -> None:
        for name in ("idle", "interval"):
            value = check_timeout(f"KeepAlive.{name}", getattr(self, name), allow_none=False)
            if value is not None and value < 1:
                raise ProtocolConfigurationError(
                    f"KeepAlive.{name} must be >= 1 second, got {value}"
                )
        check_positive_int("KeepAlive.count", self.count)


def as_keepalive(value: KeepAlive | bool) -> KeepAlive:
    """Normalise a ``keepalive`` argument.

    Args:
        value: Settings, or ``True``/``False`` for the defaults or off.

    Returns:
        The settings.

    Raises:
        ProtocolTypeError: If the value has another type.
    """
    if isinstance(value, KeepAlive):
        return value
    if isinstance(value, bool):
        return KeepAlive(enabled=value)
    raise ProtocolTypeError(f"keepalive must be a KeepAlive or a bool, got {type(value).__name__}")


def as_reconnect_policy(value: ReconnectPolicy | bool | None) -> ReconnectPolicy | None:
    """Normalise a ``reconnect`` argument.

    Args:
        value: A policy, ``True`` for the default policy, ``None``/``False`` (or a
            policy with ``enabled=False``) for none.

    Returns:
        The policy, or ``None`` when reconnection is off.

    Raises:
        ProtocolTypeError: If the value has another type.
    """
    if value is None or value is False:
        return None
    if value is True:
        return ReconnectPolicy()
    if isinstance(value, ReconnectPolicy):
        return value if value.enabled else None
    raise ProtocolTypeError(
        f"reconnect must be a ReconnectPolicy, a bool or None, got {type(value).__name__}"
    )
