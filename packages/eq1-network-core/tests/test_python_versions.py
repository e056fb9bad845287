"""The Python versions the packages claim are the versions every test run covers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLASSIFIER = re.compile(r'"Programming Language :: Python :: (3\.\d+)"')
NAME = re.compile(r'^name = "([^"]+)"', re.MULTILINE)


def claimed_versions() -> dict[str, set[str]]:
    """Versions claimed by each distribution's classifiers."""
    claims = {}
    for pyproject in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        text = pyproject.read_text(encoding="utf-8")
        name = NAME.search(text)
        assert name is not None, f"{pyproject} has no project name"
        claims[name.group(1)] = set(CLASSIFIER.findall(text))
    return claims


def test_every_distribution_claims_the_same_versions() -> None:
    claims = claimed_versions()
    assert len(claims) >= 5, claims
    assert len({frozenset(v) for v in claims.values()}) == 1, claims


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("noxfile.py", r"PYTHONS = \[([^\]]*)\]"),
        (".github/workflows/ci.yml", r"python: \[([^\]]*)\]"),
        (".ci/run", r"for version in ([0-9. ]+); do"),
    ],
)
def test_every_claimed_version_is_tested(path: str, pattern: str) -> None:
    match = re.search(pattern, (ROOT / path).read_text(encoding="utf-8"))
    assert match is not None, f"{path} lists no Python versions"
    tested = set(re.findall(r"3\.\d+", match.group(1)))
    claimed = next(iter(claimed_versions().values()))
    assert tested == claimed, f"{path} tests {sorted(tested)}, the packages claim {sorted(claimed)}"
