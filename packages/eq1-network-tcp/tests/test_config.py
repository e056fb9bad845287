"""Unit tests of argument checking, option objects and the backoff schedule."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest

from eq1_network.common.backoff import backoff_delays
from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolTypeError
from eq1_network.protocols.ethernet import KeepAlive, ReconnectPolicy
from eq1_network.protocols.ethernet._config import DEFAULT_BLOCKING_TIMEOUT, pick_timeout
from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"host": "", "port": 80}, ProtocolConfigurationError, "host must not be empty"),
        ({"host": 1, "port": 80}, ProtocolTypeError, "host must be a str"),
        ({"host": "h", "port": 0}, ProtocolConfigurationError, "port must be between 1 and 65535"),
        ({"host": "h", "port": 70000}, ProtocolConfigurationError, "port must be between"),
        ({"host": "h", "port": "80"}, ProtocolTypeError, "port must be an int"),
        ({"host": "h", "port": True}, ProtocolTypeError, "port must be an int"),
        ({"host": "h", "port": 1, "timeout": -1}, ProtocolConfigurationError, "timeout must be"),
        ({"host": "h", "port": 1, "timeout": "1"}, ProtocolTypeError, "timeout must be a number"),
        (
            {"host": "h", "port": 1, "timeout": float("inf")},
            ProtocolConfigurationError,
            "finite",
        ),
        ({"host": "h", "port": 1, "connect_timeout": -2}, ProtocolConfigurationError, "connect_"),
        ({"host": "h", "port": 1, "write_timeout": -2}, ProtocolConfigurationError, "write_"),
        ({"host": "h", "port": 1, "max_buffer": 0}, ProtocolConfigurationError, "max_buffer"),
        ({"host": "h", "port": 1, "keepalive": "on"}, ProtocolTypeError, "keepalive must be"),
        ({"host": "h", "port": 1, "reconnect": 3}, ProtocolTypeError, "reconnect must be"),
    ],
)
def test_client_rejects_bad_arguments(kwargs: dict, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        TCPClient(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"port": -1}, ProtocolConfigurationError, "port must be between 0 and 65535"),
        ({"port": 0, "backlog": 0}, ProtocolConfigurationError, "backlog must be positive"),
        ({"port": 0, "max_clients": 0}, ProtocolConfigurationError, "max_clients"),
        ({"port": 0, "handshake_timeout": -1}, ProtocolConfigurationError, "handshake_timeout"),
        ({"port": 0, "on_connect": "no"}, ProtocolTypeError, "on_connect must be callable"),
        ({"port": 0, "on_disconnect": 1}, ProtocolTypeError, "on_disconnect must be callable"),
    ],
)
def test_server_rejects_bad_arguments(kwargs: dict, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        TCPServer("127.0.0.1", **kwargs)


def test_timeouts_default_from_timeout_or_to_a_finite_value() -> None:
    client = TCPClient("127.0.0.1", 1, timeout=2.5)
    assert client.connect_timeout == 2.5 and client.write_timeout == 2.5
    forever = TCPClient("127.0.0.1", 1, timeout=None)
    assert forever.connect_timeout == DEFAULT_BLOCKING_TIMEOUT
    assert forever.write_timeout == DEFAULT_BLOCKING_TIMEOUT
    explicit = TCPClient("127.0.0.1", 1, timeout=1, connect_timeout=4, write_timeout=5)
    assert (explicit.connect_timeout, explicit.write_timeout) == (4, 5)
    assert pick_timeout(None, None) == DEFAULT_BLOCKING_TIMEOUT


def test_option_objects_validate() -> None:
    with pytest.raises(ProtocolConfigurationError, match=r"KeepAlive\.idle"):
        KeepAlive(idle=0.5)
    with pytest.raises(ProtocolConfigurationError, match=r"KeepAlive\.count"):
        KeepAlive(count=0)
    with pytest.raises(ProtocolConfigurationError, match="max_delay"):
        ReconnectPolicy(initial_delay=5, max_delay=1)
    with pytest.raises(ProtocolConfigurationError, match="multiplier"):
        ReconnectPolicy(multiplier=0.5)
    with pytest.raises(ProtocolConfigurationError, match="jitter"):
        ReconnectPolicy(jitter=1.5)
    with pytest.raises(ProtocolConfigurationError, match="max_attempts"):
        ReconnectPolicy(max_attempts=0)
    assert TCPClient("h", 1, reconnect=True).reconnect == ReconnectPolicy()
    assert TCPClient("h", 1, reconnect=False).reconnect is None
    assert TCPClient("h", 1).reconnect is None, "reconnection must be off by default"
    assert TCPClient("h", 1, keepalive=False).keepalive.enabled is False


def _delays(policy: ReconnectPolicy, rng: random.Random | None = None) -> Iterator[float]:
    return backoff_delays(
        policy.initial_delay,
        policy.max_delay,
        multiplier=policy.multiplier,
        jitter=policy.jitter,
        max_attempts=policy.max_attempts,
        rng=rng,
    )


def test_backoff_grows_exponentially_within_jitter_and_caps() -> None:
    policy = ReconnectPolicy(initial_delay=0.1, max_delay=1.0, multiplier=2.0, jitter=0.5)
    delays = list(itertools.islice(_delays(policy, random.Random(7)), 10))
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.5 <= delay <= base
    assert len(set(delays)) == len(delays), "jitter makes every delay different"


def test_backoff_without_jitter_is_exact_and_stops_after_max_attempts() -> None:
    policy = ReconnectPolicy(initial_delay=1, max_delay=8, multiplier=3, jitter=0, max_attempts=4)
    assert list(_delays(policy)) == [1, 3, 8, 8]
