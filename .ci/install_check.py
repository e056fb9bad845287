"""Install check: every wheel, a fresh environment, real entry-point discovery.

1. Build the wheel of every distribution under packages/.
2. Assert the wheels' file lists are disjoint, that only eq1-network-core ships
   eq1_network/__init__.py and eq1_network/protocols/__init__.py, and that each
   plugin ships only eq1_network/protocols/<its folder>/.
3. Build a throwaway third-party plugin (its own top-level package, only an entry
   point) in a temporary folder.
4. Install everything into a fresh virtual environment and check, in a subprocess,
   that get_protocol() finds every protocol, the third-party one included, with no
   change to core; uninstall a plugin and check core still imports.
5. Repeat discovery with editable installs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
CORE_ONLY = {"eq1_network/__init__.py", "eq1_network/protocols/__init__.py"}

THIRD_PARTY_PYPROJECT = """
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "acme-eq1-echo"
version = "0.0.1"
requires-python = ">=3.10"
dependencies = ["eq1-network-core"]

[project.entry-points."eq1_network.protocols"]
acme-echo = "acme_eq1_echo.plugin"

[tool.hatch.build.targets.wheel]
packages = ["acme_eq1_echo"]
"""

THIRD_PARTY_PLUGIN = """
from eq1_network import ProtocolSpec, hookimpl


@hookimpl
def eq1_network_register_protocols():
    return [ProtocolSpec(name="acme-echo", factory="acme_eq1_echo.proto:AcmeEcho",
                         summary="Third-party echo")]
"""

THIRD_PARTY_PROTO = '''
from eq1_network.protocols.loopback.reqres import LoopbackProtocol


class AcmeEcho(LoopbackProtocol):
    """An echo protocol published by another team."""
'''

CHECK = """
import subprocess, sys
import eq1_network
from eq1_network import ProtocolManager, get_protocol

expected = {expected!r}
expected_dists = {dists!r}
names = ProtocolManager.available()
missing = sorted(set(expected) - set(names))
assert not missing, f"missing protocols {{missing}} in {{names}}"
assert not ProtocolManager.errors(), ProtocolManager.errors()
cls = get_protocol("acme-echo")
proto = cls(timeout=5)
with proto:
    proto.send(b"ping")
    assert proto.read() == (True, b"ping")
for spec in ProtocolManager.specs():
    get_protocol(spec.name)
found_dists = {{spec.distribution for spec in ProtocolManager.specs()}}
assert set(expected_dists) <= found_dists, (expected_dists, found_dists)
out = subprocess.run([sys.executable, "-m", "eq1_network", "plugins"], capture_output=True,
                     text=True, check=True).stdout
assert "acme-eq1-echo" in out, out
print("discovered:", ", ".join(names))
"""


def run(*cmd: str | Path, cwd: Path | None = None) -> str:
    shown = [str(c) if len(str(c)) < 80 else "<script>" for c in cmd]
    print("+", " ".join(shown), flush=True)
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout


def build_wheel(project: Path, outdir: Path) -> Path:
    before = set(outdir.glob("*.whl"))
    uv = shutil.which("uv")
    if uv:
        run(uv, "build", "--wheel", "--out-dir", outdir, project)
    else:
        run(sys.executable, "-m", "build", "--wheel", "--outdir", outdir, project)
    [wheel] = set(outdir.glob("*.whl")) - before
    return wheel


def distributions() -> list[Path]:
    return sorted(p.parent for p in PACKAGES.glob("*/pyproject.toml"))


def _home(name: str) -> str | None:
    """The package folder a plugin wheel's file belongs to, or None for a stray file."""
    parts = name.split("/")
    if parts[:2] == ["eq1_network", "protocols"] and len(parts) > 3:
        return "/".join(parts[:3])
    if parts[0] == "eq1_network" and len(parts) > 2 and parts[1] != "protocols":
        return "/".join(parts[:2])
    return None


def ships_protocols(wheel: Path) -> bool:
    """Whether a wheel ships a protocol package (and so registers protocols)."""
    with zipfile.ZipFile(wheel) as zf:
        return any(n.startswith("eq1_network/protocols/") for n in zf.namelist())


def check_file_lists(wheels: dict[str, Path]) -> None:
    owners: dict[str, str] = {}
    for project, wheel in wheels.items():
        with zipfile.ZipFile(wheel) as zf:
            files = [n for n in zf.namelist() if ".dist-info/" not in n]
        for name in files:
            if name in owners:
                raise SystemExit(f"{name} is shipped by both {owners[name]} and {project}")
            owners[name] = project
            if name in CORE_ONLY and project != "eq1-network-core":
                raise SystemExit(f"{project} must not ship {name}")
        if project == "eq1-network":
            if files:
                raise SystemExit(f"the meta distribution must hold no code, found {files}")
        elif project != "eq1-network-core":
            homes = {_home(n) for n in files}
            if None in homes or len(homes) != 1:
                raise SystemExit(
                    f"{project} must ship one eq1_network/protocols/<dir> or one "
                    f"eq1_network/<dir> of its own: {files}"
                )
    core_folders = {
        n.rsplit("/", 1)[0] for n, owner in owners.items() if owner == "eq1-network-core"
    }
    for name, owner in owners.items():
        home = _home(name)
        if owner != "eq1-network-core" and home in core_folders:
            raise SystemExit(f"{owner} ships {name} into {home}, a folder of eq1-network-core")
    missing = CORE_ONLY - set(owners)
    if missing:
        raise SystemExit(f"core does not ship {sorted(missing)}")
    print(f"file lists are disjoint across {len(wheels)} wheels")


def make_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    bindir = "Scripts" if os.name == "nt" else "bin"
    return path / bindir / ("python.exe" if os.name == "nt" else "python")


def expected_protocols(python: Path) -> list[str]:
    code = (
        "from importlib.metadata import entry_points\n"
        "import eq1_network\n"
        "print(len(list(entry_points(group='eq1_network.protocols'))))\n"
    )
    count = int(run(python, "-c", code).strip())
    if count < 2:
        raise SystemExit(f"expected entry points from core and plugins, found {count}")
    return ["loopback", "memory", "acme-echo"]


def check_discovery(python: Path, dists: list[str]) -> None:
    expected = expected_protocols(python)
    print(run(python, "-c", CHECK.format(expected=expected, dists=dists)), end="")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="eq1-install-check-") as tmp_name:
        tmp = Path(tmp_name)
        dist = tmp / "dist"
        dist.mkdir()
        wheels = {project.name: build_wheel(project, dist) for project in distributions()}
        check_file_lists(wheels)

        third = tmp / "acme-eq1-echo"
        (third / "acme_eq1_echo").mkdir(parents=True)
        (third / "pyproject.toml").write_text(THIRD_PARTY_PYPROJECT)
        (third / "acme_eq1_echo" / "__init__.py").write_text("")
        (third / "acme_eq1_echo" / "plugin.py").write_text(textwrap.dedent(THIRD_PARTY_PLUGIN))
        (third / "acme_eq1_echo" / "proto.py").write_text(textwrap.dedent(THIRD_PARTY_PROTO))
        third_wheel = build_wheel(third, dist)

        python = make_venv(tmp / "wheels-venv")
        extras = ",".join(
            name.removeprefix("eq1-network-")
            for name in wheels
            if name not in ("eq1-network", "eq1-network-core")
        )
        meta = f"eq1-network[{extras}]" if extras else "eq1-network"
        pip = (python, "-m", "pip", "install", "--quiet", "--find-links", dist)
        run(*pip, meta, third_wheel)
        plugin_dists = [
            name
            for name, wheel in wheels.items()
            if name == "eq1-network-core" or ships_protocols(wheel)
        ] + ["acme-eq1-echo"]
        print("wheel install:", end=" ", flush=True)
        check_discovery(python, plugin_dists)
        for name in wheels:
            if name not in ("eq1-network", "eq1-network-core"):
                run(python, "-m", "pip", "uninstall", "--yes", "--quiet", name)
                run(
                    python,
                    "-c",
                    "import eq1_network, eq1_network.protocols; "
                    "eq1_network.get_protocol('loopback')",
                )
                print(f"core still imports after uninstalling {name}")
                break

        python = make_venv(tmp / "editable-venv")
        editable: list[str | Path] = []
        for project in distributions():
            if project.name != "eq1-network":
                editable += ["-e", project]
        editable += ["-e", third]
        run(python, "-m", "pip", "install", "--quiet", *editable)
        print("editable install:", end=" ", flush=True)
        check_discovery(python, plugin_dists)
    print("install check passed")


if __name__ == "__main__":
    main()
