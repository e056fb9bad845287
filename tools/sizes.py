"""Print the largest modules, classes and functions of the library packages.

Sizes are source lines (``end_lineno - lineno + 1`` of the AST node, docstrings and
comments included), counted over ``packages/*/src``. The figures are for reading, not a
gate: the exit status is always 0. The style guide's limits are about 500 lines per
module, 350 per class and 60 per function; entries over them are marked ``*``.

Usage: ``python tools/sizes.py [--top N]``
"""

# ruff: noqa: T201 - a command-line tool that reports with print

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {"modules": 500, "classes": 350, "functions": 60}


def _sizes(path: Path) -> dict[str, list[tuple[int, str]]]:
    """Sizes of one module and of the classes and functions defined in it."""
    source = path.read_text(encoding="utf-8")
    name = path.relative_to(ROOT).as_posix()
    found: dict[str, list[tuple[int, str]]] = {
        "modules": [(len(source.splitlines()), name)],
        "classes": [],
        "functions": [],
    }

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                kind = "classes" if isinstance(child, ast.ClassDef) else "functions"
                qualified = f"{prefix}{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                found[kind].append((lines, f"{name}:{child.lineno} {qualified}"))
                visit(child, f"{qualified}.")

    visit(ast.parse(source, filename=name), "")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10, help="entries per list")
    args = parser.parse_args()
    totals: dict[str, list[tuple[int, str]]] = {kind: [] for kind in LIMITS}
    for path in sorted(ROOT.glob("packages/*/src/**/*.py")):
        for kind, entries in _sizes(path).items():
            totals[kind].extend(entries)
    for kind, limit in LIMITS.items():
        entries = sorted(totals[kind], reverse=True)
        over = sum(1 for lines, _ in entries if lines > limit)
        print(f"largest {kind} (lines; {over} of {len(entries)} over {limit}, marked *):")
        for lines, where in entries[: args.top]:
            print(f"  {lines:5d}{'*' if lines > limit else ' '} {where}")


if __name__ == "__main__":
    main()
