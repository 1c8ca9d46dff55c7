"""``Adagrad`` (Duchi, Hazan & Singer 2011) with PyTorch's documented update rule: a step that
shrinks with the sum of every squared gradient seen so far."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.optim.optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Per-element learning rates from the accumulated squared gradients, PyTorch's rule::

        g = grad (+ weight_decay * p);  g = -g if maximize
        lr_t = lr / (1 + (t - 1) * lr_decay)               (t counts this parameter's steps)
        sum = sum + g^2                                    (sum starts at initial_accumulator_value)
        p -= lr_t * g / (sqrt(sum) + eps)

    Parameters without a gradient are skipped.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for k in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            if group[k] < 0:
                raise ValueError(f"Adagrad: invalid {k} {group[k]} (< 0)")

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any]) -> None:
        data = p.data
        if group["maximize"]:
            g = -g
        if group["weight_decay"]:
            g = g + group["weight_decay"] * data
        param_state = self.state.get(p)
        if param_state is None:
            start = group["initial_accumulator_value"]
            param_state = self.state[p] = {"step": 0, "sum": np.full_like(data, start)}
        param_state["step"] += 1
        lr_t = group["lr"] / (1.0 + (param_state["step"] - 1) * group["lr_decay"])
        total = param_state["sum"]
        total += g * g
        denom = np.sqrt(total)
        denom += group["eps"]
        data -= lr_t * (g / denom)
