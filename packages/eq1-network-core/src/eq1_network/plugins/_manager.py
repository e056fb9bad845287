"""The pluggy plugin manager of EQ-1 Network; imported only when pluggy is needed.

:class:`PluginManager` reads the project's markers
(:data:`~eq1_network.plugins.hookimpl`, :data:`~eq1_network.plugins.hookspec`) and
falls back to pluggy's, so a plugin marked with ``pluggy.HookimplMarker("eq1_network")``
works as well.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

import pluggy

from eq1_network.plugins import hookspecs
from eq1_network.plugins._markers import IMPL_ATTR, PROJECT_NAME, SPEC_ATTR

if TYPE_CHECKING:
    from pluggy import HookimplOpts, HookspecOpts

__all__ = ["PluginManager", "new_plugin_manager"]


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that understands the project's hook markers."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> HookimplOpts | None:
        """Return the options of ``plugin.name`` if it is a hook implementation.

        Args:
            plugin: The plugin being registered.
            name: One of its attribute names.

        Returns:
            The project marker's options, else what pluggy finds.
        """
        opts = _marker_options(plugin, name, IMPL_ATTR)
        if opts is not None:
            return cast("HookimplOpts", opts)
        return super().parse_hookimpl_opts(plugin, name)

    def parse_hookspec_opts(
        self, module_or_class: types.ModuleType | type, name: str
    ) -> HookspecOpts | None:
        """Return the options of ``module_or_class.name`` if it is a hook specification.

        Args:
            module_or_class: The namespace of specifications.
            name: One of its attribute names.

        Returns:
            The project marker's options, else what pluggy finds.
        """
        opts = _marker_options(module_or_class, name, SPEC_ATTR)
        if opts is not None:
            return cast("HookspecOpts", opts)
        return super().parse_hookspec_opts(module_or_class, name)


def new_plugin_manager(plugins: Iterable[tuple[str, object]] = ()) -> PluginManager:
    """Create the plugin manager with the hook specifications and ``plugins``.

    Args:
        plugins: ``(name, plugin)`` pairs, registered in this order.

    Returns:
        The manager.
    """
    pm = PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    return pm


def _marker_options(namespace: object, name: str, attr: str) -> dict[str, object] | None:
    """Return a copy of the options a project marker stored on ``namespace.name``."""
    static = inspect.getattr_static(namespace, name, None)
    holders: tuple[object, ...]
    if isinstance(static, (staticmethod, classmethod)):
        holders = (static, static.__func__)
    elif isinstance(static, types.MethodType):
        holders = (static.__func__,)
    elif inspect.isfunction(static):
        holders = (static,)
    else:
        return None
    for holder in holders:
        opts = getattr(holder, attr, None)
        if isinstance(opts, dict):
            return dict(opts)  # pluggy normalises the dict it is given in place
    return None
