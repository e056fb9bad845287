"""The README's usage example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eq1_network import PubSubManager, ReqResManager

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_python_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 2, "README.md lost its python examples"
    try:
        for block in blocks[:2]:
            exec(compile(block, str(README), "exec"), {})
    finally:
        PubSubManager.disconnect_all()
        ReqResManager.disconnect_all()
    out = capsys.readouterr().out
    assert "b'Hello Server!'" in out
    assert "vision/cam1/result b'OK'" in out
    assert out.rstrip().endswith("hello")
