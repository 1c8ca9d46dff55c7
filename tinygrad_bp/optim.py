"""Optimizers: ``Optimizer`` (parameter groups, ``zero_grad``, state dicts), ``SGD``, ``Adam``
and ``AdamW`` with PyTorch's documented update rules, so trajectories match step for step.

Updates run in place on the parameter arrays, outside the graph, and bump each parameter's
version counter (a graph that saved the old values then refuses to backward). Arithmetic
stays in the parameter's dtype: hyperparameters are Python floats and every update writes
into existing arrays with ``out=``. Learning-rate schedules live in ``lr_scheduler``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import const_of
from tinygrad_bp.engine.grad_mode import _state
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.engine.versions import bump_version, bump_versions

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]


class Optimizer:
    """Base class: holds ``param_groups`` (dicts with ``params`` and per-group options) and a
    per-parameter ``state``; subclasses implement ``step``.

    Args:
        params: an iterable of Tensors, or of dicts ``{"params": [...], **options}`` for
            groups with their own options (missing options take ``defaults``).
        defaults: the default value of every option.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a "
                "single Tensor; pass [tensor] or model.parameters()"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def _check(self, group: dict[str, Any]) -> None:
        """Validate a group's options (subclasses add their rules)."""
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']} (< 0)")

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a group of parameters with its own options."""
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group is a dict with 'params'")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        name = type(self).__name__
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(
                    f"{name}: parameter {i} (shape {p.shape}) must be a leaf Tensor with "
                    "requires_grad=True (can't optimize a computed or constant tensor)"
                )
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(f"{name}: unknown option(s) {sorted(unknown)}")
        new: dict[str, Any] = {"params": params}
        for k, v in self.defaults.items():
            new[k] = group.get(k, v)
        if "initial_lr" in group:
            new["initial_lr"] = group["initial_lr"]
        _normalise(new)
        self._check(new)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{name}: a parameter appears in more than one place")
        self.param_groups.append(new)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data.fill(0)
                    bump_version(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            from tinygrad_bp.engine import enable_grad

            with enable_grad():
                loss = closure()
        # no_grad, written out: inside a training step every distinct Python function costs
        # about a microsecond, as the BLAS calls around it evict it from the caches
        # (benchmarks/README.md), and no_grad's __init__/__enter__/__exit__ are three
        st = _state
        prev, st.grad_enabled = st.grad_enabled, False
        try:
            for group in self.param_groups:
                self._update_group(group)
        finally:
            st.grad_enabled = prev
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        """Update the parameters of one group that have a gradient (and bump their version)."""
        for p in group["params"]:
            if p.grad is not None:
                self._update(p, p.grad.data, group)
                bump_version(p)

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- state
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{options, "params": [indices]}]}``
        with parameters numbered in group order, as PyTorch; arrays are copies."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {
            index[id(p)]: {
                k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                for k, v in s.items()
                if not k.startswith("_")
            }
            for p, s in self.state.items()
        }
        groups = [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [index[id(p)] for p in g["params"]],
            }
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore options and state saved by ``state_dict`` (keys may be str or int, as they
        come back from a checkpoint); checks group count, sizes and state shapes first."""
        name = type(self).__name__
        try:
            groups, state = state_dict["param_groups"], state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(
                f"{name}.load_state_dict: expected keys 'state' and 'param_groups'"
            ) from None
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: {len(groups)} parameter groups saved, "
                f"{len(self.param_groups)} in this optimizer"
            )
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {i} has {len(saved['params'])} parameters "
                    f"saved and {len(own['params'])} here"
                )
        params = self._params()
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, s in state.items():
            i = int(key)
            if not 0 <= i < len(params):
                raise ValueError(f"{name}.load_state_dict: state for unknown parameter {key}")
            p = params[i]
            entry: dict[str, Any] = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray) and v.ndim > 0:
                    if v.shape != p.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {k!r} of parameter {i} has shape "
                            f"{v.shape}, the parameter {p.shape}"
                        )
                    v = v.astype(p.dtype, copy=True)
                elif isinstance(v, (np.ndarray, np.generic)):
                    v = v.item()
                entry[k] = v
            new_state[p] = entry
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = v
            _normalise(own)
            self._check(own)
        self.state = new_state

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params")
        return "\n".join([*lines, ")"])


def _normalise(group: dict[str, Any]) -> None:
    """Hyperparameters as Python numbers: numpy scalars would promote float32 updates."""
    for k, v in group.items():
        if isinstance(v, (bool, np.bool_)):
            group[k] = bool(v)
        elif isinstance(v, (float, int, np.floating, np.integer)) and k != "params":
            group[k] = float(v)
        elif isinstance(v, (tuple, list, np.ndarray)) and k == "betas":
            group[k] = tuple(float(b) for b in v)


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
        dt = None
        updated = []
        for p in group["params"]:
            gt = p.grad
            if gt is None:
                continue
            g, data = gt.data, p.data
            if data.dtype is not dt:  # the options as cached 0-d arrays of the parameter's
                dt = data.dtype  # dtype: the same numbers numpy would make of the floats,
                key = (dt, lr, m)  # combined with arrays faster (a dict hit, not const_of)
                consts = self._consts.get(key)
                if consts is None:
                    if len(self._consts) > 64:  # (a schedule changes lr every step)
                        self._consts.clear()
                    consts = self._consts[key] = (const_of(lr, dt), const_of(m, dt))
                c_lr, c_m = consts
            if maximize:
                g = -g
            if wd:
                g = g + wd * data
            if m:
                st = state.get(p)
                buf = None if st is None else st.get("momentum_buffer")
                if buf is None:
                    buf = np.array(g, dtype=data.dtype, copy=True)  # the first g, undamped
                    state.setdefault(p, {})["momentum_buffer"] = buf
                else:
                    np.multiply(buf, c_m, out=buf)
                    if damp:
                        buf += (1.0 - damp) * g
                    else:
                        np.add(buf, g, out=buf)
                g = g + m * buf if nesterov else buf
            if lr:
                data -= c_lr * g
            updated.append(p)
        # one tick for the group, taken after the last write: an op that another thread
        # records while the data changes has an earlier stamp, and its backward refuses
        bump_versions(updated)


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
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {
                "step": 0,
                "exp_avg": np.zeros_like(p.data),
                "exp_avg_sq": np.zeros_like(p.data),
            }
            if group["amsgrad"]:
                st["max_exp_avg_sq"] = np.zeros_like(p.data)
        st["step"] += 1
        t = st["step"]
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m += (1.0 - b1) * (g - m)  # torch's lerp_(g, 1 - beta1)
        np.multiply(v, b2, out=v)
        v += (1.0 - b2) * (g * g)
        step_size = lr / (1.0 - b1**t)
        bc2_sqrt = math.sqrt(1.0 - b2**t)
        if group["amsgrad"]:
            vmax = st.get("max_exp_avg_sq")
            if vmax is None:  # amsgrad switched on after loading an old state
                vmax = st["max_exp_avg_sq"] = np.zeros_like(p.data)
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = np.sqrt(v)
        denom /= bc2_sqrt
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


from tinygrad_bp import optim_schedulers as lr_scheduler  # noqa: E402  (uses Optimizer)
