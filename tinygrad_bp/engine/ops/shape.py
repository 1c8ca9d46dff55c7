"""Ops that rearrange or pick elements: flip, roll and constant padding as primitives; ravel,
rot90, repeat, tile, the other pad modes, triu/tril, diag, diagonal, trace, split/chunk,
take_along_axis/gather, scatter_add and linspace composed from them and from reshape,
broadcast_to and indexing (whose backward scatters with ``np.add.at``, so picking an element
twice adds both gradients).

Index arrays carry the choice: ``pad(mode="reflect")`` is ``x[np.ix_(*sources)]`` with the
source positions numpy's own ``np.pad`` gives for ``arange(n)``; ``repeat`` indexes with
``np.repeat(arange(n), repeats)``; ``take_along_axis`` with numpy's broadcast index grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops.binary import where
from tinygrad_bp.engine.ops.movement import IndexAdd
from tinygrad_bp.engine.ops.shims import _as_tensor
from tinygrad_bp.engine.ops.sums import norm_axes
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "Flip",
    "Pad",
    "Roll",
    "chunk",
    "diag",
    "diagonal",
    "linspace",
    "pad",
    "repeat",
    "rot90",
    "scatter_add",
    "split",
    "take_along_axis",
    "tile",
    "trace",
    "tril",
    "triu",
]


class Flip(Function):
    """z = x reversed along axis (all axes for None);  dx = g reversed the same way"""

    view = True  # the output may share the input's memory (and version counter)
    hint = "axis must be None, an int or a tuple of distinct ints in [-ndim, ndim)"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None) -> np.ndarray:
        ctx.axis = norm_axes(x.ndim, axis)
        return np.flip(x, ctx.axis)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g.flip(ctx.axis) if isinstance(g, Tensor) else np.flip(g, ctx.axis)


class Roll(Function):
    """z = x shifted cyclically by shift along axis (flattened for None);  dx = g rolled back"""

    grads_are_new = True
    hint = "shift and axis must be ints, or tuples of equal length"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shift: Any, axis: Any = None) -> np.ndarray:
        ctx.back = (tuple(-s for s in shift) if isinstance(shift, tuple) else -shift, axis)
        return np.roll(x, shift, axis)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        shift, axis = ctx.back
        return g.roll(shift, axis) if isinstance(g, Tensor) else np.roll(g, shift, axis)


def _pad_width(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """numpy's pad_width (int, (before, after) or one pair per axis) as one pair per axis."""
    w = np.asarray(pad_width)
    if w.dtype.kind not in "iu" or w.ndim > 2:
        raise ValueError(f"pad: pad_width must be ints, got {pad_width!r}")
    try:
        pairs = np.broadcast_to(w, (ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit {ndim} axes: give an int, one "
            "(before, after) pair, or one pair per axis"
        ) from None
    if (pairs < 0).any():
        raise ValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
    return tuple((int(a), int(b)) for a, b in pairs)


class Pad(Function):
    """z = x surrounded by ``value`` (pad_width per axis, as np.pad);  dx = the middle of g"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, pad_width: Any, value: float = 0.0) -> np.ndarray:
        pairs = _pad_width(pad_width, x.ndim)
        ctx.inner = tuple(slice(a, a + n) for (a, _), n in zip(pairs, x.shape))
        return np.pad(x, pairs or 0, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g[ctx.inner]


def pad(x: Tensor, pad_width: Any, mode: str = "constant", value: float = 0.0) -> Tensor:
    """``np.pad``: mode "constant" (``value``), "reflect", "symmetric", "edge" or "wrap"; the
    gradient of a border element goes back to the element it copies (and adds up there)."""
    x = _as_tensor(x)
    if mode == "constant":
        return Pad.apply(x, pad_width=pad_width, value=value)
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'symmetric', 'edge' or 'wrap', got {mode!r}"
        )
    pairs = _pad_width(pad_width, x.ndim)
    if any(n == 0 and (a or b) for n, (a, b) in zip(x.shape, pairs)):
        raise ValueError(f"pad: cannot {mode}-pad an empty axis of shape {x.shape}")
    sources = [np.pad(np.arange(n), p, mode=mode) for n, p in zip(x.shape, pairs)]  # type: ignore[call-overload]
    return x[np.ix_(*sources)] if x.ndim else x


# --------------------------------------------------------------------------- composed
def ravel(x: Tensor) -> Tensor:
    """The elements as a 1-D tensor (C order)."""
    return _as_tensor(x).reshape(-1)


def rot90(x: Tensor, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90 degrees k times in the plane of ``axes`` (from the first axis towards the
    second, as ``np.rot90``): flips and a transpose."""
    x = _as_tensor(x)
    a, b = axes
    if x.ndim < 2 or len({a % max(x.ndim, 1), b % max(x.ndim, 1)}) != 2:
        raise ValueError(f"rot90: axes {tuple(axes)} must be two different axes of shape {x.shape}")
    k %= 4
    if k == 0:
        return x[...]
    if k == 2:
        return x.flip((a, b))
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return x.flip(b).transpose(perm) if k == 1 else x.transpose(perm).flip(b)


def repeat(x: Tensor, repeats: Any, axis: int | None = None) -> Tensor:
    """``np.repeat``: each element ``repeats`` times along ``axis`` (of the flattened tensor for
    None); an index array picks them, so their gradients add up."""
    x = _as_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    ax = norm_axes(x.ndim, axis)[0]
    idx = np.repeat(np.arange(x.shape[ax]), repeats)
    return x[(slice(None),) * ax + (idx,)]


def tile(x: Tensor, reps: Any) -> Tensor:
    """``np.tile``: the tensor repeated ``reps`` times per axis (broadcast, then reshaped)."""
    x = _as_tensor(x)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    nd = max(x.ndim, len(reps))
    shape = (1,) * (nd - x.ndim) + x.shape
    reps = (1,) * (nd - len(reps)) + reps
    spread = [d for n in shape for d in (1, n)]  # (1, n0, 1, n1, ...) -> (r0, n0, r1, n1, ...)
    wide = [d for r, n in zip(reps, shape) for d in (r, n)]
    out = x.reshape(spread).broadcast_to(wide)
    return out.reshape(tuple(r * n for r, n in zip(reps, shape)))


def _tri_mask(x: Tensor, k: int, upper: bool) -> np.ndarray:
    if x.ndim < 2:
        raise ValueError(f"{'triu' if upper else 'tril'}: needs at least 2 dims, got {x.shape}")
    n, m = x.shape[-2:]
    lower = np.tri(n, m, k - 1 if upper else k, dtype=bool)
    return ~lower if upper else lower


def triu(x: Tensor, k: int = 0) -> Tensor:
    """The upper triangle (on and above diagonal ``k``) of the last two axes; zeros below."""
    x = _as_tensor(x)
    return where(_tri_mask(x, k, True), x, 0.0)


def tril(x: Tensor, k: int = 0) -> Tensor:
    """The lower triangle (on and below diagonal ``k``) of the last two axes; zeros above."""
    x = _as_tensor(x)
    return where(_tri_mask(x, k, False), x, 0.0)


def _diag_index(n: int, m: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column positions of diagonal ``k`` of an n x m matrix."""
    rows = np.arange(max(0, -k), min(n, m - k)) if min(n, m - k) > max(0, -k) else np.arange(0)
    return rows, rows + k


def diagonal(x: Tensor, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """``np.diagonal``: diagonal ``offset`` of the planes of axes (axis1, axis2), as a new
    last axis."""
    x = _as_tensor(x)
    a, b = norm_axes(x.ndim, axis1)[0], norm_axes(x.ndim, axis2)[0]
    if a == b:
        raise ValueError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}")
    rest = [i for i in range(x.ndim) if i not in (a, b)]
    rows, cols = _diag_index(x.shape[a], x.shape[b], offset)
    return x.transpose([*rest, a, b])[..., rows, cols]


def diag(x: Tensor, k: int = 0) -> Tensor:
    """``np.diag``: of a 1-D tensor, the square matrix with it on diagonal ``k``; of a 2-D one,
    its diagonal ``k``."""
    x = _as_tensor(x)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(f"diag: needs a 1-D or 2-D tensor, got shape {x.shape}")
    n = x.shape[0] + abs(k)
    rows, cols = _diag_index(n, n, k)
    return IndexAdd.apply(x, shape=(n, n), index=(rows, cols))


def trace(x: Tensor, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """Sum of diagonal ``offset`` of the planes of axes (axis1, axis2)."""
    return diagonal(x, offset, axis1, axis2).sum(-1)


def split(x: Tensor, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """``np.split``: into N equal parts (an int that divides the axis) or at the given indices."""
    x = _as_tensor(x)
    ax = norm_axes(x.ndim, axis)[0]
    n = x.shape[ax]
    if np.ndim(indices_or_sections) == 0:
        parts = int(indices_or_sections)
        if parts <= 0 or n % parts:
            raise ValueError(
                f"split: {parts} sections do not divide axis {axis} of shape {x.shape} "
                "equally; give split indices or use chunk"
            )
        cuts = list(range(0, n + 1, n // parts)) if n else [0] * (parts + 1)
    else:
        cuts = [0, *(min(int(i), n) for i in indices_or_sections), n]
    lead = (slice(None),) * ax
    return [x[lead + (slice(a, max(a, b)),)] for a, b in itertools.pairwise(cuts)]  # noqa: RUF005 (py3.10)


def chunk(x: Tensor, chunks: int, axis: int = 0) -> list[Tensor]:
    """PyTorch's chunk: at most ``chunks`` parts of ceil(n / chunks) along ``axis`` (the last
    one smaller)."""
    x = _as_tensor(x)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[norm_axes(x.ndim, axis)[0]]
    size = max(-(-n // chunks), 1)
    return split(x, list(range(size, n, size)), axis)


def _along_axis(
    x_shape: tuple[int, ...], indices: np.ndarray, axis: int, fn: str
) -> tuple[Any, ...]:
    """numpy's index grid for take_along_axis: ``indices`` on ``axis``, aranges elsewhere."""
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fn}: indices must be integers, got dtype {idx.dtype}")
    if idx.ndim != len(x_shape):
        raise ValueError(
            f"{fn}: indices need as many dims as the tensor ({len(x_shape)}), got shape {idx.shape}"
        )
    ax = norm_axes(len(x_shape), axis)[0]
    grid = []
    for i, n in enumerate(x_shape):
        if i == ax:
            grid.append(idx.copy())
        else:
            grid.append(np.arange(n).reshape([-1 if j == i else 1 for j in range(len(x_shape))]))
    return tuple(grid)


def take_along_axis(x: Tensor, indices: Any, axis: int) -> Tensor:
    """``np.take_along_axis``: x[..., indices[i, j], ...] along ``axis`` (repeats add up in the
    gradient)."""
    x = _as_tensor(x)
    return x[_along_axis(x.shape, indices, axis, "take_along_axis")]


def scatter_add(x: Tensor, axis: int, index: Any, src: Any) -> Tensor:
    """PyTorch's scatter_add: x with src[i, j] added at position index[i, j] along ``axis``
    (repeated positions add up); differentiable in x and src."""
    x, src = _as_tensor(x), _as_tensor(src)
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if src.shape != idx.shape:
        src = src[tuple(slice(0, n) for n in idx.shape)]  # PyTorch uses src's leading part
    grid = _along_axis(idx.shape, idx, axis, "scatter_add")
    return x + IndexAdd.apply(src, shape=x.shape, index=grid)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True) -> Tensor:
    """``num`` evenly spaced values from start to stop (numbers or Tensors of one shape: then
    along a new first axis, and differentiable in them)."""
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    if not isinstance(start, Tensor) and not isinstance(stop, Tensor):
        return Tensor(np.linspace(start, stop, num, endpoint=endpoint, dtype=np.float32))
    ref = start if isinstance(start, Tensor) else stop
    div = (num - 1) if endpoint else num
    steps = np.arange(num, dtype=ref.dtype) / max(div, 1)
    start, stop = _as_tensor(start), _as_tensor(stop)
    steps = steps.reshape((num,) + (1,) * max(start.ndim, stop.ndim))
    return start + (stop - start) * steps
