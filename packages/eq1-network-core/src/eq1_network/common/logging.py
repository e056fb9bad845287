"""Logging of the library: the one owner of the ``eq1_network`` logger's set-up.

Conventions:

* Library modules get their logger with :func:`get_logger` (``logger =
  get_logger(__name__)``), never with ``logging.getLogger`` directly. It installs a
  :class:`logging.NullHandler` on the ``eq1_network`` logger once, before any library
  logger exists, so nothing is printed unless the application configures logging.
* The few modules that ``import eq1_network`` and protocol lookup load use
  :class:`LazyLogger` instead (``logger = LazyLogger(__name__)``), so that the
  :mod:`logging` package is not imported just to look a protocol up. It imports
  :mod:`logging` (through :func:`get_logger`) when a record is emitted; a record below
  ``WARNING`` is dropped while :mod:`logging` is not imported at all, since nothing can
  be listening then (the root logger's level is ``WARNING`` until configured).
* Applications call :func:`configure_logging`, the one helper that sends the
  ``eq1_network`` records to a stream consistently.

This module itself does not import :mod:`logging` at load time.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging
    from typing import TextIO

__all__ = ["DEFAULT_FORMAT", "LazyLogger", "configure_logging", "get_logger"]

DEFAULT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(threadName)s] %(message)s"
ROOT_LOGGER = "eq1_network"
_HANDLER_MARK = "_eq1_network_handler"
_WARNING = 30  # logging.WARNING, without importing logging
_install_lock = threading.Lock()
_installed = False


def _install_null_handler() -> None:
    """Put one :class:`logging.NullHandler` on the ``eq1_network`` logger (once)."""
    global _installed
    if _installed:
        return
    import logging

    with _install_lock:
        if not _installed:
            root = logging.getLogger(ROOT_LOGGER)
            if not any(type(h) is logging.NullHandler for h in root.handlers):
                root.addHandler(logging.NullHandler())
            _installed = True


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``name``, the ``eq1_network`` logger having its NullHandler.

    Args:
        name: The logger name, normally the caller's ``__name__``.

    Returns:
        ``logging.getLogger(name)``.
    """
    _install_null_handler()
    import logging

    return logging.getLogger(name)


class LazyLogger:
    """A logger that imports :mod:`logging` only when it emits a record.

    It offers the emitting methods of :class:`logging.Logger`; records keep the
    caller's ``funcName`` and ``lineno``. A record below ``WARNING`` is dropped
    without importing :mod:`logging` while no one has imported it.

    Args:
        name: The logger name, normally the caller's ``__name__``.
    """

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def _real(self) -> logging.Logger:
        logger = self._logger
        if logger is None:
            logger = self._logger = get_logger(self.name)
        return logger

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - the name of logging.Logger's method
        """Tell whether a record of ``level`` would be processed.

        Args:
            level: A logging level number.

        Returns:
            ``False`` below ``WARNING`` while :mod:`logging` is not imported; otherwise
            what the real logger answers.
        """
        if level < _WARNING and "logging" not in sys.modules:
            return False
        return self._real().isEnabledFor(level)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log ``msg % args`` at ``level``, like :meth:`logging.Logger.log`.

        Args:
            level: A logging level number.
            msg: The message (format string).
            *args: Its arguments.
            **kwargs: ``exc_info``, ``stack_info``, ``stacklevel`` and ``extra``.
        """
        if level < _WARNING and "logging" not in sys.modules:
            return
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self._real().log(level, msg, *args, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at ``DEBUG``; see :meth:`log`."""
        if "logging" not in sys.modules:
            return
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self._real().debug(msg, *args, **kwargs)

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at ``INFO``; see :meth:`log`."""
        if "logging" not in sys.modules:
            return
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self._real().info(msg, *args, **kwargs)

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at ``WARNING``; see :meth:`log`."""
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self._real().warning(msg, *args, **kwargs)

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at ``ERROR``; see :meth:`log`."""
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self._real().error(msg, *args, **kwargs)

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at ``ERROR`` with the exception being handled; see :meth:`log`."""
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        kwargs.setdefault("exc_info", True)
        self._real().error(msg, *args, **kwargs)

    def critical(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at ``CRITICAL``; see :meth:`log`."""
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self._real().critical(msg, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<LazyLogger {self.name}>"


def configure_logging(
    level: int | str = "INFO",
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
    import logging

    logger = get_logger(ROOT_LOGGER)
    for old in list(logger.handlers):
        if getattr(old, _HANDLER_MARK, False):
            logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


if "logging" in sys.modules:  # imported first by the application: install right away
    _install_null_handler()
