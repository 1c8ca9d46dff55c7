"""Argument conversions shared by the functional layers and the losses: ``as_tensor`` (one
dtype rule for arrays, numbers and lists), ``float_input``, and the ``reduction`` argument
('mean' | 'sum' | 'none') checked and applied. Each error names the function and the fix."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor

__all__ = ["REDUCTIONS", "as_tensor", "check_reduction", "float_input", "reduce_loss"]

REDUCTIONS = ("mean", "sum", "none")


def as_tensor(x: Any, fn: str, what: str, like: Any = None) -> Tensor:
    """``x`` as a Tensor by the one dtype rule: arrays keep their dtype; Python numbers and
    lists become float32, or follow ``like`` (the other operand) when it is a float Tensor or
    array, as Python numbers in an op follow the tensor."""
    if isinstance(x, Tensor):
        return x
    try:
        if isinstance(x, (np.ndarray, np.generic)):
            return Tensor(x)
        lt = getattr(like, "dtype", None)
        if lt is not None and lt.kind == "f":
            a = np.asarray(x)
            if a.dtype.kind in "iuf":
                return Tensor(a.astype(lt))
        return Tensor(x)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{fn}: {what} must be a Tensor or array-like, got {type(x).__name__}"
        ) from e


def float_input(x: Any, fn: str, like: Any = None) -> Tensor:
    """``as_tensor(x)`` for a loss's input, which must be floating point."""
    t = as_tensor(x, fn, "input", like=like)
    if t.dtype.kind != "f":
        raise TypeError(
            f"{fn}: input must be floating point (logits or probabilities), got dtype {t.dtype} "
            f"with shape {t.shape}; convert with .astype('float32')"
        )
    return t


def check_reduction(reduction: str, fn: str) -> None:
    """Reject a ``reduction`` other than 'mean', 'sum' or 'none', naming ``fn``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """The per-element ``loss`` averaged, summed or kept, as ``reduction`` says."""
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss
