"""Lazy exports: the ``eq1_network`` table, and the hooks every package shares."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

import eq1_network
from eq1_network.common.lazy import LazyExports
from eq1_network.testing import check_lazy_exports


def test_the_package_table_type_checking_imports_and_all_agree() -> None:
    check_lazy_exports(eq1_network)


def test_every_public_name_resolves() -> None:
    for name in eq1_network.__all__:
        assert getattr(eq1_network, name) is not None


def test_a_lazy_name_is_imported_on_first_access_and_cached() -> None:
    namespace: dict[str, object] = {}
    exports = LazyExports("eq1_network", namespace, {".common.backoff": ("Backoff",)})
    assert "Backoff" in exports.dir()
    value = exports.getattr("Backoff")
    assert value is sys.modules["eq1_network.common.backoff"].Backoff
    assert namespace["Backoff"] is value


def test_an_unknown_name_raises_attribute_error_naming_package_and_name() -> None:
    exports = LazyExports("some.pkg", {}, {})
    with pytest.raises(AttributeError, match=r"'some\.pkg' has no attribute 'Nope'"):
        exports.getattr("Nope")


def test_a_moved_name_warns_naming_its_new_home_on_every_access() -> None:
    exports = LazyExports("old.pkg", {}, {}, moved={"TLSConfig": "eq1_network.TLSConfig"})
    for _ in range(2):
        with pytest.warns(
            DeprecationWarning, match=r"old\.pkg\.TLSConfig .* eq1_network\.TLSConfig"
        ):
            assert exports.getattr("TLSConfig") is eq1_network.TLSConfig


def test_a_name_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'X' is listed under both"):
        LazyExports("p", {}, {"a": ("X",), "b": ("X",)})
    with pytest.raises(ValueError, match="'X' is also in table"):
        LazyExports("p", {}, {"a": ("X",)}, moved={"X": "a.X"})


_HEADER = (
    "from typing import TYPE_CHECKING\n"
    "from eq1_network.common.lazy import LazyExports\n"
    "_E = LazyExports(__name__, globals(), {'eq1_network.common.backoff': ('Backoff',)})\n"
    "__getattr__ = _E.getattr\n"
    "__dir__ = _E.dir\n"
)


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> ModuleType:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text(_HEADER + body)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name)


def test_the_check_passes_a_consistent_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "if TYPE_CHECKING:\n    from eq1_network.common.backoff import Backoff\n"
    package = _package(tmp_path, monkeypatch, "lazy_ok", body + "__all__ = ['Backoff']\n")
    check_lazy_exports(package)


def test_the_check_names_a_type_checking_import_missing_from_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "if TYPE_CHECKING:\n"
        "    from eq1_network.common.backoff import Backoff\n"
        "    from eq1_network.common.topics import validate_topic\n"
        "__all__ = ['Backoff']\n"
    )
    package = _package(tmp_path, monkeypatch, "lazy_extra", body)
    with pytest.raises(AssertionError, match="TYPE_CHECKING imports"):
        check_lazy_exports(package)


def test_the_check_names_a_lazy_name_missing_from_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "if TYPE_CHECKING:\n    from eq1_network.common.backoff import Backoff\n__all__ = []\n"
    package = _package(tmp_path, monkeypatch, "lazy_unlisted", body)
    with pytest.raises(AssertionError, match=r"missing from __all__: \['Backoff'\]"):
        check_lazy_exports(package)


def test_the_check_refuses_a_package_without_the_hooks() -> None:
    with pytest.raises(AssertionError, match="not a LazyExports hook"):
        check_lazy_exports(ModuleType("bare"))


def test_a_moved_name_may_name_a_class_attribute_and_is_never_cached() -> None:
    namespace: dict[str, object] = {}
    exports = LazyExports(
        "old.pkg", namespace, {}, moved={"REJECT": "eq1_network.OverflowPolicy.REJECT"}
    )
    for _ in range(2):
        with pytest.warns(DeprecationWarning, match=r"use eq1_network\.OverflowPolicy\.REJECT"):
            assert exports.getattr("REJECT") is eq1_network.OverflowPolicy.REJECT
    assert "REJECT" not in namespace
