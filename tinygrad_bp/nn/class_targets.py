"""Class-index targets of ``cross_entropy`` and ``nll_loss``: validated (integer labels of the
right shape, in range, or ``ignore_index``), per-class weights checked, and inputs laid out as
(rows, classes) with the class axis last, PyTorch's convention of class axis 1 undone."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor

__all__ = ["as_rows", "class_targets", "class_weight", "flat_positions", "label_shape"]


def as_rows(x: Any) -> Any:
    """(N, C, d1, ...) -> (N*d1*..., C) with the class axis last (arrays or Tensors)."""
    if x.ndim <= 2:
        return x.reshape(-1, x.shape[-1])
    perm = (0, *range(2, x.ndim), 1)
    return x.transpose(perm).reshape(-1, x.shape[1])


def label_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of class-index targets for an input of ``shape`` (class axis 1; 0 for 1-D)."""
    return () if len(shape) == 1 else (shape[0], *shape[2:])


_ROWS: dict[int, np.ndarray] = {}  # batch size -> arange(batch size)


def flat_positions(target: np.ndarray, n_classes: int) -> np.ndarray | None:
    """``row * n_classes + target[row]`` for every row: where each row's target sits in the
    C-ordered (M, n_classes) array flattened; None if a label is outside [0, n_classes).
    One ``np.ravel_multi_index`` call both computes and range-checks them (the row numbers
    are cached per batch size): several times cheaper than a separate min/max check."""
    m = target.shape[0]
    rows = _ROWS.get(m)
    if rows is None:
        if len(_ROWS) > 64:
            _ROWS.clear()
        rows = _ROWS[m] = np.arange(m)
        rows.flags.writeable = False
    try:
        return np.ravel_multi_index((rows, target), (m, n_classes))  # type: ignore[no-any-return]
    except (ValueError, TypeError):  # a label out of range (negative ones included)
        return None


def class_targets(target: Any, shape: tuple[int, ...], fn: str, ignore_index: int) -> np.ndarray:
    """Validate integer class targets for an input of ``shape``; returns them as int64 rows."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    want = label_shape(shape)
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    if t.shape == shape and len(shape) >= 2 and t.dtype.kind in "biu":
        raise TypeError(
            f"{fn}: the target has the input's shape {shape} but dtype {t.dtype}: one-hot or "
            "probability targets must be floating point (target.astype(np.float32)); or pass "
            f"class indices of shape {want} (e.g. target.argmax(axis=1))"
        )
    if t.dtype.kind not in "iu":
        hint = (
            "pass integer labels (e.g. y.astype(np.int64))"
            if t.dtype.kind == "f" and t.shape == want
            else f"pass integer labels of shape {want} or class probabilities of shape {shape}"
        )
        raise TypeError(
            f"{fn}: class-index targets must be integers, got dtype {t.dtype} with shape "
            f"{t.shape} for an input of shape {shape}; {hint}"
        )
    if t.shape != want:
        if len(shape) >= 2 and t.ndim >= 1 and t.shape[0] != shape[0]:
            raise ValueError(
                f"{fn}: batch size mismatch: input has {shape[0]} rows (shape {shape}) but "
                f"target has {t.shape[0]} (shape {t.shape}); pass one label per row"
            )
        raise ValueError(
            f"{fn}: target of shape {t.shape} does not fit input of shape {shape}: expected "
            f"class indices of shape {want} (class axis 1) or probabilities of shape {shape}"
        )
    rows = t.reshape(-1).astype(np.int64, copy=False)
    bad = (rows != ignore_index) & ((rows < 0) | (rows >= n_classes))
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(
            f"{fn}: target labels must be in [0, {n_classes}) for an input with {n_classes} "
            f"classes (shape {shape}); found {rows[i]} at flat position {i} "
            f"(min {rows.min()}, max {rows.max()}). Check the labels or the output size"
        )
    return rows


def class_weight(weight: Any, n_classes: int, dtype: np.dtype, fn: str) -> np.ndarray | None:
    """The per-class ``weight`` as an array of ``dtype`` with one entry per class (or None)."""
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
    if w.shape != (n_classes,):
        raise ValueError(
            f"{fn}: weight must have one entry per class, shape ({n_classes},), got {w.shape}"
        )
    return w
