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
def test_readme_example_runs(index):
    # later blocks may use imports from the first one, as a reader would
    namespace: dict = {}
    exec(compile(BLOCKS[0], "README block 0", "exec"), namespace)
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), namespace)
