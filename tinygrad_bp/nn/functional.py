"""Functional layers and losses: linear, activations (PyTorch's names and defaults),
cross_entropy (fused and stable), nll_loss, mse_loss, l1_loss, smooth_l1_loss, huber_loss,
binary_cross_entropy(_with_logits), one_hot, accuracy.

Losses follow PyTorch's definitions (class axis 1, ``reduction`` 'mean' | 'sum' | 'none',
``weight``, ``ignore_index``, ``label_smoothing``) and check their inputs, naming the
function, the shapes and the fix. The fused ops (``Affine``, ``CrossEntropy``, ``NLLLoss``,
``BinaryCrossEntropy``, ``BCEWithLogits``) write their backward with operations that arrays
and Tensors share, so they are differentiable twice like the engine's own ops.

This module is the public face; reading order of the code behind it:

1. ``functional_layers.py``: ``linear`` (the fused ``Affine`` op) and the activations.
2. ``checks.py``: argument conversions and ``reduction``, shared by all of them.
3. ``class_targets.py`` and ``class_losses.py``: ``cross_entropy`` and ``nll_loss``.
4. ``losses.py``: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss`` and the binary
   cross-entropies.
5. here: ``one_hot`` and ``accuracy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn.class_losses import (
    CrossEntropy,
    NLLLoss,
    ProbabilitiesWarning,
    Targets,
    cross_entropy,
    nll_loss,
)
from tinygrad_bp.nn.functional_layers import (
    Affine,
    elu,
    gelu,
    hardswish,
    hardtanh,
    leaky_relu,
    linear,
    log_softmax,
    mish,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from tinygrad_bp.nn.losses import (
    BCEWithLogits,
    BinaryCrossEntropy,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    huber_loss,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)

__all__ = [
    "Affine",
    "BCEWithLogits",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "NLLLoss",
    "ProbabilitiesWarning",
    "Targets",
    "accuracy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "elu",
    "gelu",
    "hardswish",
    "hardtanh",
    "huber_loss",
    "l1_loss",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]


def one_hot(labels: Any, num_classes: int = -1, dtype: npt.DTypeLike = np.float32) -> Tensor:
    """Labels of any shape -> a tensor with a new last axis of ``num_classes`` (default:
    max label + 1), 1 at each label and 0 elsewhere."""
    t = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {t.dtype}")
    if num_classes < 0:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise IndexError(
            f"one_hot: labels must be in [0, {num_classes}), found values in [{t.min()}, {t.max()}]"
        )
    out = np.zeros((*t.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, t[..., None].astype(np.intp), 1, axis=-1)
    return Tensor(out)


def accuracy(output: Any, target: Any) -> float:
    """Fraction of rows whose highest score (class axis 1, or the last for 1-D/2-D) equals
    the target class (integer labels, or one-hot/probability rows)."""
    out = np.asarray(output.data if isinstance(output, Tensor) else output)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if out.ndim == 0:
        raise ValueError("accuracy: output needs a class axis")
    axis = 0 if out.ndim == 1 else 1
    pred = out.argmax(axis=axis)
    if t.shape == out.shape and t.dtype.kind == "f":
        t = t.argmax(axis=axis)
    if t.shape != pred.shape:
        raise ValueError(
            f"accuracy: target of shape {t.shape} does not match predictions of shape "
            f"{pred.shape} (from output {out.shape})"
        )
    return float((pred == t).mean()) if pred.size else float("nan")


# re-exports: convolution, pooling and normalization live in their own modules
from tinygrad_bp.nn.conv import conv2d  # noqa: E402
from tinygrad_bp.nn.normalization import batch_norm, dropout, embedding, layer_norm  # noqa: E402
from tinygrad_bp.nn.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: E402

__all__ += [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "dropout",
    "embedding",
    "layer_norm",
    "max_pool2d",
]
