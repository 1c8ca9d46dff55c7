"""PyTorch's activation modules beyond ``nn.layers``' four: ``GELU``, ``SiLU``, ``ELU``,
``LeakyReLU``, ``Softplus``, ``Mish``, ``Hardswish``, ``Hardtanh`` and ``ReLU6``.

Each is a thin module around the Tensor method of the same name (the math and its
derivatives live in ``engine/ops/activation.py``), with PyTorch's arguments, defaults and
``repr``. Arguments are checked when the module is built, so a bad one fails at the model's
definition rather than at its first batch.
"""

from __future__ import annotations

from typing import Any

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn.module import Module

__all__ = [
    "ELU",
    "GELU",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "Mish",
    "ReLU6",
    "SiLU",
    "Softplus",
]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class GELU(Module):
    """Elementwise x * Phi(x) (Phi the standard normal CDF), or its tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).gelu(self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Elementwise x * sigmoid(x) (swish)."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).silu()


class Mish(Module):
    """Elementwise x * tanh(softplus(x))."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).mish()


class Hardswish(Module):
    """Elementwise x * relu6(x + 3) / 6."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).hardswish()


class ELU(Module):
    """Elementwise x where x > 0, else alpha (e^x - 1)."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).elu(self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class LeakyReLU(Module):
    """Elementwise x where x > 0, else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """Elementwise log(1 + e^(beta x)) / beta, linear where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"Softplus: beta must be positive, got {beta}")
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).softplus(self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """Elementwise clamp to [min_val, max_val] (gradient 0 at the bounds, as PyTorch)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(
                f"Hardtanh: min_val ({min_val}) must not be greater than max_val ({max_val})"
            )
        self.min_val = min_val
        self.max_val = max_val

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).hardtanh(self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Module):
    """Elementwise min(max(x, 0), 6)."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).relu6()
