"""Exception hierarchy of EQ-1 Network.

Every error the library raises on purpose derives from :class:`ProtocolError` and,
except for the pure marker classes, from the matching built-in exception, so both
``except ProtocolError`` and the idiomatic ``except ConnectionError`` /
``except TimeoutError`` / ``except ValueError`` / ``except LookupError`` work.

Three bases say whose fault an error is, so that one ``except`` never mixes them:

* :class:`ProtocolUsageError` (local): the caller misused the library: a bad argument,
  a payload too large to send, a protocol used before ``connect()``.
* :class:`RemoteProtocolError` (remote, a ``ValueError``): the peer sent bytes that
  are not valid: a corrupt or oversized frame, inconsistent fragments.
* :class:`ProtocolConnectionError` (link, a ``ConnectionError``): the link could not
  be made or broke.

Hierarchy (``[deprecated]`` marks a relationship kept for compatibility; it is
removed in the next minor release)::

    ProtocolError
    ├── ProtocolUsageError                           local: the caller misused the API
    │   ├── ProtocolArgumentError (ValueError)        an argument value is invalid
    │   │   └── ProtocolConfigurationError            a constructor or config argument
    │   ├── ProtocolTypeError (TypeError)             an argument of the wrong Python type
    │   ├── PayloadTooLargeError (ValueError)         a payload too large to send
    │   └── ProtocolClosedError                       used before connect() or after close
    │       └── ProtocolNotConnectedError             also ProtocolConnectionError [deprecated]
    ├── RemoteProtocolError (ValueError)             remote: the peer sent invalid bytes
    │   ├── MalformedPacketError                      a header or frame is corrupt
    │   ├── FrameTooLargeError                        a received frame exceeds its limit
    │   └── FragmentError                             fragments missing, duplicated or inconsistent
    ├── ProtocolConnectionError (ConnectionError)    link: could not be made, or broke
    │   └── ProtocolAuthenticationError               the peer refused the credentials
    ├── ProtocolTimeoutError (TimeoutError)          nothing happened within the deadline
    ├── ProtocolNotFoundError (LookupError)          unknown protocol or registered name
    ├── QueueFullError                               a bounded queue refused an item
    ├── PluginLoadError (ImportError)                a plugin could not be imported
    │   └── DuplicateProtocolError                    two plugins claim the same name
    └── ProtocolValidationError (ValueError)         any invalid value, local or remote
        ├── ProtocolArgumentError                     (see above)
        └── PacketError                               bytes that are not a valid packet
            ├── PacketSizeError                       a payload or frame exceeds its limit
            │   ├── PayloadTooLargeError              local (see above)
            │   └── FrameTooLargeError                remote (see above)
            ├── MalformedPacketError                  remote (see above)
            └── FragmentError                         remote (see above)

:class:`ProtocolValidationError`, :class:`PacketError` and :class:`PacketSizeError`
group local and remote errors together; catch them only where both are handled the
same way. ``PacketError`` deriving from ``ProtocolValidationError`` is deprecated:
from the next minor release ``PacketError`` derives from ``ProtocolError`` and
``ValueError`` directly, and ``except ProtocolValidationError`` no longer catches a
peer's corrupt frame (catch :class:`RemoteProtocolError` for that).
:class:`ProtocolNotConnectedError` deriving from :class:`ProtocolConnectionError`
(and so from ``ConnectionError``) is deprecated likewise: catch
:class:`ProtocolClosedError` for "not connected".
"""

from __future__ import annotations

__all__ = [
    "DuplicateProtocolError",
    "FragmentError",
    "FrameTooLargeError",
    "MalformedPacketError",
    "PacketError",
    "PacketSizeError",
    "PayloadTooLargeError",
    "PluginLoadError",
    "ProtocolArgumentError",
    "ProtocolAuthenticationError",
    "ProtocolClosedError",
    "ProtocolConfigurationError",
    "ProtocolConnectionError",
    "ProtocolError",
    "ProtocolNotConnectedError",
    "ProtocolNotFoundError",
    "ProtocolTimeoutError",
    "ProtocolTypeError",
    "ProtocolUsageError",
    "ProtocolValidationError",
    "QueueFullError",
    "RemoteProtocolError",
]


class ProtocolError(Exception):
    """Base class of every error raised by EQ-1 Network."""


class ProtocolUsageError(ProtocolError):
    """The caller misused the library (local): fix the calling code or its configuration.

    A marker base: its subclasses also derive from the matching built-in
    (``ValueError``, ``TypeError``). Nothing the peer sends raises it.
    """


class RemoteProtocolError(ProtocolError, ValueError):
    """The peer sent bytes that are not valid for the protocol (remote).

    Nothing the caller passes raises it; the usual response is to drop or reset the
    connection to that peer.
    """


class ProtocolConnectionError(ProtocolError, ConnectionError):
    """The connection to the peer could not be established, or it broke (the link).

    Raised when the peer refuses or is unreachable, or when an established link
    fails (the peer vanished). Using a protocol that was never connected raises
    :class:`ProtocolClosedError` instead.
    """


class ProtocolClosedError(ProtocolUsageError):
    """The protocol was used before ``connect()`` or after the caller closed it (local)."""


class ProtocolNotConnectedError(ProtocolClosedError, ProtocolConnectionError):
    """The protocol was used before ``connect()`` or after ``disconnect()``.

    A :class:`ProtocolClosedError`. It also derives from :class:`ProtocolConnectionError`
    (and so ``ConnectionError``) for compatibility; that relationship is deprecated and
    removed in the next minor release, so catch ``ProtocolClosedError`` (or this class)
    rather than ``ProtocolConnectionError``/``ConnectionError`` for "not connected".
    """


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
    """A value is invalid: an argument the caller passed, or bytes the peer sent.

    It groups local and remote errors; catch :class:`ProtocolArgumentError` (local)
    or :class:`RemoteProtocolError` (remote) to tell them apart. Its packet errors
    (:class:`PacketError`) are deprecated members: from the next minor release
    ``except ProtocolValidationError`` no longer catches them.
    """


class ProtocolArgumentError(ProtocolValidationError, ProtocolUsageError):
    """An argument the caller passed has an invalid value (local)."""


class ProtocolConfigurationError(ProtocolArgumentError):
    """A constructor or configuration argument has an invalid value (local)."""


class PacketError(ProtocolValidationError):
    """Bytes that do not form a valid packet, or a payload that cannot be framed.

    Groups local (:class:`PayloadTooLargeError`) and remote (:class:`MalformedPacketError`,
    :class:`FrameTooLargeError`, :class:`FragmentError`) errors. Deriving from
    :class:`ProtocolValidationError` is deprecated; from the next minor release it
    derives from :class:`ProtocolError` and ``ValueError`` directly.
    """


class PacketSizeError(PacketError):
    """A payload, frame or buffer is larger than the configured limit.

    The library raises one of its two subclasses: :class:`PayloadTooLargeError` for
    data the caller wants to send, :class:`FrameTooLargeError` for data received.
    """


class PayloadTooLargeError(PacketSizeError, ProtocolUsageError):
    """A payload the caller wants to send is larger than the limit (local)."""


class FrameTooLargeError(PacketSizeError, RemoteProtocolError):
    """A received frame announces or fills more bytes than the limit (remote)."""


class MalformedPacketError(PacketError, RemoteProtocolError):
    """A received packet header or frame is corrupt and cannot be decoded (remote)."""


class FragmentError(PacketError, RemoteProtocolError):
    """Received fragments are missing, duplicated, inconsistent or over the limits (remote)."""


class ProtocolTypeError(ProtocolUsageError, TypeError):
    """An argument has the wrong Python type, e.g. ``str`` where ``bytes`` is required (local)."""


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
