"""The package's static import graph and its cycles.

Every ``import`` of a package module is an edge from the importing module to the module it
names (``from tinygrad_bp.nn import init`` names ``tinygrad_bp.nn.init`` when that is a
module, else ``tinygrad_bp.nn``; relative imports are resolved). The parent packages that
Python runs on the way are not edges: every module would otherwise be in a cycle with the
top-level ``__init__``, which re-exports everything. Each edge has a kind:

- ``module``: runs when the importing module is imported (top level, also inside ``try``/``if``);
- ``function``: inside a function or method body, runs when it is called;
- ``typing``: under ``if TYPE_CHECKING:``, never runs (annotations only).

An import cycle is a strongly connected component of this graph with more than one module.
The tool prints each with the edges inside it, the kind and line of each.

Usage (from the repository root)::

    python tools/imports.py                        # cycles between the package's modules
    python tools/imports.py --kinds module         # only imports that run at import time
    python tools/imports.py --between engine viz nn optim
    python tools/imports.py --between engine=tensor,autograd,engine,ops,anomaly viz nn optim

``--between`` merges each named subpackage (``viz`` = ``tinygrad_bp.viz`` and everything under
it; ``label=a,b`` names a group of several modules or subpackages) into one node and reports
the cycles that join two or more of the named groups (other modules stay single nodes, so a
cycle through them still counts). Exit status 1 if a cycle is reported, else 0.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tinygrad_bp"
KINDS = ("module", "function", "typing")


@dataclass(frozen=True)
class Edge:
    """One import statement: ``source`` imports ``target`` at ``line``, of ``kind``."""

    source: str
    target: str
    kind: str
    line: int


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``package_dir``."""
    names = {}
    for f in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        parts = list(f.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = f
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement of a module with its kind (see the module docstring)."""
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []
    stack: list[tuple[ast.AST, str]] = [(c, "module") for c in tree.body]
    while stack:
        node, kind = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((node, kind))
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((c, "typing") for c in node.body)
            stack.extend((c, kind) for c in node.orelse)
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            kind = "function" if kind == "module" else kind
        stack.extend((c, kind) for c in ast.iter_child_nodes(node))
    return sorted(found, key=lambda item: item[0].lineno)


def _resolve(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]
) -> list[str]:
    """The package modules an import statement names."""

    def deepest(name: str) -> str | None:  # the longest prefix of `name` that is a module
        parts = name.split(".")
        while parts:
            if ".".join(parts) in known:
                return ".".join(parts)
            parts.pop()
        return None

    if isinstance(node, ast.Import):
        names = [deepest(a.name) for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".")
            if not is_package:
                anchor.pop()
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        names = []
        for alias in node.names:
            full = f"{base}.{alias.name}"
            names.append(full if full in known else deepest(base))
    return sorted({n for n in names if n is not None})


def import_graph(package_dir: Path) -> list[Edge]:
    """Every import edge between the modules of the package at ``package_dir``."""
    files = module_names(package_dir)
    known = set(files)
    edges = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in _imports(tree):
            for target in _resolve(node, module, path.name == "__init__.py", known):
                if target != module:
                    edges.append(Edge(module, target, kind, node.lineno))
    return edges


def strongly_connected(nodes: list[str], succ: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(succ.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(succ.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def parse_groups(specs: list[str], package: str) -> dict[str, list[str]]:
    """``["engine=tensor,ops", "viz"]`` -> ``{"engine": ["pkg.tensor", "pkg.ops"], "viz": ...}``."""
    groups = {}
    for spec in specs:
        label, _, members = spec.partition("=")
        groups[label] = [f"{package}.{m}" for m in (members or label).split(",")]
    return groups


def group_of(module: str, groups: dict[str, list[str]]) -> str:
    """The group label a module belongs to (a prefix match), or the module itself."""
    for label, prefixes in groups.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return label
    return module


def find_cycles(
    edges: list[Edge], groups: dict[str, list[str]] | None = None
) -> list[tuple[list[str], list[Edge]]]:
    """Cycles (components of more than one node) with the edges inside each; with ``groups``,
    modules are merged into their group and only cycles joining two groups are returned."""
    groups = groups or {}
    node = {m: group_of(m, groups) for e in edges for m in (e.source, e.target)}
    succ: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if node[e.source] != node[e.target]:
            succ[node[e.source]].add(node[e.target])
    cycles = []
    for component in strongly_connected(sorted(set(node.values())), succ):
        if len(component) < 2:
            continue
        if groups and sum(c in groups for c in component) < 2:
            continue
        members = set(component)
        inside = [
            e
            for e in edges
            if node[e.source] in members
            and node[e.target] in members
            and node[e.source] != node[e.target]
        ]
        cycles.append((component, inside))
    return cycles


def main(argv: list[str] | None = None) -> int:
    """Print the import cycles of the package; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package", type=Path, default=ROOT / PACKAGE, help="the package folder")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument("--between", nargs="+", metavar="GROUP", help="subpackages (or label=a,b)")
    args = ap.parse_args(argv)
    package_dir = args.package.resolve()
    edges = [e for e in import_graph(package_dir) if e.kind in args.kinds]
    groups = parse_groups(args.between, package_dir.name) if args.between else None
    cycles = find_cycles(edges, groups)
    what = f"between {', '.join(groups)}" if groups else "between modules"
    print(f"{len(edges)} import edges ({', '.join(args.kinds)}); {len(cycles)} cycle(s) {what}")
    for i, (component, inside) in enumerate(cycles, 1):
        print(f"\ncycle {i}: {len(component)} nodes: {', '.join(component)}")
        for e in inside:
            print(f"  {e.source}:{e.line} -> {e.target}  ({e.kind})")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
