"""The :class:`ProtocolSpec` a plugin returns for each protocol it provides."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from eq1_network.common.exceptions import PluginLoadError, ProtocolConfigurationError
from eq1_network.interfaces.protocol import (
    BaseProtocol,
    ProtocolKind,
    PubSubProtocol,
    ReqResProtocol,
)

__all__ = ["ProtocolSpec"]

_KINDS = (ProtocolKind.REQRES, ProtocolKind.PUBSUB)


@dataclass(frozen=True)
class ProtocolSpec:
    """Describes one protocol offered by a plugin.

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

    Raises:
        ProtocolConfigurationError: If the name, factory or kind is invalid.
    """

    name: str
    factory: type[BaseProtocol] | str
    kind: str = ProtocolKind.REQRES
    schemes: tuple[str, ...] = ()
    summary: str = ""
    distribution: str | None = field(default=None, compare=False)
    version: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
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
