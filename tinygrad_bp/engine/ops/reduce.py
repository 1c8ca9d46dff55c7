"""Reductions (sum, mean, max, min, logsumexp, var) and the softmax family; float32 sums
are accumulated in float64 where numpy would add naively."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import _axis
from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops.shims import _arr, _c, _exp, broadcast_to
from tinygrad_bp.engine.ops.sums import adds_naively, norm_axes, reduce_sum
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "LogSoftmax",
    "LogSumExp",
    "Max",
    "Mean",
    "Min",
    "Softmax",
    "Sum",
    "log_softmax",
    "logsumexp",
    "softmax",
    "var",
]


def _keep_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape a reduction over ``axis`` has with keepdims=True."""
    axes = norm_axes(len(shape), axis)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class _Reduce(Function):
    hint = "axis must be an int or a tuple of distinct ints in [-ndim, ndim)"

    @staticmethod
    def _setup(ctx: Any, x: np.ndarray, axis: Any) -> None:
        ctx.shape = x.shape
        ctx.axes = norm_axes(x.ndim, axis)
        ctx.kshape = tuple(1 if i in ctx.axes else n for i, n in enumerate(x.shape))


# numpy sums pairwise (error ~ log2(n) ulp) only along the innermost memory axis; over any
# other axis it adds row after row (error ~ n ulp): in float32, var(axis=0) of 10^5 samples of
# N(1e4, 1) came out 55 instead of 1 and 10^7 x 0.1 over axis 0 summed to 1,087,937. Those
# reductions accumulate in float64 instead (the result is then nearly correctly rounded).
# Measured (one thread, us, float32 sum over axis 0, numpy 2 / OpenBLAS):
#       shape        float32 (naive)   float64 accumulator   moveaxis copy + pairwise
#     (64, 10)            1.7               2.3                    4.3
#     (64, 100)           2.1               4.3                    8.0
#     (1024, 100)        24                49                     69
#     (1000, 1000)      141               376                    860
#     (100000, 3)      1208              1283                    165
# The float64 accumulator costs at most ~2.7x a naive pass, on any shape, and makes the result
# independent of the summation order; float32 BLAS (ones @ x) is fast but as inaccurate as the
# naive sum (1.5e-3 relative on 10^7 x 0.1). Pairwise reductions (the innermost axes of a
# C-contiguous array, e.g. ``loss.sum()``) and those of fewer than 8 terms (numpy's pairwise
# sum adds those one by one too) keep numpy's float32 sum.
class Sum(_Reduce):
    """z = sum(x, axis);  dz/dx = 1 (g broadcast back over the reduced axes)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        _Reduce._setup(ctx, x, axis)
        if adds_naively(x, ctx.axes):  # float64 accumulator (see reduce_sum)
            return x.sum(axis=axis, dtype=np.float64, keepdims=keepdims).astype(x.dtype)
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return broadcast_to(g.reshape(ctx.kshape), ctx.shape)


class Mean(_Reduce):
    """z = mean(x, axis);  dz/dx = 1/n"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        _Reduce._setup(ctx, x, axis)
        n = x.size // max(int(np.prod(ctx.kshape)), 1) if x.size else 0
        if n == 0:
            raise ValueError(
                f"mean: the reduced axes of shape {x.shape} are empty (mean of nothing)"
            )
        ctx.scale = _c(1.0 / n, x) if x.dtype.kind == "f" else 1.0 / n
        if adds_naively(x, ctx.axes):  # float64 accumulator (see reduce_sum), divided in it
            return x.mean(axis=axis, dtype=np.float64, keepdims=keepdims).astype(x.dtype)  # type: ignore[no-any-return]
        return x.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return broadcast_to(g.reshape(ctx.kshape) * ctx.scale, ctx.shape)


class Max(_Reduce):
    """z = max(x, axis);  dz/dx = 1 at the maximum; tied maxima share it equally"""

    grads_are_new = True

    save_inputs = True
    save_output = True
    pick = staticmethod(np.max)

    @classmethod
    def _fwd(cls, ctx: Any, x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
        _Reduce._setup(ctx, x, axis)
        if x.size == 0:
            raise ValueError(
                f"{cls.__name__.lower()}: cannot reduce an empty array of shape {x.shape}"
            )
        return cls.pick(x, axis=axis, keepdims=keepdims)  # type: ignore[no-any-return, arg-type]

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return Max._fwd(ctx, x, axis, keepdims)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = _arr(ctx.inputs[0])
        hit = x == _arr(ctx.out).reshape(ctx.kshape)
        share = hit / np.maximum(hit.sum(axis=ctx.axes, keepdims=True), 1)
        return g.reshape(ctx.kshape) * share.astype(x.dtype)


class Min(Max):
    """z = min(x, axis);  dz/dx = 1 at the minimum; tied minima share it equally"""

    pick = staticmethod(np.min)

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return Min._fwd(ctx, x, axis, keepdims)


class LogSumExp(_Reduce):
    """z = log(sum(e^x, axis)), max-shifted;  dz/dx = e^(x - z) (the softmax)"""

    saved_attrs = ("m", "log_s")
    grads_are_new = True

    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        _Reduce._setup(ctx, x, axis)
        ctx.m, ctx.log_s = _logsumexp_parts(x, axis)
        out = ctx.log_s + ctx.m
        if keepdims:
            return out  # type: ignore[no-any-return]
        return out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in ctx.axes))  # type: ignore[no-any-return]

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        if isinstance(x, Tensor):  # create_graph: through z, so that it differentiates again
            return g.reshape(ctx.kshape) * (x - ctx.out.reshape(ctx.kshape)).exp()
        # e^((x - m) - log_s), not e^(x - z): z is rounded to x's magnitude (by 0.5 at 1e7 in
        # float32), which would scale every gradient by up to e^0.5.
        with np.errstate(invalid="ignore"):  # all -inf rows: nan, as e^(x - z) gives
            return g.reshape(ctx.kshape) * np.exp((x - ctx.m) - ctx.log_s)


def _logsumexp_parts(x: np.ndarray, axis: Any) -> tuple[np.ndarray, np.ndarray]:
    """(m, log(sum(e^(x - m)))) with keepdims=True, m the max: their sum is logsumexp, and
    the shift keeps exp from overflowing."""
    if x.size == 0:
        raise ValueError(f"logsumexp: cannot reduce an empty array of shape {x.shape}")
    m = _shift(x, axis)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for all -inf rows
        return m, np.log(reduce_sum(np.exp(x - m), axis, keepdims=True))


def _shift(x: np.ndarray, axis: Any) -> np.ndarray:
    """The max over ``axis`` (keepdims), 0 where it is not finite (all -inf or inf: no shift)."""
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


class Softmax(Function):
    """z = e^x / sum(e^x) along axis;  dx = z * (g - sum(g z))"""

    grads_are_new = True

    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: int = -1) -> np.ndarray:
        _check_axis(x, axis, "softmax")
        ctx.axis = axis
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / reduce_sum(e, axis, keepdims=True)  # type: ignore[no-any-return]

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        out = ctx.out
        return out * (g - (g * out).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """z = x - logsumexp(x) along axis;  dx = g - e^z * sum(g)"""

    grads_are_new = True

    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: int = -1) -> np.ndarray:
        _check_axis(x, axis, "log_softmax")
        ctx.axis = axis
        # Shift first: x - m is exact near the max, while x - logsumexp(x) would round the
        # logsumexp to x's magnitude first (3e-4 off at logits of 1e4 in float32, 0.45 at 1e7).
        s = x - _shift(x, axis)
        with np.errstate(divide="ignore"):  # all -inf rows: log(0) = -inf, as logsumexp
            return s - np.log(reduce_sum(np.exp(s), axis, keepdims=True))  # type: ignore[no-any-return]

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g - _exp(ctx.out) * g.sum(axis=ctx.axis, keepdims=True)


def _check_axis(x: np.ndarray, axis: Any, name: str) -> None:
    if not isinstance(axis, (int, np.integer)) or not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise np.exceptions.AxisError(f"{name}: axis {axis!r} is out of range for shape {x.shape}")
    if x.ndim == 0:
        raise ValueError(f"{name}: needs at least one dimension, got a 0-d array")
    if x.shape[axis] == 0:
        raise ValueError(f"{name}: axis {axis} of shape {x.shape} is empty")


def var(x: Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis`` (numpy's ``ddof``): mean((x - mean)^2) * n / (n - ddof)."""
    ax = _axis(axis)
    n = x.size // max(int(np.prod(_keep_shape(x.shape, ax))), 1) if x.size else 0
    if n - ddof <= 0:
        raise ValueError(
            f"var: {n} element(s) per reduction of shape {x.shape} with ddof={ddof} "
            "leave no degrees of freedom"
        )
    d = x - x.mean(axis=ax, keepdims=True)
    # The corrected two-pass algorithm (Chan, Golub & LeVeque): the mean is rounded to x's
    # dtype (by up to 0.03 at 1e6 in float32), so d is off by the constant mean(d) and sum(d^2)
    # by n * mean(d)^2 (0.1% of a variance of 1 at 1e6). Subtracting it fixes the value; the
    # gradient, 2 (d - mean(d)) / (n - ddof) through the mean, is already exact, so the
    # correction is a constant outside the graph.
    dm = reduce_sum(d.data, ax, keepdims) * (1.0 / n)  # an array: outside the graph
    return ((d * d).sum(axis=ax, keepdims=keepdims) - dm * dm * n) * (1.0 / (n - ddof))


def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, stable."""
    return x.logsumexp(axis=axis, keepdims=keepdims)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Softmax along ``axis``."""
    return x.softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Log-softmax along ``axis``."""
    return x.log_softmax(axis)


# --------------------------------------------------------------------------- movement
