"""Hook specifications of EQ-1 Network, and the markers of hooks.

A plugin module (the target of an ``eq1_network.protocols`` entry point) implements
some of these hooks with :data:`hookimpl`. Keep such modules light: they are imported
whenever protocols are listed, so they must not import heavy dependencies (name
factories as ``"module:attr"`` strings instead).

The markers are the project's own and take the options of pluggy's markers; the
plugin manager (a pluggy one) reads them. Protocol discovery calls plain
implementations of ``eq1_network_register_protocols`` directly, without importing
pluggy; any other plugin goes through the plugin manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eq1_network.plugins._markers import PROJECT_NAME, HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    import argparse

    from eq1_network.observe.stats import StatsSnapshot
    from eq1_network.plugins.spec import ProtocolSpec

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

hookspec = HookspecMarker()
"""Marks a hook specification (the options of ``pluggy.HookspecMarker``)."""
hookimpl = HookimplMarker()
"""Marks a hook implementation: ``@hookimpl``, or ``@hookimpl(tryfirst=True)`` with the
options of ``pluggy.HookimplMarker``."""


@hookspec
def eq1_network_register_protocols() -> list[ProtocolSpec]:  # type: ignore[empty-body]
    """Return the protocols this plugin provides.

    Returns:
        A list of :class:`~eq1_network.plugins.spec.ProtocolSpec`.
    """


@hookspec
def eq1_network_add_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add sub-commands to the ``eq1-network`` command line.

    Each sub-command should ``set_defaults(handler=fn)`` where ``fn(args) -> int``
    returns the process exit code.

    Args:
        subparsers: The object returned by ``ArgumentParser.add_subparsers()``.
    """


@hookspec
def eq1_network_report_stats(snapshots: list[StatsSnapshot]) -> None:
    """Receive connection statistics: the hook of statistics exporters.

    Called by :func:`eq1_network.observe.report` (the ``eq1-network stats`` command
    calls it at each refresh) with one
    :class:`~eq1_network.observe.StatsSnapshot` per connection. Keep it quick: it
    runs on the caller's thread.

    Args:
        snapshots: The snapshots.
    """
