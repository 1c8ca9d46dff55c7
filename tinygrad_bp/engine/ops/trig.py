"""Trigonometric and hyperbolic ops: sin, cos, tan, arcsin, arccos, arctan, arctan2, hypot,
sinh, cosh (and their function forms, ``tg.sin(x)``).

Each backward is one duck-typed formula: ``_call("cos", x)`` is ``np.cos(x)`` on arrays and
``x.cos()`` on Tensors (under create_graph), so every op here is twice differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops.elementwise import _pair
from tinygrad_bp.engine.ops.shims import _as_tensor, _one
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "Arccos",
    "Arcsin",
    "Arctan",
    "Arctan2",
    "Cos",
    "Cosh",
    "Hypot",
    "Sin",
    "Sinh",
    "Tan",
    "arccos",
    "arcsin",
    "arctan",
    "arctan2",
    "cos",
    "cosh",
    "hypot",
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


def arctan2(y: Any, x: Any) -> Tensor:
    """The angle of the point (x, y), in (-pi, pi]."""
    return Arctan2.apply(*_pair(y, x))


def hypot(x: Any, y: Any) -> Tensor:
    """sqrt(x^2 + y^2) without overflow."""
    return Hypot.apply(*_pair(x, y))
