"""More elementwise ops: log1p, expm1, log2, log10, erf, sign and mod, and their function
forms (``tg.log1p(x)``); trig.py has the trigonometric and hyperbolic ones, activation.py the
activations. Each backward is one formula that runs on arrays and, under create_graph, on
Tensors (twice differentiable).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import _const
from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops import special
from tinygrad_bp.engine.ops.shims import _as_tensor, _c, _exp, _one
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "Erf",
    "Expm1",
    "Log1p",
    "Log2",
    "Log10",
    "Mod",
    "Sign",
    "erf",
    "expm1",
    "log1p",
    "log2",
    "log10",
    "mod",
    "sign",
]


# --------------------------------------------------------------------------- logs, exps, erf
class Log1p(Function):
    """z = ln(1 + x), exact for tiny x (x > -1);  dz/dx = 1 / (1 + x)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.log1p(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return g / (_one(x) + x)


class Expm1(Function):
    """z = e^x - 1, exact for tiny x;  dz/dx = e^x = z + 1"""

    grads_are_new = True
    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.expm1(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        out = ctx.out
        return g * (out + _one(out))


class Log2(Function):
    """z = log2 x;  dz/dx = 1 / (x ln 2)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.log2(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return g / (x * _c(math.log(2.0), x))


class Log10(Function):
    """z = log10 x;  dz/dx = 1 / (x ln 10)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.log10(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return g / (x * _c(math.log(10.0), x))


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Function):
    """z = erf x = 2/sqrt(pi) * integral of e^(-t^2) from 0 to x;  dz/dx = 2/sqrt(pi) e^(-x^2)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        # numpy has none: Cody's rational approximations, vectorized; below 512 elements
        # math.erf element by element is faster (both within 2 ulp of the exact value)
        return special.erf(x) if x.size >= 512 else special.erf_each(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return g * _c(_TWO_OVER_SQRT_PI, x) * _exp(-(x * x))


class Sign(Function):
    """z = sign x (-1, 0 or 1);  dz/dx = 0 (a step function: flat almost everywhere)"""

    grads_are_new = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.sign(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * _c(0.0, g)


class Mod(Function):
    """z = x mod y = x - floor(x / y) y (the sign of y, as numpy and Python's %);
    dz/dx = 1, dz/dy = -floor(x / y) (a step where x / y is an integer)"""

    saved_attrs = ("quotient",)

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.quotient = np.floor_divide(x, y)  # a constant: floor is flat between its steps
        return np.mod(x, y)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        nx, ny = ctx.needs_input_grad
        return (g if nx else None), (-(g * ctx.quotient) if ny else None)


# --------------------------------------------------------------------------- as functions
# tg.log1p(x) etc.: the same ops on Tensors, arrays or numbers (``x.log1p()`` on a Tensor)


def log1p(x: Any) -> Tensor:
    """Ln(1 + x), exact for tiny x."""
    return Log1p.apply(_as_tensor(x))


def expm1(x: Any) -> Tensor:
    """E^x - 1, exact for tiny x."""
    return Expm1.apply(_as_tensor(x))


def log2(x: Any) -> Tensor:
    """Base-2 logarithm."""
    return Log2.apply(_as_tensor(x))


def log10(x: Any) -> Tensor:
    """Base-10 logarithm."""
    return Log10.apply(_as_tensor(x))


def erf(x: Any) -> Tensor:
    """The error function."""
    return Erf.apply(_as_tensor(x))


def sign(x: Any) -> Tensor:
    """-1, 0 or 1 (gradient 0)."""
    return Sign.apply(_as_tensor(x))


def mod(x: Any, y: Any) -> Tensor:
    """x mod y with the sign of y (numpy's mod, Python's %)."""
    return Mod.apply(*_pair(x, y))


def _pair(x: Any, y: Any) -> tuple[Any, Any]:
    """Two operands, numbers and arrays converted to the other one's dtype when it is a Tensor."""
    if isinstance(x, Tensor):
        return x, _const(y, x)
    if isinstance(y, Tensor):
        return _const(x, y), y
    return _as_tensor(x), _as_tensor(y)
