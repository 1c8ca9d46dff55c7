"""Products, scans and norms: prod (zeros handled), cumsum, cumprod, std, singular values and
norm (vector and matrix, ord 1/2/inf/fro and more, as ``np.linalg.norm``).

Zeros: d prod(x)/dx_i is the product of the OTHER elements, computed from the products before
and after each element (two exclusive cumulative products), never as prod(x) / x_i: that is
exact where one element is 0 (the gradient there is the product of the rest) and where several
are (all 0). cumprod divides by x only where every running product is a normal number (no 0,
no underflow to a subnormal, no overflow) and outside create_graph; otherwise it takes the
exact form, which builds an (n, n) table per scan.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import _axis
from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.higher_order import once_differentiable
from tinygrad_bp.engine.ops.shims import _arr, _as_tensor, _one, _where
from tinygrad_bp.engine.ops.sums import norm_axes, reduce_sum
from tinygrad_bp.engine.tensor import Tensor

__all__ = ["CumProd", "CumSum", "Norm2", "Prod", "Svdvals", "norm", "std"]


# --------------------------------------------------------------------------- array/Tensor shims
def _flip_last(a: Any) -> Any:
    return a.flip(-1) if isinstance(a, Tensor) else np.flip(a, -1)


def _cumsum_last(a: Any) -> Any:
    return a.cumsum(-1) if isinstance(a, Tensor) else np.cumsum(a, -1)


def _cumprod_last(a: Any) -> Any:
    return a.cumprod(-1) if isinstance(a, Tensor) else np.cumprod(a, -1)


def _exclusive_cumprod(a: Any) -> Any:
    """Along the last axis: the product of the elements BEFORE each one (1 for the first)."""
    ones = np.ones((*a.shape[:-1], 1), dtype=a.dtype)
    if isinstance(a, Tensor):
        from tinygrad_bp.engine.ops.movement import concatenate

        return concatenate([Tensor(ones), a[..., :-1].cumprod(-1)], axis=-1)
    return np.concatenate([ones, np.cumprod(a[..., :-1], -1)], axis=-1)


def _others_product(x: Any) -> Any:
    """Along the last axis: for each element, the product of all the others (zeros exact)."""
    return _exclusive_cumprod(x) * _flip_last(_exclusive_cumprod(_flip_last(x)))


# --------------------------------------------------------------------------- prod
class Prod(Function):
    """z = prod(x, axis);  dz/dx_i = the product of the other elements of x_i's reduction"""

    grads_are_new = True
    save_inputs = True
    hint = "axis must be an int or a tuple of distinct ints in [-ndim, ndim)"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        ctx.axes = axes = norm_axes(x.ndim, axis)
        ctx.kshape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return np.prod(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        if x.size == 0:  # an empty product is 1, whatever x: no gradient to anything
            return g.reshape(ctx.kshape) * x
        kept = [i for i in range(x.ndim) if i not in ctx.axes]
        perm = [*kept, *ctx.axes]  # the reduced axes last, then flattened into one
        xt = x.transpose(perm) if x.ndim > 1 else x
        others = _others_product(xt.reshape((*xt.shape[: len(kept)], -1))).reshape(xt.shape)
        if x.ndim > 1:
            others = others.transpose(np.argsort(perm).tolist())
        return g.reshape(ctx.kshape) * others


# --------------------------------------------------------------------------- scans
class _Scan(Function):
    hint = "axis must be an int in [-ndim, ndim)"

    @staticmethod
    def _axis(ctx: Any, x: np.ndarray, axis: int) -> None:
        if x.ndim == 0:
            raise ValueError("needs at least one dimension, got a 0-d array")
        ctx.axis = norm_axes(x.ndim, int(axis))[0]


class CumSum(_Scan):
    """z_i = x_0 + ... + x_i along axis;  dx_i = g_i + ... + g_n (the reversed cumsum of g)"""

    grads_are_new = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: int = 0) -> np.ndarray:
        _Scan._axis(ctx, x, axis)
        return np.cumsum(x, axis=ctx.axis)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        gl = g.swapaxes(ctx.axis, -1)
        return _flip_last(_cumsum_last(_flip_last(gl))).swapaxes(ctx.axis, -1)


class CumProd(_Scan):
    """z_i = x_0 ... x_i along axis;  dx_i = sum over j >= i of g_j * prod(x_k, k <= j, k != i)
    (= reversed cumsum of g z, divided by x_i, where no running product is 0, subnormal or
    infinite, and outside create_graph)"""

    grads_are_new = True
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: int = 0) -> np.ndarray:
        _Scan._axis(ctx, x, axis)
        return np.cumprod(x, axis=ctx.axis)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        ax = ctx.axis
        x, out = ctx.inputs[0].swapaxes(ax, -1), ctx.out.swapaxes(ax, -1)
        gl = g.swapaxes(ax, -1)
        o = _arr(out)
        if (
            isinstance(g, Tensor)
            or not np.all(np.abs(o) >= np.finfo(o.dtype).tiny)
            or not np.all(np.isfinite(o))
        ):
            # a zero (or a product that underflowed, or overflowed): dividing by x would lose
            # the terms after it; and differentiated again, 1/x is ill-conditioned for tiny x:
            # the exact form, a polynomial in x
            gx = _cumprod_grad_with_zeros(x, gl)
        else:
            gx = _flip_last(_cumsum_last(_flip_last(gl * out))) / x
        return gx.swapaxes(ax, -1)


def _cumprod_grad_with_zeros(x: Any, g: Any) -> Any:
    """cumprod's gradient along the last axis without dividing: for each i, the exclusive
    product before i times sum over j >= i of g_j * prod(x_k, i < k <= j). Builds an (n, n)
    table per scan, so it is only used when a zero is present."""
    n = x.shape[-1]
    i = np.arange(n)
    after = i[None, :] > i[:, None]  # [i, k]: k > i
    upto = (i[None, :] >= i[:, None]).astype(_arr(x).dtype)  # [i, j]: j >= i
    rows = x.reshape((*x.shape[:-1], 1, n))
    between = _cumprod_last(_where(after, rows, 1.0))
    s = (g.reshape((*g.shape[:-1], 1, n)) * between * upto).sum(axis=-1)
    return _exclusive_cumprod(x) * s


# --------------------------------------------------------------------------- std, norms
def std(x: Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Standard deviation over ``axis``: sqrt(var(x, axis, ddof)) (its gradient is infinite
    where every element of a reduction is equal)."""
    return _as_tensor(x).var(axis=axis, keepdims=keepdims, ddof=ddof).sqrt()


class Svdvals(Function):
    """z = the singular values of each matrix (last two axes), largest first;
    dx = U diag(g) V^T (for distinct singular values; once differentiable)"""

    grads_are_new = True
    saved_attrs = ("u", "vh")

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2:
            raise ValueError(f"svdvals: needs a matrix (at least 2 dims), got shape {x.shape}")
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        ctx.u, ctx.vh = u, vh
        return s

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: Any) -> Any:
        return (ctx.u * g[..., None, :]) @ ctx.vh


class Norm2(Function):
    """z = sqrt(sum(x^2, axis)), the Euclidean norm (Frobenius over two axes);
    dz/dx = x / z, and 0 where z = 0 (PyTorch's subgradient: sqrt would give 0 * inf)"""

    grads_are_new = True
    save_inputs = True
    save_output = True
    hint = "axis must be None, an int or a tuple of distinct ints in [-ndim, ndim)"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = norm_axes(x.ndim, axis)
        ctx.kshape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return np.sqrt(reduce_sum(x * x, axis, keepdims))  # type: ignore[no-any-return]

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, z = ctx.inputs[0], ctx.out.reshape(ctx.kshape)
        safe = _where(_arr(z) == 0, _one(_arr(z)), z)  # x is 0 there too: the gradient is 0
        return g.reshape(ctx.kshape) * x / safe


def _vector_norm(x: Tensor, ord: Any, axis: Any, keepdims: bool) -> Tensor:
    if ord is None or ord == 2:
        return Norm2.apply(x, axis=axis, keepdims=keepdims)
    if ord == math.inf:
        return x.abs().max(axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return x.abs().min(axis=axis, keepdims=keepdims)
    if ord == 1:
        return x.abs().sum(axis=axis, keepdims=keepdims)
    if isinstance(ord, (int, float)) and ord > 0:
        return (x.abs() ** float(ord)).sum(axis=axis, keepdims=keepdims) ** (1.0 / ord)
    raise ValueError(
        f"norm: vector ord must be None, inf, -inf or a positive number, got {ord!r} "
        "(ord=0 counts nonzeros: it has no gradient; use (t.data != 0).sum())"
    )


def _matrix_norm(x: Tensor, ord: Any, axes: tuple[int, int], keepdims: bool) -> Tensor:
    row, col = axes
    if ord in (None, "fro"):
        out = Norm2.apply(x, axis=axes, keepdims=True)
    elif ord in (1, -1, math.inf, -math.inf):
        # 1: the largest column sum of |x| (sum over rows); inf: the largest row sum
        summed, over = (row, col) if abs(ord) == 1 else (col, row)
        sums = x.abs().sum(axis=summed, keepdims=True)
        out = sums.max(axis=over, keepdims=True) if ord > 0 else sums.min(axis=over, keepdims=True)
    elif ord in (2, -2, "nuc"):
        s = Svdvals.apply(x.transpose(_last_two(x.ndim, row, col)))
        red = s.max(-1) if ord == 2 else (s.min(-1) if ord == -2 else s.sum(-1))
        out = red.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    else:
        raise ValueError(
            f"norm: matrix ord must be None, 'fro', 1, -1, 2, -2, inf, -inf or 'nuc', got {ord!r}"
        )
    if keepdims:
        return out
    return out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def _last_two(nd: int, row: int, col: int) -> list[int]:
    return [*(i for i in range(nd) if i not in (row, col)), row, col]


def norm(x: Tensor, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``np.linalg.norm``: a vector norm over an int ``axis`` (ord None/2, 1, inf, -inf, p > 0),
    a matrix norm over a pair of axes (None/'fro', 1, -1, 2, -2, inf, -inf, 'nuc'); with
    ``axis=None`` the 2-norm of all elements (ord None), or ``ord`` of a 1-D or 2-D tensor.
    The 2-norm's gradient at 0 is 0 (as PyTorch); tied maxima (ord inf) share it."""
    x = _as_tensor(x)
    ax = _axis(axis)
    if ax is None:
        if ord is None:
            return _vector_norm(x, None, None, keepdims)
        if x.ndim not in (1, 2):
            raise ValueError(
                f"norm: with ord={ord!r} and axis=None the tensor must be 1-D or 2-D, got shape "
                f"{x.shape}; give axis"
            )
        ax = tuple(range(x.ndim))
    axes = norm_axes(x.ndim, ax)
    if isinstance(ax, int) or len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        pair = tuple(a % x.ndim for a in ax)  # numpy's order: (row axis, column axis)
        return _matrix_norm(x, ord, pair, keepdims)  # type: ignore[arg-type]
    raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}")
