"""The developer scripts in tools/: code-line counts (loc.py) and import cycles (imports.py),
run on tiny fake packages built in a temporary folder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_tools_{name}", TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


loc = _load("loc")
imports = _load("imports")


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


# -- loc.py


def test_code_lines_skip_blanks_comments_and_docstrings() -> None:
    source = '''"""Module docstring
spanning two lines."""

# a comment
import os  # trailing comment counts as code


class A:
    """Class docstring."""

    def f(self):
        """Function docstring."""
        x = (1,
             2)
        s = """a string that is
        not a docstring"""
        return x, s
'''
    # import, class, def, x = ( two lines ), s = three... (two lines), return
    assert loc.code_lines(source) == 1 + 1 + 1 + 2 + 2 + 1


def test_code_lines_of_empty_and_docstring_only_files() -> None:
    assert loc.code_lines("") == 0
    assert loc.code_lines('"""only a docstring"""\n\n# and a comment\n') == 0


def test_loc_main_totals_and_max_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkg = _package(
        tmp_path,
        {"pkg/__init__.py": '"""Doc."""\nx = 1\n', "pkg/big.py": "a = 1\n" * 5 + "\n" * 3},
    )
    assert loc.main([str(pkg)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].split()[:2] == ["6", "10"]  # 1 + 5 code lines, 2 + 8 physical
    assert "(2 files)" in out[-1]
    assert loc.main([str(pkg), "--max-lines", "7"]) == 1
    out = capsys.readouterr().out
    assert "files over 7 lines: 1" in out and out.rstrip().endswith("big.py")
    assert loc.main([str(pkg / "big.py"), "--max-lines", "8"]) == 0


# -- imports.py


def test_import_graph_resolves_absolute_relative_and_kinds(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg import a\nfrom .sub import c\n",
            "pkg/a.py": "import os\nimport pkg.b\n",
            "pkg/b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.a import thing\n"
                "def f():\n    from . import a\n"
            ),
            "pkg/sub/__init__.py": "from .c import name\n",
            "pkg/sub/c.py": "from ..b import f\nfrom pkg.sub import missing_name\n",
        },
    )
    edges = {(e.source, e.target, e.kind) for e in imports.import_graph(pkg)}
    assert edges == {
        ("pkg", "pkg.a", "module"),
        ("pkg", "pkg.sub.c", "module"),
        ("pkg.a", "pkg.b", "module"),
        ("pkg.b", "pkg.a", "typing"),
        ("pkg.b", "pkg.a", "function"),
        ("pkg.sub", "pkg.sub.c", "module"),
        ("pkg.sub.c", "pkg.b", "module"),
        ("pkg.sub.c", "pkg.sub", "module"),
    }


def test_cycles_are_components_of_more_than_one_module(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def f():\n    from pkg import c\n",
            "pkg/c.py": "import pkg.a\n",
            "pkg/d.py": "import pkg.a\n",  # imports the cycle, is not in it
        },
    )
    edges = imports.import_graph(pkg)
    cycles = imports.find_cycles(edges)
    assert [members for members, _ in cycles] == [["pkg.a", "pkg.b", "pkg.c"]]
    assert {(e.source, e.target) for e in cycles[0][1]} == {
        ("pkg.a", "pkg.b"),
        ("pkg.b", "pkg.c"),
        ("pkg.c", "pkg.a"),
    }
    module_only = [e for e in edges if e.kind == "module"]
    assert imports.find_cycles(module_only) == []


def test_between_reports_only_cycles_joining_named_groups(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/core/__init__.py": "from pkg.core import t\n",
            "pkg/core/t.py": "def draw():\n    from pkg.viz import g\n",
            "pkg/viz/__init__.py": "",
            "pkg/viz/g.py": "from pkg import helper\n",
            "pkg/helper.py": "from pkg.core import t\n",  # viz -> helper -> core -> viz
            "pkg/nn/__init__.py": "from pkg.nn import x\n",
            "pkg/nn/x.py": "from pkg.nn import y\n",  # a cycle inside one group only
            "pkg/nn/y.py": "import pkg.nn.x\n",
        },
    )
    edges = imports.import_graph(pkg)
    assert len(imports.find_cycles(edges)) == 2
    groups = imports.parse_groups(["core", "viz", "nn"], "pkg")
    cycles = imports.find_cycles(edges, groups)
    assert [members for members, _ in cycles] == [["core", "pkg.helper", "viz"]]
    merged = imports.parse_groups(["view=viz,helper", "core"], "pkg")
    assert imports.find_cycles(edges, merged)[0][0] == ["core", "view"]
    assert imports.find_cycles(edges, imports.parse_groups(["viz", "nn"], "pkg")) == []


def test_imports_main_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkg = _package(
        tmp_path,
        {"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n", "pkg/b.py": "import pkg.a\n"},
    )
    assert imports.main(["--package", str(pkg)]) == 1
    out = capsys.readouterr().out
    assert "1 cycle(s)" in out and "pkg.a:1 -> pkg.b  (module)" in out
    (pkg / "b.py").write_text("")
    assert imports.main(["--package", str(pkg)]) == 0
    assert "0 cycle(s)" in capsys.readouterr().out
