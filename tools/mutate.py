"""Mutation testing of the backward formulas: does the test suite notice a wrong gradient?

Every ``backward`` in ``tinygrad_bp/engine/ops/`` (plus the shims they call, and with
``--engine`` the gradient plumbing: ``run_backward``, ``_fit`` and ``sum_to`` in
``tinygrad_bp/engine/walk.py``, ``store_grad`` in ``hooks.py``) is perturbed one change at a
time with ``ast``:

- drop a term of ``+``/``-``, drop a factor of ``*``, swap the operands of ``-``, ``/``, ``@``,
  turn ``+`` into ``-`` and back, ``/`` into ``*``;
- flip a sign (remove a unary minus, negate a returned gradient), return the tuple in the
  wrong order, swap ``x, y = ctx.inputs``;
- scale the upstream gradient ``g`` by a constant factor (2);
- change ``axis`` (to None, 0, -1) and ``keepdims``; change a numeric constant;
- use ``ctx.out`` where the formula reads ``ctx.inputs[0]`` and vice versa;
- flip a comparison (``>`` to ``>=``: the subgradient at a kink).

Each mutant runs the chosen tests (default: the op sweep and the law tests, ``ci`` profile:
derandomized, so a mutant's verdict is reproducible) in a private copy of the repository: the
real source files are never modified. A mutant is *killed* when the tests fail, *timeout* when
they run past the limit (counted as detected), *survived* otherwise. Mutants whose source is
identical to the original are skipped; mutants listed in ``EQUIVALENT`` (with the argument why
no test can tell them apart) are reported but not counted.

Usage (from the repository root)::

    .venv/bin/python tools/mutate.py                 # the ops' backward formulas, 2 workers
    .venv/bin/python tools/mutate.py --engine        # plus the walk's gradient plumbing
    .venv/bin/python tools/mutate.py --list          # only list the mutants
    .venv/bin/python tools/mutate.py --only Softmax  # mutants whose function name matches

Exit status: 0 when the score (killed + timeout over non-equivalent mutants) reaches
``--target`` (default 0.95), else 1.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OPS_DIR = "tinygrad_bp/engine/ops"
OPS_FILES = tuple(f"{OPS_DIR}/{n}.py" for n in ("unary", "binary", "reduce", "movement", "matmul"))
SHIMS = f"{OPS_DIR}/shims.py"  # the helpers the formulas share (no backward of their own)
LARGE = f"{OPS_DIR}/large.py"  # tanh's and sigmoid's derivatives in one temporary
# the gradient plumbing: the walk, fitting a gradient to its input, storing .grad
ENGINE_FILES = {
    "tinygrad_bp/engine/walk.py": ("sum_to", "run_backward", "_fit"),
    "tinygrad_bp/engine/hooks.py": ("store_grad",),
}
OPS_HELPERS = (
    "_where",
    "broadcast_to",
    "_matmul",
    "_mT",
    "_index_add",
    "sigmoid_grad",
    "tanh_grad",
)
DEFAULT_TESTS = ("tests/test_op_sweep.py", "tests/test_laws.py")
ENGINE_TESTS = ("tests/test_engine.py", "tests/test_gradcheck.py")  # also run for autograd.py
SWEEP = "tests/test_op_sweep.py::test_op_sweep"
# Which ops a shim serves, to pick the sweep rows that run first for its mutants.
HELPER_USERS = {
    "_where": ("Pow", "Where"),
    "broadcast_to": ("Sum", "Mean", "BroadcastTo"),
    "_matmul": ("MatMul",),
    "_mT": ("MatMul",),
    "_index_add": ("GetItem", "IndexAdd"),
    "sigmoid_grad": ("Sigmoid",),
    "tanh_grad": ("Tanh",),
}

# Mutants no test can kill, keyed by "file:function:description:mutated code", with the
# argument why they compute the same thing. A changed formula gets a new key, so a stale
# entry simply stops matching (and the mutant is scored again).
_DOT = (
    "np.dot is only a faster np.matmul: the two agree whenever the second operand is 2-D, so "
    "which one runs on this branch cannot change a value"
)
_POW_LOG = (
    "log(where(x > 0, x, c)) * (x > 0): where x <= 0 the mask already zeroes the term and the "
    "placeholder c only has to keep log finite (log 1 = 0, log 2 is finite), so dropping the "
    "mask or changing c gives the same gradient, and the same derivatives under create_graph"
)
_RESHAPE = "numpy (and Tensor.reshape) read any negative size as 'infer this one': -2 == -1"
_KEEPDIMS = (
    "the reshape to `shape` that follows puts the reduced axes back as size 1 either way; the "
    "elements and their order are the same"
)
_NOT_BROADCAST = (
    "a gradient with fewer dimensions than its input is returned only for the walk to reject "
    "(it raises on the shape, which negating or scaling does not change)"
)
_THRESHOLD = (
    "the size threshold only picks between the same formula in one temporary (ops/large.py) "
    "and the plain expression; at exactly the threshold size both give the same values"
)
_OPS = "tinygrad_bp/engine/ops/"
EQUIVALENT: dict[str, str] = {
    _OPS + "unary.py:Tanh.backward:GtE -> Gt:if type(out) is np.ndarray and out.size > "
    "large.LARGE:": _THRESHOLD,
    _OPS + "unary.py:Sigmoid.backward:GtE -> Gt:if type(out) is np.ndarray and out.size > "
    "large.LARGE:": _THRESHOLD,
    _OPS + "shims.py:_matmul:Eq -> NotEq:if a.ndim != 2 and b.ndim == 2:": _DOT,
    _OPS + "shims.py:_matmul:constant 2 -> 4:if a.ndim == 4 and b.ndim == 2:": _DOT,
    _OPS + "binary.py:Pow.backward:drop right factor of *:gy = g * ctx.out * _log(_where(pos, "
    "x, _const(1.0, x) if isinstance(x, Tensor) else 1))": _POW_LOG,
    _OPS + "binary.py:Pow.backward:constant 1 -> 2:gy = g * ctx.out * _log(_where(pos, x, "
    "_const(1.0, x) if isinstance(x, Tensor) else 2)) * pos": _POW_LOG,
    _OPS + "binary.py:Pow.backward:constant 1.0 -> 2.0:gy = g * ctx.out * _log(_where(pos, x, "
    "_const(2.0, x) if isinstance(x, Tensor) else 1)) * pos": _POW_LOG,
    _OPS + "matmul.py:MatMul.backward:constant 1 -> 2:gx = _matmul(g, _mT(y.reshape(-2, 1) "
    "if ynd == 1 else y))": _RESHAPE,
    _OPS + "matmul.py:MatMul.backward:constant 1 -> 2:gy = _matmul(_mT(x.reshape(1, -2) "
    "if xnd == 1 else x), g)": _RESHAPE,
    "tinygrad_bp/engine/walk.py:sum_to:flip keepdims:return g.sum(axis=axes, keepdims=not "
    "True).reshape(shape)": _KEEPDIMS,
    "tinygrad_bp/engine/walk.py:sum_to:flip keepdims:return reduce_sum(g, axes, keepdims=not "
    "True).reshape(shape)": _KEEPDIMS,
    "tinygrad_bp/engine/walk.py:sum_to:negate returned gradient:return -g": _NOT_BROADCAST,
    "tinygrad_bp/engine/walk.py:sum_to:scale g by 2:return g * 2.0": _NOT_BROADCAST,
}


@dataclass(frozen=True)
class Mutant:
    """One perturbed copy of a source file."""

    ident: int
    path: str  # relative to the repository root
    func: str  # qualified name of the mutated function
    line: int
    desc: str
    site: str  # the original code at the mutated node
    source: str  # the whole mutated file

    @property
    def key(self) -> str:
        return f"{self.path}:{self.func}:{self.desc}:{self.site}"


# --------------------------------------------------------------------------- mutation sites
Transform = Callable[[Any], ast.AST]  # takes the node to replace


def _neg(e: ast.expr) -> ast.expr:
    return ast.UnaryOp(op=ast.USub(), operand=e)


def _bin(left: ast.expr, op: ast.operator, right: ast.expr) -> ast.expr:
    return ast.BinOp(left=left, op=op, right=right)


def _is_none(e: ast.AST | None) -> bool:
    return isinstance(e, ast.Constant) and e.value is None


def _is_ctx_attr(e: ast.AST, attr: str) -> bool:
    return (
        isinstance(e, ast.Attribute)
        and e.attr == attr
        and isinstance(e.value, ast.Name)
        and e.value.id == "ctx"
    )


_META_ATTRS = {"shape", "dtype", "ndim", "size", "flags", "base", "requires_grad"}
_META_CALLS = {"isinstance", "type", "id", "len", "_dtype_of", "_c", "_one", "_const"}


def _value_use(parent: ast.AST | None) -> bool:
    """False where ``g`` only supplies a type, shape or dtype (``g.shape``, ``isinstance(g,
    ...)``, ``_c(0.5, g)``, ``g is None``): scaling it there cannot change anything."""
    if isinstance(parent, ast.Attribute) and parent.attr in _META_ATTRS:
        return False
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name):
        return parent.func.id not in _META_CALLS
    if isinstance(parent, ast.Compare) and any(
        isinstance(o, (ast.Is, ast.IsNot)) for o in parent.ops
    ):
        return False
    return True


def _sites(node: ast.AST, parent: ast.AST | None = None) -> Iterator[tuple[str, Transform]]:
    """(description, transform) for every way to perturb ``node`` itself."""
    if isinstance(node, ast.BinOp):
        a, b, op = node.left, node.right, node.op
        if isinstance(op, ast.Add):
            yield "drop left term of +", lambda n: n.right
            yield "drop right term of +", lambda n: n.left
            yield "+ -> -", lambda n: _bin(n.left, ast.Sub(), n.right)
        elif isinstance(op, ast.Sub):
            yield "drop left term of -", lambda n: _neg(n.right)
            yield "drop right term of -", lambda n: n.left
            yield "swap operands of -", lambda n: _bin(n.right, ast.Sub(), n.left)
            yield "- -> +", lambda n: _bin(n.left, ast.Add(), n.right)
        elif isinstance(op, ast.Mult):
            yield "drop left factor of *", lambda n: n.right
            yield "drop right factor of *", lambda n: n.left
        elif isinstance(op, ast.Div):
            yield "swap operands of /", lambda n: _bin(n.right, ast.Div(), n.left)
            yield "/ -> *", lambda n: _bin(n.left, ast.Mult(), n.right)
            yield "drop divisor", lambda n: n.left
        elif isinstance(op, ast.MatMult):
            yield "swap operands of @", lambda n: _bin(n.right, ast.MatMult(), n.left)
        del a, b
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "remove unary minus", lambda n: n.operand
    elif isinstance(node, ast.Return) and node.value is not None:
        v = node.value
        if isinstance(v, ast.Tuple) and len(v.elts) >= 2:
            if ast.dump(v.elts[0]) != ast.dump(v.elts[-1]):
                yield (
                    "return gradients in reverse order",
                    lambda n: ast.Return(
                        value=ast.Tuple(elts=list(reversed(n.value.elts)), ctx=ast.Load())
                    ),
                )
            for i, e in enumerate(v.elts):
                if not _is_none(e):
                    yield f"negate returned gradient {i}", _negate_elt(i)
        elif not _is_none(v) and not isinstance(v, ast.Tuple):
            yield "negate returned gradient", lambda n: ast.Return(value=_neg(n.value))
    elif (
        isinstance(node, ast.Name)
        and node.id == "g"
        and isinstance(node.ctx, ast.Load)
        and _value_use(parent)
    ):
        yield "scale g by 2", lambda n: _bin(n, ast.Mult(), ast.Constant(2.0))
    elif isinstance(node, ast.keyword) and node.arg == "axis":
        for new in ("None", "0", "-1"):
            if ast.unparse(node.value) != new:
                yield f"axis={new}", _set_kw(new)
    elif isinstance(node, ast.keyword) and node.arg == "keepdims":
        yield (
            "flip keepdims",
            lambda n: ast.keyword(arg="keepdims", value=ast.UnaryOp(op=ast.Not(), operand=n.value)),
        )
    elif _is_ctx_attr(node, "out"):
        yield (
            "ctx.out -> ctx.inputs[0]",
            lambda n: ast.Subscript(
                value=ast.Attribute(
                    value=ast.Name("ctx", ast.Load()), attr="inputs", ctx=ast.Load()
                ),
                slice=ast.Constant(0),
                ctx=ast.Load(),
            ),
        )
    elif (
        isinstance(node, ast.Subscript)
        and _is_ctx_attr(node.value, "inputs")
        and isinstance(node.slice, ast.Constant)
    ):
        yield (
            "ctx.inputs[k] -> ctx.out",
            lambda n: ast.Attribute(value=ast.Name("ctx", ast.Load()), attr="out", ctx=ast.Load()),
        )
    elif (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Tuple)
        and len(node.targets[0].elts) == 2
        and _is_ctx_attr(node.value, "inputs")
    ):
        yield (
            "swap x, y = ctx.inputs",
            lambda n: ast.Assign(
                targets=[ast.Tuple(elts=list(reversed(n.targets[0].elts)), ctx=ast.Store())],
                value=n.value,
            ),
        )
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        flips = {
            ast.Gt: ast.GtE,
            ast.GtE: ast.Gt,
            ast.Lt: ast.LtE,
            ast.LtE: ast.Lt,
            ast.Eq: ast.NotEq,
        }
        new_op = flips.get(type(node.ops[0]))
        if new_op is not None:
            name = f"{type(node.ops[0]).__name__} -> {new_op.__name__}"
            op_cls: Any = new_op
            yield (
                name,
                _compare_with(op_cls),
            )
    elif (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        value: Any = 1 if node.value == 0 else node.value * 2
        yield f"constant {node.value!r} -> {value!r}", _const_to(value)


def _const_to(value: Any) -> Transform:
    return lambda n: ast.Constant(value)


def _compare_with(op_cls: Any) -> Transform:
    return lambda n: ast.Compare(left=n.left, ops=[op_cls()], comparators=n.comparators)


def _negate_elt(i: int) -> Transform:
    def t(n: Any) -> ast.AST:
        elts = list(n.value.elts)
        elts[i] = _neg(elts[i])
        return ast.Return(value=ast.Tuple(elts=elts, ctx=ast.Load()))

    return t


def _set_kw(text: str) -> Transform:
    return lambda n: ast.keyword(arg=n.arg, value=ast.parse(text, mode="eval").body)


_BACKWARDS = ("backward",)


def _targets(
    tree: ast.Module, names: tuple[str, ...], backward: bool
) -> Iterator[tuple[str, ast.FunctionDef]]:
    """(qualified name, node) of the functions to mutate, in file order."""
    for top in tree.body:
        if isinstance(top, ast.ClassDef) and backward:
            for item in top.body:
                if isinstance(item, ast.FunctionDef) and item.name in _BACKWARDS:
                    yield f"{top.name}.{item.name}", item
        elif isinstance(top, ast.FunctionDef) and top.name in names:
            yield top.name, top


def _walk(fn: ast.FunctionDef) -> list[ast.AST]:
    """The nodes of a function body in a fixed order (the docstring excluded)."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    out: list[ast.AST] = []
    for stmt in body:
        out.extend(ast.walk(stmt))
    return out


def _changed_lines(before: str, after: str) -> str:
    """The mutated code: the lines of ``after`` that differ from ``before``."""
    old = before.splitlines()
    new = after.splitlines()
    changed = [ln.strip() for ln in difflib.ndiff(old, new) if ln.startswith("+ ")]
    return " / ".join(c[2:].strip() for c in changed)


def _replace(root: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(root):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if v is old:
                        value[i] = new
                        return
    raise RuntimeError("mutation site not found")


def generate(path: str, names: tuple[str, ...], backward: bool, start: int = 0) -> list[Mutant]:
    """Every mutant of the chosen functions of ``path`` (relative to the repository root)."""
    src = (ROOT / path).read_text()
    tree = ast.parse(src)
    originals = {q: ast.unparse(f) for q, f in _targets(tree, names, backward)}
    mutants: list[Mutant] = []
    seen: set[str] = set()
    for qual, fn in _targets(tree, names, backward):
        nodes = _walk(fn)
        parents = {id(c): p for p in ast.walk(fn) for c in ast.iter_child_nodes(p)}
        for k, node in enumerate(nodes):
            for desc, transform in _sites(node, parents.get(id(node))):
                t2 = ast.parse(src)
                fn2 = dict(_targets(t2, names, backward))[qual]
                target = _walk(fn2)[k]
                new = transform(copy.deepcopy(target))
                _replace(fn2, target, new)
                ast.fix_missing_locations(t2)
                text = ast.unparse(fn2)
                if text == originals[qual] or text in seen:
                    continue  # syntactically identical to the original or to another mutant
                seen.add(text)
                line = getattr(node, "lineno", fn.lineno)
                site = _changed_lines(originals[qual], text)
                mutants.append(
                    Mutant(
                        start + len(mutants), path, qual, line, desc, site, ast.unparse(t2) + "\n"
                    )
                )
    return mutants


# --------------------------------------------------------------------------- running
def _first_rows(m: Mutant) -> list[str]:
    """Node ids of the sweep rows that test the mutated op: run first, so most mutants die
    within seconds; the full test files run only when these pass."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from op_table import OP_TABLE
    finally:
        sys.path.pop(0)
    if m.path not in (*OPS_FILES, SHIMS, LARGE):
        return []
    name = m.func.split(".")[0]
    classes = HELPER_USERS.get(name, (name,))
    wanted = {f"ops.{c}" for c in classes}
    return [f"{SWEEP}[{s.name}]" for s in OP_TABLE if wanted & set(s.covers)]


def _copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns(
        "__pycache__", ".hypothesis", ".pytest_cache", "*.egg-info", ".mypy_cache", ".ruff_cache"
    )
    for name in ("tinygrad_bp", "tests"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


def _env(work: Path, profile: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(work)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a stale .pyc must never stand in for a mutant
    env["HYPOTHESIS_PROFILE"] = profile
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def _pytest(work: Path, tests: list[str], profile: str, timeout: float) -> tuple[str, float, str]:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(
            cmd, cwd=work, env=_env(work, profile), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0, ""
    dt = time.perf_counter() - t0
    tail = "\n".join(r.stdout.strip().splitlines()[-3:])
    return ("survived" if r.returncode == 0 else "killed"), dt, tail


class _Worker:
    """A private copy of the repository; runs one mutant at a time in it."""

    def __init__(self, base: Path, k: int) -> None:
        self.dir = base / f"w{k}"
        _copy_repo(self.dir)
        self.lock = threading.Lock()

    def run(
        self, m: Mutant, tests: list[str], profile: str, timeout: float
    ) -> tuple[str, float, str]:
        target = self.dir / m.path
        original = target.read_text()
        target.write_text(m.source)
        try:
            first = [t for t in _first_rows(m) if t.split("::")[0] in tests]
            spent = 0.0
            if first:
                v, spent, tail = _pytest(self.dir, first, profile, timeout)
                if v != "survived":
                    return v, spent, tail
            v, dt, tail = _pytest(self.dir, tests, profile, timeout)
            return v, spent + dt, tail
        finally:
            target.write_text(original)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--engine", action="store_true", help="also mutate the walk's plumbing")
    p.add_argument("--only", default="", help="only functions whose name contains this")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--ids", default="", help="comma-separated mutant numbers to run (re-check)")
    p.add_argument(
        "--survivors-of",
        default="",
        metavar="LOG",
        help="re-run only the mutants a previous run's output LOG lists as SURVIVED",
    )
    p.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    p.add_argument("--profile", default="ci", help="hypothesis profile (default ci)")
    p.add_argument("--tests", nargs="+", default=list(DEFAULT_TESTS), help="test files to run")
    p.add_argument("--timeout", type=float, default=0, help="per-mutant limit (s); 0 = auto")
    p.add_argument("--budget", type=float, default=1800, help="stop starting mutants after (s)")
    p.add_argument("--target", type=float, default=0.95, help="required score (default 0.95)")
    args = p.parse_args(argv)

    mutants: list[Mutant] = []
    for path in OPS_FILES:
        mutants += generate(path, OPS_HELPERS, backward=True, start=len(mutants))
    mutants += generate(SHIMS, OPS_HELPERS, backward=False, start=len(mutants))
    mutants += generate(LARGE, OPS_HELPERS, backward=False, start=len(mutants))
    if args.engine:
        for path, funcs in ENGINE_FILES.items():
            mutants += generate(path, funcs, backward=False, start=len(mutants))
    if args.only:
        mutants = [m for m in mutants if args.only in m.func]
    if args.survivors_of:
        listed = set(re.findall(r"SURVIVED\s+#\d+ \S+ (.+)", Path(args.survivors_of).read_text()))
        mutants = [m for m in mutants if f"{m.func}: {m.desc} [{m.site}]" in listed]
    if args.ids:
        wanted = {int(i) for i in args.ids.split(",") if i.strip()}
        mutants = [m for m in mutants if m.ident in wanted]
    if args.list:
        for m in mutants:
            print(f"#{m.ident:<4} {m.path}:{m.line:<5} {m.func:<24} {m.desc}  [{m.site}]")
        print(f"{len(mutants)} mutants")
        return 0

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tinygrad-bp-mutate-") as tmp:
        workers = [_Worker(Path(tmp), k) for k in range(max(args.jobs, 1))]
        check = subprocess.run(
            [sys.executable, "-c", "import tinygrad_bp; print(tinygrad_bp.__file__)"],
            cwd=workers[0].dir,
            env=_env(workers[0].dir, args.profile),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not check.startswith(str(workers[0].dir)):
            print(f"the copy imports the wrong package: {check}", file=sys.stderr)
            return 2
        tests = list(args.tests)
        if args.engine:
            tests += [t for t in ENGINE_TESTS if (ROOT / t).exists() and t not in tests]
        verdict, base_time, tail = _pytest(workers[0].dir, tests, args.profile, 600)
        if verdict != "survived":
            print(f"the unmutated suite does not pass ({verdict}):\n{tail}", file=sys.stderr)
            return 2
        timeout = args.timeout or max(120.0, 6 * base_time)
        print(
            f"{len(mutants)} mutants; baseline {base_time:.1f}s; timeout {timeout:.0f}s; "
            f"{len(workers)} workers; tests: {' '.join(tests)}",
            flush=True,
        )

        free = list(workers)
        free_lock = threading.Lock()
        results: dict[int, tuple[str, float]] = {}

        def job(m: Mutant) -> tuple[Mutant, str, float]:
            if time.perf_counter() - start > args.budget:
                return m, "not run", 0.0
            with free_lock:
                w = free.pop()
            try:
                v, dt, _ = w.run(
                    m, tests if m.path in ENGINE_FILES else args.tests, args.profile, timeout
                )
            finally:
                with free_lock:
                    free.append(w)
            return m, v, dt

        with ThreadPoolExecutor(len(workers)) as pool:
            futures = [pool.submit(job, m) for m in mutants]
            for n, fut in enumerate(as_completed(futures), 1):
                m, v, dt = fut.result()
                results[m.ident] = (v, dt)
                mark = {"killed": ".", "timeout": "T", "survived": "S"}.get(v, "-")
                print(
                    f"[{n:>4}/{len(mutants)}] {mark} #{m.ident:<4} {m.path}:{m.line:<4} "
                    f"{m.func:<22} {m.desc} ({dt:.1f}s)",
                    flush=True,
                )

    return report(mutants, results, time.perf_counter() - start, args.target)


def report(
    mutants: list[Mutant], results: dict[int, tuple[str, float]], elapsed: float, target: float
) -> int:
    counts: dict[str, int] = {}
    survivors, equivalent = [], []
    for m in mutants:
        v = results.get(m.ident, ("not run", 0.0))[0]
        if v == "survived" and m.key in EQUIVALENT:
            v = "equivalent"
            equivalent.append(m)
        elif v == "survived":
            survivors.append(m)
        counts[v] = counts.get(v, 0) + 1
    detected = counts.get("killed", 0) + counts.get("timeout", 0)
    scored = detected + counts.get("survived", 0)
    score = detected / scored if scored else 0.0
    print(f"\n{elapsed / 60:.1f} min; " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print(f"mutation score: {detected}/{scored} = {score:.1%} (target {target:.0%})")
    for m in equivalent:
        print(f"  equivalent #{m.ident} {m.path}:{m.line} {m.func}: {m.desc} [{m.site}]")
        print(f"      why: {EQUIVALENT[m.key]}")
    for m in survivors:
        print(f"  SURVIVED  #{m.ident} {m.path}:{m.line} {m.func}: {m.desc} [{m.site}]")
    return 0 if score >= target and not counts.get("not run") else 1


if __name__ == "__main__":
    sys.exit(main())
