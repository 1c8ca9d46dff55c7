"""``GRAPH_OPS``: the ops a random graph of ``graphs()`` may apply, each with the check that
keeps it safe: the result's shape, and a bound on its magnitude that must stay below
``LIMIT`` (so exp() and products stay tame and finite differences stay meaningful). Only
smooth ops with safe domains (``log(x*x + 1)``, ``y / (x*x + 1)``, exp of bounded values).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_bp as tg
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.testing.strategies import Shape

__all__ = ["GRAPH_OPS", "INPUT_BOUND", "LIMIT", "GraphOp"]

LIMIT = 30.0  # no value may exceed this bound in magnitude: keeps exp() and products tame
INPUT_BOUND = 2.0


@dataclass(frozen=True)
class GraphOp:
    """One kind of step: ``apply(args, param)``; ``check`` gives (shape, bound) or None."""

    name: str
    arity: int
    apply: Callable[[Sequence[Tensor], Any], Tensor]
    check: Callable[[Sequence[Shape], Sequence[float]], tuple[Shape, float] | None]
    param: Callable[[Sequence[Shape]], st.SearchStrategy[Any]] | None = None
    text: str = "{name}({args})"


def _elementwise_result(shapes_: Sequence[Shape], bound: float) -> tuple[Shape, float] | None:
    return (tuple(shapes_[0]), bound) if bound <= LIMIT else None


def _broadcast_result(shapes_: Sequence[Shape], bound: float) -> tuple[Shape, float] | None:
    return (tuple(np.broadcast_shapes(*shapes_)), bound) if bound <= LIMIT else None


def _axis_of(ss: Sequence[Shape]) -> st.SearchStrategy[int]:
    nd = len(ss[0])
    return st.integers(-nd, nd - 1)


def _nonscalar(
    f: Callable[[Shape, float], tuple[Shape, float] | None],
) -> Callable[[Sequence[Shape], Sequence[float]], tuple[Shape, float] | None]:
    return lambda ss, bs: f(ss[0], bs[0]) if len(ss[0]) else None


def _flip(x: Tensor, axis: int) -> Tensor:
    return x[(slice(None),) * (axis % x.ndim) + (slice(None, None, -1),)]


def _stack_mean(a: Tensor, b: Tensor, axis: int) -> Tensor:
    shape = np.broadcast_shapes(a.shape, b.shape)
    return tg.stack([a.broadcast_to(shape), b.broadcast_to(shape)], axis=axis).mean(axis=axis)


def _concat_split(a: Tensor, b: Tensor, axis: int) -> Tensor:
    shape = np.broadcast_shapes(a.shape, b.shape)
    cat = tg.concatenate([a.broadcast_to(shape), b.broadcast_to(shape)], axis=axis)
    k = axis % len(shape)
    n = shape[k]
    lead = (slice(None),) * k
    first, second = (*lead, slice(0, n)), (*lead, slice(n, None))
    return cat[first] - cat[second] * 0.5


def _matmul_check(ss: Sequence[Shape], bs: Sequence[float]) -> tuple[Shape, float] | None:
    a, b = ss
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-1]:
        return None
    try:
        batch = np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        return None
    return _elementwise_result([(*batch, a[-2], b[-2])], bs[0] * bs[1] * a[-1])


def _where_mask(ss: Sequence[Shape]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.bool_, np.broadcast_shapes(*ss))


_SCALES = (-2.0, -0.5, 0.5, 3.0)
# The op set, roughly simplest first (hypothesis shrinks a choice towards the first entry).
# In the lambdas: `a` the argument Tensors and `p` the drawn parameter (apply); `ss` the
# arguments' shapes and `bs` their magnitude bounds (check).
GRAPH_OPS: dict[str, GraphOp] = {
    op.name: op
    for op in [
        GraphOp(
            "add",
            2,
            lambda a, p: a[0] + a[1],
            lambda ss, bs: _broadcast_result(ss, bs[0] + bs[1]),
            text="{0} + {1}",
        ),
        GraphOp(
            "neg", 1, lambda a, p: -a[0], lambda ss, bs: _elementwise_result(ss, bs[0]), text="-{0}"
        ),
        GraphOp(
            "sub",
            2,
            lambda a, p: a[0] - a[1],
            lambda ss, bs: _broadcast_result(ss, bs[0] + bs[1]),
            text="{0} - {1}",
        ),
        GraphOp(
            "mul",
            2,
            lambda a, p: a[0] * a[1],
            lambda ss, bs: _broadcast_result(ss, bs[0] * bs[1]),
            text="{0} * {1}",
        ),
        GraphOp(
            "div",
            2,
            lambda a, p: a[0] / (a[1] * a[1] + 1.0),
            lambda ss, bs: _broadcast_result(ss, bs[0]),
            text="{0} / ({1} * {1} + 1)",
        ),
        GraphOp(
            "scale",
            1,
            lambda a, p: p * a[0],
            lambda ss, bs: _elementwise_result(ss, 3.0 * bs[0]),
            lambda ss: st.sampled_from(_SCALES),
            text="{p} * {0}",
        ),
        GraphOp(
            "rsub",
            1,
            lambda a, p: 1.0 - a[0],
            lambda ss, bs: _elementwise_result(ss, 1.0 + bs[0]),
            text="1 - {0}",
        ),
        GraphOp(
            "square",
            1,
            lambda a, p: a[0] * a[0],
            lambda ss, bs: _elementwise_result(ss, bs[0] ** 2),
            text="{0} * {0}",
        ),
        GraphOp("tanh", 1, lambda a, p: a[0].tanh(), lambda ss, bs: _elementwise_result(ss, 1.0)),
        GraphOp(
            "sigmoid", 1, lambda a, p: a[0].sigmoid(), lambda ss, bs: _elementwise_result(ss, 1.0)
        ),
        GraphOp(
            "exp",
            1,
            lambda a, p: a[0].exp(),
            lambda ss, bs: _elementwise_result(ss, math.exp(bs[0])) if bs[0] <= 3.0 else None,
        ),
        GraphOp(
            "log",
            1,
            lambda a, p: (a[0] * a[0] + 1.0).log(),
            lambda ss, bs: _elementwise_result(ss, math.log1p(bs[0] ** 2)),
            text="log({0} * {0} + 1)",
        ),
        GraphOp(
            "sqrt",
            1,
            lambda a, p: (a[0] * a[0] + 1.0).sqrt(),
            lambda ss, bs: _elementwise_result(ss, math.sqrt(1 + bs[0] ** 2)),
            text="sqrt({0} * {0} + 1)",
        ),
        GraphOp(
            "pow",
            1,
            lambda a, p: (a[0] * a[0] + 1.0) ** 1.5,
            lambda ss, bs: (
                _elementwise_result(ss, (1 + bs[0] ** 2) ** 1.5) if bs[0] <= 10 else None
            ),
            text="({0} * {0} + 1) ** 1.5",
        ),
        GraphOp(
            "rdiv",
            1,
            lambda a, p: 1.0 / (a[0] * a[0] + 1.0),
            lambda ss, bs: _elementwise_result(ss, 1.0),
            text="1 / ({0} * {0} + 1)",
        ),
        GraphOp(
            "reshape",
            1,
            lambda a, p: a[0].reshape(-1).reshape(a[0].shape),
            lambda ss, bs: _elementwise_result(ss, bs[0]),
            text="{0}.reshape(-1).reshape(shape)",
        ),
        GraphOp(
            "flip",
            1,
            lambda a, p: _flip(a[0], p),
            _nonscalar(lambda s, b: (s, b)),
            _axis_of,
            text="flip({0}, axis={p})",
        ),
        GraphOp(
            "sum",
            1,
            lambda a, p: a[0].sum(axis=p, keepdims=True),
            _nonscalar(lambda s, b: _elementwise_result([s], b * max(s))),
            _axis_of,
            text="{0}.sum(axis={p}, keepdims=True)",
        ),
        GraphOp(
            "sum_expand",
            1,
            lambda a, p: a[0].sum(axis=p).expand_dims(p),
            _nonscalar(lambda s, b: _elementwise_result([s], b * max(s))),
            _axis_of,
            text="{0}.sum(axis={p}).expand_dims({p})",
        ),
        GraphOp(
            "mean",
            1,
            lambda a, p: a[0].mean(axis=p, keepdims=True),
            _nonscalar(lambda s, b: _elementwise_result([s], b)),
            _axis_of,
            text="{0}.mean(axis={p}, keepdims=True)",
        ),
        GraphOp(
            "var",
            1,
            lambda a, p: a[0].var(axis=p, keepdims=True),
            _nonscalar(lambda s, b: _elementwise_result([s], b * b)),
            _axis_of,
            text="{0}.var(axis={p}, keepdims=True)",
        ),
        GraphOp(
            "logsumexp",
            1,
            lambda a, p: a[0].logsumexp(axis=p, keepdims=True),
            _nonscalar(lambda s, b: _elementwise_result([s], b + math.log(max(s)))),
            _axis_of,
            text="{0}.logsumexp(axis={p}, keepdims=True)",
        ),
        GraphOp(
            "softmax",
            1,
            lambda a, p: a[0].softmax(axis=p),
            _nonscalar(lambda s, b: (s, 1.0)),
            _axis_of,
            text="{0}.softmax(axis={p})",
        ),
        GraphOp(
            "log_softmax",
            1,
            lambda a, p: a[0].log_softmax(axis=p),
            _nonscalar(lambda s, b: _elementwise_result([s], 2 * b + math.log(max(s)))),
            _axis_of,
            text="{0}.log_softmax(axis={p})",
        ),
        GraphOp(
            "where",
            2,
            lambda a, p: tg.where(p, a[0], a[1]),
            lambda ss, bs: _broadcast_result(ss, max(bs)),
            _where_mask,
            text="where(mask{p.shape}, {0}, {1})",
        ),
        GraphOp(
            "stack",
            2,
            lambda a, p: _stack_mean(a[0], a[1], p),
            lambda ss, bs: _broadcast_result(ss, max(bs)),
            lambda ss: (lambda nd: st.integers(-nd - 1, nd))(len(np.broadcast_shapes(*ss))),
            text="stack([{0}, {1}], axis={p}).mean(axis={p})",
        ),
        GraphOp(
            "concatenate",
            2,
            lambda a, p: _concat_split(a[0], a[1], p),
            lambda ss, bs: (
                _broadcast_result(ss, bs[0] + bs[1] / 2) if len(np.broadcast_shapes(*ss)) else None
            ),
            lambda ss: (lambda nd: st.integers(-nd, nd - 1))(len(np.broadcast_shapes(*ss))),
            text="concatenate-and-split({0}, {1}, axis={p})",
        ),
        GraphOp(
            "matmul",
            2,
            lambda a, p: a[0] @ a[1].swapaxes(-1, -2),
            _matmul_check,
            text="{0} @ {1}.swapaxes(-1, -2)",
        ),
    ]
}
