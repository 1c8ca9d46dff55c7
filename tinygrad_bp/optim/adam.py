"""``Adam`` and ``AdamW`` (decoupled weight decay), with amsgrad and maximize, PyTorch's
documented update rules."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's update rule::

        g = grad (+ weight_decay * p, L2 penalty; AdamW decays p instead)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        v_max = max(v_max, v) (amsgrad)
        p -= lr / (1 - beta1^t) * m / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps)

    ``t`` counts this parameter's steps; parameters without a gradient are skipped.
    """

    decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        name = type(self).__name__
        b1, b2 = group["betas"]
        for i, b in enumerate((b1, b2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {b} (need [0, 1))")
        if group["eps"] < 0:
            raise ValueError(f"{name}: invalid epsilon {group['eps']} (< 0)")
        if group["weight_decay"] < 0:
            raise ValueError(f"{name}: invalid weight_decay {group['weight_decay']} (< 0)")

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any]) -> None:
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        b1, b2 = group["betas"]
        if group["maximize"]:
            g = -g
        if wd:
            if self.decoupled:
                np.multiply(p.data, 1.0 - lr * wd, out=p.data)
            else:
                g = g + wd * p.data
        param_state = self.state.get(p)
        if param_state is None:
            param_state = self.state[p] = {
                "step": 0,
                "exp_avg": np.zeros_like(p.data),
                "exp_avg_sq": np.zeros_like(p.data),
            }
            if group["amsgrad"]:
                param_state["max_exp_avg_sq"] = np.zeros_like(p.data)
        param_state["step"] += 1
        t = param_state["step"]
        m, v = param_state["exp_avg"], param_state["exp_avg_sq"]
        m += (1.0 - b1) * (g - m)  # torch's lerp_(g, 1 - beta1)
        np.multiply(v, b2, out=v)
        v += (1.0 - b2) * (g * g)
        step_size = lr / (1.0 - b1**t)
        sqrt_bias_correction2 = math.sqrt(1.0 - b2**t)
        if group["amsgrad"]:
            v_max = param_state.get("max_exp_avg_sq")
            if v_max is None:  # amsgrad switched on after loading an old state
                v_max = param_state["max_exp_avg_sq"] = np.zeros_like(p.data)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        denom = np.sqrt(v)
        denom /= sqrt_bias_correction2
        denom += eps
        p.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's rule: first
    ``p *= 1 - lr * weight_decay``, then the Adam step without the L2 term."""

    decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
