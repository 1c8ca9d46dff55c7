"""Activations: leaky_relu, hardtanh (and relu6), elu and softplus as primitives (one pass, and
softplus stable for large |x|); silu, mish, gelu and hardswish composed from Tensor ops (their
gradients and second derivatives come from the ops they are made of). Subgradients at the
kinks follow PyTorch, as each docstring says.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops.elementwise import Erf
from tinygrad_bp.engine.ops.shims import _arr, _as_tensor, _c, _where
from tinygrad_bp.engine.ops.unary import Sigmoid
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "Elu",
    "Hardtanh",
    "LeakyRelu",
    "Softplus",
    "elu",
    "gelu",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "mish",
    "relu6",
    "silu",
    "softplus",
]


class LeakyRelu(Function):
    """z = x where x > 0, else slope x;  dz/dx = 1 where x > 0, else slope (at 0: slope, as
    PyTorch)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, slope: float = 0.01) -> np.ndarray:
        ctx.slope = slope
        return np.where(x > 0, x, x * _c(slope, x))

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = _arr(ctx.inputs[0])
        return g * np.where(x > 0, 1.0, ctx.slope).astype(x.dtype)


class Hardtanh(Function):
    """z = min(max(x, lo), hi);  dz/dx = 1 where lo < x < hi, else 0 (0 at the bounds, as
    PyTorch's hardtanh and relu6; ``clip`` passes it there instead)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, min_val: float = -1.0, max_val: float = 1.0) -> np.ndarray:
        if min_val > max_val:
            raise ValueError(f"hardtanh: min_val ({min_val}) is greater than max_val ({max_val})")
        ctx.lo, ctx.hi = min_val, max_val
        return np.clip(x, _c(min_val, x), _c(max_val, x))

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = _arr(ctx.inputs[0])
        return g * ((x > ctx.lo) & (x < ctx.hi))


class Elu(Function):
    """z = x where x > 0, else alpha (e^x - 1);  dz/dx = 1 where x > 0, else z + alpha"""

    grads_are_new = True
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        ctx.alpha = alpha
        neg = np.expm1(np.minimum(x, 0)) * _c(alpha, x)  # min: no overflow for large x
        return np.where(x > 0, x, neg)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        out = ctx.out
        return _where(_arr(ctx.inputs[0]) > 0, g, g * (out + _c(ctx.alpha, out)))


class Softplus(Function):
    """z = log(1 + e^(beta x)) / beta, stable, and x itself where beta x > threshold (as
    PyTorch);  dz/dx = sigmoid(beta x) (1 beyond the threshold)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
        if beta <= 0:
            raise ValueError(f"softplus: beta must be positive, got {beta}")
        ctx.beta, ctx.threshold = beta, threshold
        z = x * _c(beta, x)
        # max(z, 0) + log(1 + e^-|z|): e^-|z| <= 1 never overflows
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / _c(beta, x)
        return np.where(z > threshold, x, soft)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        z = x * _c(ctx.beta, x)
        s = z.sigmoid() if isinstance(z, Tensor) else Sigmoid.forward(None, z)
        return _where(_arr(z) > ctx.threshold, g, g * s)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    x = _as_tensor(x)
    return x * x.sigmoid()


def mish(x: Tensor) -> Tensor:
    """x * tanh(softplus(x))."""
    x = _as_tensor(x)
    return x * Softplus.apply(x).tanh()


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)); with
    ``approximate="tanh"`` 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (as PyTorch)."""
    x = _as_tensor(x)
    if approximate == "none":
        return x * 0.5 * (Erf.apply(x * _SQRT_HALF) + 1.0)
    if approximate == "tanh":
        return x * 0.5 * (((x + x * x * x * 0.044715) * _SQRT_2_OVER_PI).tanh() + 1.0)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def hardswish(x: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6 (its gradient at x = -3 and 3 is 0 and 1, as PyTorch's)."""
    x = _as_tensor(x)
    return x * Hardtanh.apply(x + 3.0, min_val=0.0, max_val=6.0) * (1.0 / 6.0)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return LeakyRelu.apply(_as_tensor(x), slope=negative_slope)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clamped to [min_val, max_val] (gradient 0 at the bounds)."""
    return Hardtanh.apply(_as_tensor(x), min_val=min_val, max_val=max_val)


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6)."""
    return Hardtanh.apply(_as_tensor(x), min_val=0.0, max_val=6.0)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha (e^x - 1)."""
    return Elu.apply(_as_tensor(x), alpha=alpha)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, linear where beta x > threshold."""
    return Softplus.apply(_as_tensor(x), beta=beta, threshold=threshold)
