"""Fixtures for NetworkHandler tests: handler pairs over loopback channels."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eq1_network.network import NetworkConfig, NetworkHandler
from eq1_network.protocols.loopback.reqres import LoopbackProtocol

_channels = itertools.count()


@pytest.fixture
def handler_pair() -> Iterator[Callable[..., tuple[NetworkHandler, NetworkHandler]]]:
    """Make two started handlers joined by a fresh loopback channel; stop them afterwards."""
    made: list[NetworkHandler] = []

    def make(
        *, callback_a: Any = None, callback_b: Any = None, **config: Any
    ) -> tuple[NetworkHandler, NetworkHandler]:
        name = f"handler-test-{next(_channels)}"
        handlers = []
        for side, callback in (("a", callback_a), ("b", callback_b)):
            proto = LoopbackProtocol(10, channel=name, side=side)
            handler = NetworkHandler(NetworkConfig(protocol=proto, **config), callback)
            handler.start()
            made.append(handler)
            handlers.append(handler)
        return handlers[0], handlers[1]

    yield make
    for handler in made:
        handler.stop(timeout=10)
