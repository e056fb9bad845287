"""The block collector itself: markers, chains, port replacement."""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_blocks import markdown_files, parse, script_for, with_ports

PAGE = """# Page

```python
a = 1
```

Text.

<!-- docs: partial -->
```python
b = a +
```

<!-- docs: continue needs=tcp-echo:8080 needs=free-port:8081 -->
```python
print(a, "127.0.0.1:8080", 18080, 8081)
```

- item

  ```py
  c = 3
  ```

```bash
echo not python
```
"""


def write(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_parse_reads_languages_markers_and_indented_blocks(tmp_path: Path) -> None:
    blocks = parse(write(tmp_path, PAGE))
    assert [(b.language, b.line) for b in blocks] == [
        ("python", 3),
        ("python", 10),
        ("python", 15),
        ("py", 21),
        ("bash", 25),
    ]
    assert [b.partial for b in blocks] == [False, True, False, False, False]
    assert blocks[2].continues and blocks[2].needs == [("tcp-echo", 8080), ("free-port", 8081)]
    assert blocks[3].code == "c = 3\n"


def test_continue_joins_the_page_without_partial_blocks(tmp_path: Path) -> None:
    blocks = parse(write(tmp_path, PAGE))[:3]
    script = script_for(blocks[2], blocks)
    assert script.startswith("a = 1\n") and "b = a +" not in script
    assert script_for(blocks[0], blocks) == "a = 1\n"


def test_ports_are_replaced_as_whole_numbers_only() -> None:
    code = 'x("127.0.0.1:8080", 18080, 8081, port=8080, 8080.5)'
    assert (
        with_ports(code, {8080: 40001}) == 'x("127.0.0.1:40001", 18080, 8081, port=40001, 8080.5)'
    )


def test_unknown_marker_is_an_error_naming_the_choices(tmp_path: Path) -> None:
    page = write(tmp_path, "<!-- docs: skip -->\n```python\npass\n```\n")
    with pytest.raises(ValueError, match=r"unknown docs marker 'skip'.*partial"):
        parse(page)
    page = write(tmp_path, "<!-- docs: needs=db:5432 -->\n```python\npass\n```\n")
    with pytest.raises(ValueError, match="needs=db:5432"):
        parse(page)


def test_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="never closed"):
        parse(write(tmp_path, "```python\npass\n"))


def test_the_documentation_files_are_found() -> None:
    names = {f.name for f in markdown_files()}
    assert {"README.md", "getting-started.md", "mqtt.md"} <= names
    assert not any("tests" in f.parts for f in markdown_files())
