"""Code lines per Python file: lines that hold code, not blank lines, comments or docstrings.

A line counts when a token other than a comment, a newline or a docstring starts or continues
on it (``tokenize`` finds the tokens, ``ast`` finds the docstrings: the first string
statement of a module, class or function). A multi-line expression counts every line it spans.

Usage (from the repository root)::

    python tools/loc.py                          # every file of the package, with a total
    python tools/loc.py tinygrad_bp/optim        # the files under a folder
    python tools/loc.py a.py b.py --max-lines 400  # also list files over 400 physical lines

Columns: code lines, physical lines, path. Exit status 0 (a report, not a check), or 1 with
``--max-lines`` when a file is over the limit.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tinygrad_bp"
_NOT_CODE = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
    tokenize.ENCODING,
}


def docstring_lines(tree: ast.AST) -> set[int]:
    """The line numbers covered by docstrings (module, class and function)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                end = body[0].end_lineno or body[0].lineno
                lines.update(range(body[0].lineno, end + 1))
    return lines


def code_lines(source: str) -> int:
    """How many lines of ``source`` hold code (no blanks, comments or docstrings)."""
    docs = docstring_lines(ast.parse(source))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in _NOT_CODE:
            continue
        lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - docs)


def python_files(paths: list[Path]) -> list[Path]:
    """The ``.py`` files named by ``paths`` (folders searched recursively), sorted."""
    files: set[Path] = set()
    for p in paths:
        if p.is_dir():
            files.update(f for f in p.rglob("*.py") if "__pycache__" not in f.parts)
        elif p.suffix == ".py":
            files.add(p)
        else:
            raise SystemExit(f"loc.py: {p} is neither a folder nor a .py file")
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    """Print code and physical line counts per file and a total; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, help=f"files or folders (default {PACKAGE}/)")
    ap.add_argument("--max-lines", type=int, help="list files with more physical lines than N")
    args = ap.parse_args(argv)
    files = python_files(args.paths or [ROOT / PACKAGE])
    total_code = total_physical = 0
    over = []
    for f in files:
        source = f.read_text(encoding="utf-8")
        code, physical = code_lines(source), len(source.splitlines())
        total_code += code
        total_physical += physical
        shown = f.resolve().relative_to(ROOT) if f.resolve().is_relative_to(ROOT) else f
        print(f"{code:6d} {physical:6d}  {shown}")
        if args.max_lines is not None and physical > args.max_lines:
            over.append((physical, shown))
    print(f"{total_code:6d} {total_physical:6d}  total ({len(files)} files)")
    if args.max_lines is not None:
        print(f"\nfiles over {args.max_lines} lines: {len(over)}")
        for physical, shown in sorted(over, reverse=True):
            print(f"{physical:6d}  {shown}")
        return 1 if over else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
