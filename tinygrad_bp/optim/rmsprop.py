"""``RMSprop`` (Hinton's lecture 6e; Graves 2013 for the centered form) with PyTorch's
documented update rule, momentum and weight decay included."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.optim.optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divide the step by a running root mean square of the gradients, PyTorch's rule::

        g = grad (+ weight_decay * p);  g = -g if maximize
        v = alpha * v + (1 - alpha) * g^2                  (v starts at 0)
        centered:  g_avg = alpha * g_avg + (1 - alpha) * g;  v~ = v - g_avg^2,  else v~ = v
        momentum > 0:  buf = momentum * buf + g / (sqrt(v~) + eps);  p -= lr * buf
        else:          p -= lr * g / (sqrt(v~) + eps)

    Parameters without a gradient are skipped.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for k in ("alpha", "eps", "weight_decay", "momentum"):
            if group[k] < 0:
                raise ValueError(f"RMSprop: invalid {k} {group[k]} (< 0)")

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        wd, momentum = group["weight_decay"], group["momentum"]
        data = p.data
        if group["maximize"]:
            g = -g
        if wd:
            g = g + wd * data
        param_state = self.state.get(p)
        if param_state is None:
            param_state = self.state[p] = {"step": 0, "square_avg": np.zeros_like(data)}
        param_state["step"] += 1
        v = param_state["square_avg"]
        np.multiply(v, alpha, out=v)
        v += (1.0 - alpha) * (g * g)
        if group["centered"]:
            g_avg = param_state.get("grad_avg")
            if g_avg is None:
                g_avg = param_state["grad_avg"] = np.zeros_like(data)
            g_avg += (1.0 - alpha) * (g - g_avg)  # torch's lerp_(g, 1 - alpha)
            denom = np.sqrt(v - g_avg * g_avg)
        else:
            denom = np.sqrt(v)
        denom += eps
        if momentum > 0:
            buf = param_state.get("momentum_buffer")
            if buf is None:
                buf = param_state["momentum_buffer"] = np.zeros_like(data)
            np.multiply(buf, momentum, out=buf)
            buf += g / denom
            data -= lr * buf
        else:
            data -= lr * (g / denom)
