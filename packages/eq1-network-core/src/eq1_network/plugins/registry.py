"""The protocol registry: entry-point discovery, lookup and creation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from eq1_network.common.exceptions import (
    DuplicateProtocolError,
    PluginLoadError,
    ProtocolNotFoundError,
)
from eq1_network.common.logging import LazyLogger
from eq1_network.interfaces.protocol import BaseProtocol
from eq1_network.plugins._availability import (
    FIRST_PARTY_NAMES,
    FIRST_PARTY_SCHEMES,
    LoadFailure,
    ProtocolUnavailableError,
    install_hint,
)
from eq1_network.plugins._entry_points import protocol_entry_points
from eq1_network.plugins._loading import add_spec, load_plugins
from eq1_network.plugins.spec import ProtocolSpec

if TYPE_CHECKING:
    from pathlib import Path

    import pluggy

__all__ = ["ProtocolManager", "ProtocolRegistry", "from_url", "get_protocol"]

logger = LazyLogger(__name__)


class ProtocolRegistry:
    """Finds protocols in installed plugins and in folders, and hands them out by name.

    Entry points are read lazily on first use and cached; :meth:`refresh` reads
    them again. A plugin that fails to import is logged and listed in
    :attr:`errors`, and never stops the other plugins from loading.

    Args:
        use_entry_points: Read the ``eq1_network.protocols`` entry points. Tests
            turn this off to get an empty, isolated registry.
    """

    def __init__(self, *, use_entry_points: bool = True) -> None:
        self._use_entry_points = use_entry_points
        self._lock = threading.RLock()
        self._specs: dict[str, ProtocolSpec] | None = None
        self._duplicates: dict[str, list[ProtocolSpec]] = {}
        self._errors: list[PluginLoadError] = []
        self._failures: list[LoadFailure] = []
        self._extra: list[ProtocolSpec] = []
        self._plugins: list[tuple[str, object]] = []
        self._plugin_manager: pluggy.PluginManager | None = None
        self.load_seconds: float = 0.0

    # -- loading -------------------------------------------------------------

    def refresh(self) -> None:
        """Forget what was discovered; the next lookup reads the entry points again.

        Specs added with :meth:`register` and :meth:`discover` are kept.
        """
        with self._lock:
            self._specs = None
            self._plugin_manager = None

    def _collect(self) -> dict[str, ProtocolSpec]:
        started = time.perf_counter()
        entry_points = protocol_entry_points() if self._use_entry_points else []
        loaded = load_plugins(entry_points, self._extra)
        self._errors, self._failures = loaded.errors, loaded.failures
        self._duplicates = loaded.duplicates
        self._plugins, self._plugin_manager = loaded.plugins, loaded.plugin_manager
        self.load_seconds = time.perf_counter() - started
        logger.debug("discovered %d protocols in %.4f s", len(loaded.table), self.load_seconds)
        return loaded.table

    def _table(self) -> dict[str, ProtocolSpec]:
        with self._lock:
            if self._specs is None:
                self._specs = self._collect()
            return self._specs

    # -- queries -------------------------------------------------------------

    @property
    def errors(self) -> list[PluginLoadError]:
        """Problems met while loading plugins (failed imports, duplicate names)."""
        self._table()
        return list(self._errors)

    def plugin_manager(self) -> pluggy.PluginManager:
        """Return the pluggy manager holding the loaded plugin modules.

        It is built on first use (protocol lookups do not need it), with the plugin
        modules registered under the same names and in the same order as when they
        were loaded.

        Returns:
            The plugin manager (used, for example, by the CLI to collect sub-commands).
        """
        with self._lock:
            self._table()
            if self._plugin_manager is None:
                from eq1_network.plugins._manager import new_plugin_manager  # imports pluggy

                self._plugin_manager = new_plugin_manager(self._plugins)
            return self._plugin_manager

    def available(self) -> list[str]:
        """List the registered protocol names.

        Returns:
            The names, sorted.
        """
        return sorted(self._table())

    def specs(self) -> list[ProtocolSpec]:
        """List the specs of every registered protocol.

        Returns:
            The specs, sorted by name.
        """
        table = self._table()
        return [table[name] for name in sorted(table)]

    def spec(self, name: str) -> ProtocolSpec:
        """Return the spec of one protocol.

        Args:
            name: The protocol name.

        Returns:
            Its spec.

        Raises:
            ProtocolNotFoundError: If no protocol has that name.
            DuplicateProtocolError: If several distributions claim the name.
        """
        table = self._table()
        if name in self._duplicates:
            origins = " and ".join(s.origin for s in self._duplicates[name])
            raise DuplicateProtocolError(
                f"protocol name {name!r} is ambiguous: registered by {origins}"
            )
        try:
            return table[name]
        except KeyError:
            self._raise_missing(name, FIRST_PARTY_NAMES.get(name), "protocol")
            names = ", ".join(sorted(table)) or "none"
            raise ProtocolNotFoundError(
                f"unknown protocol {name!r}; available protocols: {names}"
                f"{self._missing_hint(FIRST_PARTY_NAMES.get(name))}"
            ) from None

    def _missing_hint(self, distribution: str | None) -> str:
        hint = f"; install it with: {install_hint(distribution)}" if distribution else ""
        if self._failures:
            broken = "; ".join(f.describe() for f in self._failures)
            hint += f"; plugins that failed to load: {broken}"
        return hint

    def _raise_missing(self, name: str, distribution: str | None, what: str) -> None:
        """Raise :class:`ProtocolUnavailableError` if ``name``'s plugin failed to load."""
        for failure in self._failures:
            if failure.name == name or (
                distribution is not None and failure.distribution == distribution
            ):
                raise ProtocolUnavailableError(
                    f"{what} {name!r} is unavailable: {failure.describe()}",
                    name=name,
                    failure=failure,
                ) from failure.exception

    def get_protocol(self, name: str) -> type[BaseProtocol]:
        """Return the protocol class registered under ``name``.

        Args:
            name: The protocol name, e.g. ``"tcp"``.

        Returns:
            The class (not an instance).

        Raises:
            ProtocolNotFoundError: If no protocol has that name; the message lists the
                available names.
            DuplicateProtocolError: If several distributions claim the name.
            ProtocolUnavailableError: If its module cannot be imported (also a
                :class:`PluginLoadError`); it carries the distribution, module and exception.
        """
        return self._load(self.spec(name))

    def _load(self, spec: ProtocolSpec) -> type[BaseProtocol]:
        try:
            return spec.load()
        except PluginLoadError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ImportError) or not isinstance(spec.factory, str):
                raise
            failure = LoadFailure(
                spec.name, spec.factory.partition(":")[0], spec.distribution, cause
            )
            raise ProtocolUnavailableError(str(exc), name=spec.name, failure=failure) from cause

    def schemes(self) -> dict[str, ProtocolSpec]:
        """Map every URL scheme to the spec of the protocol that handles it.

        Returns:
            Scheme to spec, sorted by scheme.
        """
        found: dict[str, ProtocolSpec] = {}
        for spec in self.specs():
            for scheme in spec.schemes:
                found.setdefault(scheme.lower(), spec)
        return dict(sorted(found.items()))

    def spec_for_url(self, url: str) -> ProtocolSpec:
        """Return the spec of the protocol that handles a URL's scheme.

        Args:
            url: The endpoint URL.

        Returns:
            The spec.

        Raises:
            ProtocolConfigurationError: If ``url`` is not a URL.
            ProtocolNotFoundError: If no protocol declares the scheme; the message lists
                the known schemes with their distributions, and for a first-party scheme
                the command that installs it.
            ProtocolUnavailableError: If the plugin of that scheme failed to load.
        """
        from eq1_network.urls import mask_url, scheme_of  # imported on first use

        scheme = scheme_of(url)
        table = self.schemes()
        if scheme in table:
            return table[scheme]
        distribution = FIRST_PARTY_SCHEMES.get(scheme)
        self._raise_missing(scheme, distribution, "URL scheme")
        known = ", ".join(f"{s}:// ({p.name}, {p.origin})" for s, p in table.items()) or "none"
        raise ProtocolNotFoundError(
            f"no protocol handles the URL scheme {scheme!r} of {mask_url(url)!r}; "
            f"known schemes: {known}{self._missing_hint(distribution)}"
        )

    def from_url(self, url: str, **overrides: Any) -> BaseProtocol:
        """Create an unconnected protocol from an endpoint URL.

        Args:
            url: E.g. ``"tcp://127.0.0.1:5000?timeout=2"``; the scheme selects the protocol.
            **overrides: Constructor keyword arguments replacing those from the URL.

        Returns:
            The new protocol, not connected.

        Raises:
            ProtocolNotFoundError: If no protocol handles the scheme.
            ProtocolConfigurationError: If the URL does not fit the protocol.
        """
        return self._load(self.spec_for_url(url)).from_url(url, **overrides)

    def create(self, name: str, *args: Any, **kwargs: Any) -> BaseProtocol:
        """Create an instance of a registered protocol.

        Args:
            name: The protocol name.
            *args: Positional arguments for its constructor.
            **kwargs: Keyword arguments for its constructor.

        Returns:
            The new, unconnected protocol.

        Raises:
            ProtocolNotFoundError: If no protocol has that name.
        """
        return self.get_protocol(name)(*args, **kwargs)

    # -- additions -----------------------------------------------------------

    def register(self, spec: ProtocolSpec) -> None:
        """Register a protocol programmatically.

        Args:
            spec: Its spec.

        Raises:
            DuplicateProtocolError: If the name is taken.
        """
        with self._lock:
            table = self._table()
            if spec.name in table:
                raise DuplicateProtocolError(
                    f"protocol name {spec.name!r} is already registered by "
                    f"{table[spec.name].origin}"
                )
            self._extra.append(spec)
            table[spec.name] = spec

    def discover(self, path: str | Path) -> list[str]:
        """Register the protocol classes found in the modules of a folder.

        Args:
            path: The folder.

        Returns:
            The names registered.

        Raises:
            PluginLoadError: If the path is not a folder.
        """
        from eq1_network.plugins._discovery import specs_from_directory  # only folders need it

        specs, errors = specs_from_directory(path)
        with self._lock:
            self._table()
            self._errors.extend(errors)
            added = []
            for spec in specs:
                table = self._table()
                if spec.name in table and table[spec.name].factory is spec.factory:
                    continue
                self._extra.append(spec)
                add_spec(table, self._duplicates, self._errors, spec)
                added.append(spec.name)
            return added

    def hook_modules(self) -> Iterable[ModuleType]:
        """Return the plugin modules loaded from entry points.

        Returns:
            The modules.
        """
        return [p for p in self.plugin_manager().get_plugins() if isinstance(p, ModuleType)]


class ProtocolManager:
    """Process-wide access to protocols by name: ``ProtocolManager.get_protocol("tcp")``.

    All methods are class methods delegating to one shared :class:`ProtocolRegistry`.
    """

    registry: ClassVar[ProtocolRegistry] = ProtocolRegistry()

    @classmethod
    def get_protocol(cls, name: str) -> type[BaseProtocol]:
        """Return the protocol class registered under ``name``.

        Args:
            name: The protocol name.

        Returns:
            The class.

        Raises:
            ProtocolNotFoundError: If unknown; the message lists the available names.
        """
        return cls.registry.get_protocol(name)

    @classmethod
    def available(cls) -> list[str]:
        """List the protocol names, sorted.

        Returns:
            The names.
        """
        return cls.registry.available()

    @classmethod
    def specs(cls) -> list[ProtocolSpec]:
        """List the specs of every protocol, sorted by name.

        Returns:
            The specs.
        """
        return cls.registry.specs()

    @classmethod
    def create(cls, name: str, *args: Any, **kwargs: Any) -> BaseProtocol:
        """Create an instance of a protocol.

        Args:
            name: The protocol name.
            *args: Constructor arguments.
            **kwargs: Constructor keyword arguments.

        Returns:
            The new protocol.
        """
        return cls.registry.create(name, *args, **kwargs)

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> BaseProtocol:
        """Create an unconnected protocol from an endpoint URL; the scheme selects it.

        Args:
            url: E.g. ``"mqtt://broker:1883?client_id=x"``.
            **overrides: Constructor keyword arguments replacing those from the URL.

        Returns:
            The new protocol.

        Raises:
            ProtocolNotFoundError: If no protocol handles the scheme.
            ProtocolConfigurationError: If the URL does not fit the protocol.
        """
        return cls.registry.from_url(url, **overrides)

    @classmethod
    def discover(cls, path: str | Path) -> list[str]:
        """Register the protocol classes of a folder's modules.

        Args:
            path: The folder.

        Returns:
            The names registered.
        """
        return cls.registry.discover(path)

    @classmethod
    def refresh(cls) -> None:
        """Read the installed plugins again on next use."""
        cls.registry.refresh()

    @classmethod
    def errors(cls) -> list[PluginLoadError]:
        """Return the problems met while loading plugins.

        Returns:
            The errors.
        """
        return cls.registry.errors


def get_protocol(name: str) -> type[BaseProtocol]:
    """Return the protocol class registered under ``name`` (shortcut for ``ProtocolManager``).

    Args:
        name: The protocol name, e.g. ``"loopback"``.

    Returns:
        The class.

    Raises:
        ProtocolNotFoundError: If unknown; the message lists the available names.
    """
    return ProtocolManager.get_protocol(name)


def from_url(url: str, **overrides: Any) -> BaseProtocol:
    """Create an unconnected protocol from an endpoint URL (shortcut for ``ProtocolManager``).

    The scheme selects the protocol (``tcp://``, ``mqtt://``, ``serial://``, ...); the
    rest maps to constructor arguments. See ``docs/urls.md`` for the grammar.

    Args:
        url: E.g. ``"tcp://127.0.0.1:5000?timeout=2"``.
        **overrides: Constructor keyword arguments replacing those from the URL.

    Returns:
        The new protocol, not connected.

    Raises:
        ProtocolNotFoundError: If no protocol handles the scheme; the message lists the
            known schemes and the distributions that provide them.
        ProtocolConfigurationError: If a parameter is unknown or ill-typed, or a required
            part is missing; the password is never shown.
    """
    return ProtocolManager.from_url(url, **overrides)
