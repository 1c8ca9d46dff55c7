"""Normalization and regularisation: ``batch_norm`` (running statistics, train/eval),
``layer_norm``, ``dropout`` (seeded), ``embedding``, with PyTorch's definitions.

All are compositions of Tensor ops, so they are differentiable to any order; the only state
they change is the running statistics of ``batch_norm``, updated in place outside the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.engine.versions import bump_version

__all__ = ["batch_norm", "dropout", "embedding", "layer_norm"]


def _float(x: Any, fn: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be floating point, got {x.dtype}")
    return x


def dropout(
    x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | int | None = None
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) when
    ``training``; the identity otherwise. ``rng`` (a Generator or a seed) makes it repeatable."""
    x = _float(x, "dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros((), dtype=x.dtype)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    keep = gen.random(x.shape) >= p
    return x * (keep * (1.0 / (1.0 - p))).astype(x.dtype)


def _stat_axes(x: Tensor, fn: str, n_features: int | None) -> tuple[int, ...]:
    if x.ndim < 2:
        raise ValueError(f"{fn}: input must be (N, C) or (N, C, ...), got shape {x.shape}")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(
            f"{fn}: input {x.shape} has {x.shape[1]} channels (axis 1) but the statistics "
            f"have {n_features}"
        )
    return (0, *range(2, x.ndim))


def batch_norm(
    x: Any,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (axis 1) by its batch statistics when ``training`` (updating the
    running ones in place: ``r = (1 - momentum) * r + momentum * s``, with the unbiased batch
    variance, as PyTorch), by the running statistics otherwise; then scale and shift."""
    fn = "batch_norm"
    x = _float(x, fn)
    n_feat = None if running_mean is None else running_mean.shape[0]
    axes = _stat_axes(x, fn, n_feat)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training or running_mean is None or running_var is None:
        count = x.size // x.shape[1]
        if count < 2 and training:
            raise ValueError(
                f"{fn}: training needs more than one value per channel, got input shape "
                f"{x.shape}; use a larger batch or eval()"
            )
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        if training and running_mean is not None and running_var is not None:
            m = np.asarray(momentum, dtype=running_mean.dtype)
            for r, s in ((running_mean, mean.data), (running_var, var.data * count / (count - 1))):
                r.data *= 1 - m
                r.data += m * s.reshape(-1).astype(r.dtype)
                bump_version(r)
        y = xc * (var + np.asarray(eps, dtype=x.dtype)) ** -0.5
    else:
        mean_c = running_mean.data.reshape(shape).astype(x.dtype)
        inv = (1.0 / np.sqrt(running_var.data.reshape(shape) + eps)).astype(x.dtype)
        y = (x - mean_c) * inv
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def layer_norm(
    x: Any,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` axes (biased variance, as PyTorch),
    then scale by ``weight`` and shift by ``bias`` (both of ``normalized_shape``)."""
    fn = "layer_norm"
    x = _float(x, fn)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not ns or tuple(x.shape[-len(ns) :]) != ns:
        raise ValueError(
            f"{fn}: normalized_shape {ns} must match the last axes of the input {x.shape}"
        )
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    xc = x - x.mean(axis=axes, keepdims=True)
    var = (xc * xc).mean(axis=axes, keepdims=True)
    y = xc * (var + np.asarray(eps, dtype=x.dtype)) ** -0.5
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def embedding(indices: Any, weight: Tensor) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``indices`` of any shape ->
    (*indices.shape, dim); the gradient adds up (scatter-add) over repeated indices."""
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(
            f"embedding: indices must be in [0, {n}) for weight {weight.shape}, got values "
            f"from {idx.min()} to {idx.max()}"
        )
    return weight[idx]
