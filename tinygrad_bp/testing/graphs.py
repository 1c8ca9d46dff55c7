"""``graphs()``: random expression DAGs over the public op set, for gradient tests.

A drawn :class:`Graph` is a small program: inputs of shapes that broadcast to a common shape,
then steps, each applying an op to earlier values (any earlier value, so values fan out into
several consumers), and an output that adds up every value nobody consumed (so every input
matters). Only smooth ops with safe domains are used (``log(x*x + 1)``, ``y / (x*x + 1)``, exp of
bounded values), so finite differences are meaningful at any drawn point and every graph is
twice differentiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.testing.graph_ops import GRAPH_OPS, INPUT_BOUND
from tinygrad_bp.testing.strategies import Shape, arrays, shapes

__all__ = ["GRAPH_OPS", "Graph", "graphs"]


@dataclass(frozen=True)
class _Step:
    op: str
    args: tuple[int, ...]
    param: Any


@dataclass(frozen=True, eq=False)
class Graph:
    """A random expression DAG: ``graph(*graph.inputs)`` evaluates it on Tensors.

    Attributes:
        inputs: float64 leaf Tensors with ``requires_grad=True``.
        steps: the program; value ``i`` is input ``i`` for ``i < len(inputs)``, then each step
            appends one value.
        outputs: the values added up to form the output (every value nobody consumed).
    """

    inputs: tuple[Tensor, ...]
    steps: tuple[_Step, ...]
    outputs: tuple[int, ...]

    def __call__(self, *xs: Tensor) -> Tensor:
        if len(xs) != len(self.inputs):
            raise TypeError(f"this graph takes {len(self.inputs)} inputs, got {len(xs)}")
        vals: list[Tensor] = list(xs)
        for s in self.steps:
            vals.append(GRAPH_OPS[s.op].apply([vals[i] for i in s.args], s.param))
        out = vals[self.outputs[0]]
        for i in self.outputs[1:]:
            out = out + vals[i]
        return out

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # hypothesis prints the program
        p.text(repr(self))

    def __repr__(self) -> str:
        n = len(self.inputs)
        lines = [f"x{i}: shape {x.shape} = {_short(x.data)}" for i, x in enumerate(self.inputs)]

        def name(i: int) -> str:
            return f"x{i}" if i < n else f"v{i - n}"

        for k, s in enumerate(self.steps):
            op = GRAPH_OPS[s.op]
            args = [name(i) for i in s.args]
            text = op.text.format(*args, name=op.name, args=", ".join(args), p=s.param)
            lines.append(f"v{k} = {text}")
        lines.append("out = " + " + ".join(name(i) for i in self.outputs))
        return "Graph(\n  " + "\n  ".join(lines) + "\n)"


def _short(a: np.ndarray) -> str:
    return np.array2string(a, precision=17, separator=", ", threshold=30).replace("\n", "")


def _sub_shape(shape: Shape) -> st.SearchStrategy[Shape]:
    """A shape that broadcasts to ``shape``: a suffix of it with some axes set to 1."""
    nd = len(shape)
    return st.integers(0, nd).flatmap(
        lambda k: st.tuples(*[st.sampled_from((n, 1)) for n in shape[nd - k :]])
    )


def _fits(shape: Shape, top: Shape) -> bool:
    try:
        return np.broadcast_shapes(shape, top) == top
    except ValueError:
        return False


@st.composite
def _graphs(
    draw: st.DrawFn,
    max_inputs: int,
    min_ops: int,
    max_ops: int,
    min_dims: int,
    max_dims: int,
    max_side: int,
    ops: tuple[str, ...],
) -> Graph:
    top = draw(shapes(min_dims, max_dims, 1, max_side), label="common shape")
    n_in = draw(st.integers(1, max_inputs), label="number of inputs")
    ins = []
    for k in range(n_in):
        s = top if k == 0 else draw(_sub_shape(top))  # one input spans the common shape
        ins.append(Tensor(draw(arrays(s, domain=(-INPUT_BOUND, INPUT_BOUND))), requires_grad=True))
    info: list[tuple[Shape, float]] = [(x.shape, INPUT_BOUND) for x in ins]
    used = [False] * n_in
    steps: list[_Step] = []
    for _ in range(draw(st.integers(min_ops, max_ops), label="number of ops")):
        last = len(info) - 1
        picks = [last - draw(st.integers(0, last)) for _ in range(2)]  # shrinks to a chain
        choices = []
        for name in ops:
            op = GRAPH_OPS[name]
            args = picks[: op.arity]
            res = op.check([info[i][0] for i in args], [info[i][1] for i in args])
            if res is not None and _fits(res[0], top):
                choices.append((name, tuple(args), res))
        if not choices:
            continue
        name, chosen, res = draw(st.sampled_from(choices))
        op = GRAPH_OPS[name]
        param = draw(op.param([info[i][0] for i in chosen])) if op.param else None
        steps.append(_Step(name, chosen, param))
        for i in chosen:
            used[i] = True
        # the exact shape (a keepdims reduction makes an axis 1): run the op on zeros
        probe = [Tensor(np.zeros(info[i][0])) for i in chosen]
        info.append((op.apply(probe, param).shape, res[1]))
        used.append(False)
    outputs = tuple(i for i, u in enumerate(used) if not u)
    return Graph(tuple(ins), tuple(steps), outputs)


def graphs(
    max_inputs: int = 3,
    min_ops: int = 1,
    max_ops: int = 6,
    min_dims: int = 1,
    max_dims: int = 2,
    max_side: int = 3,
    ops: Sequence[str] | None = None,
) -> st.SearchStrategy[Graph]:
    """Random expression DAGs; call one with its inputs: ``g(*g.inputs)``.

    Args:
        max_inputs: at most this many float64 inputs (values in [-2, 2], ``requires_grad``).
        min_ops, max_ops: the number of steps.
        min_dims, max_dims, max_side: bound the common shape all values broadcast to
            (inputs may have fewer dims or size-1 axes; 0-d graphs need ``min_dims=0``).
        ops: names from ``GRAPH_OPS`` to draw from (default: all of them).

    Example::

        @given(graphs())
        def test_graph_gradients(g):
            assert_gradients_match(g, *g.inputs)
    """
    names = tuple(GRAPH_OPS) if ops is None else tuple(ops)
    unknown = [n for n in names if n not in GRAPH_OPS]
    if unknown or not names:
        raise ValueError(f"graphs: unknown ops {unknown}; choose from {sorted(GRAPH_OPS)}")
    if not 1 <= max_inputs or not 0 <= min_ops <= max_ops:
        raise ValueError("graphs: need max_inputs >= 1 and 0 <= min_ops <= max_ops")
    if not 0 <= min_dims <= max_dims:
        raise ValueError("graphs: need 0 <= min_dims <= max_dims")
    return _graphs(max_inputs, min_ops, max_ops, min_dims, max_dims, max_side, names)
