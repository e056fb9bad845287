"""Access to installed entry points, the same on every supported Python."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    if sys.version_info >= (3, 12):
        from importlib.metadata import EntryPoint
    else:
        from importlib_metadata import EntryPoint

__all__ = ["ENTRY_POINT_GROUP", "EntryPoint", "protocol_entry_points"]

ENTRY_POINT_GROUP = "eq1_network.protocols"


def protocol_entry_points() -> list[EntryPoint]:
    """List the entry points of the ``eq1_network.protocols`` group.

    Returns:
        The entry points, sorted by distribution and name for a stable load order.
    """
    # Imported here: the metadata machinery costs milliseconds and only discovery needs it.
    if sys.version_info >= (3, 12):
        from importlib.metadata import entry_points
    else:  # pragma: no cover - exercised on older interpreters only
        from importlib_metadata import entry_points

    found = entry_points(group=ENTRY_POINT_GROUP)
    return sorted(found, key=lambda ep: (_dist_name(ep), ep.name))


def _dist_name(ep: EntryPoint) -> str:
    dist = ep.dist
    return dist.name if dist is not None else ""


def dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    """Return the distribution name and version that provide an entry point.

    Args:
        ep: The entry point.

    Returns:
        ``(name, version)``, each ``None`` when unknown.
    """
    dist = ep.dist
    if dist is None:
        return None, None
    return dist.name, dist.version
