"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight
decay, PyTorch's documented update rule; its loop is the hot path of most training runs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_bp.engine import bump_versions
from tinygrad_bp.engine.arrays import const_of
from tinygrad_bp.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's update rule::

        g = grad (+ weight_decay * p);  g = -g if maximize
        buf = g on the first step, then momentum * buf + (1 - dampening) * g
        g = g + momentum * buf (nesterov) or buf (momentum > 0)
        p -= lr * g

    Parameters without a gradient are skipped.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        # the options as 0-d arrays per (dtype, lr, momentum), see _update_group
        self._consts: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for k in ("momentum", "dampening", "weight_decay"):
            if group[k] < 0:
                raise ValueError(f"SGD: invalid {k} {group[k]} (< 0)")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")

    def _update_group(self, group: dict[str, Any]) -> None:
        # the hot loop of most training runs: options read once per group, updates in place
        lr, wd, m, damp = group["lr"], group["weight_decay"], group["momentum"], group["dampening"]
        nesterov, maximize = group["nesterov"], group["maximize"]
        state = self.state
        dtype = None
        updated = []
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            g, data = grad.data, p.data
            if data.dtype is not dtype:  # the options as cached 0-d arrays of the parameter's
                dtype = data.dtype  # dtype: the same numbers numpy would make of the floats,
                key = (dtype, lr, m)  # combined with arrays faster (a dict hit, not const_of)
                consts = self._consts.get(key)
                if consts is None:
                    if len(self._consts) > 64:  # (a schedule changes lr every step)
                        self._consts.clear()
                    consts = self._consts[key] = (const_of(lr, dtype), const_of(m, dtype))
                lr_array, m_array = consts
            if maximize:
                g = -g
            if wd:
                g = g + wd * data
            if m:
                param_state = state.get(p)
                buf = None if param_state is None else param_state.get("momentum_buffer")
                if buf is None:
                    buf = np.array(g, dtype=data.dtype, copy=True)  # the first g, undamped
                    state.setdefault(p, {})["momentum_buffer"] = buf
                else:
                    np.multiply(buf, m_array, out=buf)
                    if damp:
                        buf += (1.0 - damp) * g
                    else:
                        np.add(buf, g, out=buf)
                g = g + m * buf if nesterov else buf
            if lr:
                data -= lr_array * g
            updated.append(p)
        # one tick for the group, taken after the last write: an op that another thread
        # records while the data changes has an earlier stamp, and its backward refuses
        bump_versions(updated)
