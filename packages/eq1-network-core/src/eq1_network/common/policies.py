"""Policy types every protocol accepts: reconnection, TLS and queue overflow.

One vocabulary for all plugins: a :class:`ReconnectPolicy` says when and how often a
broken link is re-established, a :class:`TLSConfig` says how a TLS connection is made
from certificate files, and an :class:`OverflowPolicy` says what happens when a bounded
queue is full. Each validates its fields when created and raises
:class:`~eq1_network.common.exceptions.ProtocolConfigurationError` naming the field and
the rule.
"""

from __future__ import annotations

import enum
import math
import random
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from eq1_network.common.backoff import backoff_delays
from eq1_network.common.exceptions import ProtocolConfigurationError

__all__ = ["OverflowPolicy", "QueueFullPolicy", "ReconnectPolicy", "TLSConfig", "deprecated"]


def deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Emit the :class:`DeprecationWarning` of an old spelling.

    Args:
        old: The deprecated spelling, as the user wrote it.
        new: The replacement to use instead.
        stacklevel: Frame the warning is attributed to (3: the caller's caller).
    """
    warnings.warn(
        f"{old} is deprecated and will be removed in a future release; use {new} instead",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def _fail(name: str, rule: str, value: object) -> ProtocolConfigurationError:
    return ProtocolConfigurationError(f"{name} {rule}, got {value!r}")


def _number(name: str, value: object, *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, "must be a number", value)
    if not math.isfinite(value) or value < low:
        raise _fail(name, f"must be a finite number >= {low:g}", value)
    return float(value)


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise _fail(name, "must be a bool", value)


class OverflowPolicy(str, enum.Enum):
    """What happens when a bounded queue is full.

    The members compare equal to their string values (``OverflowPolicy.REJECT ==
    "reject"``). Not every queue supports every member; a protocol rejects a member it
    does not support with :class:`ProtocolConfigurationError`.
    """

    BLOCK = "block"
    """Wait up to the operation's timeout for room, then raise ``QueueFullError``."""
    REJECT = "reject"
    """Raise ``QueueFullError`` at once; nothing already queued is lost."""
    DROP_OLDEST = "drop_oldest"
    """Evict the oldest queued item (its sender is told) to make room for the new one."""
    RAISE = "reject"
    """Same member as :attr:`REJECT`; kept for code written against ``QueueFullPolicy``."""

    @classmethod
    def coerce(cls, name: str, value: object, *, stacklevel: int = 6) -> OverflowPolicy:
        """Return ``value`` as a member, accepting a member's string value with a warning.

        Args:
            name: The parameter name, for messages.
            value: A member, or one of the strings ``"block"``, ``"reject"``,
                ``"drop_oldest"`` (deprecated spelling).
            stacklevel: Frame the deprecation warning is attributed to.

        Returns:
            The member.

        Raises:
            ProtocolConfigurationError: If the value names no member.
        """
        if isinstance(value, cls):
            return value
        valid = [member.value for member in cls]
        if isinstance(value, str) and value in valid:
            member = cls(value)
            new = f"{name}=eq1_network.OverflowPolicy.{member.name}"
            deprecated(f"{name}={value!r}", new, stacklevel=stacklevel)
            return member
        raise _fail(name, f"must be an OverflowPolicy ({', '.join(valid)})", value)


QueueFullPolicy = OverflowPolicy
"""Former name of :class:`OverflowPolicy` (``RAISE`` is ``REJECT``)."""


@dataclass(frozen=True)
class ReconnectPolicy:
    """When and how often a protocol re-establishes a link that broke.

    The n-th delay (n = 0, 1, ...) is drawn uniformly from ``[ceiling * (1 - jitter),
    ceiling]`` where ``ceiling = min(max_delay, initial_delay * multiplier ** n)``:
    ``jitter=1`` (the default, "full jitter") spreads the reconnections of many clients
    that lost the same peer; ``jitter=0`` waits the ceilings themselves. A failed first
    ``connect()`` is never retried: the policy applies to a link that was up.

    Passing a policy to a protocol turns reconnection on; ``enabled=False`` turns it off
    while keeping the other settings (``NetworkConfig``'s default).

    Args:
        enabled: Reconnect automatically when the link drops.
        initial_delay: Ceiling of the first delay, in seconds (>= 0).
        max_delay: Largest delay, in seconds (>= ``initial_delay``).
        multiplier: Growth of the ceiling per attempt (>= 1).
        max_attempts: Give up after this many failed attempts in a row; ``None``
            retries until the protocol is disconnected or stopped.
        jitter: Fraction of each delay that is randomised, in ``[0, 1]``; ``True`` is
            1 and ``False`` is 0.

    Raises:
        ProtocolConfigurationError: If a value has the wrong type or is out of range.
    """

    enabled: bool = True
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    max_attempts: int | None = None
    jitter: float = 1.0

    def __post_init__(self) -> None:
        _flag("ReconnectPolicy.enabled", self.enabled)
        initial = _number("ReconnectPolicy.initial_delay", self.initial_delay)
        maximum = _number("ReconnectPolicy.max_delay", self.max_delay)
        if maximum < initial:
            raise ProtocolConfigurationError(
                f"ReconnectPolicy.max_delay must be >= initial_delay, got "
                f"max_delay={self.max_delay!r} < initial_delay={self.initial_delay!r}"
            )
        _number("ReconnectPolicy.multiplier", self.multiplier, low=1.0)
        jitter = float(self.jitter) if isinstance(self.jitter, bool) else self.jitter
        if _number("ReconnectPolicy.jitter", jitter) > 1:
            raise _fail("ReconnectPolicy.jitter", "must be between 0 and 1", self.jitter)
        object.__setattr__(self, "jitter", float(jitter))
        attempts = self.max_attempts
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            raise _fail("ReconnectPolicy.max_attempts", "must be an int >= 1 or None", attempts)

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the delay before each attempt; stops after ``max_attempts``.

        Args:
            rng: Random source, for reproducible tests.

        Returns:
            An iterator of seconds to wait before the next attempt.
        """
        return backoff_delays(
            self.initial_delay,
            self.max_delay,
            multiplier=self.multiplier,
            jitter=self.jitter,
            max_attempts=self.max_attempts,
            rng=rng,
        )


@dataclass(frozen=True)
class TLSConfig:
    """TLS built from certificate files, for users who do not build an ``SSLContext``.

    On a client, ``cafile`` names the CA bundle that verifies the server (the system
    store when ``None``) and ``certfile``/``keyfile`` an optional client certificate.
    On a server, ``certfile``/``keyfile`` are required and ``cafile``, when given,
    makes the server demand and verify a client certificate (mutual TLS).

    Args:
        certfile: PEM certificate chain of this side.
        keyfile: PEM private key of ``certfile`` (when not inside ``certfile``).
        cafile: PEM CA certificates that verify the other side.
        password: Password of an encrypted key; never shown in ``repr``.
        server_hostname: Name the client checks the server certificate against;
            the host connected to when ``None``.
        check_hostname: Whether a client verifies the server's name (the certificate
            itself is always verified).
        minimum_version: Oldest TLS version accepted.

    Raises:
        ProtocolConfigurationError: If a value has the wrong type, a named file does not
            exist, or a key is given without a certificate.
    """

    certfile: str | Path | None = None
    keyfile: str | Path | None = None
    cafile: str | Path | None = None
    password: str | None = field(default=None, repr=False)
    server_hostname: str | None = None
    check_hostname: bool = True
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2

    def __post_init__(self) -> None:
        for name in ("certfile", "keyfile", "cafile"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, Path)):
                raise _fail(f"TLSConfig.{name}", "must be a str or Path naming a file", value)
            if value is not None and not Path(value).is_file():
                raise ProtocolConfigurationError(
                    f"TLSConfig.{name}: no such file: {value!s} (it must name an existing file)"
                )
        if self.keyfile is not None and self.certfile is None:
            raise ProtocolConfigurationError(
                "TLSConfig.keyfile needs TLSConfig.certfile as well (the key of which certificate?)"
            )
        for name in ("password", "server_hostname"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                shown = "<hidden>" if name == "password" else value
                raise _fail(f"TLSConfig.{name}", "must be a str or None", shown)
        _flag("TLSConfig.check_hostname", self.check_hostname)
        if not isinstance(self.minimum_version, ssl.TLSVersion):
            raise _fail(
                "TLSConfig.minimum_version", "must be an ssl.TLSVersion", self.minimum_version
            )

    def client_context(self) -> ssl.SSLContext:
        """Build a client context: verifies the server, optionally presents a certificate.

        Returns:
            A ``PROTOCOL_TLS_CLIENT`` context.

        Raises:
            ProtocolConfigurationError: If a file cannot be loaded.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = self.minimum_version
        if self.cafile is None:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            self._load_ca(context)
        context.check_hostname = self.check_hostname
        self._load_chain(context)
        return context

    def server_context(self) -> ssl.SSLContext:
        """Build a server context; with ``cafile`` it demands a client certificate.

        Returns:
            A ``PROTOCOL_TLS_SERVER`` context.

        Raises:
            ProtocolConfigurationError: If ``certfile`` is missing or a file cannot be loaded.
        """
        if self.certfile is None:
            raise ProtocolConfigurationError(
                "tls: a server TLSConfig needs certfile (and keyfile), got certfile=None"
            )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = self.minimum_version
        self._load_chain(context)
        if self.cafile is not None:
            self._load_ca(context)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _load_chain(self, context: ssl.SSLContext) -> None:
        if self.certfile is None:
            return
        try:
            context.load_cert_chain(self.certfile, self.keyfile, self.password)
        except (OSError, ssl.SSLError) as exc:
            raise ProtocolConfigurationError(
                f"TLSConfig: cannot load certfile {self.certfile!s} "
                f"(keyfile {self.keyfile!s}): {exc}"
            ) from exc

    def _load_ca(self, context: ssl.SSLContext) -> None:
        try:
            context.load_verify_locations(cafile=self.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ProtocolConfigurationError(
                f"TLSConfig: cannot load cafile {self.cafile!s}: {exc}"
            ) from exc
