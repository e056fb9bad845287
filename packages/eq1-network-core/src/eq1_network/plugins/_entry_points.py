"""Access to installed entry points, the same on every supported Python.

The ``eq1_network.protocols`` entry points are read straight from the metadata
directories (``*.dist-info``, ``*.egg-info``) of the folders on :data:`sys.path`,
following the rules of :mod:`importlib.metadata`: the first distribution of each
normalized name along the path wins, and each one's ``entry_points.txt`` is parsed
the same way. Importing :mod:`importlib.metadata` and building its objects for every
installed distribution costs tens of milliseconds at start-up; this reads only the
files it needs. When the path holds anything this reader does not handle (a zip
archive, an ``.egg`` folder, an entry that is not a string) or another finder on
:data:`sys.meta_path` lists distributions, :mod:`importlib.metadata` of the standard
library answers instead (its selectable ``entry_points(group=...)`` exists on every
supported Python).
"""

from __future__ import annotations

import os
import re
import sys
from importlib import import_module
from importlib.machinery import PathFinder
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Protocol

    class Distribution(Protocol):
        """What the loader reads from the distribution of an entry point."""

        @property
        def name(self) -> str | None:
            """The distribution's name."""

        @property
        def version(self) -> str | None:
            """The distribution's version."""

        def read_text(self, filename: str) -> str | None:
            """The text of one of its metadata files, or ``None`` if it has none."""

    class EntryPoint(Protocol):
        """What the loader uses of an entry point (an :mod:`importlib.metadata` one fits)."""

        @property
        def name(self) -> str:
            """The entry point's name."""

        @property
        def value(self) -> str:
            """Its target, ``"module"`` or ``"module:attr"``."""

        @property
        def dist(self) -> Distribution | None:
            """The distribution that provides it, when known."""

        def load(self) -> Any:
            """Import the target and return it."""


__all__ = ["ENTRY_POINT_GROUP", "EntryPoint", "dist_of", "protocol_entry_points"]

ENTRY_POINT_GROUP = "eq1_network.protocols"

_METADATA_SUFFIXES = (".dist-info", ".egg-info")
_PATH_METADATA_FINDERS = {
    ("importlib.metadata", "MetadataPathFinder"),
    ("importlib_metadata", "MetadataPathFinder"),
}
"""Finders (module, class) that find distributions on sys.path as the reader does."""

_VALUE = r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
"""The syntax of an entry point's value, as :mod:`importlib.metadata` parses it."""


class _UnsupportedPathError(Exception):
    """The path holds something only :mod:`importlib.metadata` can read."""


class MetadataDir:
    """A distribution seen through its metadata folder.

    Args:
        path: The ``*.dist-info`` or ``*.egg-info`` folder.
    """

    __slots__ = ("_head", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self._head: dict[str, str] | None = None

    def read_text(self, filename: str) -> str | None:
        """Return the text of one metadata file, or ``None`` if it cannot be read."""
        try:
            with open(os.path.join(self.path, filename), encoding="utf-8") as file:
                return file.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            return None

    def _field(self, key: str) -> str | None:
        if self._head is None:
            self._head = _metadata_head(
                self.read_text("METADATA") or self.read_text("PKG-INFO") or ""
            )
        return self._head.get(key)

    @property
    def name(self) -> str | None:
        """The ``Name`` of the core metadata, else the name part of the folder's name."""
        stem = os.path.splitext(os.path.basename(self.path))[0]
        return self._field("name") or stem.partition("-")[0] or None

    @property
    def version(self) -> str | None:
        """The ``Version`` of the core metadata, ``None`` if it has none."""
        return self._field("version")


class FileEntryPoint:
    """An entry point read from an ``entry_points.txt`` file.

    Args:
        name: The entry point's name.
        value: Its target, ``"module"`` or ``"module:attr"`` (extras are ignored).
        group: Its group.
        dist: The distribution that declares it.
    """

    __slots__ = ("dist", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, dist: MetadataDir) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist = dist

    def __repr__(self) -> str:
        return f"FileEntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"

    def load(self) -> Any:
        """Import the module the value names and return it, or its attribute.

        Returns:
            The module, or the object ``module:attr`` names.

        Raises:
            ValueError: If the value is not ``module`` or ``module:attr``.
            ImportError: If the module cannot be imported (or whatever it raises).
            AttributeError: If the attribute is missing.
        """
        match = re.match(_VALUE, self.value)
        if match is None:
            raise ValueError(f"entry point {self.name!r} has an invalid value {self.value!r}")
        target: Any = import_module(match.group("module"))
        for part in filter(None, (match.group("attr") or "").split(".")):
            target = getattr(target, part)
        return target


def protocol_entry_points() -> list[EntryPoint]:
    """List the entry points of the ``eq1_network.protocols`` group.

    Returns:
        The entry points of the first distribution of each name along
        :data:`sys.path` (the loader orders them by distribution and name).
    """
    if _other_distribution_finders():
        return _metadata_entry_points()
    try:
        return list(_scan(ENTRY_POINT_GROUP))
    except _UnsupportedPathError:
        return _metadata_entry_points()


def _metadata_entry_points() -> list[EntryPoint]:
    # Imported here: the metadata machinery costs milliseconds and is rarely needed.
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _other_distribution_finders() -> bool:
    """Tell whether a meta-path finder other than the path-based ones lists distributions."""
    for finder in sys.meta_path:
        if finder is PathFinder or not hasattr(finder, "find_distributions"):
            continue
        cls = finder if isinstance(finder, type) else type(finder)
        if (cls.__module__, cls.__name__) not in _PATH_METADATA_FINDERS:
            return True
    return False


def _scan(group: str) -> Iterator[FileEntryPoint]:
    """Yield the entry points of ``group`` of every distribution found on sys.path.

    Raises:
        _UnsupportedPathError: If a path entry is not a plain folder (or a missing one).
    """
    seen: set[str] = set()
    for entry in sys.path:
        for child in _children(entry):
            low = child.lower()
            if not low.endswith(_METADATA_SUFFIXES):
                continue
            key = _normalize(low.rpartition(".")[0].partition("-")[0])
            if key in seen:
                continue  # shadowed by a distribution earlier on the path
            seen.add(key)
            dist = MetadataDir(os.path.join(entry, child))
            yield from _group_entries(dist, group)


def _children(entry: object) -> list[str]:
    """The names in a path entry's folder; none if it does not exist or cannot be read.

    Raises:
        _UnsupportedPathError: If the entry is not a string, names an ``.egg``, or is a
            file (a zip archive, perhaps).
    """
    if not isinstance(entry, str) or entry.lower().endswith(".egg"):
        raise _UnsupportedPathError(entry)
    try:
        return os.listdir(entry or ".")
    except NotADirectoryError:
        raise _UnsupportedPathError(entry) from None
    except OSError:
        return []


def _normalize(name: str) -> str:
    """The distribution name key: PEP 503 normalization with ``_`` for separators."""
    key = name.lower().replace("-", "_").replace(".", "_")
    while "__" in key:
        key = key.replace("__", "_")
    return key


def _group_entries(dist: MetadataDir, group: str) -> Iterator[FileEntryPoint]:
    """Yield the entry points of ``group`` in a distribution's ``entry_points.txt``.

    Blank lines and ``#`` comments are skipped, a ``[section]`` line starts a group
    and each ``name = value`` line in it is an entry point; a line without ``=``
    declares nothing.
    """
    text = dist.read_text("entry_points.txt")
    if not text or group not in text:
        return
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        name, sep, value = line.partition("=")
        if section == group and sep:
            yield FileEntryPoint(name.strip(), value.strip(), group, dist)


def dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    """Return the distribution name and version that provide an entry point.

    The two fields are read from the head of the distribution's core metadata file,
    where the specification puts them, without the e-mail parser the full metadata
    needs (it costs milliseconds at start-up); a file without them falls back to the
    distribution's own ``name`` and ``version``.

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
