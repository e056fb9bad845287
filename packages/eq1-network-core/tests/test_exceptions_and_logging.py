"""The exception hierarchy and the logging helper."""

from __future__ import annotations

import io
import logging

import pytest

import eq1_network
from eq1_network.common import exceptions as exc
from eq1_network.common.logging import configure_logging


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (exc.ProtocolConnectionError, ConnectionError),
        (exc.ProtocolNotConnectedError, ConnectionError),
        (exc.ProtocolAuthenticationError, ConnectionError),
        (exc.ProtocolTimeoutError, TimeoutError),
        (exc.ProtocolNotFoundError, LookupError),
        (exc.ProtocolValidationError, ValueError),
        (exc.ProtocolConfigurationError, ValueError),
        (exc.PacketSizeError, ValueError),
        (exc.MalformedPacketError, ValueError),
        (exc.FragmentError, ValueError),
        (exc.ProtocolTypeError, TypeError),
        (exc.PluginLoadError, ImportError),
        (exc.DuplicateProtocolError, ImportError),
    ],
)
def test_every_error_is_a_protocol_error_and_its_builtin(
    cls: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(cls, exc.ProtocolError)
    assert issubclass(cls, builtin)
    assert getattr(eq1_network, cls.__name__) is cls


def test_authentication_error_carries_reason() -> None:
    err = exc.ProtocolAuthenticationError("refused", reason_code=5, reason_name="Not authorized")
    assert (err.reason_code, err.reason_name, str(err)) == (5, "Not authorized", "refused")


def test_plugin_load_error_carries_distribution() -> None:
    assert exc.PluginLoadError("x", distribution="acme").distribution == "acme"


def test_package_root_only_has_a_null_handler() -> None:
    handlers = logging.getLogger("eq1_network").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_configure_logging_replaces_its_own_handler() -> None:
    logger = logging.getLogger("eq1_network")
    first, second = io.StringIO(), io.StringIO()
    try:
        configure_logging("debug", stream=first)
        handler = configure_logging(logging.INFO, stream=second, fmt="%(levelname)s %(message)s")
        logging.getLogger("eq1_network.test").info("hello")
        assert first.getvalue() == ""
        assert second.getvalue() == "INFO hello\n"
        assert logger.level == logging.INFO
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def test_configure_logging_rejects_unknown_level() -> None:
    with pytest.raises(ValueError):
        configure_logging("chatty", stream=io.StringIO())
