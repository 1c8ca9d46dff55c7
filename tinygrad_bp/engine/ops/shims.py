"""What the backward formulas share: the few functions that differ between ndarrays and
Tensors (one helper each, branching on the type), cached constants, and the saving rules.

Each backward is one formula over what ndarrays and Tensors share (``+ - * / ** @``, ``.T``,
``.reshape``, ``.sum``) plus these shims, so the same code runs on arrays (fast) and, under
``create_graph=True``, on Tensors (differentiable again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import _ONES, const_of
from tinygrad_bp.engine.tensor import Tensor


def each_for_the_other(
    tensors: Sequence[Any], arrays: Sequence[Any], needs: Sequence[bool]
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The inputs ``x (op) y`` keeps when each gradient reads only the other input (x * y,
    x @ y): x only when y needs a gradient, and y only when x does (a frozen weight's
    layer then keeps no copy of its input); a third input (a bias) is not kept."""
    keep_x, keep_y = needs[1], needs[0]  # x is read by y's gradient, y by x's
    tx, ax = (tensors[0], arrays[0]) if keep_x else (None, None)
    ty, ay = (tensors[1], arrays[1]) if keep_y else (None, None)
    if len(tensors) == 2:
        return (tx, ty), (ax, ay)
    return (tx, ty, None), (ax, ay, None)  # x @ w + b: the bias is not kept


_BROADCAST_HINT = (
    "Shapes broadcast when, aligned from the right, each pair of sizes is equal or one of "
    "them is 1; reshape or expand_dims an operand"
)


def _arr(a: Any) -> Any:
    return a.data if isinstance(a, Tensor) else a


def _exp(a: Any) -> Any:
    return a.exp() if isinstance(a, Tensor) else np.exp(a)


def _log(a: Any) -> Any:
    return a.log() if isinstance(a, Tensor) else np.log(a)


def _where(cond: Any, a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        from tinygrad_bp.engine.ops.binary import Where

        return Where.apply(_arr(cond), a, b)
    return np.where(cond, a, b)


def broadcast_to(a: Any, shape: tuple[int, ...]) -> Any:
    """``np.broadcast_to`` for arrays and Tensors (differentiable for Tensors)."""
    if isinstance(a, Tensor):
        from tinygrad_bp.engine.ops.movement import BroadcastTo

        return a if a.shape == tuple(shape) else BroadcastTo.apply(a, shape=tuple(shape))
    return np.broadcast_to(a, shape)


def _matmul(a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        from tinygrad_bp.engine.ops.matmul import MatMul

        return MatMul.apply(a, b)
    if a.ndim == 2 and b.ndim == 2:
        return np.dot(a, b)  # np.dot is much faster than np.matmul for batch-1 outer products
    return np.matmul(a, b)


def _mT(a: Any) -> Any:
    return a.T if a.ndim == 2 else a.swapaxes(-1, -2)


def _one(like: Any) -> Any:
    """1 as a cached 0-d array of ``like``'s dtype (fast path of ``_c(1.0, like)``)."""
    return _ONES.get(like.dtype, 1.0)


def _c(v: float, like: Any) -> Any:
    """``v`` as a cached 0-d array of ``like``'s float dtype (a plain number for Tensors,
    whose operators do the same)."""
    if isinstance(like, Tensor) or like.dtype.kind != "f":
        return v
    return const_of(v, like.dtype)


def _dtype_of(a: Any) -> np.dtype:
    return a.dtype if isinstance(a, (Tensor, np.ndarray, np.generic)) else np.dtype(np.float64)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# --------------------------------------------------------------------------- matmul
