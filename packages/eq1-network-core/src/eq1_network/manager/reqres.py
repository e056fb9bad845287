"""ReqResManager: request/response protocols by name."""

from __future__ import annotations

from typing import ClassVar, cast

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolTimeoutError,
)
from eq1_network.common.logging import get_logger
from eq1_network.interfaces._reading import DEFAULT_MAX_BYTES
from eq1_network.interfaces.protocol import BaseProtocol, ReqResProtocol
from eq1_network.manager._base import ManagerBase

__all__ = ["DEFAULT_READ_TIMEOUT", "ReqResManager"]

logger = get_logger(__name__)

DEFAULT_READ_TIMEOUT = 1.0
"""Seconds ``ReqResManager.read`` waits when neither the call nor the protocol sets one."""


class ReqResManager(ManagerBase[ReqResProtocol]):
    """Request/response protocols registered by name; every method is thread-safe.

    Example:
        >>> from eq1_network import ReqResManager, get_protocol
        >>> mgr = ReqResManager.isolated()
        >>> mgr.register("echo", get_protocol("loopback")())
        >>> mgr.connect("echo")
        True
        >>> mgr.send("echo", b"ping")
        4
        >>> mgr.read("echo", timeout=1.0)
        b'ping'
        >>> mgr.disconnect("echo")
    """

    _family: ClassVar[type[BaseProtocol]] = ReqResProtocol  # type: ignore[type-abstract]

    @classmethod
    def register(cls, name: str, protocol: ReqResProtocol | str) -> None:
        """Register a request/response protocol under a name.

        Args:
            name: Any non-empty name, e.g. ``"tcp_client"``.
            protocol: The protocol instance, or an endpoint URL (``"tcp://host:5000"``)
                from which an unconnected one is built.

        Raises:
            ProtocolTypeError: If ``protocol`` is not a :class:`ReqResProtocol`.
            ProtocolNotFoundError: If no protocol handles the URL's scheme.
            ProtocolConfigurationError: If the URL does not fit the protocol.
            ProtocolValidationError: If the name is already registered.
        """
        cls._table.add(name, protocol)

    @classmethod
    def get(cls, name: str) -> ReqResProtocol:
        """Return the protocol registered under ``name``.

        Args:
            name: The registered name.

        Returns:
            The protocol.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        return cast(ReqResProtocol, cls._table.get(name))

    @classmethod
    def send(cls, name: str, data: bytes) -> int:
        """Send bytes through the protocol registered under ``name``.

        Args:
            name: The registered name.
            data: The bytes.

        Returns:
            The number of bytes sent.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
            ProtocolConnectionError: If the protocol is not connected or the link broke.
        """
        protocol: ReqResProtocol = cls._table.get(name)  # type: ignore[assignment]
        return protocol.send(data)

    @classmethod
    def read(cls, name: str, timeout: float | None = None) -> bytes:
        """Wait for data from the protocol registered under ``name``.

        The protocol's :meth:`~eq1_network.interfaces.ReqResProtocol.read_within` does
        the waiting: a protocol with a real readiness wait is waited on first, which
        returns at once when data is waiting; other protocols are read first and then
        polled with the interface's sleeping default.

        Args:
            name: The registered name.
            timeout: Longest wait in seconds; default the protocol's own ``timeout``,
                or :data:`DEFAULT_READ_TIMEOUT` when it has none.

        Returns:
            The bytes that were waiting (at least one byte).

        Raises:
            ProtocolNotFoundError: If the name is unknown.
            ProtocolTimeoutError: If nothing arrived within the timeout.
            ProtocolValidationError: If ``timeout`` is negative.
        """
        protocol: ReqResProtocol = cls._table.get(name)  # type: ignore[assignment]
        if timeout is None:
            timeout = protocol.timeout if protocol.timeout is not None else DEFAULT_READ_TIMEOUT
        if timeout < 0:
            raise ProtocolArgumentError(f"timeout must be non-negative, got {timeout}")
        data = protocol.read_within(timeout)
        if data is None:
            raise ProtocolTimeoutError(
                f"ReqResManager.read({name!r}): no data within {timeout:g} s"
            )
        return data

    @classmethod
    def read_until(
        cls,
        name: str,
        terminator: bytes = b"\n",
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float | None = None,
    ) -> bytes:
        """Read one answer up to and including ``terminator`` from ``name``.

        See :meth:`ReqResProtocol.read_until
        <eq1_network.interfaces.ReqResProtocol.read_until>`; bytes after the
        terminator stay buffered for the next read.

        Args:
            name: The registered name.
            terminator: The bytes that end an answer.
            max_bytes: Longest accepted answer, terminator included.
            timeout: Longest wait in seconds; default the protocol's own ``timeout``,
                or :data:`DEFAULT_READ_TIMEOUT` when it has none.

        Returns:
            The answer, terminator included.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
            ProtocolTimeoutError: If the terminator did not arrive in time.
            PacketSizeError: If ``max_bytes`` bytes arrived without a terminator.
        """
        protocol: ReqResProtocol = cls._table.get(name)  # type: ignore[assignment]
        return protocol.read_until(terminator, max_bytes=max_bytes, timeout=timeout)

    @classmethod
    def read_exactly(cls, name: str, n: int, *, timeout: float | None = None) -> bytes:
        """Read exactly ``n`` bytes from ``name``; any surplus stays buffered.

        Args:
            name: The registered name.
            n: How many bytes.
            timeout: Longest wait in seconds; default as for :meth:`read`.

        Returns:
            The ``n`` bytes.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
            ProtocolTimeoutError: If fewer than ``n`` bytes arrived in time.
        """
        protocol: ReqResProtocol = cls._table.get(name)  # type: ignore[assignment]
        return protocol.read_exactly(n, timeout=timeout)

    @classmethod
    def query(
        cls,
        name: str,
        data: bytes,
        *,
        until: bytes | None = None,
        size: int | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float | None = None,
    ) -> bytes:
        """Send a request through ``name`` and read its answer.

        See :meth:`ReqResProtocol.query <eq1_network.interfaces.ReqResProtocol.query>`.

        Args:
            name: The registered name.
            data: The request.
            until: Terminator of the answer (default ``b"\\n"``).
            size: Exact length of the answer, instead of a terminator.
            max_bytes: Longest accepted answer when reading up to a terminator.
            timeout: Longest wait for the answer; default as for :meth:`read`.

        Returns:
            The answer.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
            ProtocolTimeoutError: If the answer did not arrive in time.
            PacketSizeError: If the answer exceeds ``max_bytes``.
        """
        protocol: ReqResProtocol = cls._table.get(name)  # type: ignore[assignment]
        return protocol.query(data, until=until, size=size, max_bytes=max_bytes, timeout=timeout)
