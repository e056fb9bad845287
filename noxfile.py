"""Developer and CI sessions for the EQ-1 Network monorepo.

``nox`` runs lint, typing, tests (once per supported Python version),
install_check, faults and docs; ``nox -s demo`` runs the embedded-default demo and
``nox -s release_check`` dry-runs a release of every distribution.

``tests`` runs on every Python version the packages claim (``PYTHONS``). Outside CI
a version that is not installed is skipped; with the ``CI`` environment variable
set, nox fails instead, so a version-specific break cannot land unnoticed. Run one
version with ``nox -s tests-3.12``.

``paho`` runs the MQTT package's tests (not ``tests/faults``) on Python 3.11 against
other paho-mqtt minor versions, each in one position of the paho switch
(``EQ1_MQTT_PAHO_FASTPATH``, see docs/mqtt.md): 2.0 and 2.1 with the speed-ups forced
(``1``), so a paho whose internals no longer match fails loudly instead of quietly
falling back, and 2.2 with the public API only (``0``). 2.2 with the speed-ups is what
``tests`` already runs, so the three runs cover both positions and every checked paho
version at the cost of three MQTT suites rather than six. Run one with
``nox -s "paho(2.0-fast)"``.

``faults`` runs the slower fault-injection tests (``tests/faults/`` of each
package: broker restarts, hostile peers, soaks), each bounded in time.

``docs`` builds the documentation site in strict mode and runs every code block of
README.md, docs/ and the package READMEs (``docs/tests``), plus the plugin guide
followed literally in a fresh virtual environment.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typing", "tests", "paho", "install_check", "faults", "docs"]
nox.options.reuse_existing_virtualenvs = False

ROOT = Path(__file__).parent
PACKAGES = ROOT / "packages"
CORE = PACKAGES / "eq1-network-core"
META = PACKAGES / "eq1-network"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
MQTT = PACKAGES / "eq1-network-mqtt"
PAHO_MATRIX = [("2.0", "1"), ("2.1", "1"), ("2.2", "0")]
"""(paho-mqtt minor version, EQ1_MQTT_PAHO_FASTPATH) pairs the ``paho`` session runs."""
FAULTS = "faults"
DOCS_REQUIREMENTS = [
    "mkdocs>=1.6,<2",
    "mkdocs-material>=9.5,<10",
    "mkdocstrings[python]>=0.26,<2",
    "tomli; python_version < '3.11'",  # tools/release_check.py, tested in docs/tests
]


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
    """ruff check (with isort rules) and ruff format --check; then the largest code units."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "tools/sizes.py")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on core and on every plugin package."""
    install_everything(session)
    session.install("mypy>=1.10")
    packages = ["-p", "eq1_network"]
    for pkg in plugin_packages():
        src = pkg / "src" / "eq1_network"
        for folder in sorted((src / "protocols").glob("*/")):
            packages += ["-p", f"eq1_network.protocols.{folder.name}"]
        for folder in sorted(src.glob("*/")):  # plugin packages beside protocols/
            if folder.name != "protocols" and (folder / "__init__.py").is_file():
                packages += ["-p", f"eq1_network.{folder.name}"]
    session.run("mypy", "--strict", *packages)


def run_pytest(
    session: nox.Session, pkg: Path, *args: str, env: dict[str, str] | None = None
) -> None:
    """One pytest run of one distribution (each has its own conftest.py and root)."""
    session.run(
        "pytest",
        "--rootdir",
        str(pkg),
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        *args,
        *session.posargs,
        env=env,
    )


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Unit and integration tests of every package, with coverage of core (>= 90%)."""
    install_everything(session)
    session.run("coverage", "erase")
    for pkg in [CORE, *plugin_packages()]:
        if not (pkg / "tests").is_dir():
            continue
        run_pytest(
            session,
            pkg,
            "--timeout=600",
            "--cov=eq1_network",
            "--cov-append",
            "--cov-report=",
            f"--ignore={pkg / 'tests' / FAULTS}",
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


@nox.session(python="3.11")
@nox.parametrize(
    ("paho", "fastpath"),
    PAHO_MATRIX,
    ids=[f"{version}-{'fast' if fast == '1' else 'public'}" for version, fast in PAHO_MATRIX],
)
def paho(session: nox.Session, paho: str, fastpath: str) -> None:
    """The MQTT package's tests against one paho-mqtt minor version, in one switch position."""
    install_everything(session)
    session.install(f"paho-mqtt=={paho}.*")
    session.run("python", "-c", "import paho.mqtt; print('paho-mqtt', paho.mqtt.__version__)")
    run_pytest(
        session,
        MQTT,
        "--timeout=600",
        f"--ignore={MQTT / 'tests' / FAULTS}",
        str(MQTT / "tests"),
        env={"EQ1_MQTT_PAHO_FASTPATH": fastpath},
    )


@nox.session
def faults(session: nox.Session) -> None:
    """Fault-injection tests: restarted and killed brokers, hostile peers, soaks.

    Each test is bounded in time and talks to 127.0.0.1 only.
    """
    install_everything(session)
    folders = [pkg / "tests" / FAULTS for pkg in [CORE, *plugin_packages()]]
    folders = [folder for folder in folders if folder.is_dir()]
    if not folders:
        session.error("no tests/faults folder in any package")
    for folder in folders:
        run_pytest(session, folder.parent.parent, "--timeout=900", str(folder))


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
    """Run every benchmark in benchmarks/ (bounded in count and time).

    The peers the benchmarks compare with (Twisted, gmqtt, paho-mqtt) come from the
    ``bench`` extra of the meta package; mosquitto and its command-line clients must be
    installed on the machine.
    """
    install_everything(session)
    session.install(f"{META}[bench]")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Strict site build (links, nav, API reference), then every documentation code block."""
    install_everything(session)
    session.install(*DOCS_REQUIREMENTS)
    site = Path(session.create_tmp()) / "site"
    env = {"NO_MKDOCS_2_WARNING": "1"}
    session.run("mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site), env=env)
    run_pytest(session, ROOT / "docs" / "tests", "--timeout=300", str(ROOT / "docs" / "tests"))


@nox.session
def release_check(session: nox.Session) -> None:
    """Dry-run a release of every distribution (or of those named after ``--``).

    Builds each sdist and wheel, runs ``twine check``, checks the changelog and the tag
    name, installs the wheels into a fresh virtual environment with pip and checks that
    every protocol is discovered, and runs the README's install commands in a copy of
    the repository.
    """
    session.install("build", "twine", "uv", "tomli; python_version < '3.11'")
    session.run("python", str(ROOT / "tools" / "release_check.py"), *session.posargs)
