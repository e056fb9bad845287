"""Shared machinery of the connection managers: a thread-safe name -> protocol table."""

from __future__ import annotations

import itertools
import threading
from typing import Any, ClassVar, Generic, TypeVar

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolNotFoundError,
    ProtocolTypeError,
)
from eq1_network.interfaces.protocol import BaseProtocol

__all__ = ["ConnectionTable"]

_T = TypeVar("_T", bound=BaseProtocol)
_counter = itertools.count(1)
_M = TypeVar("_M", bound="ManagerBase[Any]")


class ConnectionTable(Generic[_T]):
    """Names mapped to protocol instances of one family, guarded by a lock.

    Args:
        family: The base class every registered protocol must derive from.
        owner: Name of the manager, used in messages.
    """

    def __init__(self, family: type[_T], owner: str) -> None:
        self._family = family
        self._owner = owner
        self._lock = threading.RLock()
        self._entries: dict[str, _T] = {}

    def add(self, name: str, protocol: _T | str) -> None:
        """Register ``protocol`` (an instance, or an endpoint URL to build one) under ``name``.

        Raises:
            ProtocolTypeError: If name is not a str or protocol has the wrong family.
            ProtocolValidationError: If the name is empty or already taken.
        """
        if not isinstance(name, str):
            raise ProtocolTypeError(f"{self._owner}: name must be a str, got {type(name).__name__}")
        if not name:
            raise ProtocolArgumentError(f"{self._owner}: name must not be empty")
        if isinstance(protocol, str):
            from eq1_network.plugins.registry import ProtocolManager

            protocol = ProtocolManager.from_url(protocol)  # type: ignore[assignment]
        if not isinstance(protocol, self._family):
            raise ProtocolTypeError(
                f"{self._owner}.register({name!r}, ...): expected a {self._family.__name__}, "
                f"got {type(protocol).__name__}"
            )
        with self._lock:
            if name in self._entries:
                raise ProtocolArgumentError(
                    f"{self._owner}: name {name!r} is already registered; unregister it first"
                )
            self._entries[name] = protocol

    def remove(self, name: str) -> _T:
        """Remove and return the protocol registered under ``name``.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        with self._lock:
            self.get(name)
            return self._entries.pop(name)

    def get(self, name: str) -> _T:
        """Return the protocol registered under ``name``.

        A plain dictionary read, without the lock: writers replace entries whole, so a
        reader sees the old or the new protocol, never a partial state.

        Raises:
            ProtocolNotFoundError: If the name is unknown; the message lists the known names.
        """
        protocol = self._entries.get(name)
        if protocol is not None:
            return protocol
        with self._lock:
            try:
                return self._entries[name]
            except KeyError:
                known = ", ".join(sorted(self._entries)) or "none"
                raise ProtocolNotFoundError(
                    f"{self._owner}: no protocol registered as {name!r}; registered: {known}"
                ) from None

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        with self._lock:
            return sorted(self._entries)

    def clear(self) -> list[_T]:
        """Remove every entry and return the protocols that were registered."""
        with self._lock:
            protocols = list(self._entries.values())
            self._entries.clear()
            return protocols


class ManagerBase(Generic[_T]):
    """Class-level API over a :class:`ConnectionTable`; each subclass has its own table."""

    _family: ClassVar[type[BaseProtocol]] = BaseProtocol  # type: ignore[type-abstract]
    _table: ClassVar[ConnectionTable[BaseProtocol]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._table = ConnectionTable(cls._family, cls.__name__)

    @classmethod
    def isolated(cls: type[_M]) -> type[_M]:
        """Return a new manager class with its own, empty table.

        Tests and applications that need several independent sets of connections use
        it exactly like the shared manager: ``mgr = ReqResManager.isolated();
        mgr.register("a", proto)``.

        Returns:
            A fresh subclass.
        """
        return type(f"{cls.__name__}_{next(_counter)}", (cls,), {})

    @classmethod
    def names(cls) -> list[str]:
        """Return the registered names, sorted.

        Returns:
            The names.
        """
        return cls._table.names()

    @classmethod
    def unregister(cls, name: str) -> None:
        """Forget a protocol. It is not disconnected; call :meth:`disconnect` first if needed.

        Args:
            name: The registered name.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        cls._table.remove(name)

    @classmethod
    def connect(cls, name: str) -> bool:
        """Connect the protocol registered under ``name``.

        Args:
            name: The registered name.

        Returns:
            What the protocol's ``connect()`` returned.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
            ProtocolConnectionError: If the protocol reports failure by exception.
        """
        return cls._table.get(name).connect()

    @classmethod
    def disconnect(cls, name: str) -> None:
        """Disconnect the protocol registered under ``name``.

        Args:
            name: The registered name.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        cls._table.get(name).disconnect()

    @classmethod
    def is_connected(cls, name: str) -> bool:
        """Tell whether the protocol registered under ``name`` is connected.

        Args:
            name: The registered name.

        Returns:
            ``True`` if connected.

        Raises:
            ProtocolNotFoundError: If the name is unknown.
        """
        return cls._table.get(name).is_connected()

    @classmethod
    def disconnect_all(cls) -> None:
        """Disconnect every registered protocol and forget them all."""
        for protocol in cls._table.clear():
            protocol.disconnect()
