"""A check that a package's lazy exports, type-checking imports and ``__all__`` agree."""

from __future__ import annotations

import ast
import importlib
import inspect
import warnings
from types import ModuleType

from eq1_network.common.lazy import LazyExports

__all__ = ["check_lazy_exports"]


def _type_checking_imports(package: ModuleType) -> dict[str, tuple[str, ...]]:
    tree = ast.parse(inspect.getsource(package))
    imports: dict[str, list[str]] = {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")):
            continue
        for statement in node.body:
            assert isinstance(statement, ast.ImportFrom) and statement.module, (
                f"{package.__name__}: only 'from MODULE import NAME' lines belong in the "
                f"TYPE_CHECKING block, found {ast.unparse(statement)!r}"
            )
            for alias in statement.names:
                assert alias.asname in (None, alias.name), (
                    f"{package.__name__}: {alias.name} is imported as {alias.asname}; "
                    "re-export it under its own name"
                )
                imports.setdefault(statement.module, []).append(alias.name)
    return {module: tuple(names) for module, names in imports.items()}


def check_lazy_exports(package: ModuleType) -> None:
    """Assert that ``package``'s lazy exports are consistent and all resolve.

    The package installs :class:`eq1_network.common.lazy.LazyExports` hooks. The check
    asserts that its ``if TYPE_CHECKING:`` imports list the same names from the same
    modules as the table (deprecated, moved names aside), that ``__all__`` has no duplicates and
    holds every table name, that ``dir()`` lists them, and that every name of
    ``__all__`` resolves, lazy ones to the very object of their home module.

    Args:
        package: The imported package module.

    Raises:
        AssertionError: Naming the first disagreement found.
    """
    hook = getattr(package, "__getattr__", None)
    exports = getattr(hook, "__self__", None)
    assert isinstance(exports, LazyExports), (
        f"{package.__name__}: __getattr__ is not a LazyExports hook; "
        "install one with `__getattr__ = _EXPORTS.getattr`"
    )
    declared = _type_checking_imports(package)
    declared = {
        module: kept
        for module, names in declared.items()
        if (kept := tuple(name for name in names if name not in exports.moved))
    }
    table = {module: tuple(sorted(names)) for module, names in exports.table.items()}
    declared = {module: tuple(sorted(names)) for module, names in declared.items()}
    assert declared == table, (
        f"{package.__name__}: the TYPE_CHECKING imports {declared} differ from the "
        f"lazy table {table}"
    )
    public = list(getattr(package, "__all__", ()))
    assert len(public) == len(set(public)), f"{package.__name__}: __all__ has duplicates"
    missing = exports.names - set(public)
    assert not missing, f"{package.__name__}: lazy names missing from __all__: {sorted(missing)}"
    assert exports.names <= set(dir(package)), f"{package.__name__}: dir() misses lazy names"
    with (
        warnings.catch_warnings()
    ):  # deprecated names resolve with a warning; only resolution counts
        warnings.simplefilter("ignore", DeprecationWarning)
        for module, names in exports.table.items():
            home = importlib.import_module(module)
            for name in names:
                assert getattr(package, name) is getattr(home, name), (
                    f"{package.__name__}.{name} is not {module}.{name}"
                )
        for name in public:
            assert hasattr(package, name), f"{package.__name__}.{name} does not resolve"
