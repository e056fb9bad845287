"""The core policy types: ReconnectPolicy, TLSConfig and OverflowPolicy."""

from __future__ import annotations

import random
import ssl
import warnings
from pathlib import Path
from typing import Any

import pytest

import eq1_network
from eq1_network import NetworkConfig, OverflowPolicy, ReconnectPolicy, TLSConfig
from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.testing import TLSFiles, make_tls_files


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def test_one_class_per_policy_everywhere() -> None:
    from eq1_network import network, worker
    from eq1_network.common import policies

    assert eq1_network.ReconnectPolicy is policies.ReconnectPolicy is worker.ReconnectPolicy
    assert network.ReconnectPolicy is ReconnectPolicy
    assert eq1_network.QueueFullPolicy is OverflowPolicy is network.QueueFullPolicy
    assert eq1_network.TLSConfig is policies.TLSConfig
    assert {"OverflowPolicy", "ReconnectPolicy", "TLSConfig"} <= set(eq1_network.__all__)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"enabled": 1}, r"ReconnectPolicy\.enabled must be a bool"),
        ({"initial_delay": -1}, r"ReconnectPolicy\.initial_delay must be a finite number >= 0"),
        ({"initial_delay": "1"}, r"ReconnectPolicy\.initial_delay must be a number"),
        ({"max_delay": float("inf")}, r"ReconnectPolicy\.max_delay must be a finite number"),
        ({"initial_delay": 2, "max_delay": 1}, r"max_delay must be >= initial_delay"),
        ({"multiplier": 0.5}, r"ReconnectPolicy\.multiplier must be a finite number >= 1"),
        ({"jitter": 1.5}, r"ReconnectPolicy\.jitter must be between 0 and 1"),
        ({"jitter": -0.1}, r"ReconnectPolicy\.jitter must be a finite number >= 0"),
        ({"max_attempts": 0}, r"ReconnectPolicy\.max_attempts must be an int >= 1 or None"),
        ({"max_attempts": 2.0}, r"ReconnectPolicy\.max_attempts must be an int"),
    ],
)
def test_reconnect_policy_names_the_field_and_the_rule(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=text):
        ReconnectPolicy(**kwargs)


def test_reconnect_policy_defaults_and_jitter_spellings() -> None:
    policy = ReconnectPolicy()
    assert policy.enabled is True, "passing a policy turns reconnection on"
    assert (policy.initial_delay, policy.max_delay, policy.jitter) == (0.5, 30.0, 1.0)
    assert ReconnectPolicy(jitter=False) == ReconnectPolicy(jitter=0.0)
    assert ReconnectPolicy(jitter=True).jitter == 1.0
    half = ReconnectPolicy(initial_delay=1, max_delay=8, jitter=0.5, max_attempts=5)
    delays = list(half.delays(random.Random(3)))
    assert len(delays) == 5
    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8], strict=True):
        assert ceiling * 0.5 <= delay <= ceiling


def test_network_config_reconnect_is_off_by_default() -> None:
    config = NetworkConfig("loopback")
    assert config.reconnect.enabled is False
    assert config.queue_full_policy is OverflowPolicy.BLOCK
    with pytest.raises(ProtocolConfigurationError, match=r"NetworkConfig\.reconnect must be"):
        NetworkConfig("loopback", reconnect=True)  # type: ignore[arg-type]


def test_overflow_policy_members() -> None:
    assert OverflowPolicy["RAISE"] is OverflowPolicy.REJECT
    as_text: list[str] = [OverflowPolicy.REJECT, OverflowPolicy.DROP_OLDEST]
    assert as_text == ["reject", "drop_oldest"], "members compare equal to their values"
    assert [member.value for member in OverflowPolicy] == ["block", "reject", "drop_oldest"]
    assert NetworkConfig("loopback", queue_full_policy=OverflowPolicy.RAISE).queue_full_policy is (
        OverflowPolicy.REJECT
    )


def test_overflow_policy_string_is_deprecated_and_names_the_member() -> None:
    with pytest.warns(DeprecationWarning, match=r"OverflowPolicy\.REJECT"):
        config = NetworkConfig("loopback", queue_full_policy="reject")  # type: ignore[arg-type]
    assert config.queue_full_policy is OverflowPolicy.REJECT


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("raise", r"must be an OverflowPolicy \(block, reject, drop_oldest\)"),
        (3, "must be an OverflowPolicy"),
        (OverflowPolicy.DROP_OLDEST, "must be OverflowPolicy.BLOCK or REJECT"),
    ],
)
def test_network_config_rejects_other_overflow_policies(value: object, text: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=rf"queue_full_policy {text}"):
        NetworkConfig("loopback", queue_full_policy=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"cafile": "missing.pem"}, r"TLSConfig\.cafile: no such file"),
        ({"certfile": 5}, r"TLSConfig\.certfile must be a str or Path"),
        ({"check_hostname": "no"}, r"TLSConfig\.check_hostname must be a bool"),
        ({"server_hostname": b"x"}, r"TLSConfig\.server_hostname must be a str or None"),
        ({"minimum_version": "1.2"}, r"TLSConfig\.minimum_version must be an ssl\.TLSVersion"),
    ],
)
def test_tls_config_names_the_field_and_the_rule(
    kwargs: dict[str, Any], text: str, tmp_path: Path
) -> None:
    if kwargs.get("cafile") == "missing.pem":
        kwargs = {"cafile": tmp_path / "missing.pem"}
    with pytest.raises(ProtocolConfigurationError, match=text):
        TLSConfig(**kwargs)


def test_tls_config_checks_combinations_and_hides_the_password(tls_files: TLSFiles) -> None:
    with pytest.raises(ProtocolConfigurationError, match=r"keyfile needs TLSConfig\.certfile"):
        TLSConfig(keyfile=tls_files.server_key)
    with pytest.raises(ProtocolConfigurationError, match="needs certfile"):
        TLSConfig(cafile=tls_files.ca).server_context()
    with pytest.raises(ProtocolConfigurationError) as info:
        TLSConfig(password=12345)  # type: ignore[arg-type]
    assert "12345" not in str(info.value)
    secret = TLSConfig(certfile=tls_files.server_cert, keyfile=tls_files.server_key, password="pw!")
    assert "pw!" not in repr(secret)


def test_tls_config_builds_contexts(tls_files: TLSFiles) -> None:
    client = TLSConfig(cafile=tls_files.ca, check_hostname=False).client_context()
    assert client.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname is False
    server = TLSConfig(
        certfile=tls_files.server_cert, keyfile=tls_files.server_key, cafile=tls_files.ca
    ).server_context()
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER and server.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ProtocolConfigurationError, match="cannot load cafile"):
        TLSConfig(cafile=tls_files.server_key).client_context()


def test_new_spellings_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NetworkConfig(
            "loopback",
            queue_full_policy=OverflowPolicy.REJECT,
            reconnect=ReconnectPolicy(initial_delay=0.1, max_delay=1),
        )
