"""Making tensors: ``tensor``, ``from_numpy`` (shares memory), ``zeros``, ``ones``, ``full``,
``arange``, ``eye``, and seeded random ones (``randn``, ``rand``, ``uniform``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine.tensor import Tensor, _make
from tinygrad_bp.engine.tensor_core import _check_float, _check_numeric

__all__ = [
    "arange",
    "eye",
    "from_numpy",
    "full",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "tensor",
    "uniform",
    "zeros",
    "zeros_like",
]


def tensor(data: Any, requires_grad: bool = False, dtype: npt.DTypeLike | None = None) -> Tensor:
    """A new Tensor holding a copy of ``data``: the same as ``Tensor(data, ...)`` (Python
    numbers and lists become float32, arrays keep their dtype)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A Tensor sharing ``array``'s memory (no copy), like ``torch.from_numpy``.

    Writes into ``array`` change the tensor, and are not tracked: changing it while a graph
    that saved the tensor is alive gives that graph's backward wrong values. Use it to
    avoid a copy of data you will not change; ``Tensor(array)`` copies."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    _check_numeric(array)
    if requires_grad:
        _check_float(array.dtype, "from_numpy")
    return _make(array, bool(requires_grad))


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def zeros(*shape: Any, dtype: npt.DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: npt.DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Zeros with ``t``'s shape and dtype."""
    return Tensor(np.zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Ones with ``t``'s shape and dtype."""
    return Tensor(np.ones_like(t.data), requires_grad=requires_grad)


def full(
    shape: Sequence[int] | int,
    value: float,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor filled with ``value``."""
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values like ``np.arange`` (float32 unless ``dtype`` says otherwise)."""
    a = (
        np.arange(start, stop, step, dtype=dtype)
        if stop is not None
        else np.arange(start, dtype=dtype)
    )
    return Tensor(a, requires_grad=requires_grad)


def eye(
    n: int, m: int | None = None, dtype: npt.DTypeLike = np.float32, requires_grad: bool = False
) -> Tensor:
    """The identity matrix."""
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"expected a np.random.Generator or an int seed, got {type(rng).__name__}")


def randn(
    *shape: Any,
    rng: np.random.Generator | int | None = None,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples from ``rng`` (a Generator or a seed)."""
    a = _rng(rng).standard_normal(_shape(shape)).astype(dtype)
    return Tensor(a, requires_grad=requires_grad)


def rand(
    *shape: Any,
    rng: np.random.Generator | int | None = None,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [0, 1) from ``rng``."""
    a = _rng(rng).random(_shape(shape)).astype(dtype)
    return Tensor(a, requires_grad=requires_grad)


def uniform(
    shape: Sequence[int] | int,
    low: float = 0.0,
    high: float = 1.0,
    rng: np.random.Generator | int | None = None,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [low, high) from ``rng``."""
    a = _rng(rng).uniform(low, high, size=shape).astype(dtype)
    return Tensor(a, requires_grad=requires_grad)
