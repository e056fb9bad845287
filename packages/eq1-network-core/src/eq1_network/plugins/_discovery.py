"""Folder discovery: import the modules of a directory and find protocol classes."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from eq1_network.common.exceptions import PluginLoadError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import (
    BaseProtocol,
    ProtocolKind,
    PubSubProtocol,
    ReqResProtocol,
)
from eq1_network.plugins.spec import ProtocolSpec

__all__ = ["specs_from_directory"]

logger = get_logger(__name__)


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode(), usedforsecurity=False).hexdigest()
    return f"eq1_network_discovered_{digest[:12]}_{path.stem}"


def _import_file(path: Path) -> object:
    name = _module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginLoadError(f"cannot import {path.name}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise PluginLoadError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc
    return module


def _kind_of(cls: type[BaseProtocol]) -> str | None:
    if issubclass(cls, ReqResProtocol):
        return ProtocolKind.REQRES
    if issubclass(cls, PubSubProtocol):
        return ProtocolKind.PUBSUB
    return None


def specs_from_directory(path: str | Path) -> tuple[list[ProtocolSpec], list[PluginLoadError]]:
    """Import every ``*.py`` module in a folder and describe its protocol classes.

    A class is taken when it is a concrete subclass of :class:`ReqResProtocol` or
    :class:`PubSubProtocol` defined in that module. Its registry name is its
    ``protocol_name`` attribute, or the lowercased class name.

    Args:
        path: The folder to scan (not recursive; files starting with ``_`` are skipped).

    Returns:
        The specs found and the errors of modules that failed to import.

    Raises:
        PluginLoadError: If ``path`` is not a directory.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise PluginLoadError(f"protocol folder {str(folder)!r} does not exist or is not a folder")
    specs: list[ProtocolSpec] = []
    errors: list[PluginLoadError] = []
    for file in sorted(folder.glob("*.py")):
        if file.name.startswith("_"):
            continue
        try:
            module = _import_file(file)
        except PluginLoadError as exc:
            logger.warning("skipping %s: %s", file.name, exc)
            errors.append(exc)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != getattr(module, "__name__", None) or inspect.isabstract(cls):
                continue
            if not issubclass(cls, BaseProtocol):
                continue
            kind = _kind_of(cls)
            if kind is None:
                continue
            name = (cls.protocol_name or cls.__name__).lower()
            specs.append(
                ProtocolSpec(
                    name=name,
                    factory=cls,
                    kind=kind,
                    summary=(inspect.getdoc(cls) or "").splitlines()[0] if cls.__doc__ else "",
                    distribution=f"folder {folder.name}",
                )
            )
    return specs, errors
