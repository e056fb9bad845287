"""Developer and CI sessions for the EQ-1 Network monorepo.

``nox`` runs lint, typing, tests and install_check; ``nox -s demo`` runs the
embedded-default demo. Sessions run on the interpreter that runs nox (the CI
workflow runs nox once per Python version of its matrix).
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typing", "tests", "install_check"]
nox.options.reuse_existing_virtualenvs = False

ROOT = Path(__file__).parent
PACKAGES = ROOT / "packages"
CORE = PACKAGES / "eq1-network-core"
META = PACKAGES / "eq1-network"


def plugin_packages() -> list[Path]:
    """Every distribution under packages/ except core and the meta package."""
    return sorted(
        p.parent for p in PACKAGES.glob("*/pyproject.toml") if p.parent not in (CORE, META)
    )


def install_everything(session: nox.Session) -> None:
    """Editable installs of core and every plugin, with their test extras."""
    args = ["-e", f"{CORE}[test]"]
    for pkg in plugin_packages():
        args += ["-e", f"{pkg}[test]"]
    session.install(*args)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check (with isort rules) and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on core and on every plugin package."""
    install_everything(session)
    session.install("mypy>=1.10")
    packages = ["-p", "eq1_network"]
    for pkg in plugin_packages():
        for folder in sorted((pkg / "src" / "eq1_network" / "protocols").glob("*/")):
            packages += ["-p", f"eq1_network.protocols.{folder.name}"]
    session.run("mypy", "--strict", *packages)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests of every package, with coverage of core (>= 90%)."""
    install_everything(session)
    session.run("coverage", "erase")
    # One pytest run per distribution: each has its own conftest.py and root.
    for pkg in [CORE, *plugin_packages()]:
        if not (pkg / "tests").is_dir():
            continue
        session.run(
            "pytest",
            "--rootdir",
            str(pkg),
            "--import-mode=importlib",
            "-p",
            "no:cacheprovider",
            "--timeout=600",
            "--cov=eq1_network",
            "--cov-append",
            "--cov-report=",
            *session.posargs,
            str(pkg / "tests"),
        )
    session.run(
        "coverage",
        "report",
        "--include=*/eq1-network-core/src/*",
        "--omit=*/eq1_network/testing/*",
        "--fail-under=90",
        "--skip-covered",
        "--show-missing",
    )


@nox.session
def install_check(session: nox.Session) -> None:
    """Build every wheel, install into fresh venvs, check real entry-point discovery."""
    session.install("build", "virtualenv")
    session.run("python", str(ROOT / ".ci" / "install_check.py"))


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: req/res and pub/sub round trips on the embedded default."""
    session.install(str(CORE))
    session.run("eq1-network", "demo")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark in benchmarks/ (bounded in count and time)."""
    install_everything(session)
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
