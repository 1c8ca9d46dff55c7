"""More elementwise ops: trigonometric and hyperbolic functions, log1p/expm1/log2/log10, erf,
sign and mod (the activations are in activation.py).

Each backward is one duck-typed formula: ``_call("cos", x)`` is ``np.cos(x)`` on arrays and
``x.cos()`` on Tensors (under create_graph), so every op here is twice differentiable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import _const
from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops.shims import _as_tensor, _c, _exp, _one
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "Arccos",
    "Arcsin",
    "Arctan",
    "Arctan2",
    "Cos",
    "Cosh",
    "Erf",
    "Expm1",
    "Hypot",
    "Log1p",
    "Log2",
    "Log10",
    "Mod",
    "Sign",
    "Sin",
    "Sinh",
    "Tan",
    "arccos",
    "arcsin",
    "arctan",
    "arctan2",
    "cos",
    "cosh",
    "erf",
    "expm1",
    "hypot",
    "log1p",
    "log2",
    "log10",
    "mod",
    "sign",
    "sin",
    "sinh",
    "tan",
]


def _call(name: str, a: Any) -> Any:
    """``np.<name>(a)`` for arrays, ``a.<name>()`` for Tensors (the same math, differentiable)."""
    return getattr(a, name)() if isinstance(a, Tensor) else getattr(np, name)(a)


# --------------------------------------------------------------------------- trigonometric
class Sin(Function):
    """z = sin x;  dz/dx = cos x"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.sin(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * _call("cos", ctx.inputs[0])


class Cos(Function):
    """z = cos x;  dz/dx = -sin x"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.cos(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return -(g * _call("sin", ctx.inputs[0]))


class Tan(Function):
    """z = tan x;  dz/dx = 1 + z^2"""

    grads_are_new = True
    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.tan(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        out = ctx.out
        return g * (_one(out) + out * out)


class Arcsin(Function):
    """z = arcsin x (|x| <= 1);  dz/dx = 1 / sqrt(1 - x^2)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.arcsin(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return g / _call("sqrt", _one(x) - x * x)


class Arccos(Function):
    """z = arccos x (|x| <= 1);  dz/dx = -1 / sqrt(1 - x^2)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.arccos(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return -(g / _call("sqrt", _one(x) - x * x))


class Arctan(Function):
    """z = arctan x;  dz/dx = 1 / (1 + x^2)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.arctan(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return g / (_one(x) + x * x)


class Arctan2(Function):
    """z = arctan2(y, x), the angle of the point (x, y);  dz/dy = x / r^2, dz/dx = -y / r^2
    with r^2 = x^2 + y^2 (undefined at the origin)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.arctan2(y, x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        y, x = ctx.inputs
        ny, nx = ctx.needs_input_grad
        s = g / (x * x + y * y)
        return (s * x if ny else None), (-(s * y) if nx else None)


class Hypot(Function):
    """z = sqrt(x^2 + y^2) without overflow;  dz/dx = x / z, dz/dy = y / z (undefined at 0)"""

    grads_are_new = True
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.hypot(x, y)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.inputs
        nx, ny = ctx.needs_input_grad
        s = g / ctx.out
        return (s * x if nx else None), (s * y if ny else None)


# --------------------------------------------------------------------------- hyperbolic
class Sinh(Function):
    """z = sinh x;  dz/dx = cosh x"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.sinh(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * _call("cosh", ctx.inputs[0])


class Cosh(Function):
    """z = cosh x;  dz/dx = sinh x"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.cosh(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * _call("sinh", ctx.inputs[0])


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


# numpy has no erf; math.erf is exact to an ulp, run element by element (~50 ns each). It is
# here for gelu's exact form; gelu(approximate="tanh") avoids it.
_ERF = np.frompyfunc(math.erf, 1, 1)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Function):
    """z = erf x = 2/sqrt(pi) * integral of e^(-t^2) from 0 to x;  dz/dx = 2/sqrt(pi) e^(-x^2)"""

    grads_are_new = True
    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return np.asarray(_ERF(x), dtype=dt).reshape(x.shape)

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
# tg.sin(x) etc.: the same ops on Tensors, arrays or numbers (``x.sin()`` on a Tensor)


def sin(x: Any) -> Tensor:
    """Sin x."""
    return Sin.apply(_as_tensor(x))


def cos(x: Any) -> Tensor:
    """Cos x."""
    return Cos.apply(_as_tensor(x))


def tan(x: Any) -> Tensor:
    """Tan x."""
    return Tan.apply(_as_tensor(x))


def arcsin(x: Any) -> Tensor:
    """Arcsin x."""
    return Arcsin.apply(_as_tensor(x))


def arccos(x: Any) -> Tensor:
    """Arccos x."""
    return Arccos.apply(_as_tensor(x))


def arctan(x: Any) -> Tensor:
    """Arctan x."""
    return Arctan.apply(_as_tensor(x))


def sinh(x: Any) -> Tensor:
    """Sinh x."""
    return Sinh.apply(_as_tensor(x))


def cosh(x: Any) -> Tensor:
    """Cosh x."""
    return Cosh.apply(_as_tensor(x))


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


def arctan2(y: Any, x: Any) -> Tensor:
    """The angle of the point (x, y), in (-pi, pi]."""
    return Arctan2.apply(*_pair(y, x))


def hypot(x: Any, y: Any) -> Tensor:
    """sqrt(x^2 + y^2) without overflow."""
    return Hypot.apply(*_pair(x, y))


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
