"""Loading plugins: import the entry points' modules, collect their protocol specs.

A plugin that fails to import, to register its hooks or to return specs is logged
and recorded, and never stops the other plugins from loading.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

import pluggy

from eq1_network.common.exceptions import DuplicateProtocolError, PluginLoadError
from eq1_network.plugins import hookspecs
from eq1_network.plugins._availability import LoadFailure
from eq1_network.plugins._entry_points import dist_of
from eq1_network.plugins.spec import ProtocolSpec

if TYPE_CHECKING:
    from eq1_network.plugins._entry_points import EntryPoint

__all__ = ["Loaded", "add_spec", "load_plugins"]

logger = logging.getLogger("eq1_network.plugins.registry")  # the registry's records

_Origins = dict[str, tuple[str | None, str | None]]


class Loaded:
    """What loading the plugins found.

    Args:
        plugin_manager: The pluggy manager holding the plugin modules.

    Attributes:
        plugin_manager: The pluggy manager holding the plugin modules.
        table: The specs by protocol name (the first of clashing names).
        duplicates: Every spec of each name claimed more than once.
        errors: Failed imports, registrations and duplicate names.
        failures: The plugins that failed to import.
    """

    __slots__ = ("duplicates", "errors", "failures", "plugin_manager", "table")

    def __init__(self, plugin_manager: pluggy.PluginManager) -> None:
        self.plugin_manager = plugin_manager
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
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    loaded = Loaded(pm)
    origins = _register_modules(loaded, entry_points)
    found: list[ProtocolSpec] = []
    for impl in pm.hook.eq1_network_register_protocols.get_hookimpls():
        dist, version = origins.get(impl.plugin_name, (None, None))
        try:
            returned = cast("Iterable[object] | None", impl.function())
            specs = list(returned or [])
        except Exception as exc:  # noqa: BLE001 - isolate plugin failures
            loaded.fail(
                f"plugin {impl.plugin_name!r} raised while registering protocols: "
                f"{type(exc).__name__}: {exc}",
                dist,
            )
            continue
        for spec in specs:
            if not isinstance(spec, ProtocolSpec):
                loaded.errors.append(
                    PluginLoadError(
                        f"plugin {impl.plugin_name!r} returned {spec!r}, not a ProtocolSpec",
                        distribution=dist,
                    )
                )
                continue
            found.append(dataclasses.replace(spec, distribution=dist, version=version))
    found.extend(extra)
    for spec in found:
        add_spec(loaded.table, loaded.duplicates, loaded.errors, spec)
    return loaded


def _register_modules(loaded: Loaded, entry_points: Iterable[EntryPoint]) -> _Origins:
    """Import each entry point's module and register it; map plugin names to origins."""
    origins: _Origins = {}
    seen: dict[int, str] = {}
    # Loaded in a stable order, by distribution and name; each metadata file read once.
    ordered = sorted(((dist_of(ep), ep) for ep in entry_points), key=_load_order)
    for (dist, version), ep in ordered:
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the rest
            loaded.fail(
                f"plugin {ep.name!r} ({ep.value}) from distribution {dist or '<unknown>'} "
                f"failed to import: {type(exc).__name__}: {exc}",
                dist,
            )
            loaded.failures.append(LoadFailure(ep.name, ep.value, dist, exc))
            continue
        if id(module) in seen:
            continue
        plugin_name = f"{dist or '<unknown>'}:{ep.name}"
        seen[id(module)] = plugin_name
        try:
            loaded.plugin_manager.register(module, name=plugin_name)
        except Exception as exc:  # noqa: BLE001 - bad hook signatures are a plugin defect
            loaded.fail(
                f"plugin {ep.name!r} from distribution {dist or '<unknown>'} "
                f"could not be registered: {exc}",
                dist,
            )
            continue
        origins[plugin_name] = (dist, version)
    return origins


def _load_order(item: tuple[tuple[str | None, str | None], EntryPoint]) -> tuple[str, str]:
    (dist, _), ep = item
    return dist or "", ep.name
