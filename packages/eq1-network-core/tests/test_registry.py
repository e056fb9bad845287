"""Protocol discovery: entry points, duplicates, broken plugins, folders, lazy loading."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

from eq1_network import (
    DuplicateProtocolError,
    PluginLoadError,
    ProtocolConfigurationError,
    ProtocolManager,
    ProtocolNotFoundError,
    ProtocolRegistry,
    ProtocolSpec,
    get_protocol,
    hookimpl,
)
from eq1_network.plugins import registry as registry_module
from eq1_network.protocols.loopback.memory import MemoryPubSub
from eq1_network.protocols.loopback.reqres import LoopbackProtocol


class _Dist:
    """A distribution whose metadata file holds only its name and version."""

    def __init__(self, name: str, version: str = "1.0") -> None:
        self.name = name
        self.version = version

    def read_text(self, filename: str) -> str | None:
        if filename != "METADATA":
            return None
        return (
            f"Metadata-Version: 2.3\nName: {self.name}\nVersion: {self.version}\n\nName: not me\n"
        )


class _FakeEntryPoint:
    def __init__(self, name: str, target: Any, dist: str | None = "acme-plugin") -> None:
        self.name = name
        self.value = f"{name}_module"
        self._target = target
        self.dist = _Dist(dist) if dist else None

    def load(self) -> Any:
        if isinstance(self._target, BaseException):
            raise self._target
        return self._target


def _plugin(*specs: ProtocolSpec) -> types.ModuleType:
    module = types.ModuleType(f"fake_plugin_{id(specs)}")

    @hookimpl
    def eq1_network_register_protocols() -> list[ProtocolSpec]:
        return list(specs)

    module.eq1_network_register_protocols = eq1_network_register_protocols  # type: ignore[attr-defined]
    return module


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> list[_FakeEntryPoint]:
    eps: list[_FakeEntryPoint] = []
    monkeypatch.setattr(registry_module, "protocol_entry_points", lambda: list(eps))
    return eps


def test_builtin_protocols_are_found_through_the_real_entry_point() -> None:
    registry = ProtocolRegistry()
    assert {"loopback", "memory"} <= set(registry.available())
    assert registry.get_protocol("loopback") is LoopbackProtocol
    assert registry.get_protocol("memory") is MemoryPubSub
    spec = registry.spec("loopback")
    assert spec.distribution == "eq1-network-core" and spec.version
    assert registry.load_seconds > 0


def test_module_level_get_protocol_and_manager() -> None:
    assert get_protocol("loopback") is LoopbackProtocol
    assert "memory" in ProtocolManager.available()
    assert [s.name for s in ProtocolManager.specs()] == ProtocolManager.available()
    created = ProtocolManager.create("loopback", timeout=2.0)
    assert isinstance(created, LoopbackProtocol) and created.timeout == 2.0


def test_unknown_protocol_lists_available_names() -> None:
    with pytest.raises(ProtocolNotFoundError, match=r"available protocols: .*loopback.*memory"):
        get_protocol("profinet")
    with pytest.raises(LookupError):
        ProtocolRegistry().get_protocol("nope")


def test_listing_does_not_import_implementation_modules() -> None:
    code = textwrap.dedent(
        """
        import sys
        import eq1_network
        names = eq1_network.ProtocolManager.available()
        assert "loopback" in names, names
        assert "eq1_network.protocols.loopback.reqres" not in sys.modules
        assert "eq1_network.protocols.loopback.memory" not in sys.modules
        eq1_network.get_protocol("loopback")
        assert "eq1_network.protocols.loopback.reqres" in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_third_party_plugin_is_discovered(fake_entry_points: list[_FakeEntryPoint]) -> None:
    fake_entry_points.append(
        _FakeEntryPoint(
            "echo", _plugin(ProtocolSpec(name="acme-echo", factory=LoopbackProtocol, summary="s"))
        )
    )
    registry = ProtocolRegistry()
    assert registry.available() == ["acme-echo"]
    assert registry.get_protocol("acme-echo") is LoopbackProtocol
    spec = registry.spec("acme-echo")
    assert (spec.distribution, spec.version, spec.origin) == ("acme-plugin", "1.0", "acme-plugin")
    assert registry.errors == []
    assert len(list(registry.hook_modules())) == 1


def test_broken_plugin_is_reported_and_others_still_load(
    fake_entry_points: list[_FakeEntryPoint], caplog: pytest.LogCaptureFixture
) -> None:
    fake_entry_points.append(_FakeEntryPoint("broken", ImportError("no module named serial"), "b"))
    fake_entry_points.append(
        _FakeEntryPoint("good", _plugin(ProtocolSpec(name="good", factory=LoopbackProtocol)))
    )
    registry = ProtocolRegistry()
    assert registry.available() == ["good"]
    [error] = registry.errors
    assert isinstance(error, PluginLoadError)
    assert error.distribution == "b"
    assert "distribution b" in str(error) and "no module named serial" in str(error)
    assert "failed to import" in caplog.text


def test_plugin_whose_hook_raises_or_returns_garbage(
    fake_entry_points: list[_FakeEntryPoint],
) -> None:
    raising = types.ModuleType("raising")

    @hookimpl
    def eq1_network_register_protocols() -> list[ProtocolSpec]:
        raise RuntimeError("boom")

    raising.eq1_network_register_protocols = eq1_network_register_protocols  # type: ignore[attr-defined]
    garbage = _plugin("not a spec")  # type: ignore[arg-type]
    bad_signature = types.ModuleType("bad_signature")

    @hookimpl
    def eq1_network_add_cli_commands(unknown_argument: object) -> None:
        return None

    bad_signature.eq1_network_add_cli_commands = eq1_network_add_cli_commands  # type: ignore[attr-defined]
    fake_entry_points.extend(
        [
            _FakeEntryPoint("raising", raising, "r"),
            _FakeEntryPoint("garbage", garbage, "g"),
            _FakeEntryPoint("sig", bad_signature, "s"),
        ]
    )
    registry = ProtocolRegistry()
    assert registry.available() == []
    messages = " | ".join(str(e) for e in registry.errors)
    assert "boom" in messages and "not a ProtocolSpec" in messages
    assert "could not be registered" in messages


def test_duplicate_names_name_both_distributions(
    fake_entry_points: list[_FakeEntryPoint],
) -> None:
    fake_entry_points.append(
        _FakeEntryPoint("one", _plugin(ProtocolSpec(name="dup", factory=LoopbackProtocol)), "d1")
    )
    fake_entry_points.append(
        _FakeEntryPoint("two", _plugin(ProtocolSpec(name="dup", factory=LoopbackProtocol)), "d2")
    )
    registry = ProtocolRegistry()
    [error] = registry.errors
    assert isinstance(error, DuplicateProtocolError)
    assert "d1" in str(error) and "d2" in str(error)
    with pytest.raises(DuplicateProtocolError, match="d1 and d2"):
        registry.get_protocol("dup")


def test_same_module_behind_two_entry_points_is_registered_once(
    fake_entry_points: list[_FakeEntryPoint],
) -> None:
    module = _plugin(ProtocolSpec(name="tcpish", factory=LoopbackProtocol))
    fake_entry_points.extend([_FakeEntryPoint("a", module), _FakeEntryPoint("b", module)])
    registry = ProtocolRegistry()
    assert registry.available() == ["tcpish"] and registry.errors == []


def test_lazy_factory_errors_name_the_distribution() -> None:
    registry = ProtocolRegistry(use_entry_points=False)
    registry.register(ProtocolSpec(name="ghost", factory="no_such_module_xyz:Thing"))
    registry.register(ProtocolSpec(name="wrong", factory="eq1_network.data:SendData"))
    registry.register(
        ProtocolSpec(name="kind", factory="eq1_network.protocols.loopback.memory:MemoryPubSub")
    )
    with pytest.raises(PluginLoadError, match="cannot load 'no_such_module_xyz:Thing'"):
        registry.get_protocol("ghost")
    with pytest.raises(PluginLoadError, match="not a ReqResProtocol subclass"):
        registry.get_protocol("wrong")
    with pytest.raises(PluginLoadError, match="not a ReqResProtocol"):
        registry.get_protocol("kind")
    with pytest.raises(DuplicateProtocolError, match="already registered"):
        registry.register(ProtocolSpec(name="ghost", factory=LoopbackProtocol))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "factory": LoopbackProtocol},
        {"name": "Upper", "factory": LoopbackProtocol},
        {"name": "x", "factory": LoopbackProtocol, "kind": "stream"},
        {"name": "x", "factory": "no_colon"},
        {"name": "x", "factory": int},
    ],
)
def test_invalid_specs_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ProtocolConfigurationError):
        ProtocolSpec(**kwargs)


def test_refresh_rereads_entry_points(fake_entry_points: list[_FakeEntryPoint]) -> None:
    registry = ProtocolRegistry()
    assert registry.available() == []
    fake_entry_points.append(
        _FakeEntryPoint("late", _plugin(ProtocolSpec(name="late", factory=LoopbackProtocol)))
    )
    assert registry.available() == []
    registry.refresh()
    assert registry.available() == ["late"]


FOLDER_MODULE = '''
from eq1_network import PubSubProtocol, ReqResProtocol, CompletedPublish

class HelperBase(ReqResProtocol):
    """Abstract: not registered."""

class Modbus(ReqResProtocol):
    """Modbus over nothing, for discovery tests."""
    def connect(self): return True
    def disconnect(self): pass
    def is_connected(self): return True
    def send(self, data): return len(data)
    def read(self): return False, None

class Bus(PubSubProtocol):
    protocol_name = "my-bus"
    def connect(self): return True
    def disconnect(self): pass
    def is_connected(self): return True
    def publish(self, topic, message, qos=0, retain=False): return CompletedPublish()
    def subscribe(self, topic, callback): pass
    def unsubscribe(self, topic, callback): pass

class NotAProtocol:
    pass
'''


def test_discover_folder_registers_concrete_protocols(tmp_path: Path) -> None:
    (tmp_path / "modbus.py").write_text(FOLDER_MODULE)
    (tmp_path / "broken.py").write_text("raise RuntimeError('broken on import')\n")
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')\n")
    registry = ProtocolRegistry(use_entry_points=False)
    assert sorted(registry.discover(tmp_path)) == ["modbus", "my-bus"]
    assert registry.get_protocol("modbus").__name__ == "Modbus"
    assert registry.spec("modbus").summary == "Modbus over nothing, for discovery tests."
    assert registry.spec("my-bus").kind == "pubsub"
    assert any("broken on import" in str(e) for e in registry.errors)
    assert registry.discover(tmp_path) == []  # idempotent


def test_discover_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="does not exist"):
        ProtocolRegistry(use_entry_points=False).discover(tmp_path / "missing")


def test_manager_class_methods_delegate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry = ProtocolRegistry(use_entry_points=False)
    monkeypatch.setattr(ProtocolManager, "registry", registry)
    (tmp_path / "proto.py").write_text(FOLDER_MODULE)
    assert sorted(ProtocolManager.discover(tmp_path)) == ["modbus", "my-bus"]
    ProtocolManager.refresh()
    assert "modbus" in ProtocolManager.available()
    assert ProtocolManager.errors() == []


class _ParsedOnlyDist:
    """A distribution whose metadata file cannot be read: the parsed metadata answers."""

    name = "odd-plugin"
    version = "2.0"

    def read_text(self, filename: str) -> str | None:
        return None


def test_dist_of_reads_the_metadata_head_and_falls_back_to_the_parsed_fields() -> None:
    from eq1_network.plugins._entry_points import dist_of

    ep = _FakeEntryPoint("x", None, dist="acme-plugin")
    assert dist_of(ep) == ("acme-plugin", "1.0")  # type: ignore[arg-type]
    ep.dist = _ParsedOnlyDist()  # type: ignore[assignment]
    assert dist_of(ep) == ("odd-plugin", "2.0")  # type: ignore[arg-type]
    ep.dist = None
    assert dist_of(ep) == (None, None)  # type: ignore[arg-type]
