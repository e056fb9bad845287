"""Hook markers: direct discovery of plain plugins, pluggy for every other plugin."""

from __future__ import annotations

import types
from typing import Any

import pluggy
import pytest

from eq1_network import ProtocolRegistry, ProtocolSpec, hookimpl
from eq1_network.plugins import registry as registry_module
from eq1_network.plugins._manager import new_plugin_manager
from eq1_network.protocols.loopback.reqres import LoopbackProtocol


class _Dist:
    def __init__(self, name: str) -> None:
        self.name = name

    def read_text(self, filename: str) -> str | None:
        return f"Name: {self.name}\nVersion: 1.0\n\n" if filename == "METADATA" else None


class _EntryPoint:
    def __init__(self, name: str, target: object, dist: str) -> None:
        self.name, self.value, self.dist = name, f"{name}_module", _Dist(dist)
        self._target = target

    def load(self) -> object:
        return self._target


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> list[_EntryPoint]:
    eps: list[_EntryPoint] = []
    monkeypatch.setattr(registry_module, "protocol_entry_points", lambda: list(eps))
    return eps


def _module(name: str, **hooks: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


def _register(*names: str, marker: Any = hookimpl) -> Any:
    @marker
    def eq1_network_register_protocols() -> list[ProtocolSpec]:
        return [ProtocolSpec(name=n, factory=LoopbackProtocol) for n in names]

    return eq1_network_register_protocols


def _impl_names(registry: ProtocolRegistry) -> list[str]:
    hook = registry.plugin_manager().hook.eq1_network_register_protocols
    return [impl.plugin_name for impl in hook.get_hookimpls()]


def test_plain_plugins_are_called_in_registration_order(entry_points: list[_EntryPoint]) -> None:
    entry_points.append(
        _EntryPoint("b", _module("b", eq1_network_register_protocols=_register("x")), "dist-b")
    )
    entry_points.append(
        _EntryPoint("a", _module("a", eq1_network_register_protocols=_register("x")), "dist-a")
    )
    registry = ProtocolRegistry()
    [error] = registry.errors
    assert "registered by both dist-a and dist-b" in str(error)
    assert _impl_names(registry) == ["dist-a:a", "dist-b:b"]  # built on use, same order


def test_plugin_marked_with_pluggy_is_discovered(entry_points: list[_EntryPoint]) -> None:
    marker = pluggy.HookimplMarker("eq1_network")
    module = _module("third", eq1_network_register_protocols=_register("third", marker=marker))
    entry_points.append(_EntryPoint("third", module, "acme"))
    registry = ProtocolRegistry()
    assert registry.available() == ["third"] and registry.errors == []
    assert _impl_names(registry) == ["acme:third"]


def test_ordering_options_are_honoured_as_pluggy_orders(entry_points: list[_EntryPoint]) -> None:
    first = _module(
        "first", eq1_network_register_protocols=_register("x", marker=hookimpl(tryfirst=True))
    )
    plain = _module("plain", eq1_network_register_protocols=_register("x"))
    entry_points.extend([_EntryPoint("a", first, "dist-a"), _EntryPoint("b", plain, "dist-b")])
    registry = ProtocolRegistry()
    assert _impl_names(registry) == ["dist-b:b", "dist-a:a"]  # pluggy's get_hookimpls() order
    [error] = registry.errors
    assert "registered by both dist-b and dist-a" in str(error)


def test_unknown_hook_and_unmarked_hook_go_through_pluggy(entry_points: list[_EntryPoint]) -> None:
    @hookimpl
    def eq1_network_not_a_hook() -> None:
        return None

    def eq1_network_register_protocols() -> list[ProtocolSpec]:
        return [ProtocolSpec(name="unmarked", factory=LoopbackProtocol)]

    extra = _module("extra", eq1_network_register_protocols=_register("y"))
    extra.eq1_network_not_a_hook = eq1_network_not_a_hook  # type: ignore[attr-defined]
    unmarked = _module("unmarked", eq1_network_register_protocols=eq1_network_register_protocols)
    entry_points.extend([_EntryPoint("e", extra, "dist-e"), _EntryPoint("u", unmarked, "dist-u")])
    registry = ProtocolRegistry()
    assert registry.available() == ["y"] and registry.errors == []  # as pluggy decides


@pytest.mark.parametrize(
    "hook_name", ["eq1_network_register_protocols", "eq1_network_add_cli_commands"]
)
def test_wrong_signature_is_reported_with_pluggys_error(
    entry_points: list[_EntryPoint], hook_name: str
) -> None:
    def hook(unknown_argument: object) -> None:
        return None

    hook.__name__ = hook_name
    module = _module("sig", **{hook_name: hookimpl(hook)})
    entry_points.extend(
        [
            _EntryPoint(
                "good", _module("good", eq1_network_register_protocols=_register("g")), "g"
            ),
            _EntryPoint("sig", module, "s"),
        ]
    )
    with pytest.raises(pluggy.PluginValidationError) as expected:
        new_plugin_manager().register(module, name="s:sig")
    registry = ProtocolRegistry()
    assert registry.available() == ["g"]
    assert [str(e) for e in registry.errors] == [
        f"plugin 'sig' from distribution s could not be registered: {expected.value}"
    ]


def test_markers_keep_pluggys_options() -> None:
    @hookimpl(trylast=True, specname="eq1_network_report_stats")
    def report(snapshots: list[Any]) -> None:
        return None

    class Plugin:
        report_stats = staticmethod(report)

    pm = new_plugin_manager()
    pm.register(Plugin(), name="p")
    [impl] = pm.hook.eq1_network_report_stats.get_hookimpls()
    assert impl.trylast and impl.plugin_name == "p"
