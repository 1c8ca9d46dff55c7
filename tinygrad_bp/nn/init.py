"""Weight initialisation schemes, in place and seeded through ``np.random.Generator``.

Weights of this library's ``Linear`` have shape ``(fan_in, fan_out)`` (``y = x @ W + b``), so
for a 2-D tensor ``fan_in = shape[0]`` and ``fan_out = shape[1]``; for more dimensions the
trailing ones form the receptive field and multiply both fans.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_bp.engine import bump_version
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

Rng = np.random.Generator | int | None


def _rng(rng: Rng, where: str) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"{where}: rng must be a np.random.Generator, an int seed or None")


def _fill(t: Tensor, values: np.ndarray, where: str) -> Tensor:
    """Write ``values`` into ``t`` in place (outside the graph) and bump its version."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(t).__name__}")
    np.copyto(t.data, values, casting="unsafe")
    bump_version(t)
    return t


def _fans(t: Tensor, where: str) -> tuple[int, int]:
    shape = t.shape
    if len(shape) < 2:
        raise ValueError(
            f"{where}: fan in and fan out need a tensor with at least 2 dimensions, got shape "
            f"{shape}; initialise biases with zeros_ or uniform_"
        )
    field = math.prod(shape[2:])
    return shape[0] * field, shape[1] * field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (PyTorch's table): 1 for linear/sigmoid,
    5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu."""
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r}; use one of linear, identity, "
        "sigmoid, tanh, relu, leaky_relu"
    )


def zeros_(t: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(t, 1.0)


def constant_(t: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _fill(t, np.full(t.shape, value), "constant_")


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, rng: Rng = None) -> Tensor:
    """Fill with samples of U(a, b)."""
    return _fill(t, _rng(rng, "uniform_").uniform(a, b, t.shape), "uniform_")


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, rng: Rng = None) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    return _fill(t, _rng(rng, "normal_").normal(mean, std, t.shape), "normal_")


def xavier_uniform_(t: Tensor, gain: float = 1.0, rng: Rng = None) -> Tensor:
    """Glorot/Xavier uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t, "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(t, _rng(rng, "xavier_uniform_").uniform(-a, a, t.shape), "xavier_uniform_")


def xavier_normal_(t: Tensor, gain: float = 1.0, rng: Rng = None) -> Tensor:
    """Glorot/Xavier normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(t, _rng(rng, "xavier_normal_").normal(0.0, std, t.shape), "xavier_normal_")


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str, where: str) -> float:
    fan_in, fan_out = _fans(t, where)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu", rng: Rng = None
) -> Tensor:
    """He/Kaiming uniform: U(-b, b) with b = gain * sqrt(3 / fan) (fan_in by default)."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity, "kaiming_uniform_")
    gen = _rng(rng, "kaiming_uniform_")
    return _fill(t, gen.uniform(-bound, bound, t.shape), "kaiming_uniform_")


def kaiming_normal_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu", rng: Rng = None
) -> Tensor:
    """He/Kaiming normal: N(0, std^2) with std = gain / sqrt(fan) (fan_in by default)."""
    std = _kaiming_std(t, a, mode, nonlinearity, "kaiming_normal_")
    return _fill(t, _rng(rng, "kaiming_normal_").normal(0.0, std, t.shape), "kaiming_normal_")
