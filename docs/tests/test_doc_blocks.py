"""Every python block of README.md, docs/ and the package READMEs runs (or compiles).

See ``docs/contributing-docs.md`` for the markers; ``-k tcp.md`` runs one page.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from doc_blocks import Block, python_blocks, script_for, with_ports

BLOCKS = python_blocks()
PAGES: dict[Path, list[Block]] = {}
for _block in BLOCKS:
    PAGES.setdefault(_block.path, []).append(_block)
RUN_TIMEOUT = 30


def test_the_docs_have_python_blocks() -> None:
    assert len(BLOCKS) > 20
    assert all(len(page) for page in PAGES.values())


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_block(block: Block, peers: Callable[[str], int], tmp_path: Path) -> None:
    code = script_for(block, PAGES[block.path])
    if block.partial:
        compile(block.code, block.name, "exec")
        return
    ports = {documented: peers(fixture) for fixture, documented in block.needs}
    script = tmp_path / "block.py"
    script.write_text(with_ports(code, ports), encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"{block.name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}\n"
        "--- script ---\n" + script.read_text(encoding="utf-8")
    )
