"""Conversion of URL query text to constructor argument types (see :mod:`eq1_network.urls`)."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import inspect
import math
import os
import re
import types
import typing
from collections.abc import Callable
from pathlib import PurePath
from typing import Any, Union

from eq1_network.common.exceptions import ProtocolConfigurationError

__all__ = ["MASK", "coerce", "config_class", "is_secret", "parameters", "type_hints"]

MASK = "***"
"""What a password is replaced with in every message and ``repr``."""

_SECRET_WORDS = ("password", "secret", "token")
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(ms|s|sec|m|min|h)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NONE = frozenset({"none", "null"})


def is_secret(name: str) -> bool:
    """Tell whether a parameter's value must be masked (its name mentions a password,
    secret or token, and it is not a ``*_env`` / ``*_file`` reference)."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS) and not lowered.endswith(
        ("_env", "_file")
    )


class _Unresolved:
    """Stands for an annotation that cannot be evaluated at run time."""


def type_hints(target: Callable[..., Any]) -> dict[str, Any]:
    """Return the evaluated annotations of a function, a class's constructor or a dataclass.

    An annotation that cannot be evaluated (a name imported only for type checking)
    becomes a marker that :func:`coerce` refuses as "cannot be written in a URL".
    """
    owner: Any = target
    if inspect.isclass(target):
        owner = target if dataclasses.is_dataclass(target) else target.__init__
    with contextlib.suppress(Exception):  # then evaluate one annotation at a time
        return typing.get_type_hints(owner)
    namespace = getattr(owner, "__globals__", None) or vars(inspect.getmodule(owner) or typing)
    hints: dict[str, Any] = {}
    for name, annotation in getattr(owner, "__annotations__", {}).items():
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, dict(namespace))  # noqa: S307 - own annotations
            except Exception:  # noqa: BLE001 - e.g. a name imported only for type checking
                annotation = _Unresolved
        hints[name] = annotation
    return hints


def parameters(target: Callable[..., Any]) -> tuple[dict[str, inspect.Parameter], bool]:
    """Return the keyword-capable parameters of ``target`` and whether it takes ``**kwargs``."""
    signature = inspect.signature(target)
    named: dict[str, inspect.Parameter] = {}
    var_keyword = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
        elif param.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.POSITIONAL_ONLY,
        ):
            named[param.name] = param
    return named, var_keyword


def _members(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(annotation)
    return (annotation,)


def _describe(annotation: Any) -> str:
    names = []
    for member in _members(annotation):
        if member is type(None):
            names.append("none")
        elif member is _Unresolved:
            names.append("a Python object")
        elif isinstance(member, type) and issubclass(member, enum.Enum):
            names.append(" | ".join(m.name.lower() for m in member))
        elif typing.get_origin(member) is typing.Literal:
            names.append(" | ".join(repr(a) for a in typing.get_args(member)))
        elif member is float:
            names.append("a number of seconds (e.g. 2, 0.5, 500ms)")
        else:
            names.append(getattr(member, "__name__", str(member)))
    return " or ".join(names)


def _as_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


def _as_float(raw: str) -> float:
    match = _DURATION.match(raw)
    if match is None:
        raise ValueError(raw)
    value = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _as_enum(raw: str, kind: type[enum.Enum]) -> enum.Enum:
    for member in kind:
        if raw.lower() == member.name.lower() or raw == str(member.value):
            return member
    raise ValueError(raw)


def _convert(raw: str, member: Any) -> Any:
    try:
        scalar = _SCALARS.get(member)
    except TypeError:  # an unhashable annotation is no scalar
        scalar = None
    if scalar is not None:
        return scalar(raw)
    if isinstance(member, type) and issubclass(member, enum.Enum):
        return _as_enum(raw, member)
    if typing.get_origin(member) is typing.Literal:
        return _as_literal(raw, member)
    if member is Any or member is str or member is object:
        return raw
    if isinstance(member, type) and issubclass(member, PurePath):
        return member(raw)
    if typing.get_origin(member) is os.PathLike or member is os.PathLike:
        return raw
    raise TypeError(member)


def _as_none(raw: str) -> None:
    if raw.strip().lower() in _NONE:
        return None
    raise ValueError(raw)


def _as_literal(raw: str, member: Any) -> Any:
    for choice in typing.get_args(member):
        if raw == str(choice):
            return choice
    raise ValueError(raw)


_SCALARS: dict[Any, Callable[[str], Any]] = {
    type(None): _as_none,
    bool: _as_bool,
    int: lambda raw: int(raw.strip()),
    float: _as_float,
}


def _rank(member: Any) -> int:
    order = (type(None), int, float, bool)
    if member in order:
        return order.index(member)
    if isinstance(member, type) and issubclass(member, enum.Enum):
        return 4
    return 5 if typing.get_origin(member) is typing.Literal else 6


def coerce(name: str, raw: str, annotation: Any) -> Any:
    """Convert a query parameter's text to the type its annotation names.

    ``bool`` accepts ``true/false/1/0/yes/no/on/off``; ``float`` accepts a
    duration (``2``, ``0.5``, ``500ms``, ``2s``, ``1m``, ``1h``; seconds);
    an enum accepts a member name (any case) or value; ``None`` is accepted as
    ``none`` or ``null`` where the annotation allows it. In a union the narrowest
    type that accepts the text wins.

    Args:
        name: The parameter name, for messages.
        raw: The text from the URL.
        annotation: The parameter's evaluated annotation.

    Returns:
        The converted value.

    Raises:
        ProtocolConfigurationError: If the text does not fit the type, or the type
            cannot be written in a URL.
    """
    members = sorted(_members(annotation), key=_rank)
    writable = False
    for member in members:
        try:
            return _convert(raw, member)
        except TypeError:
            continue
        except ValueError:
            writable = writable or member is not type(None)
    shown = MASK if is_secret(name) else repr(raw)
    if not writable:
        raise ProtocolConfigurationError(
            f"parameter {name!r} takes {_describe(annotation)}, which cannot be written in "
            "a URL; pass it as a keyword argument instead"
        )
    raise ProtocolConfigurationError(
        f"parameter {name!r} must be {_describe(annotation)}, got {shown}"
    )


def config_class(target: Callable[..., Any], name: str) -> type[Any] | None:
    """Return the dataclass a parameter of ``target`` accepts, e.g. the TLS settings class.

    Args:
        target: A class or function.
        name: The parameter name.

    Returns:
        The first dataclass among the parameter's annotated types, or ``None``.
    """
    for member in _members(type_hints(target).get(name, Any)):
        if isinstance(member, type) and dataclasses.is_dataclass(member):
            return member
    return None
