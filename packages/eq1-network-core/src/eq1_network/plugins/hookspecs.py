"""Pluggy hook specifications of EQ-1 Network.

A plugin module (the target of an ``eq1_network.protocols`` entry point) implements
some of these hooks with :data:`hookimpl`. Keep such modules light: they are
imported whenever protocols are listed, so they must not import heavy
dependencies (name factories as ``"module:attr"`` strings instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import argparse

    from eq1_network.observe.stats import StatsSnapshot
    from eq1_network.plugins.spec import ProtocolSpec

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "eq1_network"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


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
