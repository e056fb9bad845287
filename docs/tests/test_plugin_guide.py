"""docs/writing-a-plugin.md followed literally: its files, pip install, contract tests, discovery.

The guide's files are the blocks whose first line names them (``# pyproject.toml``,
``# src/...``, ``# tests/...``); they are written into an empty folder, installed into a
fresh virtual environment with pip as the guide says, and tested there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from doc_blocks import ROOT, parse

GUIDE = ROOT / "docs" / "writing-a-plugin.md"
CORE = ROOT / "packages" / "eq1-network-core"
STEP_TIMEOUT = 600


def guide_files() -> dict[str, str]:
    """``relative path -> text`` for every block of the guide that names its file."""
    files = {}
    for block in parse(GUIDE):
        first = block.code.splitlines()[0] if block.code.strip() else ""
        if block.language in ("python", "toml") and first.startswith("# "):
            name = first[2:].strip()
            if "/" in name or name.endswith(".toml"):
                files[name] = block.code
    return files


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_guide_names_its_three_files() -> None:
    assert set(guide_files()) == {
        "pyproject.toml",
        "src/acme_eq1_rawtcp/__init__.py",
        "tests/test_contract.py",
    }


def test_the_guide_followed_literally(tmp_path: Path) -> None:
    folder = tmp_path / "acme-eq1-rawtcp"
    for name, text in guide_files().items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    venv = tmp_path / ".venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, dict(os.environ))
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = dict(os.environ, VIRTUAL_ENV=str(venv), PIP_DISABLE_PIP_VERSION_CHECK="1")
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONPATH", None)
    python = str(bindir / "python")
    pip = [python, "-m", "pip", "install", "--quiet"]
    run([*pip, f"{CORE}[testing]"], folder, env)  # the core, from the clone
    run([*pip, "-e", ".[test]"], folder, env)
    out = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], folder, env)
    assert " passed" in out and "failed" not in out and "skipped" not in out, out
    listing = run([str(bindir / "eq1-network"), "plugins"], folder, env)
    line = next((ln for ln in listing.splitlines() if ln.startswith("rawtcp ")), "")
    assert "acme-eq1-rawtcp" in line and "0.1.0" in line, listing
    found = run(
        [python, "-c", "from eq1_network import get_protocol; print(get_protocol('rawtcp'))"],
        folder,
        env,
    )
    assert found.strip() == "<class 'acme_eq1_rawtcp.RawTCP'>", found
