"""Lazy re-exports for package ``__init__`` modules.

A package that re-exports names from its submodules but must stay cheap to import
(plugin discovery imports every plugin package) lists, once, which module each name
lives in, and installs the module hooks this class provides::

    from eq1_network.common.lazy import LazyExports

    _EXPORTS = LazyExports(__name__, globals(), {
        ".serial_protocol": ("SerialProtocol",),
        ".ports": ("PortInfo", "list_ports"),
    })
    __getattr__ = _EXPORTS.getattr
    __dir__ = _EXPORTS.dir

The first access to a listed name imports its module and stores the value in the
package namespace, so later accesses are plain attribute lookups. Type checkers do
not run module ``__getattr__`` hooks: the package mirrors the table in an
``if TYPE_CHECKING:`` block of ``from MODULE import NAME`` lines, and
:func:`eq1_network.testing.check_lazy_exports` verifies in a test that the two agree.

Names that moved elsewhere stay reachable for a deprecation period through
``moved``: each access warns with a :class:`DeprecationWarning` naming the new home.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import warnings
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

__all__ = ["LazyExports"]


class LazyExports:
    """The ``__getattr__``/``__dir__`` hooks of one package, driven by one table.

    Args:
        package: The package's ``__name__``; relative module names (``".at"``) are
            resolved against it.
        namespace: The package's ``globals()``; resolved values are cached there.
        table: Module name to the names it provides, each name listed once.
        moved: Deprecated name to the public dotted path of its new home
            (``"eq1_network.TLSConfig"``, ``"eq1_network.OverflowPolicy.REJECT"``);
            resolved on every access, with a warning, and never cached.

    Raises:
        ValueError: If a name is listed twice (in ``table`` or in both arguments).
    """

    __slots__ = ("_homes", "_moved", "_namespace", "package", "table")

    def __init__(
        self,
        package: str,
        namespace: MutableMapping[str, Any],
        table: Mapping[str, Iterable[str]],
        *,
        moved: Mapping[str, str] | None = None,
    ) -> None:
        self.package = package
        self.table: dict[str, tuple[str, ...]] = {
            importlib.util.resolve_name(module, package): tuple(names)
            for module, names in table.items()
        }
        self._homes: dict[str, str] = {}
        for module, names in self.table.items():
            for name in names:
                if name in self._homes:
                    raise ValueError(
                        f"table: {name!r} is listed under both {self._homes[name]!r} and "
                        f"{module!r}; list each name once"
                    )
                self._homes[name] = module
        self._moved = dict(moved or {})
        for name in self._moved:
            if name in self._homes:
                raise ValueError(
                    f"moved: {name!r} is also in table; a name is either exported or moved"
                )
        self._namespace = namespace

    def getattr(self, name: str) -> Any:
        """Resolve ``name`` for the package's module ``__getattr__`` hook.

        Raises:
            AttributeError: If the package does not provide ``name``.
        """
        home = self._homes.get(name)
        if home is not None:
            value = getattr(importlib.import_module(home), name)
            self._namespace[name] = value
            return value
        target = self._moved.get(name)
        if target is not None:
            warnings.warn(
                f"{self.package}.{name} is deprecated and will be removed in a future "
                f"release; use {target} instead (the same object)",
                DeprecationWarning,
                stacklevel=2,
            )
            return pkgutil.resolve_name(target)
        raise AttributeError(f"module {self.package!r} has no attribute {name!r}")

    def dir(self) -> list[str]:
        """The package's names, loaded or not (moved ones too), for the ``__dir__`` hook."""
        return sorted(set(self._namespace) | set(self._homes) | set(self._moved))

    @property
    def names(self) -> frozenset[str]:
        """Every name the table provides (moved names excluded)."""
        return frozenset(self._homes)

    @property
    def moved(self) -> frozenset[str]:
        """The deprecated names that resolve elsewhere, with a warning."""
        return frozenset(self._moved)
