"""Gradient utilities: ``clip_grad_norm_`` and ``clip_grad_value_`` (in place, outside the
graph)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_bp.engine import bump_version
from tinygrad_bp.engine.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients in place so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients together as if concatenated into one vector
    (``norm_type`` 2 by default, ``inf`` for the max-abs norm); grads are multiplied by
    ``max_norm / (total + 1e-6)`` when that is below 1, as PyTorch does.

    Returns:
        The total norm before clipping.
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    grads = _grads(parameters)
    if not grads:
        return 0.0
    p = float(norm_type)
    if p == math.inf:
        total = max(float(np.max(np.abs(g.data))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g.data.astype(np.float64)) ** p)) for g in grads) ** (
            1.0 / p
        )
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
            "pass error_if_nonfinite=False to clip anyway (the grads would become nan)"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            np.multiply(g.data, coef, out=g.data)
            bump_version(g)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Limit every gradient element to [-clip_value, clip_value] in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for g in _grads(parameters):
        np.clip(g.data, -clip_value, clip_value, out=g.data)
        bump_version(g)
