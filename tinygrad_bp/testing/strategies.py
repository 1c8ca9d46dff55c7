"""Hypothesis strategies for gradient tests: shapes, broadcastable shapes, arrays inside a
domain (away from kinks and poles), tensors and reduction axes.

Everything is float64 by default: finite differences need it (``tg.gradcheck`` works in float64).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "DOMAINS",
    "Domain",
    "Shape",
    "arrays",
    "axes",
    "broadcastable_shapes",
    "intervals",
    "shapes",
    "tensors",
]

Shape: TypeAlias = tuple[int, ...]
Domain: TypeAlias = Literal["real", "positive", "negative", "unit", "nonzero"] | tuple[float, float]

# Named domains as closed intervals. They are bounded on purpose: gradient checks want values of
# moderate size (exp(3) is fine, exp(300) is not), and "positive" starts at 0.1, not 0, so that
# log, sqrt and 1/x stay well away from their pole.
DOMAINS: dict[str, tuple[float, float]] = {
    "real": (-3.0, 3.0),
    "positive": (0.1, 3.0),
    "negative": (-3.0, -0.1),
    "unit": (-0.99, 0.99),  # the open interval (-1, 1), kept 0.01 away from its ends
}
_NONZERO_GAP = 0.1  # "nonzero" is "real" without (-0.1, 0.1)


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` elements each
    (0-d and size-1 axes included by default; they shrink towards ``()``)."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    num_shapes: int = 2,
    min_dims: int = 0,
    max_dims: int | None = None,
    min_side: int = 1,
    max_side: int = 4,
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """``num_shapes`` shapes that broadcast with ``shape`` and with each other.

    Each shape has at most ``max_dims`` axes (default: as many as ``shape``); where it overlaps
    ``shape`` an axis is either ``shape``'s size or 1. The common shape is
    ``np.broadcast_shapes(shape, *result)``. ``shape`` may be a strategy; None draws one with
    ``shapes(max_side=max_side)``.

    Example: ``broadcastable_shapes((2, 3))`` can give ``((2, 3), (3,))``, ``((1, 3), (2, 1))``,
    ``((), (2, 3))`` ...
    """
    if num_shapes < 1:
        raise ValueError(f"broadcastable_shapes: num_shapes must be >= 1, got {num_shapes}")
    if shape is None:
        shape = shapes(max_side=max_side)
    if isinstance(shape, st.SearchStrategy):
        return shape.flatmap(
            lambda s: broadcastable_shapes(s, num_shapes, min_dims, max_dims, min_side, max_side)
        )
    base = tuple(int(n) for n in shape)
    top = len(base) if max_dims is None else max_dims
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes,
        base_shape=base,
        min_dims=min_dims,
        max_dims=max(top, min_dims),
        min_side=min_side,
        max_side=max(max_side, *base, 1),
    ).map(lambda b: tuple(b.input_shapes))


def intervals(
    domain: Domain = "real", away_from: float | Sequence[float] | None = None, margin: float = 0.01
) -> list[tuple[float, float]]:
    """The closed intervals that make up ``domain`` minus ``(p - margin, p + margin)`` for every
    point ``p`` in ``away_from`` (sorted, non-empty). Raises ValueError if nothing is left."""
    if isinstance(domain, str):
        if domain == "nonzero":
            lo, hi = DOMAINS["real"]
            parts = [(lo, -_NONZERO_GAP), (_NONZERO_GAP, hi)]
        elif domain in DOMAINS:
            parts = [DOMAINS[domain]]
        else:
            raise ValueError(
                f"unknown domain {domain!r}; use one of {[*DOMAINS, 'nonzero']} or a (lo, hi) pair"
            )
    else:
        lo, hi = (float(v) for v in domain)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"domain {domain!r} must be a finite (lo, hi) pair with lo <= hi")
        parts = [(lo, hi)]
    return _cut(parts, _points(away_from), margin)


def _points(away_from: float | Sequence[float] | None) -> list[float]:
    if away_from is None:
        return []
    if isinstance(away_from, (int, float, np.number)):
        return [float(away_from)]
    return [float(p) for p in away_from]


def _cut(
    parts: list[tuple[float, float]], points: list[float], margin: float
) -> list[tuple[float, float]]:
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    for p in points:
        nxt: list[tuple[float, float]] = []
        for lo, hi in parts:
            if p + margin <= lo or p - margin >= hi:  # the hole misses this piece (or touches)
                nxt.append((lo, hi))
                continue
            if lo < p - margin:
                nxt.append((lo, p - margin))
            if p + margin < hi:
                nxt.append((p + margin, hi))
        parts = nxt
    if not parts:
        raise ValueError(f"no values are left once {points} +- {margin} are removed")
    return sorted(parts)


def _floats(lo: float, hi: float, width: Literal[16, 32, 64]) -> st.SearchStrategy[float]:
    if width != 64:  # bounds must be representable: round them inwards
        ftype = np.float32 if width == 32 else np.float16
        lo_w, hi_w = ftype(lo), ftype(hi)
        if float(lo_w) < lo:
            lo_w = np.nextafter(lo_w, ftype(np.inf))
        if float(hi_w) > hi:
            hi_w = np.nextafter(hi_w, ftype(-np.inf))
        lo, hi = float(lo_w), float(hi_w)
    return st.floats(lo, hi, width=width, allow_nan=False, allow_subnormal=False)


def _elements(
    dtype: np.dtype, domain: Domain, away_from: float | Sequence[float] | None, margin: float
) -> st.SearchStrategy[Any]:
    if dtype.kind == "b":
        return st.booleans()
    parts = intervals(domain, away_from, margin)
    if dtype.kind in "iu":
        ints = [
            st.integers(math.ceil(lo), math.floor(hi)) for lo, hi in parts if math.ceil(lo) <= hi
        ]
        if not ints:
            raise ValueError(f"arrays: no integers in {parts}")
        return st.one_of(ints)
    if dtype.kind != "f":
        raise TypeError(f"arrays: unsupported dtype {dtype}; use a float, int or bool dtype")
    width: Literal[16, 32, 64] = 64 if dtype.itemsize >= 8 else (32 if dtype.itemsize == 4 else 16)
    floats = [_floats(lo, hi, width) for lo, hi in parts]
    return floats[0] if len(floats) == 1 else st.one_of(floats)


def _grid(
    dtype: np.dtype,
    domain: Domain,
    away_from: float | Sequence[float] | None,
    margin: float,
    gap: float,
) -> st.SearchStrategy[Any]:
    """Multiples of ``gap`` inside the domain: distinct draws are then ``gap`` apart."""
    if gap <= 0:
        raise ValueError(f"min_gap must be > 0, got {gap}")
    ints = []
    for lo, hi in intervals(domain, away_from, margin):
        a, b = math.ceil(lo / gap), math.floor(hi / gap)
        if a <= b:
            ints.append(st.integers(a, b).map(lambda k: float(np.asarray(k * gap, dtype))))
    if not ints:
        raise ValueError(f"arrays: no multiple of min_gap={gap} lies in the domain")
    return st.one_of(ints)


def _has_gap(a: np.ndarray, gap: float) -> bool:
    if a.size < 2:
        return True
    return bool(np.min(np.diff(np.sort(a, axis=None))) >= gap)


def arrays(
    shape: int | Shape | st.SearchStrategy[Shape] | None = None,
    dtype: npt.DTypeLike = np.float64,
    elements: st.SearchStrategy[Any] | None = None,
    domain: Domain | None = None,
    away_from: float | Sequence[float] | None = None,
    margin: float = 0.01,
    min_gap: float | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """ndarrays whose elements lie in ``domain``, at least ``margin`` away from ``away_from``.

    Args:
        shape: a shape, an int, a strategy of shapes, or None for ``shapes()``.
        dtype: the array dtype (float64 by default: what finite differences need).
        elements: a strategy for the elements; overrides ``domain`` and ``away_from``.
        domain: "real" [-3, 3], "positive" [0.1, 3], "negative" [-3, -0.1], "unit" (-1, 1)
            (kept 0.01 inside), "nonzero" ("real" without (-0.1, 0.1)) or a (lo, hi) pair.
            Default "real".
        away_from: a point or points to stay ``margin`` away from: the kinks and poles of the
            function under test (``away_from=0`` for relu and abs, the bounds for clip), so a
            finite difference never steps across one.
        margin: the half-width of the hole around each ``away_from`` point.
        min_gap: keep every two elements at least this far apart (no ties: for max, min,
            sort-like ops whose gradient jumps where two elements are equal). The elements
            are then distinct multiples of ``min_gap`` (up to rounding to ``dtype``).
    """
    dt = np.dtype(dtype)
    if elements is not None and (domain is not None or away_from is not None):
        raise ValueError("arrays: give either elements or domain/away_from, not both")
    if elements is None:
        if min_gap is not None:
            elements = _grid(dt, "real" if domain is None else domain, away_from, margin, min_gap)
        else:
            elements = _elements(dt, "real" if domain is None else domain, away_from, margin)
    if shape is None:
        shape = shapes()
    strat = hnp.arrays(dt, shape, elements=elements, unique=min_gap is not None)
    if min_gap is not None:
        gap = float(min_gap) * (1 - 1e-6)  # multiples of min_gap, up to rounding
        strat = strat.filter(lambda a: _has_gap(a, gap))
    return strat


def tensors(
    shape: int | Shape | st.SearchStrategy[Shape] | None = None,
    dtype: npt.DTypeLike = np.float64,
    requires_grad: bool = False,
    **kwargs: Any,
) -> st.SearchStrategy[Tensor]:
    """Tensors over ``arrays(shape, dtype, **kwargs)`` (same keywords: ``domain``,
    ``away_from``, ``margin``, ``min_gap``, ``elements``)."""
    return arrays(shape, dtype, **kwargs).map(lambda a: Tensor(a, requires_grad=requires_grad))


def axes(
    ndim: int,
    allow_none: bool = True,
    allow_int: bool = True,
    allow_tuple: bool = True,
    allow_empty: bool = True,
) -> st.SearchStrategy[int | tuple[int, ...] | None]:
    """The ``axis`` argument of a reduction over an ``ndim``-d array: None (all axes), an int
    in ``[-ndim, ndim)`` or a tuple of distinct axes (negative ones included; ``()`` reduces
    nothing unless ``allow_empty=False``)."""
    options: list[st.SearchStrategy[Any]] = []
    if allow_none:
        options.append(st.none())
    if allow_int and ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
    if allow_tuple:
        options.append(hnp.valid_tuple_axes(ndim, min_size=0 if allow_empty else min(1, ndim)))
    if not options:
        raise ValueError(f"axes: nothing to draw for ndim={ndim} with these allow_* flags")
    return st.one_of(options)
