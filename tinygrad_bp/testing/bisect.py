"""``find_bad_gradient(fn, inputs)``: the first op of a composite function whose backward
is wrong.

When ``gradcheck`` fails on a whole model it says *that* a gradient is wrong, not *where*.
This runs ``fn`` once (in anomaly mode, so every op records the user's line that created
it), then checks each op on its own, in the order the ops were created: the op is run again
on float64 copies of the very inputs it saw, its backward is called with a random upstream
gradient, and the result is compared with central finite differences of the op's forward.
The first op that disagrees is reported with its shapes, worst element and creation line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_bp.anomaly import AnomalyError, detect_anomaly
from tinygrad_bp.autograd import no_grad
from tinygrad_bp.tensor import Tensor
from tinygrad_bp.viz import internals as I
from tinygrad_bp.viz.values import input_values, node_values

__all__ = ["BadGradient", "find_bad_gradient"]


@dataclass(frozen=True)
class BadGradient:
    """The first op whose backward disagrees with finite differences (``str()``: a report)."""

    op: str
    position: int  # 1-based, among the ops in creation order
    n_ops: int
    input: int  # which argument's gradient is wrong
    input_shapes: tuple[tuple[int, ...] | None, ...]
    output_shape: tuple[int, ...]
    element: tuple[int, ...] | str  # the worst element, or "random direction"
    numerical: float
    analytical: float
    where: str | None
    rule: str
    node: Any = field(repr=False, compare=False)
    skipped: tuple[str, ...] = ()

    def __str__(self) -> str:
        shapes = ", ".join("const" if s is None else str(s) for s in self.input_shapes)
        err = abs(self.numerical - self.analytical)
        rel = err / max(abs(self.numerical), abs(self.analytical), 1e-300)
        el = self.element if isinstance(self.element, str) else f"element {self.element}"
        lines = [
            f"find_bad_gradient: op {self.position} of {self.n_ops}, {self.op}, has a wrong "
            f"backward (the {self.position - 1} op(s) created before it agree with finite "
            "differences)",
            f"  inputs ({shapes}) -> output {self.output_shape}",
            f"  gradient of input {self.input}, worst at {el}: numerical {self.numerical:.6g}, "
            f"analytical {self.analytical:.6g} (abs err {err:.3g}, "
            f"relative to the larger {rel:.3g})",
            f"  its rule (docstring): {self.rule}",
            "  created at:",
            "    " + (self.where or "(unknown)").replace("\n", "\n    "),
        ]
        if self.skipped:
            lines.append(f"  not checked: {'; '.join(self.skipped)}")
        return "\n".join(lines)


def find_bad_gradient(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 64,
    seed: int = 0,
) -> BadGradient | None:
    """Check every op of ``fn(*inputs)`` on its own saved inputs, in creation order, and
    return the first one whose backward disagrees with central finite differences in
    float64 (None when all agree). ``print()`` the result for a report.

    Args:
        fn: the composite function (returns a Tensor); its ops may be custom Functions.
        inputs: its arguments (Tensors with ``requires_grad`` and constants).
        eps, atol, rtol: as ``gradcheck``: an element passes when
            ``|analytical - numerical| <= atol + rtol * |numerical|``.
        max_elements: per op input, check at most this many elements (sampled with
            ``seed``), plus one random direction that covers all of them.
        seed: seeds the sampling and the random upstream gradients.
    """
    rng = np.random.default_rng(seed)
    try:
        with detect_anomaly():  # records each op's creation line
            out = fn(*inputs)
    except AnomalyError:  # NaN/Inf in the forward: run it plainly, without creation lines
        out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    keys = [I.key_of(t) for t in outs if isinstance(t, Tensor) and t.requires_grad]
    if not keys:
        raise ValueError("find_bad_gradient: fn returned no Tensor that requires grad")
    order = I.graph_order(keys)
    values = node_values(order, [t for t in outs if isinstance(t, Tensor)])
    ops = [n for n in reversed(order) if not I.is_leaf(n)]  # creation order
    skipped: list[str] = []
    for pos, n in enumerate(ops, 1):
        args = input_values(n, values)
        if args is None:
            skipped.append(f"op {pos} {I.op_name(n)} (an input was not kept)")
            continue
        bad = _check_op(n, args, rng, eps, atol, rtol, max_elements)
        if isinstance(bad, str):
            skipped.append(f"op {pos} {I.op_name(n)} ({bad})")
        elif bad is not None:
            i, el, num, ana, shapes, out_shape = bad
            return BadGradient(
                I.op_name(n), pos, len(ops), i, shapes, out_shape, el, num, ana,
                I.creation_site(n), I.rule(n), n, tuple(skipped),
            )  # fmt: skip
    return None


def _check_op(
    n: Any, args: list[Any], rng: np.random.Generator, eps: float, atol: float, rtol: float,
    max_elements: int,
) -> Any:  # fmt: skip
    """None when the op's backward agrees; a reason string when it cannot be checked; else
    (input, element, numerical, analytical, input shapes, output shape)."""
    fn, kw = type(n), I.kwargs(n)
    wrt = [
        i for i, (p, a) in enumerate(zip(I.parents(n), args))
        if p is not None and isinstance(a, np.ndarray) and a.dtype.kind == "f"
    ]  # fmt: skip
    xs = [np.array(a, dtype=np.float64, order="C") if i in wrt else a for i, a in enumerate(args)]
    ts = [Tensor(x, requires_grad=True) if i in wrt else x for i, x in enumerate(xs)]
    shapes = tuple(np.shape(a) if i in wrt else None for i, a in enumerate(args))
    try:
        out = fn.apply(*ts, **kw)
    except Exception as e:
        return f"cannot run again in float64: {e}"
    if out.dtype != np.float64 or not out.requires_grad:
        return f"output is {out.dtype}, not float64"
    v = rng.standard_normal(out.shape)
    try:
        ana = I.local_backward(out._ctx, v)
    except Exception as e:
        return (wrt[0] if wrt else 0, f"backward raised {type(e).__name__}: {e}", np.nan, np.nan,
                shapes, out.shape)  # fmt: skip

    def f() -> float:
        with no_grad():
            return float(np.sum(np.asarray(fn.apply(*ts, **kw).data) * v))

    for i in wrt:
        t = ts[i]
        assert isinstance(t, Tensor)
        x = np.asarray(t.data).reshape(-1)  # a view: perturbing it perturbs the input
        if not np.shares_memory(x, t.data):
            raise RuntimeError("find_bad_gradient: the input copy is not contiguous")
        gi = np.zeros(x.size) if ana[i] is None else np.asarray(ana[i], np.float64).reshape(-1)
        picks = np.arange(x.size) if x.size <= max_elements else rng.choice(
            x.size, max_elements, replace=False)  # fmt: skip
        worst, at, num_at = 0.0, -1, 0.0
        for j in picks:
            old = x[j]
            x[j] = old + eps
            hi = f()
            x[j] = old - eps
            lo = f()
            x[j] = old
            num = (hi - lo) / (2 * eps)
            ratio = abs(num - gi[j]) / (atol + rtol * abs(num))
            if ratio > worst:
                worst, at, num_at = ratio, int(j), num
        if worst > 1:
            el = tuple(int(j) for j in np.unravel_index(at, ts[i].shape))
            return i, el, num_at, float(gi[at]), shapes, out.shape
        u = rng.standard_normal(x.size)  # one direction through every element
        base = x.copy()
        x[:] = base + eps * u
        hi = f()
        x[:] = base - eps * u
        lo = f()
        x[:] = base
        num, a = (hi - lo) / (2 * eps), float(np.dot(gi, u))
        if abs(num - a) > atol + rtol * abs(num):
            return i, "a random direction (all elements at once)", num, a, shapes, out.shape
    return None
