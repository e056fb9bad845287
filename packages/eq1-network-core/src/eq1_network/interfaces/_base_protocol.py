"""What every protocol is: :class:`BaseProtocol`, and the names of the two families."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
)

if TYPE_CHECKING:
    from eq1_network.urls import ParsedURL

__all__ = ["BaseProtocol", "ProtocolKind"]

_P = TypeVar("_P", bound="BaseProtocol")


class ProtocolKind:
    """Names of the two protocol families, as used in plugin specs and the CLI."""

    REQRES: ClassVar[str] = "reqres"
    PUBSUB: ClassVar[str] = "pubsub"


class BaseProtocol(abc.ABC):
    """Common base of every protocol.

    A protocol is a context manager: ``with proto:`` connects on entry (raising
    :class:`~eq1_network.common.exceptions.ProtocolConnectionError` if that fails)
    and disconnects on exit.

    Attributes:
        protocol_name: Optional registry name used by folder discovery
            (:meth:`eq1_network.ProtocolManager.discover`); the lowercased class
            name is used when it is empty.
    """

    protocol_name: ClassVar[str] = ""

    @classmethod
    def from_url(cls: type[_P], url: str, **overrides: Any) -> _P:
        """Create an unconnected instance from an endpoint URL.

        The URL is mapped to constructor arguments by :meth:`url_kwargs`; the scheme
        is not checked here (:func:`eq1_network.from_url` picks the class by scheme).

        Args:
            url: The endpoint, e.g. ``"tcp://127.0.0.1:5000?timeout=2"``.
            **overrides: Constructor keyword arguments replacing those from the URL.

        Returns:
            The new protocol, not connected.

        Raises:
            ProtocolConfigurationError: If the URL is malformed, lacks a required part,
                or has an unknown or ill-typed parameter; the message names the
                parameter, lists the valid ones and shows the URL with its password masked.
        """
        from eq1_network.urls import build_from_url  # imported on first use: keeps import fast

        return build_from_url(cls, url, overrides)

    @classmethod
    def url_kwargs(cls, url: ParsedURL) -> dict[str, Any]:
        """Map a parsed URL to constructor keyword arguments.

        The default (:func:`eq1_network.urls.default_url_kwargs`) passes ``host``,
        ``port``, ``path``, ``username`` and ``password`` to the constructor parameters
        of those names and each query parameter to the keyword argument of the same
        name, converted by its annotation. Override it when the URL means more.

        Args:
            url: The parsed URL.

        Returns:
            The keyword arguments.

        Raises:
            ProtocolConfigurationError: If a part or parameter does not fit the constructor.
        """
        from eq1_network.urls import default_url_kwargs

        return default_url_kwargs(cls, url)

    @abc.abstractmethod
    def connect(self) -> bool:
        """Establish the connection; a failure is always reported by raising.

        Returns:
            ``True`` once connected (also when already connected). Returning
            ``False`` is deprecated; callers treat it as a failed attempt.

        Raises:
            ProtocolConnectionError: If the attempt failed; the message names the
                endpoint and the reason.
        """

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Close the connection. Calling it when not connected does nothing."""

    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Tell whether the connection is currently established.

        Returns:
            ``True`` if connected.
        """

    def __enter__(self: _P) -> _P:
        if not self.connect():
            raise ProtocolConnectionError(f"{self!r}: connect() failed")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()
