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
        The entry points, in the order the metadata lists them (the loader orders them
        by distribution and name).
    """
    # Imported here: the metadata machinery costs milliseconds and only discovery needs it.
    if sys.version_info >= (3, 12):
        from importlib.metadata import entry_points
    else:  # pragma: no cover - exercised on older interpreters only
        from importlib_metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    """Return the distribution name and version that provide an entry point.

    The two fields are read from the head of the distribution's core metadata file,
    where the specification puts them, without the e-mail parser the full metadata
    needs (it costs milliseconds at start-up); a file without them falls back to the
    parsed metadata.

    Args:
        ep: The entry point.

    Returns:
        ``(name, version)``, each ``None`` when unknown.
    """
    dist = ep.dist
    if dist is None:
        return None, None
    head = _metadata_head(dist.read_text("METADATA") or dist.read_text("PKG-INFO") or "")
    name, version = head.get("name"), head.get("version")
    if name is None or version is None:
        return dist.name, dist.version
    return name, version


def _metadata_head(text: str) -> dict[str, str]:
    """The ``Name`` and ``Version`` fields of a core metadata file's header."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            break  # the header ends at the first empty line; the description follows
        key, sep, value = line.partition(":")
        key = key.lower()
        if sep and key in ("name", "version") and key not in found:
            found[key] = value.strip()
            if len(found) == 2:
                break
    return found
