"""Find the code blocks of the Markdown documentation and the peers they need.

The convention (also in ``docs/contributing-docs.md``):

* every fenced ``python`` block runs alone, as its own script in a fresh interpreter;
* an HTML comment directly above the fence holds markers, e.g.
  ``<!-- docs: partial -->`` (compiled, not run), ``<!-- docs: continue -->`` (runs after
  the previous python blocks of the page, in one script) and
  ``<!-- docs: needs=tcp-echo:8080 -->`` (start the ``tcp-echo`` fixture on a free port
  and replace the number 8080 in the block with that port).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ("free-port", "tcp-echo", "udp-echo", "mqtt-broker", "modbus-server")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs:(?P<body>.*?)-->\s*$")
_NEEDS = re.compile(r"^needs=(?P<fixture>[a-z-]+):(?P<port>\d+)$")


@dataclass
class Block:
    """One fenced code block.

    Attributes:
        path: The Markdown file.
        line: 1-based line of the opening fence.
        language: First word of the info string (``""`` if none).
        code: The block's text, dedented to the fence.
        partial: Marked ``partial``: compiled, not run.
        continues: Marked ``continue``: runs after the page's previous python blocks.
        needs: ``(fixture, port)`` pairs.
    """

    path: Path
    line: int
    language: str
    code: str
    partial: bool = False
    continues: bool = False
    needs: list[tuple[str, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``relative/path.md:line``, the test id."""
        try:
            rel = self.path.relative_to(ROOT)
        except ValueError:
            rel = self.path
        return f"{rel.as_posix()}:{self.line}"


def markdown_files(root: Path = ROOT) -> list[Path]:
    """README.md, docs/**/*.md and every packages/*/README.md, sorted."""
    files = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    files += sorted(root.glob("packages/*/README.md"))
    return [f for f in files if f.is_file() and "tests" not in f.relative_to(root).parts[:2]]


def _markers(line: str, where: str) -> tuple[bool, bool, list[tuple[str, int]]]:
    match = _MARKER.match(line)
    if match is None:
        return False, False, []
    partial = continues = False
    needs: list[tuple[str, int]] = []
    for word in match.group("body").split():
        need = _NEEDS.match(word)
        if word == "partial":
            partial = True
        elif word == "continue":
            continues = True
        elif need and need.group("fixture") in FIXTURES:
            needs.append((need.group("fixture"), int(need.group("port"))))
        else:
            raise ValueError(
                f"{where}: unknown docs marker {word!r}; use partial, continue or "
                f"needs=FIXTURE:PORT with FIXTURE one of {', '.join(FIXTURES)}"
            )
    return partial, continues, needs


def parse(path: Path) -> list[Block]:
    """Return the fenced blocks of a Markdown file, in order.

    Raises:
        ValueError: If a marker is unknown or a fence is never closed.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence = match.group("indent"), match.group("fence")
        info = match.group("info").strip()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence) and lines[i].strip().strip(fence[0]) == ""
        ):
            text = lines[i]
            body.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
            i += 1
        if i >= len(lines):
            raise ValueError(f"{path}:{start + 1}: code fence never closed")
        i += 1
        where = f"{path}:{start + 1}"
        previous = lines[start - 1] if start > 0 else ""
        partial, continues, needs = _markers(previous, where)
        language = info.split()[0].lower() if info else ""
        blocks.append(
            Block(path, start + 1, language, "\n".join(body) + "\n", partial, continues, needs)
        )
    return blocks


def python_blocks(root: Path = ROOT) -> list[Block]:
    """Every ``python`` block of the documentation."""
    return [b for f in markdown_files(root) for b in parse(f) if b.language in ("python", "py")]


def script_for(block: Block, page: list[Block]) -> str:
    """The script that runs a block: itself, or its chain of ``continue`` blocks.

    Args:
        block: The block to run.
        page: The python blocks of its page, in order.
    """
    index = page.index(block)
    first = index
    while first > 0 and (page[first].continues or (first < index and page[first].partial)):
        first -= 1
    chain = [b for b in page[first : index + 1] if not b.partial]
    return "\n".join(b.code for b in chain)


def with_ports(code: str, ports: dict[int, int]) -> str:
    """Replace each documented port number with the port a fixture listens on."""
    for documented, actual in ports.items():
        code = re.sub(rf"(?<![\w.]){documented}(?![\w.])", str(actual), code)
    return code
