"""The losses as modules, with PyTorch's names and arguments: ``CrossEntropyLoss``,
``NLLLoss``, ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``BCELoss`` and
``BCEWithLogitsLoss``. ``loss_fn = nn.CrossEntropyLoss(); loss = loss_fn(logits, labels)``.

Each calls its function in ``nn.functional`` (the math and the input checks live there).
Arguments are checked when the module is built. A weight tensor (``weight``,
``pos_weight``) is copied into a buffer, so it is saved in ``state_dict`` and converted by
``astype`` as in PyTorch, and later changes to the caller's array do not reach it. Apart from
the weight, the arguments are keyword-only, as PyTorch's first positional arguments are its
deprecated ``size_average`` and ``reduce`` (``HuberLoss`` takes ``reduction`` first, as there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn import class_losses, losses
from tinygrad_bp.nn.checks import check_reduction
from tinygrad_bp.nn.module import Module

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
]


def _buffer(value: Any, name: str, owner: str) -> Tensor | None:
    """A private copy of ``value`` as a float Tensor, or None. Arrays and Tensors keep a float
    dtype; lists, numbers and integer arrays become float32 (the package's one dtype rule)."""
    if value is None:
        return None
    src = value.data if isinstance(value, Tensor) else value
    arr = np.array(src, copy=True)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: {name} must be numbers, got dtype {arr.dtype}")
    if arr.dtype.kind != "f" or not isinstance(src, (np.ndarray, np.generic)):
        arr = arr.astype(np.float32)
    return Tensor(arr)


class _Loss(Module):
    """What the loss modules share: ``reduction``, checked when built, and an empty repr (as
    PyTorch prints them)."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with an optional class ``weight`` kept as a buffer."""

    weight: Tensor | None

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight, "weight", type(self).__name__))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (``nn.functional.cross_entropy``)."""

    def __init__(
        self,
        weight: Any = None,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:
        return class_losses.cross_entropy(
            input,
            target,
            self.weight,
            self.ignore_index,
            self.reduction,
            self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (``nn.functional.nll_loss``)."""

    def __init__(
        self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Tensor:
        return class_losses.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean squared error (``nn.functional.mse_loss``)."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Any, target: Any) -> Tensor:
        return losses.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error (``nn.functional.l1_loss``)."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Any, target: Any) -> Tensor:
        return losses.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error below ``beta``, absolute error above (``nn.functional.smooth_l1_loss``)."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be 0 or more, got {beta}")
        self.beta = beta

    def forward(self, input: Any, target: Any) -> Tensor:
        return losses.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Squared error below ``delta``, delta-scaled absolute error above
    (``nn.functional.huber_loss``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Tensor:
        return losses.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (``nn.functional.binary_cross_entropy``)."""

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)

    def forward(self, input: Any, target: Any) -> Tensor:
        return losses.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one stable formula
    (``nn.functional.binary_cross_entropy_with_logits``); ``pos_weight`` is a buffer too."""

    pos_weight: Tensor | None

    def __init__(
        self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None
    ) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _buffer(pos_weight, "pos_weight", "BCEWithLogitsLoss"))

    def forward(self, input: Any, target: Any) -> Tensor:
        return losses.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )
