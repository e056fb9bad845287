"""Release dry run: build, check and install distributions the way a release does.

Usage::

    python tools/release_check.py                       # every distribution
    python tools/release_check.py eq1-network-tcp       # one (others are built as local deps)
    python tools/release_check.py --tag eq1-network-tcp-v0.2.0 --outdir dist

For each selected distribution: the metadata (LICENSE, ``[project.urls]``), the
changelog (Keep a Changelog, an ``Unreleased`` section, and with ``--tag`` an entry for the
version), the tag name against the version, ``python -m build`` (sdist, then the wheel
from the sdist), ``twine check --strict``, the license inside both archives, and an
install of the wheels into a fresh virtual environment with pip, where every plugin must
be discovered. Without ``--tag`` it also runs the README's "Install from a clone" commands
in a copy of the repository. The built files of the selected distributions are left in
``--outdir/<distribution>/`` for publishing.
"""

# ruff: noqa: T201, S603 - a command-line tool that reports with print and runs build tools

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
CORE = "eq1-network-core"
META = "eq1-network"
URL_KEYS = ("Homepage", "Documentation", "Changelog", "Issues")
README_SECTION = "## Install from a clone"
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".nox", ".venv", "__pycache__", "*.egg-info", "dist", "build", ".*_cache", "site"
)


class CheckError(Exception):
    """A release check failed; the message says which and how to fix it."""


def distributions() -> dict[str, Path]:
    """Distribution name -> folder, for every packages/*/pyproject.toml."""
    found = {}
    for pyproject in sorted(PACKAGES.glob("*/pyproject.toml")):
        found[str(project(pyproject.parent)["name"])] = pyproject.parent
    return found


def project(folder: Path) -> dict[str, object]:
    """The ``[project]`` table of a distribution."""
    with open(folder / "pyproject.toml", "rb") as f:
        table: dict[str, object] = tomllib.load(f)["project"]
        return table


def version_of(folder: Path) -> str:
    """The version, static or read from the file hatch's ``[tool.hatch.version]`` names."""
    with open(folder / "pyproject.toml", "rb") as f:
        data = tomllib.load(f)
    if "version" in data["project"]:
        return str(data["project"]["version"])
    path = folder / data["tool"]["hatch"]["version"]["path"]
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', path.read_text(), re.M)
    if match is None:
        raise CheckError(f"{path}: no __version__ = '...' line; add one")
    return match.group(1)


def check_metadata(name: str, folder: Path, tag: str | None) -> str:
    """LICENSE, project URLs, changelog form and tag; return the version."""
    version = version_of(folder)
    if not (folder / "LICENSE").is_file():
        raise CheckError(f"{name}: no LICENSE file in {folder.name}/; copy the root LICENSE")
    urls = project(folder).get("urls") or {}
    missing = [k for k in URL_KEYS if k not in urls]  # type: ignore[operator]
    if missing:
        raise CheckError(f"{name}: [project.urls] lacks {', '.join(missing)}")
    changelog = (folder / "CHANGELOG.md").read_text(encoding="utf-8")
    if "keepachangelog.com" not in changelog or "## [Unreleased]" not in changelog:
        raise CheckError(
            f"{name}: CHANGELOG.md must follow Keep a Changelog and keep a '## [Unreleased]' "
            "section at the top"
        )
    if tag is not None:
        if tag != f"{name}-v{version}":
            raise CheckError(
                f"tag {tag!r} does not match {name} {version}: tag it {name}-v{version}, "
                "or set the version in pyproject.toml first"
            )
        if not re.search(rf"^## \[{re.escape(version)}\]", changelog, re.M):
            raise CheckError(
                f"{name}: CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' section; move the "
                "Unreleased entries under it"
            )
    return version


def local_closure(selected: list[str], dists: dict[str, Path]) -> set[str]:
    """The selected distributions and every distribution of this repository they need."""
    needed: set[str] = set()
    todo = list(selected)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for requirement in project(dists[name]).get("dependencies") or []:  # type: ignore[attr-defined]
            dep = re.split(r"[\s\[<>=!~;]", str(requirement), maxsplit=1)[0]
            if dep in dists:
                todo.append(dep)
    return needed


def run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command; raise CheckError with its output if it fails."""
    print("+", " ".join(args), flush=True)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise CheckError(f"{' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def build(folder: Path, outdir: Path) -> list[Path]:
    """sdist, then the wheel built from it; check both with twine and look for the license."""
    outdir.mkdir(parents=True, exist_ok=True)
    installer = ["--installer", "uv"] if shutil.which("uv") else []
    run([sys.executable, "-m", "build", *installer, "--outdir", str(outdir), str(folder)])
    files = sorted(outdir.glob("*.whl")) + sorted(outdir.glob("*.tar.gz"))
    if len(files) != 2:
        raise CheckError(f"{folder.name}: expected one wheel and one sdist, got {files}")
    run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)])
    for file in files:
        if not any(Path(n).name.startswith("LICENSE") for n in archive_names(file)):
            raise CheckError(f"{file.name} does not contain the LICENSE file")
    return files


def archive_names(file: Path) -> list[str]:
    """File names inside a wheel or an sdist."""
    if file.suffix == ".whl":
        with zipfile.ZipFile(file) as zf:
            return zf.namelist()
    with tarfile.open(file) as tf:
        return tf.getnames()


def fresh_venv(where: Path) -> tuple[Path, dict[str, str]]:
    """A new virtual environment with pip; return its bin folder and an env using it."""
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    bindir = where / ("Scripts" if os.name == "nt" else "bin")
    env = dict(os.environ, VIRTUAL_ENV=str(where), PIP_DISABLE_PIP_VERSION_CHECK="1")
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONPATH", None)
    return bindir, env


# Loads every installed entry point of the plugin group (an import error fails the check)
# and says which ones register protocols (the others only add commands).
_LOAD_ENTRY_POINTS = """
from importlib.metadata import entry_points
for ep in entry_points(group="eq1_network.protocols"):
    module = ep.load()
    kind = "protocols" if hasattr(module, "eq1_network_register_protocols") else "commands"
    print(ep.dist.name if ep.dist else ep.name, kind)
"""


def install_check(wheels: dict[str, Path], selected: list[str], work: Path) -> None:
    """Install the selected wheels (local wheels as the eq1 dependencies) and list plugins."""
    bindir, env = fresh_venv(work / "venv")
    links = work / "wheels"
    links.mkdir()
    for wheel in wheels.values():
        shutil.copy(wheel, links)
    requirements = [f"{META}[all]" if n == META else n for n in selected]
    pip = [str(bindir / "python"), "-m", "pip", "install", "--quiet", "--find-links", str(links)]
    run([*pip, *requirements], env=env)
    listing = run([str(bindir / "eq1-network"), "plugins"], cwd=work, env=env)
    loaded = run([str(bindir / "python"), "-c", _LOAD_ENTRY_POINTS], cwd=work, env=env)
    providers = {line.split()[0] for line in loaded.splitlines() if line.endswith(" protocols")}
    plugins = {line.split()[0] for line in loaded.splitlines() if line.strip()}
    unregistered = [n for n in selected if n != META and n not in plugins]
    if unregistered:
        raise CheckError(f"{unregistered} installed, but no eq1_network.protocols entry point")
    absent = [n for n in sorted(providers) if n not in listing]
    if absent:
        raise CheckError(f"installed, but no protocol of {absent} is listed:\n{listing}")


def readme_install(work: Path) -> None:
    """Run the README's "Install from a clone" commands in a copy of the repository."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.find(README_SECTION)
    match = re.search(r"```bash\n(.*?)```", text[start:], re.S) if start >= 0 else None
    if match is None:
        raise CheckError(f"README.md has no bash block under {README_SECTION!r}")
    clone = work / "clone"
    shutil.copytree(ROOT, clone, ignore=COPY_IGNORE)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    for line in match.group(1).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            run(["bash", "-c", line], cwd=clone, env=env)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the checks; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="distributions (default: all)")
    parser.add_argument("--tag", help="release tag <distribution>-v<version>")
    parser.add_argument("--outdir", type=Path, help="keep the built files here")
    args = parser.parse_args(argv)
    dists = distributions()
    selected = list(args.names) or list(dists)
    if args.tag and not args.names:
        selected = [n for n in dists if args.tag.startswith(f"{n}-v")][-1:]
    unknown = [n for n in selected if n not in dists]
    if unknown or not selected:
        print(f"error: unknown distribution {unknown or args.tag}; one of {list(dists)}")
        return 2
    try:
        for name in selected:
            print(f"{name} {check_metadata(name, dists[name], args.tag)}: metadata ok")
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            needed = set(dists) if META in selected else local_closure(selected, dists)
            built = {n: build(dists[n], work / "dist" / n) for n in sorted(needed)}
            wheels = {name: files[0] for name, files in built.items()}
            install_check(wheels, selected, work)
            if args.tag is None:
                readme_install(work)
            if args.outdir is not None:
                for name in selected:
                    target = args.outdir / name
                    target.mkdir(parents=True, exist_ok=True)
                    for file in built[name]:
                        shutil.copy(file, target)
    except CheckError as exc:
        print(f"release check failed: {exc}", file=sys.stderr)
        return 1
    print(f"release check passed: {', '.join(selected)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
