"""Helpers for tests that need a real peer program (mosquitto, socat, ...).

When the ``EQ1_REQUIRE_PEERS`` environment variable is set (CI sets it), a missing
program fails the test instead of skipping it, so CI can never skip silently.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

__all__ = ["free_port", "require_executable", "require_peers"]


def require_peers() -> bool:
    """Tell whether missing peer programs must fail rather than skip.

    Returns:
        ``True`` when ``EQ1_REQUIRE_PEERS`` is set to a non-empty value other than ``0``.
    """
    return os.environ.get("EQ1_REQUIRE_PEERS", "") not in ("", "0")


def require_executable(name: str, reason: str = "") -> str:
    """Return the path of a program, or skip (fail under ``EQ1_REQUIRE_PEERS``) if missing.

    Args:
        name: Program name, e.g. ``"socat"``.
        reason: What the program is needed for, added to the message.

    Returns:
        The program's full path.
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name!r} is not installed{': ' + reason if reason else ''}"
        if require_peers():
            pytest.fail(f"{message} (EQ1_REQUIRE_PEERS is set, so this cannot be skipped)")
        pytest.skip(message)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now.

    Args:
        host: The address to bind, loopback by default.

    Returns:
        A port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
