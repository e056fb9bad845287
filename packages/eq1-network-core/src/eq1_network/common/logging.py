"""Logging set-up for applications and the command line.

Library modules log through ``logging.getLogger(__name__)``; the package root only
installs a :class:`logging.NullHandler`, so nothing is printed unless the
application configures logging. :func:`configure_logging` is the one helper that
does so consistently.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["DEFAULT_FORMAT", "configure_logging"]

DEFAULT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(threadName)s] %(message)s"
_HANDLER_MARK = "_eq1_network_handler"


def configure_logging(
    level: int | str = logging.INFO,
    *,
    stream: TextIO | None = None,
    fmt: str = DEFAULT_FORMAT,
) -> logging.Handler:
    """Send the ``eq1_network`` loggers to a stream with one uniform format.

    Calling it again replaces the handler it installed before instead of adding a
    second one, so log lines are never duplicated.

    Args:
        level: Level for the ``eq1_network`` logger, as a number or a name such as ``"DEBUG"``.
        stream: Where to write; ``sys.stderr`` by default.
        fmt: A :mod:`logging` format string.

    Returns:
        The handler that was installed.

    Raises:
        ValueError: If ``level`` is not a known level name.
    """
    logger = logging.getLogger("eq1_network")
    for old in list(logger.handlers):
        if getattr(old, _HANDLER_MARK, False):
            logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
