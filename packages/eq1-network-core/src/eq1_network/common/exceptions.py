"""Exception hierarchy of EQ-1 Network.

Every error the library raises on purpose derives from :class:`ProtocolError` and
from the matching built-in exception, so both ``except ProtocolError`` and the
idiomatic ``except ConnectionError`` / ``except TimeoutError`` /
``except ValueError`` / ``except LookupError`` work.

Hierarchy::

    ProtocolError
    ├── ProtocolConnectionError (ConnectionError)   the link could not be made or broke
    │   ├── ProtocolNotConnectedError                used before connect() or after disconnect()
    │   └── ProtocolAuthenticationError              the peer refused the credentials
    ├── ProtocolTimeoutError (TimeoutError)         nothing happened within the deadline
    ├── ProtocolNotFoundError (LookupError)         unknown protocol or registered name
    ├── ProtocolValidationError (ValueError)        bad input: value, configuration, data
    │   ├── ProtocolConfigurationError               a constructor or config argument is invalid
    │   └── PacketError                              bytes that are not a valid packet
    │       ├── PacketSizeError                      a payload or buffer exceeds its limit
    │       ├── MalformedPacketError                 a header or frame is corrupt
    │       └── FragmentError                        fragments missing, duplicated or inconsistent
    ├── ProtocolTypeError (TypeError)               an argument of the wrong Python type
    ├── QueueFullError                              a bounded queue refused an item
    └── PluginLoadError (ImportError)               a plugin could not be imported or registered
        └── DuplicateProtocolError                   two plugins claim the same protocol name
"""

from __future__ import annotations

__all__ = [
    "DuplicateProtocolError",
    "FragmentError",
    "MalformedPacketError",
    "PacketError",
    "PacketSizeError",
    "PluginLoadError",
    "ProtocolAuthenticationError",
    "ProtocolConfigurationError",
    "ProtocolConnectionError",
    "ProtocolError",
    "ProtocolNotConnectedError",
    "ProtocolNotFoundError",
    "ProtocolTimeoutError",
    "ProtocolTypeError",
    "ProtocolValidationError",
    "QueueFullError",
]


class ProtocolError(Exception):
    """Base class of every error raised by EQ-1 Network."""


class ProtocolConnectionError(ProtocolError, ConnectionError):
    """The connection to the peer could not be established, or it broke.

    Raised when the peer refuses or is unreachable, or when an established link
    fails (the peer vanished). Compare :class:`ProtocolNotConnectedError`, which
    means the caller used a protocol it had not connected.
    """


class ProtocolNotConnectedError(ProtocolConnectionError):
    """The protocol was used before ``connect()`` or after ``disconnect()``."""


class ProtocolAuthenticationError(ProtocolConnectionError):
    """The peer refused the credentials or the client is not authorised.

    Attributes:
        reason_code: The numeric code the peer sent, when the protocol has one.
        reason_name: The standard name of that code, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        reason_code: int | None = None,
        reason_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.reason_name = reason_name


class ProtocolTimeoutError(ProtocolError, TimeoutError):
    """A blocking call reached its deadline before the operation completed."""


class ProtocolNotFoundError(ProtocolError, LookupError):
    """A protocol name or a registered connection name is unknown.

    The message lists the names that are available.
    """


class ProtocolValidationError(ProtocolError, ValueError):
    """An argument, a configuration value or received data is invalid."""


class ProtocolConfigurationError(ProtocolValidationError):
    """A constructor or configuration argument has an invalid value."""


class PacketError(ProtocolValidationError):
    """Bytes that do not form a valid packet for the packet structure in use."""


class PacketSizeError(PacketError):
    """A payload, frame or buffer is larger than the configured limit."""


class MalformedPacketError(PacketError):
    """A packet header or frame is corrupt and cannot be decoded."""


class FragmentError(PacketError):
    """Fragments of a split payload are missing, duplicated or inconsistent."""


class ProtocolTypeError(ProtocolError, TypeError):
    """An argument has the wrong Python type (for example ``str`` where ``bytes`` is required)."""


class QueueFullError(ProtocolError):
    """A bounded queue is full and the configured policy is to refuse new items."""


class PluginLoadError(ProtocolError, ImportError):
    """A protocol plugin could not be imported or registered.

    Attributes:
        distribution: The name of the distribution that provides the plugin, when known.
    """

    def __init__(self, message: str, *, distribution: str | None = None) -> None:
        super().__init__(message)
        self.distribution = distribution


class DuplicateProtocolError(PluginLoadError):
    """Two plugins register the same protocol name; the message names both distributions."""
