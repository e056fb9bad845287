"""Endpoint URLs: parsing, masking, coercion, scheme lookup and load failures."""

from __future__ import annotations

import enum
import logging
import types
from pathlib import Path
from typing import Any

import pytest

import eq1_network
from eq1_network import (
    NetworkConfig,
    NetworkHandler,
    PluginLoadError,
    ProtocolConfigurationError,
    ProtocolManager,
    ProtocolNotFoundError,
    ProtocolRegistry,
    ProtocolSpec,
    ProtocolUnavailableError,
    PubSubManager,
    ReqResManager,
    ReqResProtocol,
)
from eq1_network.plugins import registry as registry_module
from eq1_network.protocols.loopback.memory import MemoryPubSub
from eq1_network.protocols.loopback.reqres import LoopbackProtocol
from eq1_network.urls import coerce, mask_url, parse_url

SECRET = "s3cr3t-Pa55"


class Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


class Gadget(ReqResProtocol):
    """A third-party protocol that writes no URL code of its own."""

    def __init__(
        self,
        host: str,
        port: int = 4000,
        *,
        timeout: float | None = 1.0,
        retries: int = 3,
        verbose: bool = False,
        mode: Mode = Mode.SAFE,
        label: str = "",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.retries, self.verbose, self.mode, self.label = retries, verbose, mode, label
        self.username, self.password = username, password

    def connect(self) -> bool:
        return True

    def disconnect(self) -> None:
        return None

    def is_connected(self) -> bool:
        return False

    def send(self, data: bytes) -> int:
        return len(data)

    def read(self) -> tuple[bool, bytes | None]:
        return False, None


@pytest.fixture
def gadget_registry() -> ProtocolRegistry:
    registry = ProtocolRegistry(use_entry_points=False)
    registry.register(ProtocolSpec(name="gadget", factory=Gadget, schemes=("gadget",)))
    return registry


# -- parsing and masking -------------------------------------------------------


def test_parse_splits_every_part() -> None:
    url = parse_url(f"tcp://alice:{SECRET}@[::1]:5000/a%20b?timeout=2&x=")
    assert (url.scheme, url.host, url.port, url.path) == ("tcp", "::1", 5000, "/a b")
    assert (url.username, url.password) == ("alice", SECRET)
    assert url.params == {"timeout": "2", "x": ""}
    assert url.netloc == "[::1]:5000"
    assert SECRET not in repr(url) and SECRET not in url.masked
    assert url.masked == "tcp://alice:***@[::1]:5000/a%20b?timeout=2&x="


def test_host_case_is_kept_and_scheme_lowered() -> None:
    url = parse_url("SERIAL://COM3?baudrate=9600")
    assert (url.scheme, url.host) == ("serial", "COM3")


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"mqtt://u:{SECRET}@h:1", "mqtt://u:***@h:1"),
        (f"mqtt://u:{SECRET}@h?password={SECRET}", "mqtt://u:***@h?password=***"),
        (f"x://h?api_token={SECRET}&a=1", "x://h?api_token=***&a=1"),
        (f"tcp//u:{SECRET}@h:1", "tcp//u:***@h:1"),
        ("tcp://h:1?password_env=NAME", "tcp://h:1?password_env=NAME"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tcp//h:1", "is not a URL"),
        ("tcp://h:99999", "port must be a number from 0 to 65535"),
        ("tcp://h:x1", "port must be a number"),
        ("tcp://::1:5", "put an IPv6 address in brackets"),
        ("tcp://[::1:5", "an IPv6 address must look like"),
        ("tcp://h:1?a=1&a=2", "parameter 'a' is given twice"),
        ("tcp://h:1#frag", "fragment"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=message):
        parse_url(url)


def test_password_from_environment_and_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EQ1_TEST_PASSWORD", SECRET)
    url = parse_url("mqtt://bob@h?password_env=EQ1_TEST_PASSWORD&a=1")
    assert url.password == SECRET and url.params == {"a": "1"}
    file = tmp_path / "pw"
    file.write_text(SECRET + "\n", encoding="utf-8")
    assert parse_url(f"mqtt://bob@h?password_file={file}").password == SECRET
    monkeypatch.delenv("EQ1_TEST_PASSWORD")
    with pytest.raises(ProtocolConfigurationError, match=r"EQ1_TEST_PASSWORD.*not set"):
        parse_url("mqtt://bob@h?password_env=EQ1_TEST_PASSWORD")
    with pytest.raises(ProtocolConfigurationError, match="cannot be read"):
        parse_url(f"mqtt://bob@h?password_file={tmp_path / 'missing'}")
    with pytest.raises(ProtocolConfigurationError, match="more than once") as info:
        parse_url(f"mqtt://bob:{SECRET}@h?password_file={file}")
    assert SECRET not in str(info.value)


# -- coercion --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "annotation", "expected"),
    [
        ("2", float, 2.0),
        ("500ms", float, 0.5),
        ("2s", float | None, 2.0),
        ("1m", float, 60.0),
        ("1h", float, 3600.0),
        ("none", float | None, None),
        ("7", int, 7),
        ("yes", bool, True),
        ("OFF", bool, False),
        ("fast", Mode, Mode.FAST),
        ("SAFE", Mode, Mode.SAFE),
        ("true", bool | int, True),
        ("3", int | bool, 3),
        ("abc", str, "abc"),
        ("/dev/x", Path, Path("/dev/x")),
    ],
)
def test_coerce(raw: str, annotation: Any, expected: object) -> None:
    assert coerce("p", raw, annotation) == expected


@pytest.mark.parametrize(
    ("raw", "annotation", "message"),
    [
        ("abc", float, "must be a number of seconds"),
        ("inf", float, "must be a number of seconds"),
        ("maybe", bool, "must be bool"),
        ("1.5", int, "must be int"),
        ("turbo", Mode, "must be fast | safe"),
        ("none", int, "must be int"),
        ("x", types.SimpleNamespace, "cannot be written in a URL"),
    ],
)
def test_coerce_refuses(raw: str, annotation: Any, message: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=message):
        coerce("p", raw, annotation)


# -- the default classmethod --------------------------------------------------------


def test_third_party_class_gets_url_support_for_free(gadget_registry: ProtocolRegistry) -> None:
    proto = gadget_registry.from_url(
        "gadget://dev.local:4100?timeout=250ms&retries=5&verbose=on&mode=fast&label=a%20b"
    )
    assert isinstance(proto, Gadget)
    assert (proto.host, proto.port, proto.timeout) == ("dev.local", 4100, 0.25)
    assert (proto.retries, proto.verbose, proto.mode, proto.label) == (5, True, Mode.FAST, "a b")
    assert not proto.is_connected()
    default_port = Gadget.from_url("gadget://h", retries=9)
    assert (default_port.port, default_port.retries) == (4000, 9)
    creds = Gadget.from_url(f"gadget://ann:{SECRET}@h")
    assert (creds.username, creds.password) == ("ann", SECRET)


def test_manager_from_url_uses_the_shared_registry(
    gadget_registry: ProtocolRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ProtocolManager, "registry", gadget_registry)
    assert isinstance(ProtocolManager.from_url("gadget://h:1"), Gadget)
    assert isinstance(eq1_network.from_url("gadget://h:1"), Gadget)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gadget://h?retrys=5", r"unknown parameter 'retrys'; valid parameters: label, mode, "),
        ("gadget://h?retries=many", r"parameter 'retries' must be int, got 'many'"),
        ("gadget://h?timeout=soon", r"parameter 'timeout' must be a number of seconds"),
        ("gadget://h?host=x", r"unknown parameter 'host'"),
        ("gadget://:5", r"Gadget needs a host"),
        ("gadget://h/path", r"Gadget takes no path"),
        (f"gadget://u:{SECRET}@h?bogus=1", r"URL 'gadget://u:\*\*\*@h\?bogus=1': .*'bogus'"),
    ],
)
def test_bad_parameters_name_the_parameter(
    url: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProtocolConfigurationError, match=message) as info:
        Gadget.from_url(url)
    assert SECRET not in str(info.value) and SECRET not in caplog.text


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ProtocolConfigurationError, match="unknown parameter 'colour'"):
        Gadget.from_url("gadget://h", colour="red")


def test_constructor_errors_never_show_the_password() -> None:
    class Leaky(Gadget):
        def __init__(self, host: str, password: str | None = None) -> None:
            raise ValueError(f"refused password {password}")

    with pytest.raises(ProtocolConfigurationError) as info:
        Leaky.from_url(f"gadget://u:{SECRET}@h")
    assert SECRET not in str(info.value) and "***" in str(info.value)


def test_credentials_refused_where_the_protocol_takes_none() -> None:
    with pytest.raises(ProtocolConfigurationError, match="takes no password") as info:
        LoopbackProtocol.from_url(f"loop://:{SECRET}@x")
    assert SECRET not in str(info.value)


# -- first-party core schemes ---------------------------------------------------------


def test_core_grammar() -> None:
    echo = eq1_network.from_url("loop://")
    assert isinstance(echo, LoopbackProtocol) and echo.channel is None
    end = eq1_network.from_url("loop://line1?side=b&timeout=2&max_buffer=1024")
    assert isinstance(end, LoopbackProtocol)
    assert (end.channel, end.side, end.timeout, end.max_buffer) == ("line1", "b", 2.0, 1024)
    assert isinstance(eq1_network.from_url("memory://"), MemoryPubSub)
    with pytest.raises(ProtocolConfigurationError, match="MemoryPubSub takes no host"):
        eq1_network.from_url("memory://x")


def test_unknown_scheme_lists_known_schemes_and_distributions() -> None:
    with pytest.raises(ProtocolNotFoundError) as info:
        eq1_network.from_url(f"gopher://u:{SECRET}@h:70")
    message = str(info.value)
    assert "'gopher'" in message and SECRET not in message
    assert "loop:// (loopback, eq1-network-core)" in message
    assert "memory:// (memory, eq1-network-core)" in message


def test_missing_first_party_scheme_says_what_to_install() -> None:
    registry = ProtocolRegistry(use_entry_points=False)
    with pytest.raises(ProtocolNotFoundError, match=r'pip install "eq1-network\[mqtt\]"'):
        registry.from_url("mqtts://broker")
    with pytest.raises(ProtocolNotFoundError, match=r'pip install "eq1-network\[tcp\]"'):
        registry.get_protocol("tcp-server")


# -- load failures ----------------------------------------------------------------------


class _Dist:
    name = "eq1-network-modbus"
    version = "0.1.0"

    def read_text(self, filename: str) -> str | None:
        return f"Name: {self.name}\nVersion: {self.version}\n" if filename == "METADATA" else None


class _BrokenEntryPoint:
    name = "modbus"
    value = "eq1_modbus_plugin"
    dist = _Dist()

    def load(self) -> Any:
        import eq1_modbus_plugin  # type: ignore[import-not-found]

        return eq1_modbus_plugin


def test_plugin_that_fails_to_import_is_reported_on_lookup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "eq1_modbus_plugin.py").write_text("raise RuntimeError('boom: no driver')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry_module, "protocol_entry_points", lambda: [_BrokenEntryPoint()])
    registry = ProtocolRegistry()
    for lookup in (
        lambda: registry.get_protocol("modbus"),
        lambda: registry.from_url("modbus://h"),
    ):
        with pytest.raises(ProtocolUnavailableError) as info:
            lookup()
        error = info.value
        assert isinstance(error, ProtocolNotFoundError) and isinstance(error, PluginLoadError)
        assert error.distribution == "eq1-network-modbus"
        assert error.module == "eq1_modbus_plugin"
        assert isinstance(error.exception, RuntimeError) and error.__cause__ is error.exception
        assert "boom: no driver" in str(error) and "eq1-network-modbus" in str(error)
    with pytest.raises(ProtocolNotFoundError, match="plugins that failed to load: module"):
        registry.get_protocol("other")


def test_factory_module_that_fails_to_import_is_unavailable() -> None:
    registry = ProtocolRegistry(use_entry_points=False)
    registry.register(ProtocolSpec(name="ghost", factory="no_such_module_q:Ghost"))
    with pytest.raises(ProtocolUnavailableError) as info:
        registry.get_protocol("ghost")
    assert info.value.module == "no_such_module_q"
    assert isinstance(info.value.exception, ModuleNotFoundError)


# -- managers and NetworkConfig -----------------------------------------------------------


def test_managers_register_a_url() -> None:
    ReqResManager.register("url-echo", "loop://?timeout=3")
    PubSubManager.register("url-bus", "memory://")
    try:
        proto = ReqResManager.get("url-echo")
        assert isinstance(proto, LoopbackProtocol) and proto.timeout == 3.0
        assert isinstance(PubSubManager.get("url-bus"), MemoryPubSub)
        with pytest.raises(TypeError, match="expected a ReqResProtocol"):
            ReqResManager.register("url-bad", "memory://")
    finally:
        ReqResManager.unregister("url-echo")
        PubSubManager.unregister("url-bus")


def test_network_config_accepts_a_url_and_names_param_typos() -> None:
    from eq1_network.network_config import create_protocol

    proto = create_protocol(NetworkConfig(protocol="loop://cfg?side=b", params={"timeout": 2.0}))
    assert isinstance(proto, LoopbackProtocol)
    assert (proto.channel, proto.side, proto.timeout) == ("cfg", "b", 2.0)
    typo = NetworkHandler(NetworkConfig(protocol="loopback", params={"timout": 1}))
    with pytest.raises(
        ProtocolConfigurationError,
        match=r"params: unknown parameter 'timout'; valid parameters: channel, max_buffer, side",
    ):
        typo.start()


# -- the documented grammar ------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[3] / "docs" / "urls.md"


def documented(schemes: tuple[str, ...]) -> list[str]:
    """The URLs of the docs/urls.md grammar table whose scheme is one of ``schemes``."""
    import re

    rows = re.findall(r"^\| `([a-z0-9+.\-]+://[^`]*)` \|", DOCS.read_text("utf-8"), re.MULTILINE)
    return [url for url in rows if url.partition("://")[0] in schemes]


CORE_TABLE: dict[str, tuple[type, dict[str, object]]] = {
    "loop://": (LoopbackProtocol, {"channel": None, "side": "a"}),
    "loop://line1?side=b": (LoopbackProtocol, {"channel": "line1", "side": "b"}),
    "memory://": (MemoryPubSub, {}),
}


def test_every_documented_core_url_round_trips() -> None:
    assert sorted(documented(("loop", "memory"))) == sorted(CORE_TABLE)
    for url, (kind, attributes) in CORE_TABLE.items():
        proto = eq1_network.from_url(url)
        assert type(proto) is kind, url
        assert {name: getattr(proto, name) for name in attributes} == attributes, url


def test_missing_first_party_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from eq1_network.cli import main

    monkeypatch.setattr(ProtocolManager, "registry", ProtocolRegistry(use_entry_points=False))
    assert main(["tcp-echo", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "'tcp-echo' command comes with eq1-network-tcp" in err
    assert 'pip install "eq1-network[tcp]"' in err
