"""float32 sums as accurate as PyTorch's: numpy adds pairwise only along a contiguous axis and
naively otherwise (1e7 x 0.1 sums to 1,087,937 in float32), so such sums accumulate in
float64. Used by the reductions and by the walk's ``sum_to``; measured in
tests/test_numerics.py (accuracy) and ``benchmarks/ab_trees.py --what reductions`` (cost)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["reduce_sum", "sum_rows"]


def norm_axes(ndim: int, axis: Any) -> tuple[int, ...]:
    """``axis`` (None, int or tuple, negatives allowed) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise np.exceptions.AxisError(a, ndim)
    norm = sorted({a % max(ndim, 1) for a in axes}) if ndim else []
    if len(norm) != len(axes) and ndim:
        raise ValueError(f"repeated axis in {axes}")
    return tuple(norm)


_PAIRWISE_MIN = 8
_NARROW = frozenset(np.dtype(t) for t in (np.float16, np.float32))


def adds_naively(x: np.ndarray, axes: tuple[int, ...]) -> bool:
    """A float32/float16 sum over ``axes`` that numpy would not sum pairwise."""
    if x.dtype not in _NARROW or (len(axes) == x.ndim and x.flags.c_contiguous):
        return False  # wider floats, ints, and whole C-contiguous arrays (pairwise)
    shape = x.shape
    n = 1
    for a in axes:
        n *= shape[a]
    if n < _PAIRWISE_MIN:
        return False
    if x.ndim <= 1:
        return False  # a 1-D sum is pairwise at any stride
    if not x.flags.c_contiguous:
        return True
    kept_inside = False  # the reduced axes (length-1 axes aside) must be the innermost ones
    for i in range(x.ndim - 1, -1, -1):
        if shape[i] == 1:
            continue
        if i not in axes:
            kept_inside = True
        elif kept_inside:
            return True
    return False


def reduce_sum(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.sum(x, axis)``, accumulated in float64 where float32 would add naively."""
    if (axis is None or axis == -1 or axis == x.ndim - 1) and x.flags.c_contiguous:
        # the innermost axis or all of a C-contiguous array: pairwise (e.g. softmax's rows)
        return x.sum(axis=axis, keepdims=keepdims)
    if adds_naively(x, norm_axes(x.ndim, axis)):
        return x.sum(axis=axis, dtype=np.float64, keepdims=keepdims).astype(x.dtype)
    return x.sum(axis=axis, keepdims=keepdims)


def sum_rows(g: np.ndarray) -> np.ndarray:
    """Sum over axis 0 of a 2-D array (a batch's bias gradient): ``reduce_sum(g, 0)`` without
    its checks, for the training step's hot path."""
    if g.dtype in _NARROW and g.shape[0] >= _PAIRWISE_MIN:
        return np.add.reduce(g, axis=0, dtype=np.float64).astype(g.dtype)  # type: ignore[no-any-return]
    return np.add.reduce(g, axis=0)  # type: ignore[no-any-return]
