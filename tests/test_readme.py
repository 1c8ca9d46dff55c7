"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    # a reader runs the blocks in order, so later ones may use names from earlier ones
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i in range(index + 1):
        exec(compile(BLOCKS[i], f"README block {i}", "exec"), namespace)
