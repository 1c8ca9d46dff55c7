"""How values become arrays inside ops: Python numbers as cached 0-d constants of the
tensor's dtype, lists and indices as arrays, axes as ints or tuples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor_core import TensorCore

Axis = int | Sequence[int] | None

_CONSTS: dict[np.dtype, dict[float, np.ndarray]] = {}


def _const(v: Any, like: TensorCore) -> Any:
    """A Python number becomes a read-only 0-d array of ``like``'s dtype (cached)."""
    tv = type(v)
    if tv is float or tv is int:
        dt = like.data.dtype
        cache = _CONSTS.get(dt)
        if cache is not None:
            c = cache.get(v)  # 2 and 2.0 share an entry: both become the same 0-d array
            if c is not None:
                return c
        return const_of(v, dt) if dt.kind == "f" else v
    if isinstance(v, TensorCore):
        return v
    if tv is np.ndarray:  # an op may save it: a copy, so a later change by the caller
        return v.copy() if v.flags.writeable else v  # cannot reach the graph
    if isinstance(v, (bool, np.generic)):
        return np.asarray(v)  # numpy scalars keep numpy's promotion rules
    if isinstance(v, (list, tuple)):
        arr = np.asarray(v)
        if arr.dtype.kind in "iuf" and like.data.dtype.kind == "f":
            return arr.astype(like.data.dtype)  # lists of numbers follow the tensor, as numbers do
        if arr.dtype.kind in "biuf":
            return arr
    raise TypeError(
        f"cannot combine a Tensor with {type(v).__name__} {v!r:.60}; use numbers, numeric arrays "
        "or Tensors"
    )


def const_of(v: float, dt: np.dtype) -> np.ndarray:
    """The cached read-only 0-d array holding ``v`` in dtype ``dt``: numpy combines it with
    an array much faster than a Python float, and keeps the array's dtype."""
    cache = _CONSTS.get(dt)
    if cache is None:
        cache = _CONSTS[dt] = {}
    c = cache.get(v)
    if c is None:
        if len(cache) > 4096:
            cache.clear()
        c = np.array(v, dtype=dt)
        c.flags.writeable = False
        cache[v] = c
    return c


_ONES = {np.dtype(t): const_of(1.0, np.dtype(t)) for t in (np.float16, np.float32, np.float64)}


def _data(v: Any) -> Any:
    return v.data if isinstance(v, TensorCore) else v


def _axis(axis: Axis) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return tuple(int(a) for a in axis)


def _index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays (numpy's own indexing rules apply)."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, TensorCore):
        return index.data.copy()
    if isinstance(index, np.ndarray):  # GetItem keeps the index for backward: a copy
        return index.copy()
    if isinstance(index, list):
        return np.asarray(index)
    return index
