"""Waiting on a condition in tests: poll with a deadline, never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DEFAULT_TIMEOUT", "wait_until"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 20.0
"""Seconds a test waits for something that should happen; generous for busy machines."""


def wait_until(
    predicate: Callable[[], T | None], timeout: float = DEFAULT_TIMEOUT, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns a true value, and return that value.

    The first poll happens at once; later polls back off from 1 ms to 50 ms. An
    exception raised by ``predicate`` propagates unchanged.

    Args:
        predicate: A callable without arguments; any true result ends the wait.
        timeout: Longest wait in seconds.
        what: What is awaited, in words ("the server to accept"); put in the failure
            message.

    Returns:
        The first true value ``predicate`` returned, so ``assert wait_until(...)``
        and ``conn = wait_until(lambda: server.connections())`` both read naturally.

    Raises:
        AssertionError: If ``predicate`` is still false after ``timeout`` seconds; the
            message names ``what`` (or the predicate) and the timeout. pytest reports it
            as a test failure.
    """
    described = what or getattr(predicate, "__name__", repr(predicate))
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {described}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
