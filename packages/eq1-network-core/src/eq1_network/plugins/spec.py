"""The :class:`ProtocolSpec` a plugin returns for each protocol it provides."""

from __future__ import annotations

import importlib
from typing import Any

from eq1_network.common.exceptions import PluginLoadError, ProtocolConfigurationError
from eq1_network.interfaces.protocol import (
    BaseProtocol,
    ProtocolKind,
    PubSubProtocol,
    ReqResProtocol,
)

__all__ = ["ProtocolSpec"]

_KINDS = (ProtocolKind.REQRES, ProtocolKind.PUBSUB)


class ProtocolSpec:
    """Describes one protocol offered by a plugin.

    An immutable value: specs compare and hash by ``name``, ``factory``, ``kind``,
    ``schemes`` and ``summary`` (not by where they come from), and :meth:`replace`
    gives a copy with some fields changed.

    Args:
        name: Registry name, e.g. ``"tcp"``; lowercase letters, digits, ``-`` and ``_``.
        factory: The protocol class, or ``"package.module:ClassName"`` resolved only
            when the protocol is used, so that listing protocols never imports heavy
            dependencies.
        kind: ``"reqres"`` or ``"pubsub"`` (:class:`~eq1_network.interfaces.ProtocolKind`).
        schemes: URL schemes this protocol handles, e.g. ``("tcp",)``.
        summary: One line shown by ``eq1-network plugins``.
        distribution: Name of the distribution that provides it; filled in by the registry.
        version: Version of that distribution; filled in by the registry.

    Attributes:
        name: As given.
        factory: As given.
        kind: As given.
        schemes: As given.
        summary: As given.
        distribution: As given, or as filled in by the registry.
        version: As given, or as filled in by the registry.

    Raises:
        ProtocolConfigurationError: If the name, factory or kind is invalid.
    """

    name: str
    factory: type[BaseProtocol] | str
    kind: str
    schemes: tuple[str, ...]
    summary: str
    distribution: str | None
    version: str | None

    _FIELDS = ("name", "factory", "kind", "schemes", "summary", "distribution", "version")

    def __init__(
        self,
        name: str,
        factory: type[BaseProtocol] | str,
        kind: str = ProtocolKind.REQRES,
        schemes: tuple[str, ...] = (),
        summary: str = "",
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        values = (name, factory, kind, schemes, summary, distribution, version)
        for field, value in zip(self._FIELDS, values, strict=True):
            object.__setattr__(self, field, value)
        self._check()

    def _check(self) -> None:
        if not self.name or self.name != self.name.strip().lower() or " " in self.name:
            raise ProtocolConfigurationError(
                f"protocol name {self.name!r} must be a non-empty lowercase word"
            )
        if self.kind not in _KINDS:
            raise ProtocolConfigurationError(
                f"protocol {self.name!r}: kind must be one of {_KINDS}, got {self.kind!r}"
            )
        if isinstance(self.factory, str):
            module, sep, attr = self.factory.partition(":")
            if not module or not sep or not attr:
                raise ProtocolConfigurationError(
                    f"protocol {self.name!r}: factory string {self.factory!r} "
                    "must look like 'package.module:ClassName'"
                )
        elif not (isinstance(self.factory, type) and issubclass(self.factory, BaseProtocol)):
            raise ProtocolConfigurationError(
                f"protocol {self.name!r}: factory must be a BaseProtocol subclass "
                "or a 'module:attr' string"
            )

    def replace(self, **changes: Any) -> ProtocolSpec:
        """Return a copy with the named fields changed (checked as a new spec is).

        Args:
            **changes: New values, by field name.

        Returns:
            The new spec.

        Raises:
            TypeError: If a name is not a field.
            ProtocolConfigurationError: If the result is invalid.
        """
        unknown = set(changes).difference(self._FIELDS)
        if unknown:
            raise TypeError(f"ProtocolSpec has no field(s) {sorted(unknown)}")
        values = {field: getattr(self, field) for field in self._FIELDS}
        values.update(changes)
        return ProtocolSpec(**values)

    def _key(self) -> tuple[object, ...]:
        return (self.name, self.factory, self.kind, self.schemes, self.summary)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProtocolSpec) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{field}={getattr(self, field)!r}" for field in self._FIELDS)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ProtocolSpec is immutable: use replace({name}=...) for a copy")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("ProtocolSpec is immutable")

    @property
    def origin(self) -> str:
        """Where the spec comes from, for messages: the distribution or ``"<unknown>"``."""
        return self.distribution or "<unknown distribution>"

    def load(self) -> type[BaseProtocol]:
        """Resolve the factory to the protocol class, importing it if needed.

        Returns:
            The protocol class.

        Raises:
            PluginLoadError: If the module cannot be imported, the attribute is
                missing, or it is not a protocol class of the declared kind.
        """
        if isinstance(self.factory, str):
            module_name, _, attr = self.factory.partition(":")
            try:
                target: object = importlib.import_module(module_name)
                for part in attr.split("."):
                    target = getattr(target, part)
            except Exception as exc:
                raise PluginLoadError(
                    f"protocol {self.name!r} from {self.origin}: cannot load "
                    f"{self.factory!r}: {type(exc).__name__}: {exc}",
                    distribution=self.distribution,
                ) from exc
        else:
            target = self.factory
        expected = ReqResProtocol if self.kind == ProtocolKind.REQRES else PubSubProtocol
        if not (isinstance(target, type) and issubclass(target, expected)):
            raise PluginLoadError(
                f"protocol {self.name!r} from {self.origin}: {self.factory!r} is not a "
                f"{expected.__name__} subclass",
                distribution=self.distribution,
            )
        return target
