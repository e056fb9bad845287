"""Reading the ``eq1_network.protocols`` entry points without :mod:`importlib.metadata`."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from eq1_network import DuplicateProtocolError, ProtocolRegistry
from eq1_network.plugins import _entry_points
from eq1_network.plugins._entry_points import (
    ENTRY_POINT_GROUP,
    FileEntryPoint,
    MetadataDir,
    dist_of,
    protocol_entry_points,
)

_Found = list[tuple[str, str, tuple[str | None, str | None]]]

PLUGIN_MODULE = """
from eq1_network.plugins import ProtocolSpec, hookimpl

@hookimpl
def eq1_network_register_protocols():
    return [ProtocolSpec(name="dupe-proto", factory="{module}:Thing")]
"""


def _dist(site: Path, folder: str, name: str, version: str, entry_points: str | None) -> Path:
    info = site / folder
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return info


def _found(entry_points: list[_entry_points.EntryPoint]) -> _Found:
    return sorted((ep.name, ep.value, dist_of(ep)) for ep in entry_points)


def _reference() -> _Found:
    return _found(list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)))


@pytest.fixture
def path(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """An empty ``sys.path`` the test fills; the reader must not fall back."""
    entries: list[str] = []
    monkeypatch.setattr(sys, "path", entries)

    def no_fallback() -> list[_entry_points.EntryPoint]:
        raise AssertionError("importlib.metadata was asked")

    monkeypatch.setattr(_entry_points, "_metadata_entry_points", no_fallback)
    importlib.invalidate_caches()
    return entries


@pytest.fixture
def fallback(monkeypatch: pytest.MonkeyPatch) -> list[_entry_points.EntryPoint]:
    """What importlib.metadata answers when the reader hands over to it."""
    answer: list[_entry_points.EntryPoint] = [FileEntryPoint("x", "x", "g", MetadataDir("x"))]
    monkeypatch.setattr(_entry_points, "_metadata_entry_points", lambda: list(answer))
    return answer


def test_the_installed_plugins_are_read_as_importlib_metadata_reads_them() -> None:
    found = _found(protocol_entry_points())
    assert found == _reference()
    assert ("loopback", "eq1_network.protocols.loopback.plugin") in [f[:2] for f in found]


def test_the_reader_follows_importlib_metadata_on_a_path_of_folders(
    path: list[str], tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(
        first,
        "acme_plugin-1.0.dist-info",
        "acme-plugin",
        "1.0",
        """
        # a comment
        [console_scripts]
        acme = acme_plugin.cli:main

        [eq1_network.protocols]
        acme = acme_plugin.plugin
          acme-hooks =  acme_plugin.plugin:hooks.inner [fast]
        """,
    )
    _dist(first, "Other.Thing-2.0.dist-info", "Other.Thing", "2.0", None)
    _dist(first, "legacy.egg-info", "legacy", "0.1", "[eq1_network.protocols]\nold = legacy_mod\n")
    (first / "notes.txt").write_text("not a distribution")
    (first / "package").mkdir()
    # The same distributions again, later on the path: shadowed, even spelled otherwise.
    shadowed = "[eq1_network.protocols]\nacme = acme_old\n"
    _dist(second, "acme_plugin-0.9.dist-info", "acme-plugin", "0.9", shadowed)
    _dist(second, "ACME.Plugin-0.8.dist-info", "ACME.Plugin", "0.8", shadowed)
    _dist(second, "beta-3.0.dist-info", "beta", "3.0", "[eq1_network.protocols]\nbeta=beta_mod\n")
    path.extend([str(first), str(tmp_path / "missing"), str(second)])

    found = _found(protocol_entry_points())
    assert found == [
        ("acme", "acme_plugin.plugin", ("acme-plugin", "1.0")),
        ("acme-hooks", "acme_plugin.plugin:hooks.inner [fast]", ("acme-plugin", "1.0")),
        ("beta", "beta_mod", ("beta", "3.0")),
        ("old", "legacy_mod", ("legacy", "0.1")),
    ]
    assert found == _reference()


def test_lines_that_declare_nothing_are_skipped(path: list[str], tmp_path: Path) -> None:
    text = "[eq1_network.protocols]\nnot an entry point\n;\nok = ok_mod\n[other]\nx = y\n"
    _dist(tmp_path, "odd-1.0.dist-info", "odd", "1.0", text)
    path.append(str(tmp_path))
    assert [(ep.name, ep.value) for ep in protocol_entry_points()] == [("ok", "ok_mod")]


@pytest.mark.parametrize("folder", ["bare_dist-1.0.dist-info", "bare_dist.egg-info"])
def test_a_distribution_without_metadata_is_named_after_its_folder(
    tmp_path: Path, folder: str
) -> None:
    info = tmp_path / folder
    info.mkdir()
    ep = FileEntryPoint("bare", "bare_mod", ENTRY_POINT_GROUP, MetadataDir(str(info)))
    assert dist_of(ep) == ("bare_dist", None)
    assert MetadataDir(str(info)).read_text("entry_points.txt") is None


def test_a_distribution_installed_twice_is_not_a_duplicate(path: list[str], tmp_path: Path) -> None:
    new, old = tmp_path / "new", tmp_path / "old"
    for site, version, module in ((new, "2.0", "dupe_new"), (old, "1.0", "dupe_old")):
        line = f"[eq1_network.protocols]\ndupe = {module}\n"
        _dist(site, f"dupe_plugin-{version}.dist-info", "dupe-plugin", version, line)
        (site / f"{module}.py").write_text(PLUGIN_MODULE.format(module=module))
    path.extend([str(new), str(new), str(old)])
    try:
        registry = ProtocolRegistry()
        assert registry.errors == []
        spec = registry.spec("dupe-proto")
        assert (spec.factory, spec.version) == ("dupe_new:Thing", "2.0")
        assert "dupe_old" not in sys.modules
    finally:
        sys.modules.pop("dupe_new", None)
        sys.modules.pop("dupe_old", None)


def test_two_distributions_claiming_one_name_are_still_duplicates(
    path: list[str], tmp_path: Path
) -> None:
    for dist, module in (("dupe-one", "dupe_one"), ("dupe-two", "dupe_two")):
        line = f"[eq1_network.protocols]\ndupe = {module}\n"
        _dist(tmp_path, f"{module}-1.0.dist-info", dist, "1.0", line)
        (tmp_path / f"{module}.py").write_text(PLUGIN_MODULE.format(module=module))
    path.append(str(tmp_path))
    try:
        registry = ProtocolRegistry()
        with pytest.raises(DuplicateProtocolError, match="dupe-one and dupe-two"):
            registry.get_protocol("dupe-proto")
    finally:
        sys.modules.pop("dupe_one", None)
        sys.modules.pop("dupe_two", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("textwrap", textwrap),
        ("textwrap:dedent", textwrap.dedent),
        ("  textwrap : TextWrapper.wrap  [extra1, extra2] ", textwrap.TextWrapper.wrap),
        ("importlib.metadata:entry_points", importlib.metadata.entry_points),
    ],
)
def test_an_entry_point_loads_its_target_as_importlib_metadata_does(
    value: str, expected: object
) -> None:
    ep = FileEntryPoint("n", value.strip(), ENTRY_POINT_GROUP, MetadataDir("unused"))
    assert ep.load() is expected
    reference = importlib.metadata.EntryPoint(name="n", value=value.strip(), group="g")
    assert reference.load() is expected


@pytest.mark.parametrize("value", ["", "not a module", "textwrap:", "textwrap:dedent:x"])
def test_an_invalid_value_fails_to_load(value: str) -> None:
    ep = FileEntryPoint("n", value, ENTRY_POINT_GROUP, MetadataDir("unused"))
    with pytest.raises(ValueError, match="invalid value"):
        ep.load()


def test_a_zip_archive_on_the_path_is_read_by_importlib_metadata(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n\n")
        zipped.writestr(
            "zipped-1.0.dist-info/entry_points.txt", "[eq1_network.protocols]\nz = zipped_mod\n"
        )
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert _found(protocol_entry_points()) == [("z", "zipped_mod", ("zipped", "1.0"))]


@pytest.mark.parametrize("entry", ["site/plugin-1.0-py3.egg", Path("site")])
def test_an_entry_the_reader_does_not_handle_goes_to_importlib_metadata(
    monkeypatch: pytest.MonkeyPatch, fallback: list[_entry_points.EntryPoint], entry: object
) -> None:
    monkeypatch.setattr(sys, "path", ["", entry])
    assert protocol_entry_points() == fallback


class _OtherFinder:
    """A meta-path finder that lists distributions from somewhere else."""

    def find_spec(self, *args: object) -> None:
        return None

    def find_distributions(self, *args: object) -> list[object]:
        return []


def test_another_distribution_finder_goes_to_importlib_metadata(
    monkeypatch: pytest.MonkeyPatch, fallback: list[_entry_points.EntryPoint]
) -> None:
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, _OtherFinder()])
    assert protocol_entry_points() == fallback


def test_the_path_finders_of_importlib_metadata_are_not_other_finders(
    monkeypatch: pytest.MonkeyPatch, fallback: list[_entry_points.EntryPoint], tmp_path: Path
) -> None:
    backport = type("MetadataPathFinder", (_OtherFinder,), {"__module__": "importlib_metadata"})
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, backport()])
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert protocol_entry_points() == []
