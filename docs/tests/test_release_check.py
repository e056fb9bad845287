"""tools/release_check.py: the metadata, changelog and tag rules (no builds here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from doc_blocks import ROOT

PYPROJECT = """
[project]
name = "acme-demo"
version = "{version}"
dependencies = ["eq1-network-core>=0.1,<0.2"]

[project.urls]
Homepage = "https://example.invalid"
Documentation = "https://example.invalid/docs"
Changelog = "https://example.invalid/changelog"
Issues = "https://example.invalid/issues"
"""
CHANGELOG = """# Changelog
Format: [Keep a Changelog](https://keepachangelog.com/en/1.1.0/).

## [Unreleased]

## [0.2.0] - 2026-12-01
### Added
- Something.
"""


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "release_check", ROOT / "tools" / "release_check.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["release_check"] = module
    spec.loader.exec_module(module)
    return module


def distribution(tmp_path: Path, version: str = "0.2.0", changelog: str = CHANGELOG) -> Path:
    folder = tmp_path / "acme-demo"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(PYPROJECT.format(version=version))
    (folder / "CHANGELOG.md").write_text(changelog)
    (folder / "LICENSE").write_text("MIT")
    return folder


def test_a_matching_tag_passes(tool: ModuleType, tmp_path: Path) -> None:
    folder = distribution(tmp_path)
    assert tool.check_metadata("acme-demo", folder, "acme-demo-v0.2.0") == "0.2.0"
    assert tool.check_metadata("acme-demo", folder, None) == "0.2.0"


def test_a_tag_for_another_version_fails(tool: ModuleType, tmp_path: Path) -> None:
    folder = distribution(tmp_path)
    with pytest.raises(tool.CheckError, match=r"tag it acme-demo-v0\.2\.0"):
        tool.check_metadata("acme-demo", folder, "acme-demo-v0.3.0")


def test_a_version_without_changelog_section_fails(tool: ModuleType, tmp_path: Path) -> None:
    folder = distribution(tmp_path, version="0.3.0")
    with pytest.raises(tool.CheckError, match=r"no '## \[0.3.0\]"):
        tool.check_metadata("acme-demo", folder, "acme-demo-v0.3.0")


def test_missing_license_urls_or_unreleased_fail(tool: ModuleType, tmp_path: Path) -> None:
    folder = distribution(tmp_path, changelog=CHANGELOG.replace("## [Unreleased]\n", ""))
    with pytest.raises(tool.CheckError, match="Unreleased"):
        tool.check_metadata("acme-demo", folder, None)
    (folder / "CHANGELOG.md").write_text(CHANGELOG)
    (folder / "LICENSE").unlink()
    with pytest.raises(tool.CheckError, match="no LICENSE"):
        tool.check_metadata("acme-demo", folder, None)
    (folder / "LICENSE").write_text("MIT")
    text = (
        (folder / "pyproject.toml")
        .read_text()
        .replace('Issues = "https://example.invalid/issues"\n', "")
    )
    (folder / "pyproject.toml").write_text(text)
    with pytest.raises(tool.CheckError, match="lacks Issues"):
        tool.check_metadata("acme-demo", folder, None)


def test_the_core_version_comes_from_its_module(tool: ModuleType) -> None:
    core = ROOT / "packages" / "eq1-network-core"
    assert tool.version_of(core) == tool.version_of(core).strip()
    assert tool.version_of(core)[0].isdigit()


def test_local_dependencies_are_built_too(tool: ModuleType) -> None:
    dists = tool.distributions()
    needed = tool.local_closure(["eq1-network-modbus"], dists)
    assert {"eq1-network-core", "eq1-network-tcp", "eq1-network-serial"} <= needed
    assert tool.local_closure(["eq1-network-core"], dists) == {"eq1-network-core"}
