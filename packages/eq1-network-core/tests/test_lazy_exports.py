"""The lazy exports of ``eq1_network``: one table, mirrored for type checkers."""

from __future__ import annotations

import ast
import importlib
import inspect

import eq1_network


def _type_checking_imports() -> dict[str, tuple[str, ...]]:
    tree = ast.parse(inspect.getsource(eq1_network))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "_TYPE_CHECKING"
    )
    imports: dict[str, list[str]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module is not None
        for alias in node.names:
            assert alias.asname == alias.name, "re-exported for type checkers: 'X as X'"
            imports.setdefault(node.module, []).append(alias.name)
    return {module: tuple(names) for module, names in imports.items()}


def test_the_type_checking_imports_match_the_table() -> None:
    assert _type_checking_imports() == eq1_network._LAZY_EXPORTS


def test_every_lazy_name_is_exported_once_and_resolves() -> None:
    names = [name for names in eq1_network._LAZY_EXPORTS.values() for name in names]
    assert len(names) == len(set(names))
    assert len(eq1_network.__all__) == len(set(eq1_network.__all__))
    assert set(names) <= set(eq1_network.__all__)
    assert set(names) <= set(dir(eq1_network))
    for module, exported in eq1_network._LAZY_EXPORTS.items():
        for name in exported:
            assert getattr(eq1_network, name) is getattr(importlib.import_module(module), name)


def test_every_public_name_resolves() -> None:
    for name in eq1_network.__all__:
        assert getattr(eq1_network, name) is not None
