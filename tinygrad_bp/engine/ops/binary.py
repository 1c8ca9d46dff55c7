"""Elementwise ops of two inputs (numpy broadcasting; the walk sums gradients back to each
input's shape): add, sub, mul, div, pow, maximum, minimum, where."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import _const
from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops.shims import (
    _BROADCAST_HINT,
    _arr,
    _as_tensor,
    _dtype_of,
    _log,
    _one,
    _where,
    each_for_the_other,
)
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "Add",
    "Div",
    "Maximum",
    "Minimum",
    "Mul",
    "Pow",
    "Sub",
    "Where",
    "maximum",
    "minimum",
    "where",
]


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

    save_inputs = staticmethod(each_for_the_other)
    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x * y

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.inputs
        nx, ny = ctx.needs_input_grad
        return (g * y if nx else None), (g * x if ny else None)


def _numerator_for_the_denominator(
    tensors: Sequence[Any], arrays: Sequence[Any], needs: Sequence[bool]
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """x / y keeps y always and x only when y needs a gradient (PyTorch's rule)."""
    if needs[1]:
        return (tensors[0], tensors[1]), (arrays[0], arrays[1])
    return (None, tensors[1]), (None, arrays[1])


class Div(Function):
    """z = x / y;  dz/dx = 1/y, dz/dy = -x/y**2

    The backward reads the inputs only, as PyTorch's does: a grad of a grad then reaches the
    same nodes in both, and changing the quotient in place does not spoil the gradient."""

    grads_are_new = True

    save_inputs = staticmethod(_numerator_for_the_denominator)
    hint = _BROADCAST_HINT

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x / y

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.inputs
        gx = g / y
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
