"""The primitive ops, grouped: unary | binary | reduce | movement | matmul | special.

Each backward is one formula over what ndarrays and Tensors share, plus the few shims below
(``_exp``, ``_log``, ``_where``, ``broadcast_to``, ``_matmul``, ``_index_add``), so the same
code runs on arrays (fast) and, under ``create_graph=True``, on Tensors (differentiable again).
Grads come back in the output's (broadcast) shape; the engine sums them to each input's shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.autograd import Function
from tinygrad_bp.tensor import _ONES, Tensor, _axis, _const, const_of

__all__ = [
    "Abs",
    "Add",
    "BroadcastTo",
    "Cast",
    "Clip",
    "Clone",
    "Concatenate",
    "Div",
    "Exp",
    "GetItem",
    "IndexAdd",
    "Log",
    "LogSoftmax",
    "LogSumExp",
    "MatMul",
    "Max",
    "Maximum",
    "Mean",
    "Min",
    "Minimum",
    "Mul",
    "Neg",
    "Pow",
    "Relu",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "Sqrt",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Where",
]

_BROADCAST_HINT = (
    "Shapes broadcast when, aligned from the right, each pair of sizes is equal or one of "
    "them is 1; reshape or expand_dims an operand"
)


# --------------------------------------------------------------------------- shims
def _arr(a: Any) -> Any:
    return a.data if isinstance(a, Tensor) else a


def _exp(a: Any) -> Any:
    return a.exp() if isinstance(a, Tensor) else np.exp(a)


def _log(a: Any) -> Any:
    return a.log() if isinstance(a, Tensor) else np.log(a)


def _where(cond: Any, a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return Where.apply(_arr(cond), a, b)
    return np.where(cond, a, b)


def broadcast_to(a: Any, shape: tuple[int, ...]) -> Any:
    """``np.broadcast_to`` for arrays and Tensors (differentiable for Tensors)."""
    if isinstance(a, Tensor):
        return a if a.shape == tuple(shape) else BroadcastTo.apply(a, shape=tuple(shape))
    return np.broadcast_to(a, shape)


def _matmul(a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
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


# From this many elements on, the hottest formulas (tanh, sigmoid) reuse one temporary with
# out=: fewer allocations pay off on large arrays, while out= costs more than it saves on
# small ones (measured: ~0.2 us per call extra at 100 elements).
_IN_PLACE = 4096


def _fits_into(g: np.ndarray, a: Any) -> bool:
    """``g (op) a`` can be written into ``g``: same dtype, and ``a`` broadcasts to g's shape."""
    if type(a) is not np.ndarray or a.dtype != g.dtype:
        return False
    shape = a.shape
    if not shape or shape == g.shape:
        return True
    return len(shape) <= g.ndim and all(
        n == 1 or n == m for n, m in zip(shape[::-1], g.shape[::-1])
    )


def _times_into(g: np.ndarray, a: Any) -> np.ndarray:
    """``g * a``, written into ``g`` when it fits."""
    return np.multiply(g, a, out=g) if _fits_into(g, a) else g * a


def _dtype_of(a: Any) -> np.dtype:
    return a.dtype if isinstance(a, (Tensor, np.ndarray, np.generic)) else np.dtype(np.float64)


# --------------------------------------------------------------------------- unary
class Neg(Function):
    """z = -x;  dz/dx = -1"""

    grads_are_new = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.negative(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return -g

    @staticmethod
    def backward_inplace(ctx: Any, g: np.ndarray) -> Any:
        return np.negative(g, out=g)


class Exp(Function):
    """z = e^x;  dz/dx = z"""

    grads_are_new = True

    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.exp(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * ctx.out

    @staticmethod
    def backward_inplace(ctx: Any, g: np.ndarray) -> Any:
        return np.multiply(g, ctx.out, out=g)  # the engine gives g the output's dtype


class Log(Function):
    """z = ln x;  dz/dx = 1/x"""

    grads_are_new = True

    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.log(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g / ctx.inputs[0]


class Sqrt(Function):
    """z = sqrt(x);  dz/dx = 1 / (2 z)"""

    grads_are_new = True

    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.sqrt(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return (g * _c(0.5, g)) / ctx.out


class Tanh(Function):
    """z = tanh x;  dz/dx = 1 - z^2"""

    grads_are_new = True

    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        out = ctx.out
        if type(out) is np.ndarray and out.size >= _IN_PLACE:
            t = out * out  # the same formula on one temporary
            np.subtract(_one(out), t, out=t)
            return np.multiply(t, g, out=t)
        return g * (_one(out) - out * out)


# x is clamped below at -(the largest exponent whose e^ still fits the dtype): beyond it
# sigmoid(x) is below the smallest normal number anyway, and no overflow warning is raised.
# (A clamping pass, not np.errstate: inside a training step the errstate wrapper's Python
# code and context variable cost more than the pass; benchmarks/README.md.)
_EXP_LIMIT = {np.dtype(np.float16): 11.0, np.dtype(np.float32): 88.0, np.dtype(np.float64): 709.0}


def _sigmoid_consts(dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """1 and -limit in dtype ``dt`` (cached)."""
    c = _SIGMOID_CONSTS.get(dt)
    if c is None:
        c = _SIGMOID_CONSTS[dt] = (const_of(1.0, dt), const_of(-_EXP_LIMIT.get(dt, 709.0), dt))
    return c


_SIGMOID_CONSTS: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}


class Sigmoid(Function):
    """z = 1 / (1 + e^-x);  dz/dx = z (1 - z)"""

    grads_are_new = True

    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        one, low = _SIGMOID_CONSTS.get(x.dtype) or _sigmoid_consts(x.dtype)
        if x.size >= _IN_PLACE:  # the same formula on one temporary
            t = np.maximum(x, low)  # (clamping x, then negating: 6% faster than the reverse)
            np.negative(t, out=t)
            np.exp(t, out=t)
            np.add(t, one, out=t)
            return np.divide(one, t, out=t)
        return one / (one + np.exp(-np.maximum(x, low)))

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        out = ctx.out
        if type(out) is np.ndarray and out.size >= _IN_PLACE:
            t = _ONES.get(out.dtype, 1.0) - out  # (_one, written out)
            np.multiply(t, out, out=t)
            return np.multiply(t, g, out=t)
        return g * out * (_one(out) - out)


class Relu(Function):
    """z = max(x, 0);  dz/dx = 1 where x > 0, else 0 (relu'(0) = 0)"""

    grads_are_new = True

    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * (_arr(ctx.out) > 0)


class Abs(Function):
    """z = |x|;  dz/dx = sign(x) (abs'(0) = 0)"""

    grads_are_new = True

    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.abs(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * np.sign(_arr(ctx.inputs[0]))


class Clip(Function):
    """z = min(max(x, lo), hi);  dz/dx = 1 where lo <= x <= hi, else 0 (as PyTorch's clamp)"""

    grads_are_new = True

    save_inputs = True

    @staticmethod
    def forward(
        ctx: Any, x: np.ndarray, min: float | None = None, max: float | None = None
    ) -> np.ndarray:
        if min is None and max is None:
            raise ValueError("clip: give min, max or both")
        if min is not None and max is not None and min > max:
            raise ValueError(f"clip: min ({min}) is greater than max ({max})")
        ctx.lo, ctx.hi = min, max
        return np.clip(x, min, max)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = _arr(ctx.inputs[0])
        keep = np.ones(x.shape, dtype=bool)
        if ctx.lo is not None:
            keep &= x >= ctx.lo
        if ctx.hi is not None:
            keep &= x <= ctx.hi
        return g * keep


class Cast(Function):
    """z = x.astype(dtype);  dz/dx = 1 (the engine casts the grad back to x's dtype)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g


class Clone(Function):
    """z = a copy of x (new memory);  dz/dx = 1"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return x.copy()

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g


# --------------------------------------------------------------------------- binary
class Add(Function):
    """z = x + y;  dz/dx = 1, dz/dy = 1"""

    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x + y

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g, g


class Sub(Function):
    """z = x - y;  dz/dx = 1, dz/dy = -1"""

    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x - y

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """z = x * y;  dz/dx = y, dz/dy = x"""

    grads_are_new = True

    save_inputs = "cross"  # x only when y needs a grad, and y only when x does
    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x * y

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.inputs
        nx, ny = ctx.needs_input_grad
        return (g * y if nx else None), (g * x if ny else None)

    @staticmethod
    def backward_inplace(ctx: Any, g: np.ndarray) -> Any:
        x, y = ctx.inputs
        nx, ny = ctx.needs_input_grad
        gx = (g * y if ny else _times_into(g, y)) if nx else None  # g is reused once, last
        return gx, (_times_into(g, x) if ny else None)


class Div(Function):
    """z = x / y;  dz/dx = 1/y, dz/dy = -x/y**2

    The backward reads the inputs only, as PyTorch's does: a grad of a grad then reaches the
    same nodes in both, and changing the quotient in place does not spoil the gradient."""

    grads_are_new = True

    save_inputs = True
    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x / y

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.inputs
        gx = g / y
        return gx, (-(gx * x) / y if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_inplace(ctx: Any, g: np.ndarray) -> Any:
        x, y = ctx.inputs
        gx = np.divide(g, y, out=g) if _fits_into(g, y) else g / y
        return gx, (-(gx * x) / y if ctx.needs_input_grad[1] else None)


class Pow(Function):
    """z = x^y;  dz/dx = y x^(y-1), dz/dy = z ln x (taken as 0 where x <= 0)"""

    grads_are_new = True

    save_inputs = True
    save_output = True
    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.power(x, y)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.inputs
        nx, ny = ctx.needs_input_grad
        gx = None
        if nx:
            # d/dx x^0 = 0 for every x: where y == 0 the exponent 1 replaces y - 1, so no
            # 0^-1 (or its derivatives) is evaluated; the factor y makes the result 0 anyway.
            # An exponent that needs its own gradient is replaced only where x == 0 too, so
            # d/dy of this formula stays right.
            zero = _arr(y) == 0
            if isinstance(y, Tensor) and y.requires_grad:
                zero = zero & (_arr(x) == 0)
            gx = g * y * x ** (_where(zero, _one(g), y - 1) if np.any(zero) else y - 1)
        gy = None
        if ny:
            pos = _arr(x) > 0
            gy = (
                g
                * ctx.out
                * _log(_where(pos, x, _const(1.0, x) if isinstance(x, Tensor) else 1))
                * pos
            )
        return gx, gy


def _pick_backward(ctx: Any, g: Any, x_wins: Any) -> Any:
    """Backward of an elementwise max/min: the winner gets g, ties share it half and half."""
    x, y = (_arr(a) for a in ctx.inputs)
    share = np.where(x_wins(x, y), 1.0, np.where(x == y, 0.5, 0.0)).astype(_dtype_of(g))
    nx, ny = ctx.needs_input_grad
    return (g * share if nx else None), (g * (1.0 - share) if ny else None)


class Maximum(Function):
    """z = max(x, y);  dz/dx = 1 where x > y, dz/dy = 1 where y > x; ties share 1/2 each"""

    grads_are_new = True

    save_inputs = True
    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return _pick_backward(ctx, g, np.greater)


class Minimum(Function):
    """z = min(x, y);  dz/dx = 1 where x < y, dz/dy = 1 where y < x; ties share 1/2 each"""

    grads_are_new = True

    save_inputs = True
    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.minimum(x, y)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return _pick_backward(ctx, g, np.less)


class Where(Function):
    """z = x where cond else y;  dz/dx = cond, dz/dy = not cond (cond is a constant)"""

    grads_are_new = True

    hint = _BROADCAST_HINT
    saved_attrs = ("cond",)

    @staticmethod
    def forward(ctx: Any, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        cond = np.asarray(cond)
        if cond.dtype != np.bool_:
            raise TypeError(f"where: the condition must be boolean, got dtype {cond.dtype}")
        ctx.cond = cond
        return np.where(cond, x, y)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        _, nx, ny = ctx.needs_input_grad
        zero = _const(0.0, g) if isinstance(g, Tensor) else np.zeros((), g.dtype)
        return (
            None,
            _where(ctx.cond, g, zero) if nx else None,
            _where(ctx.cond, zero, g) if ny else None,
        )


# --------------------------------------------------------------------------- reduce
def _norm_axes(ndim: int, axis: Any) -> tuple[int, ...]:
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


def _keep_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape a reduction over ``axis`` has with keepdims=True."""
    axes = _norm_axes(len(shape), axis)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class _Reduce(Function):
    hint = "axis must be an int or a tuple of distinct ints in [-ndim, ndim)"

    @staticmethod
    def _setup(ctx: Any, x: np.ndarray, axis: Any) -> None:
        ctx.shape = x.shape
        ctx.axes = _norm_axes(x.ndim, axis)
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
_PAIRWISE_MIN = 8
_NARROW = frozenset(np.dtype(t) for t in (np.float16, np.float32))


def _adds_naively(x: np.ndarray, axes: tuple[int, ...]) -> bool:
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
    if _adds_naively(x, _norm_axes(x.ndim, axis)):
        return x.sum(axis=axis, dtype=np.float64, keepdims=keepdims).astype(x.dtype)
    return x.sum(axis=axis, keepdims=keepdims)


def sum_rows(g: np.ndarray) -> np.ndarray:
    """Sum over axis 0 of a 2-D array (a batch's bias gradient): ``reduce_sum(g, 0)`` without
    its checks, for the training step's hot path."""
    if g.dtype in _NARROW and g.shape[0] >= _PAIRWISE_MIN:
        return np.add.reduce(g, axis=0, dtype=np.float64).astype(g.dtype)  # type: ignore[no-any-return]
    return np.add.reduce(g, axis=0)  # type: ignore[no-any-return]


class Sum(_Reduce):
    """z = sum(x, axis);  dz/dx = 1 (g broadcast back over the reduced axes)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        _Reduce._setup(ctx, x, axis)
        if _adds_naively(x, ctx.axes):  # float64 accumulator (see reduce_sum)
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
        if _adds_naively(x, ctx.axes):  # float64 accumulator (see reduce_sum), divided in it
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


def where(cond: Any, x: Any, y: Any) -> Tensor:
    """Elementwise ``x if cond else y`` (``cond`` is a bool array or tensor, not differentiated)."""
    xt, yt = _as_tensor(x), _as_tensor(y)
    if isinstance(x, Tensor) and not isinstance(y, Tensor):
        yt = Tensor(_const(y, x) if isinstance(y, (int, float)) else y)
    if isinstance(y, Tensor) and not isinstance(x, Tensor):
        xt = Tensor(_const(x, y) if isinstance(x, (int, float)) else x)
    return Where.apply(np.asarray(_arr(cond)), xt, yt)


def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise maximum (ties share the gradient)."""
    return (
        _as_tensor(x).maximum(y)
        if isinstance(x, Tensor) or not isinstance(y, Tensor)
        else y.maximum(x)
    )


def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise minimum (ties share the gradient)."""
    return (
        _as_tensor(x).minimum(y)
        if isinstance(x, Tensor) or not isinstance(y, Tensor)
        else y.minimum(x)
    )


def dtype_mismatch(op: str, xt: np.dtype, yt: np.dtype) -> str:
    """The hint for a matmul of two float dtypes (PyTorch refuses them too, saying "expected
    m1 and m2 to have the same dtype")."""
    return (
        f"{op} needs both operands in the same float dtype, got {xt} and {yt} (no silent "
        f"promotion to float64); convert one, e.g. x.astype(np.{yt}) for a {xt} batch into "
        f"{yt} weights"
    )


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# --------------------------------------------------------------------------- matmul
class MatMul(Function):
    """z = x @ y (np.matmul: 1-D, 2-D, batched);  dx = g @ y^T, dy = x^T @ g"""

    grads_are_new = True

    save_inputs = "cross"  # x only when y needs a grad, and y only when x does

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xnd, ynd = np.ndim(x), np.ndim(y)
        if xnd == 0 or ynd == 0:
            raise ValueError(
                "matmul: operands must have at least one dimension (use * for scalars)"
            )
        xt, yt = x.dtype, y.dtype
        if xt is not yt and xt.kind == "f" and yt.kind == "f" and xt != yt:
            raise TypeError("matmul: the operands' float dtypes differ")  # (explain says more)
        ctx.nd = (xnd, ynd)
        return np.matmul(x, y)

    @staticmethod
    def explain(arrays: Sequence[Any]) -> str:
        """Why numpy refused: the clean message that replaces numpy's own text."""
        x, y = (np.shape(a) for a in arrays)
        xt, yt = (np.result_type(a) for a in arrays)
        if xt != yt and xt.kind == "f" and yt.kind == "f":
            return dtype_mismatch("matmul", xt, yt)
        if not len(x) or not len(y):
            return "operands must have at least one dimension (use * for scalars)"
        if len(x) and len(y):
            k = x[-1]
            k2 = y[0] if len(y) == 1 else y[-2]
            if k != k2:
                return (
                    f"the last axis of the first operand ({k}) must equal the "
                    f"{'only' if len(y) == 1 else 'second-to-last'} axis of the second ({k2}); "
                    "transpose an operand or fix the layer sizes"
                )
        return f"the batch dimensions {x[:-2]} and {y[:-2]} must broadcast"

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.inputs
        xnd, ynd = ctx.nd
        nx, ny = ctx.needs_input_grad
        if xnd == 1 and ynd == 1:
            return (g * y if nx else None), (g * x if ny else None)
        if xnd == 1:
            g = g.reshape((*g.shape[:-1], 1, g.shape[-1]))
        if ynd == 1:
            g = g.reshape((*g.shape, 1))
        gx = gy = None
        if nx:
            gx = _matmul(g, _mT(y.reshape(-1, 1) if ynd == 1 else y))
            if xnd == 1:
                gx = gx.reshape((*gx.shape[:-2], gx.shape[-1]))
        if ny:
            gy = _matmul(_mT(x.reshape(1, -1) if xnd == 1 else x), g)
            if ynd == 1:
                gy = gy.reshape(gy.shape[:-1])
        return gx, gy
