"""Ops that move data without arithmetic: reshape, transpose, broadcast_to, indexing (and
its adjoint, index_add), concatenate and stack. The views among them share their input's
version counter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops.shims import _BROADCAST_HINT, _as_tensor
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "BroadcastTo",
    "Concatenate",
    "GetItem",
    "IndexAdd",
    "Reshape",
    "Transpose",
    "concatenate",
    "stack",
]


class Reshape(Function):
    """z = x.reshape(shape);  dx = g.reshape(x.shape)"""

    view = True  # the output may share the input's memory (and version counter)

    hint = "the new shape must have as many elements as the old one (one size may be -1)"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g.reshape(ctx.shape)


class Transpose(Function):
    """z = x.transpose(axes);  dx = g.transpose(inverse of axes)"""

    view = True  # the output may share the input's memory (and version counter)

    hint = "axes must be a permutation of range(ndim)"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
        ctx.inv = None if axes is None else tuple(np.argsort([a % max(x.ndim, 1) for a in axes]))
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g.transpose(ctx.inv) if ctx.inv is not None else g.transpose()


class BroadcastTo(Function):
    """z = broadcast_to(x, shape);  dx = g summed over the broadcast axes (by the engine)"""

    view = True  # the output may share the input's memory (and version counter)

    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g


def _has_int_array(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


class GetItem(Function):
    """z = x[index];  dx = zeros with g added at index (repeated indices accumulate)"""

    view = True  # the output may share the input's memory (and version counter)

    grads_are_new = True

    hint = "indices must be ints, slices, None, Ellipsis, bool masks or in-range integer arrays"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, index: Any) -> np.ndarray:
        ctx.shape = x.shape
        ctx.index = index
        out = x[index]
        if not isinstance(out, np.ndarray):  # ints for every axis: numpy gives a scalar copy;
            out = x[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]  # 0-d view
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return _index_add(g, ctx.shape, ctx.index)


def _index_add(g: Any, shape: tuple[int, ...], index: Any) -> Any:
    if isinstance(g, Tensor):
        return IndexAdd.apply(g, shape=shape, index=index)
    return IndexAdd.forward(None, g, shape, index)


class IndexAdd(Function):
    """z = zeros(shape) with x added at index;  dx = g[index]  (GetItem's backward)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
        if ctx is not None:
            ctx.index = index
        z = np.zeros(shape, dtype=x.dtype)
        if _has_int_array(index):
            np.add.at(z, index, x)  # repeated indices must accumulate
        else:
            z[index] = x  # basic indexing and masks never repeat an element
        return z

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g[ctx.index]


class Concatenate(Function):
    """z = concatenate(xs, axis);  dx_i = the slice of g that x_i filled"""

    hint = "all inputs need the same number of dims and equal sizes except along axis"

    @staticmethod
    def forward(ctx: Any, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        if not xs:
            raise ValueError("concatenate: needs at least one tensor")
        out = np.concatenate(xs, axis=axis)
        ctx.axis = axis % out.ndim
        ctx.bounds = np.cumsum([0] + [x.shape[ctx.axis] for x in xs]).tolist()
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        b = ctx.bounds
        lead = (slice(None),) * ctx.axis
        return tuple(
            g[lead + (slice(b[i], b[i + 1]),)] if need else None  # noqa: RUF005 (py3.10)
            for i, need in enumerate(ctx.needs_input_grad)
        )


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return Concatenate.apply(*[_as_tensor(t) for t in tensors], axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {[t.shape for t in ts]}")
    return concatenate([t.expand_dims(axis) for t in ts], axis=axis)
