"""Elementwise ops of one input: neg, exp, log, sqrt, tanh, sigmoid, relu, abs, clip, cast,
clone."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import const_of
from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops import large
from tinygrad_bp.engine.ops.shims import _arr, _c, _one

__all__ = ["Abs", "Cast", "Clip", "Clone", "Exp", "Log", "Neg", "Relu", "Sigmoid", "Sqrt", "Tanh"]


class Neg(Function):
    """z = -x;  dz/dx = -1"""

    grads_are_new = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.negative(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return -g


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
        if type(out) is np.ndarray and out.size >= large.LARGE:  # (the same, in one array)
            return large.tanh_grad(g, out, _one(out))
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
        if x.size >= large.LARGE:  # (the same formula, in one array)
            return large.sigmoid(x, one, low)
        return one / (one + np.exp(-np.maximum(x, low)))

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        out = ctx.out
        if type(out) is np.ndarray and out.size >= large.LARGE:  # (the same, in one array)
            return large.sigmoid_grad(g, out, _one(out))
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
