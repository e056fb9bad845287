"""Whole-answer reads for every request/response protocol, and its pushback buffer.

:class:`~eq1_network.interfaces.ReqResProtocol` exposes these as ``read_until``,
``read_exactly`` and ``query``; a transport gets them without writing any code.

The pushback buffer holds bytes a whole-answer read received but did not return:
what followed a terminator, the surplus beyond ``n`` bytes, or everything received
before a timeout. The next read of any kind returns those bytes first: the base
class's ``read``, ``read_within`` and ``wait_readable`` consult it before calling the
transport's hooks. A subclass that overrides those public methods (the deprecated
way) has them wrapped when the class is created so that they consult it too; an
empty buffer costs one attribute test per call.
"""

from __future__ import annotations

import functools
import math
import time
import types
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import (
    FrameTooLargeError,
    ProtocolArgumentError,
    ProtocolTimeoutError,
    ProtocolTypeError,
)

if TYPE_CHECKING:
    from eq1_network.interfaces.protocol import ReqResProtocol

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_READ_TIMEOUT"]

DEFAULT_READ_TIMEOUT = 1.0
"""Seconds a read waits when neither the call nor the protocol sets a timeout."""

DEFAULT_MAX_BYTES = 64 * 1024
"""Longest answer, terminator included, that ``read_until`` accepts by default."""

_MARK = "_eq1_consults_pushback"


def take_pushback(protocol: ReqResProtocol) -> bytes:
    """Remove and return the bytes in the pushback buffer.

    Args:
        protocol: The protocol.

    Returns:
        The buffered bytes (``b""`` when there were none).
    """
    data = protocol._pushback  # noqa: SLF001 - ReqResProtocol's pushback, owned by these reading helpers
    protocol._pushback = b""  # noqa: SLF001 - as above
    return data


def push_back(protocol: ReqResProtocol, data: bytes | bytearray) -> None:
    """Put bytes back in front of anything already in the pushback buffer.

    Args:
        protocol: The protocol.
        data: The bytes the next read returns first.
    """
    if data:
        protocol._pushback = bytes(data) + protocol._pushback  # noqa: SLF001 - as above


def _wrap_read(fn: Callable[..., tuple[bool, bytes | None]]) -> Callable[..., Any]:
    if _takes_only_self(fn, 0):

        @functools.wraps(fn)
        def read(self: ReqResProtocol) -> tuple[bool, bytes | None]:
            if self._pushback:
                return True, take_pushback(self)
            return fn(self)

        return read

    @functools.wraps(fn)
    def read_any(self: ReqResProtocol, *args: Any, **kwargs: Any) -> tuple[bool, bytes | None]:
        if self._pushback:
            return True, take_pushback(self)
        return fn(self, *args, **kwargs)

    return read_any


def _wrap_read_within(fn: Callable[..., bytes | None]) -> Callable[..., Any]:
    if _takes_only_self(fn, 1):

        @functools.wraps(fn)
        def read_within(self: ReqResProtocol, timeout: float) -> bytes | None:
            if self._pushback:
                return take_pushback(self)
            return fn(self, timeout)

        return read_within

    @functools.wraps(fn)
    def read_within_any(self: ReqResProtocol, *args: Any, **kwargs: Any) -> bytes | None:
        if self._pushback:
            return take_pushback(self)
        return fn(self, *args, **kwargs)

    return read_within_any


def _wrap_wait_readable(fn: Callable[..., bool]) -> Callable[..., Any]:
    if _takes_only_self(fn, 1):

        @functools.wraps(fn)
        def wait_readable(self: ReqResProtocol, timeout: float | None) -> bool:
            if self._pushback:
                return True
            return fn(self, timeout)

        return wait_readable

    @functools.wraps(fn)
    def wait_readable_any(self: ReqResProtocol, *args: Any, **kwargs: Any) -> bool:
        if self._pushback:
            return True
        return fn(self, *args, **kwargs)

    return wait_readable_any


_CO_VARARGS = 0x04
"""Code flag of a function that takes ``*args`` (``inspect.CO_VARARGS``)."""
_CO_VARKEYWORDS = 0x08
"""Code flag of a function that takes ``**kwargs`` (``inspect.CO_VARKEYWORDS``)."""


def _takes_only_self(fn: Callable[..., Any], positional: int) -> bool:
    """Tell whether ``fn(self, ...)`` takes exactly ``positional`` required arguments.

    Such methods get a wrapper with a fixed signature, which is cheaper to call than
    one that forwards ``*args`` and ``**kwargs``. Read from the function's code object:
    plain positional parameters only, none with a default, no ``*args``, no keyword-only
    parameters and no ``**kwargs``. Anything else (a function that is not plain Python,
    a decorated one taking ``*args``) gets the forwarding wrapper.
    """
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return False
    return (
        code.co_argcount == positional + 1
        and not code.co_kwonlyargcount
        and not code.co_flags & (_CO_VARARGS | _CO_VARKEYWORDS)
        and not getattr(fn, "__defaults__", None)
    )


_WRAPPERS: dict[str, Callable[[Any], Callable[..., Any]]] = {
    "read": _wrap_read,
    "read_within": _wrap_read_within,
    "wait_readable": _wrap_wait_readable,
}


def as_payload(data: object) -> bytes:
    """Return ``data`` as ``bytes`` for ``send()``.

    Args:
        data: What the caller passed.

    Returns:
        The bytes (a copy of a ``bytearray`` or ``memoryview``).

    Raises:
        ProtocolTypeError: If ``data`` is not bytes-like.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise ProtocolTypeError(f"send() needs bytes, got {type(data).__name__}; encode text first")


def _legacy_send_raw(self: ReqResProtocol, data: bytes) -> int:
    raise NotImplementedError(f"{type(self).__name__} overrides send(), not _send_raw()")


def _legacy_read_raw(self: ReqResProtocol) -> bytes | None:
    raise NotImplementedError(f"{type(self).__name__} overrides read(), not _read_raw()")


_LEGACY_HOOKS: dict[str, tuple[str, Callable[..., Any]]] = {
    "send": ("_send_raw", _legacy_send_raw),
    "read": ("_read_raw", _legacy_read_raw),
}


def adopt_subclass(cls: type[ReqResProtocol], base: type[Any]) -> None:
    """Prepare a new subclass: support the deprecated way of overriding ``send``/``read``.

    A class that overrides ``send`` or ``read`` but not the matching hook
    (``_send_raw``, ``_read_raw``) gets a stand-in hook, so that it is not abstract,
    and a :class:`DeprecationWarning` (except classes of this library). Its own
    ``read``, ``read_within`` and ``wait_readable`` are wrapped to consult the
    pushback buffer (:func:`install_pushback`).

    Args:
        cls: The new subclass.
        base: :class:`~eq1_network.interfaces.ReqResProtocol`.
    """
    body = cls.__dict__
    legacy = []
    for public, (hook, stand_in) in _LEGACY_HOOKS.items():
        fn = body.get(public)
        if fn is None or getattr(fn, "__isabstractmethod__", False) or hook in body:
            continue
        if getattr(cls, hook) is getattr(base, hook):
            setattr(cls, hook, stand_in)
            legacy.append(public)
    if legacy and not cls.__module__.startswith("eq1_network."):
        names = " and ".join(f"{name}()" for name in legacy)
        hooks = " and ".join(_LEGACY_HOOKS[name][0] + "()" for name in legacy)
        warnings.warn(
            f"{cls.__qualname__} overrides {names} of ReqResProtocol; implement {hooks} "
            "instead and let the base class check arguments and the connection",
            DeprecationWarning,
            stacklevel=4,
        )
    install_pushback(cls)


def install_pushback(cls: type[ReqResProtocol]) -> None:
    """Make a class's own ``read``, ``read_within`` and ``wait_readable`` consult the buffer.

    Only plain functions defined in the class body are wrapped; abstract methods and
    methods already wrapped are left alone.

    Args:
        cls: A new subclass of :class:`~eq1_network.interfaces.ReqResProtocol`.
    """
    for name, wrap in _WRAPPERS.items():
        fn = cls.__dict__.get(name)
        if not isinstance(fn, types.FunctionType) or getattr(fn, "__isabstractmethod__", False):
            continue
        if getattr(fn, _MARK, False):
            continue
        wrapped = wrap(fn)
        setattr(wrapped, _MARK, True)
        setattr(cls, name, wrapped)


def resolve_timeout(protocol: ReqResProtocol, timeout: float | None, what: str) -> float:
    """Apply the timeout rule: the call's, else the protocol's, else the default.

    Args:
        protocol: The protocol.
        timeout: The caller's timeout in seconds, or ``None``.
        what: The call, for error messages.

    Returns:
        The wait in seconds.

    Raises:
        ProtocolValidationError: If the timeout is negative or not a finite number.
    """
    if timeout is None:
        timeout = protocol.timeout if protocol.timeout is not None else DEFAULT_READ_TIMEOUT
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise ProtocolArgumentError(
            f"{what}: timeout must be a finite number of seconds >= 0 or None, got {timeout!r}"
        )
    return float(timeout)


def _check_count(value: object, name: str, what: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProtocolArgumentError(f"{what}: {name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_terminator(terminator: object, what: str) -> bytes:
    if not isinstance(terminator, bytes | bytearray | memoryview):
        raise ProtocolTypeError(
            f"{what} needs a bytes terminator, got {type(terminator).__name__}; "
            "encode text first, e.g. b'\\r\\n'"
        )
    data = bytes(terminator)
    if not data:
        raise ProtocolArgumentError(f"{what}: terminator must not be empty")
    return data


def _timed_out(
    protocol: ReqResProtocol, buf: bytearray, what: str, awaited: str, wait: float
) -> ProtocolTimeoutError:
    push_back(protocol, buf)
    return ProtocolTimeoutError(
        f"{what}: {awaited} did not arrive within {wait:g} s; {len(buf)} bytes arrived "
        "and stay buffered for the next read"
    )


def read_until(
    protocol: ReqResProtocol, terminator: bytes, max_bytes: int, timeout: float | None
) -> bytes:
    """Read up to and including ``terminator``; see ``ReqResProtocol.read_until``.

    Args:
        protocol: The protocol.
        terminator: The bytes that end an answer.
        max_bytes: Longest accepted answer, terminator included.
        timeout: Longest wait in seconds, or ``None`` for the timeout rule.

    Returns:
        The answer, terminator included.
    """
    term = _check_terminator(terminator, "read_until()")
    what = f"read_until({term!r})"
    limit = _check_count(max_bytes, "max_bytes", what, minimum=len(term))
    wait = resolve_timeout(protocol, timeout, what)
    deadline = time.monotonic() + wait
    buf = bytearray()
    start = 0
    while True:
        found = buf.find(term, start)
        if found >= 0 and found + len(term) <= limit:
            end = found + len(term)
            push_back(protocol, buf[end:])
            return bytes(buf[:end])
        if found >= 0 or len(buf) >= limit:
            push_back(protocol, buf)
            raise FrameTooLargeError(
                f"{what}: no terminator within max_bytes={limit} ({len(buf)} bytes "
                "received); they stay buffered: take them with read() or pass a larger "
                "max_bytes"
            )
        start = max(len(buf) - len(term) + 1, 0)
        chunk = protocol.read_within(max(deadline - time.monotonic(), 0.0))
        if chunk:
            buf += chunk
        elif time.monotonic() >= deadline:
            raise _timed_out(protocol, buf, what, f"terminator {term!r}", wait)


def read_exactly(protocol: ReqResProtocol, n: int, timeout: float | None) -> bytes:
    """Read exactly ``n`` bytes; see ``ReqResProtocol.read_exactly``.

    Args:
        protocol: The protocol.
        n: How many bytes.
        timeout: Longest wait in seconds, or ``None`` for the timeout rule.

    Returns:
        The ``n`` bytes.
    """
    what = f"read_exactly({n!r})"
    count = _check_count(n, "n", what, minimum=0)
    wait = resolve_timeout(protocol, timeout, what)
    deadline = time.monotonic() + wait
    buf = bytearray()
    while len(buf) < count:
        chunk = protocol.read_within(max(deadline - time.monotonic(), 0.0))
        if chunk:
            buf += chunk
        elif time.monotonic() >= deadline:
            raise _timed_out(protocol, buf, what, f"{count} bytes", wait)
    push_back(protocol, buf[count:])
    return bytes(buf[:count])


def query(
    protocol: ReqResProtocol,
    data: bytes,
    until: bytes | None,
    size: int | None,
    max_bytes: int,
    timeout: float | None,
) -> bytes:
    """Send ``data`` and read the answer; see ``ReqResProtocol.query``.

    Args:
        protocol: The protocol.
        data: The request.
        until: Terminator of the answer, or ``None``.
        size: Exact answer length, or ``None``.
        max_bytes: Longest accepted answer when reading up to a terminator.
        timeout: Longest wait for the answer, or ``None`` for the timeout rule.

    Returns:
        The answer.

    Raises:
        ProtocolValidationError: If both ``until`` and ``size`` are given.
    """
    if until is not None and size is not None:
        raise ProtocolArgumentError(
            "query(): pass either until= (a terminator) or size= (a length), not both"
        )
    if size is None:
        # Check the arguments before anything is sent.
        _check_terminator(b"\n" if until is None else until, "query()")
        resolve_timeout(protocol, timeout, "query()")
    else:
        _check_count(size, "size", "query()", minimum=0)
        resolve_timeout(protocol, timeout, "query()")
    protocol.send(data)
    if size is not None:
        return read_exactly(protocol, size, timeout)
    return read_until(protocol, b"\n" if until is None else until, max_bytes, timeout)
