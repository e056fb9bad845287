"""Loading plugins: import the entry points' modules, collect their protocol specs.

A plugin that fails to import, to register its hooks or to return specs is logged
and recorded, and never stops the other plugins from loading.

When every plugin module's hooks are plain functions marked with the project's
:data:`~eq1_network.plugins.hookimpl` (see :func:`~eq1_network.plugins._markers.direct_hooks`),
their ``eq1_network_register_protocols`` are called directly, in registration order,
and the pluggy manager is built on first use only; otherwise the plugins are
registered with the pluggy manager right away, which validates them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from eq1_network.common.exceptions import DuplicateProtocolError, PluginLoadError
from eq1_network.common.logging import LazyLogger
from eq1_network.plugins import hookspecs
from eq1_network.plugins._availability import LoadFailure
from eq1_network.plugins._entry_points import dist_of
from eq1_network.plugins._markers import direct_hooks, spec_arguments
from eq1_network.plugins.spec import ProtocolSpec

if TYPE_CHECKING:
    import pluggy

    from eq1_network.plugins._entry_points import EntryPoint

__all__ = ["Loaded", "add_spec", "load_plugins"]

logger = LazyLogger("eq1_network.plugins.registry")  # the registry's records

_REGISTER = "eq1_network_register_protocols"
_SPECS = spec_arguments(hookspecs)
_Origins = dict[str, tuple[str | None, str | None]]
# What importing an entry point gave: the entry point, its distribution and version,
# and the module or the exception raised.
_Imported = tuple["EntryPoint", str | None, str | None, object, Exception | None]


class Loaded:
    """What loading the plugins found.

    Attributes:
        plugin_manager: The pluggy manager holding the plugin modules, if it had to
            be built to load them; ``None`` when their hooks were called directly.
        plugins: The ``(name, module)`` pairs registered, in order.
        table: The specs by protocol name (the first of clashing names).
        duplicates: Every spec of each name claimed more than once.
        errors: Failed imports, registrations and duplicate names.
        failures: The plugins that failed to import.
    """

    __slots__ = ("duplicates", "errors", "failures", "plugin_manager", "plugins", "table")

    def __init__(self) -> None:
        self.plugin_manager: pluggy.PluginManager | None = None
        self.plugins: list[tuple[str, object]] = []
        self.table: dict[str, ProtocolSpec] = {}
        self.duplicates: dict[str, list[ProtocolSpec]] = {}
        self.errors: list[PluginLoadError] = []
        self.failures: list[LoadFailure] = []

    def fail(self, message: str, distribution: str | None) -> PluginLoadError:
        """Record (and log) a plugin's failure; return the error for the caller's use."""
        err = PluginLoadError(message, distribution=distribution)
        logger.warning("%s", err)
        self.errors.append(err)
        return err


def add_spec(
    table: dict[str, ProtocolSpec],
    duplicates: dict[str, list[ProtocolSpec]],
    errors: list[PluginLoadError],
    spec: ProtocolSpec,
) -> None:
    """Add a spec to ``table``; a name taken already is recorded as a duplicate and an error."""
    previous = table.get(spec.name)
    if previous is None:
        table[spec.name] = spec
        return
    clash = duplicates.setdefault(spec.name, [previous])
    clash.append(spec)
    err = DuplicateProtocolError(
        f"protocol name {spec.name!r} is registered by both {previous.origin} and "
        f"{spec.origin}; uninstall one of them",
        distribution=spec.distribution,
    )
    logger.error("%s", err)
    errors.append(err)


def load_plugins(entry_points: Iterable[EntryPoint], extra: Iterable[ProtocolSpec]) -> Loaded:
    """Import the plugins of ``entry_points`` and collect every protocol spec.

    Args:
        entry_points: The ``eq1_network.protocols`` entry points.
        extra: Specs added by hand; they come after the plugins' specs.

    Returns:
        What was found, with every problem met.
    """
    loaded = Loaded()
    imported = _import_modules(entry_points)
    hooks = _direct_register_hooks(imported)
    if hooks is None:
        from eq1_network.plugins._manager import new_plugin_manager  # imports pluggy

        loaded.plugin_manager = new_plugin_manager()
    origins = _register_modules(loaded, imported)
    if loaded.plugin_manager is not None:
        hooks = [
            (impl.plugin_name, impl.function)
            for impl in loaded.plugin_manager.hook.eq1_network_register_protocols.get_hookimpls()
        ]
    found: list[ProtocolSpec] = []
    for plugin_name, function in hooks or []:
        dist, version = origins.get(plugin_name, (None, None))
        try:
            returned = cast("Iterable[object] | None", function())
            specs = list(returned or [])
        except Exception as exc:  # noqa: BLE001 - isolate plugin failures
            loaded.fail(
                f"plugin {plugin_name!r} raised while registering protocols: "
                f"{type(exc).__name__}: {exc}",
                dist,
            )
            continue
        for spec in specs:
            if not isinstance(spec, ProtocolSpec):
                loaded.errors.append(
                    PluginLoadError(
                        f"plugin {plugin_name!r} returned {spec!r}, not a ProtocolSpec",
                        distribution=dist,
                    )
                )
                continue
            found.append(spec.replace(distribution=dist, version=version))
    found.extend(extra)
    for spec in found:
        add_spec(loaded.table, loaded.duplicates, loaded.errors, spec)
    return loaded


def _import_modules(entry_points: Iterable[EntryPoint]) -> list[_Imported]:
    """Import each entry point's module, in a stable order (by distribution and name)."""
    imported: list[_Imported] = []
    # Each metadata file is read once.
    ordered = sorted(((dist_of(ep), ep) for ep in entry_points), key=_load_order)
    for (dist, version), ep in ordered:
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the rest
            imported.append((ep, dist, version, None, exc))
            continue
        imported.append((ep, dist, version, module, None))
    return imported


def _direct_register_hooks(
    imported: list[_Imported],
) -> list[tuple[str, Callable[[], Any]]] | None:
    """Return the plugins' ``eq1_network_register_protocols`` if pluggy is not needed.

    Returns:
        ``(plugin name, function)`` pairs in registration order, or ``None`` if a
        plugin needs the pluggy manager (see :func:`direct_hooks`).
    """
    hooks: list[tuple[str, Callable[[], Any]]] = []
    names: set[str] = set()
    for _, _, _, module, error, plugin_name in _plugins(imported):
        if error is not None:
            continue
        found = direct_hooks(module, _SPECS)
        if found is None or plugin_name in names:
            return None
        names.add(plugin_name)
        if _REGISTER in found:
            hooks.append((plugin_name, found[_REGISTER]))
    return hooks


def _plugins(imported: list[_Imported]) -> Iterable[tuple[Any, ...]]:
    """Yield each import with its plugin name: every failed one, each module once.

    Yields:
        ``(entry point, distribution, version, module, exception, plugin name)``.
    """
    seen: set[int] = set()
    for ep, dist, version, module, error in imported:
        if error is None:
            if id(module) in seen:
                continue
            seen.add(id(module))
        yield ep, dist, version, module, error, f"{dist or '<unknown>'}:{ep.name}"


def _register_modules(loaded: Loaded, imported: list[_Imported]) -> _Origins:
    """Record each import and register each module; map plugin names to origins.

    Without a plugin manager in ``loaded``, the modules are only listed (their hooks
    were checked by :func:`_direct_register_hooks`).
    """
    origins: _Origins = {}
    for ep, dist, version, module, error, plugin_name in _plugins(imported):
        if error is not None:
            loaded.fail(
                f"plugin {ep.name!r} ({ep.value}) from distribution {dist or '<unknown>'} "
                f"failed to import: {type(error).__name__}: {error}",
                dist,
            )
            loaded.failures.append(LoadFailure(ep.name, ep.value, dist, error))
            continue
        if loaded.plugin_manager is not None:
            try:
                loaded.plugin_manager.register(module, name=plugin_name)
            except Exception as exc:  # noqa: BLE001 - bad hook signatures are a plugin defect
                loaded.fail(
                    f"plugin {ep.name!r} from distribution {dist or '<unknown>'} "
                    f"could not be registered: {exc}",
                    dist,
                )
                continue
        loaded.plugins.append((plugin_name, module))
        origins[plugin_name] = (dist, version)
    return origins


def _load_order(item: tuple[tuple[str | None, str | None], EntryPoint]) -> tuple[str, str]:
    (dist, _), ep = item
    return dist or "", ep.name
