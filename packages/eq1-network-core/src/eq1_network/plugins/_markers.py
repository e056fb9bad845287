"""The project's hook markers, and the check that lets discovery call hooks directly.

:data:`~eq1_network.plugins.hookimpl` and :data:`~eq1_network.plugins.hookspec` take
the arguments of pluggy's ``HookimplMarker`` and ``HookspecMarker`` and store the
options on the function under :data:`IMPL_ATTR` / :data:`SPEC_ATTR`; the plugin
manager of :mod:`eq1_network.plugins._manager` reads them. Marking a function does
not import pluggy.

:func:`direct_hooks` tells whether a plugin module's hooks can be called without
pluggy, with the very same outcome: every hook is a plain function carrying the
project's marker, without ordering or wrapper options, whose parameters are exactly
those of its specification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import FunctionType, MethodType, ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "HOOK_PREFIX",
    "IMPL_ATTR",
    "PROJECT_NAME",
    "SPEC_ATTR",
    "HookimplMarker",
    "HookspecMarker",
    "direct_hooks",
    "spec_arguments",
]

_F = TypeVar("_F", bound=Callable[..., Any])

PROJECT_NAME = "eq1_network"
HOOK_PREFIX = "eq1_network_"
IMPL_ATTR = "eq1_network_hookimpl_opts"
SPEC_ATTR = "eq1_network_hookspec_opts"
_PLUGGY_IMPL_ATTR = PROJECT_NAME + "_impl"  # what pluggy.HookimplMarker(PROJECT_NAME) sets
_ORDERING_OPTIONS = ("wrapper", "hookwrapper", "tryfirst", "trylast", "specname")
_SPEC_OPTIONS = ("historic", "warn_on_impl", "warn_on_impl_args")
_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08


class HookimplMarker:
    """Marks a hook implementation: ``@hookimpl`` or ``@hookimpl(tryfirst=True)``.

    The options are those of ``pluggy.HookimplMarker``.
    """

    __slots__ = ()

    @overload
    def __call__(self, function: _F) -> _F: ...

    @overload
    def __call__(
        self,
        function: None = ...,
        hookwrapper: bool = ...,
        optionalhook: bool = ...,
        tryfirst: bool = ...,
        trylast: bool = ...,
        specname: str | None = ...,
        wrapper: bool = ...,
    ) -> Callable[[_F], _F]: ...

    def __call__(
        self,
        function: _F | None = None,
        hookwrapper: bool = False,
        optionalhook: bool = False,
        tryfirst: bool = False,
        trylast: bool = False,
        specname: str | None = None,
        wrapper: bool = False,
    ) -> _F | Callable[[_F], _F]:
        """Mark ``function``, or return a decorator that marks with these options.

        Args:
            function: The function, when used as ``@hookimpl``.
            hookwrapper: An old-style hook wrapper (pluggy's meaning).
            optionalhook: No error if no specification matches.
            tryfirst: Call it as early as possible.
            trylast: Call it as late as possible.
            specname: The hook it implements, if not its own name.
            wrapper: A new-style hook wrapper.

        Returns:
            The marked function, or the decorator.
        """

        def mark(func: _F) -> _F:
            setattr(
                func,
                IMPL_ATTR,
                {
                    "wrapper": wrapper,
                    "hookwrapper": hookwrapper,
                    "optionalhook": optionalhook,
                    "tryfirst": tryfirst,
                    "trylast": trylast,
                    "specname": specname,
                },
            )
            return func

        return mark if function is None else mark(function)


class HookspecMarker:
    """Marks a hook specification: ``@hookspec`` or ``@hookspec(firstresult=True)``.

    The options are those of ``pluggy.HookspecMarker``.
    """

    __slots__ = ()

    @overload
    def __call__(self, function: _F) -> _F: ...

    @overload
    def __call__(
        self,
        function: None = ...,
        firstresult: bool = ...,
        historic: bool = ...,
        warn_on_impl: Warning | None = ...,
        warn_on_impl_args: Mapping[str, Warning] | None = ...,
    ) -> Callable[[_F], _F]: ...

    def __call__(
        self,
        function: _F | None = None,
        firstresult: bool = False,
        historic: bool = False,
        warn_on_impl: Warning | None = None,
        warn_on_impl_args: Mapping[str, Warning] | None = None,
    ) -> _F | Callable[[_F], _F]:
        """Mark ``function``, or return a decorator that marks with these options.

        Args:
            function: The function, when used as ``@hookspec``.
            firstresult: Stop at the first implementation returning a value.
            historic: Replay calls to implementations registered later.
            warn_on_impl: A warning issued when the hook is implemented.
            warn_on_impl_args: Warnings issued when an implementation takes these arguments.

        Returns:
            The marked function, or the decorator.
        """

        def mark(func: _F) -> _F:
            opts: dict[str, Any] = {
                "firstresult": firstresult,
                "historic": historic,
                "warn_on_impl": warn_on_impl,
            }
            if warn_on_impl_args is not None:
                opts["warn_on_impl_args"] = warn_on_impl_args
            setattr(func, SPEC_ATTR, opts)
            return func

        return mark if function is None else mark(function)


def spec_arguments(namespace: ModuleType) -> dict[str, tuple[str, ...]]:
    """Map each hook specified in ``namespace`` to its parameter names.

    Args:
        namespace: A module of functions marked with :class:`HookspecMarker`.

    Returns:
        Hook name to parameter names; hooks whose specification is historic or warns
        on implementation are left out (only pluggy handles them).
    """
    return {
        name: value.__code__.co_varnames[: value.__code__.co_argcount]
        for name, value in vars(namespace).items()
        if type(value) is FunctionType
        and isinstance(opts := value.__dict__.get(SPEC_ATTR), dict)
        and not any(opts.get(key) for key in _SPEC_OPTIONS)
    }


def direct_hooks(
    plugin: object, specs: Mapping[str, tuple[str, ...]]
) -> dict[str, Callable[..., Any]] | None:
    """Return a plugin module's hooks if they can be called without pluggy.

    Args:
        plugin: What the entry point loaded.
        specs: The hook specifications, as :func:`spec_arguments` returns them.

    Returns:
        Hook name to function; ``None`` if only pluggy can tell how the plugin's hooks
        behave (another marker, ordering or wrapper options, an unknown hook name, a
        signature that differs from the specification, an object other than a module).
    """
    if type(plugin) is not ModuleType:
        return None
    namespace = vars(plugin)
    if "__dir__" in namespace:
        return None
    found: dict[str, Callable[..., Any]] = {}
    for name, value in namespace.items():
        if type(value) is FunctionType:
            opts = value.__dict__.get(IMPL_ATTR)
            if _PLUGGY_IMPL_ATTR in value.__dict__ or (
                opts is None and name.startswith(HOOK_PREFIX)
            ):
                return None
            if opts is None:
                continue
            if not _is_plain(name, value, opts, specs):
                return None
            found[name] = value
        elif isinstance(value, (staticmethod, classmethod, MethodType)):
            if name.startswith(HOOK_PREFIX) or _marked((value, value.__func__)):
                return None
        elif name.startswith(HOOK_PREFIX) and not isinstance(value, (type, ModuleType)):
            return None
    return found


def _is_plain(
    name: str, func: FunctionType, opts: object, specs: Mapping[str, tuple[str, ...]]
) -> bool:
    """Tell whether ``func`` implements hook ``name`` plainly, with its exact parameters."""
    if (
        not isinstance(opts, dict)
        or name not in specs
        or any(opts.get(key) for key in _ORDERING_OPTIONS)
    ):
        return False
    if "__wrapped__" in func.__dict__ or "__signature__" in func.__dict__:
        return False  # pluggy would read another signature
    code = func.__code__
    return (
        func.__defaults__ is None
        and not func.__kwdefaults__
        and not code.co_flags & (_CO_VARARGS | _CO_VARKEYWORDS)
        and code.co_kwonlyargcount == 0
        and code.co_posonlyargcount == 0
        and code.co_varnames[: code.co_argcount] == specs[name]
    )


def _marked(holders: Iterable[object]) -> bool:
    return any(
        getattr(holder, IMPL_ATTR, None) is not None
        or getattr(holder, _PLUGGY_IMPL_ATTR, None) is not None
        for holder in holders
    )
