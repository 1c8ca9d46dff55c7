"""The ``Optimizer`` base class: parameter groups with per-group options, ``zero_grad``,
``step`` (grad mode off, one ``_update_group`` per group) and PyTorch-shaped state dicts.

Subclasses (``sgd.py``, ``adam.py``, ...) give the defaults, validate them in ``_check`` and
write the update in ``_update`` (one parameter) or ``_update_group`` (a whole group, when a
loop of its own pays). Updates run in place on the parameter arrays, outside the graph, and
bump each parameter's version counter (a graph that saved the old values then refuses to
backward). Hyperparameters are kept as Python floats, so float32 updates stay float32.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_bp.engine.grad_mode import _state, enable_grad
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.engine.versions import bump_version, bump_versions

__all__ = ["Optimizer"]


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
            with enable_grad():
                loss = closure()
        # no_grad, written out: inside a training step every distinct Python function costs
        # about a microsecond, as the BLAS calls around it evict it from the caches
        # (benchmarks/README.md), and no_grad's __init__/__enter__/__exit__ are three
        mode = _state
        prev, mode.grad_enabled = mode.grad_enabled, False
        try:
            for group in self.param_groups:
                self._update_group(group)
        finally:
            mode.grad_enabled = prev
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        """Update the parameters of one group that have a gradient, then bump their versions
        with one tick, after the last write (an op another thread records meanwhile has an
        earlier stamp, and its backward refuses)."""
        updated = []
        for p in group["params"]:
            if p.grad is not None:
                self._update(p, p.grad.data, group)
                updated.append(p)
        bump_versions(updated)

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any]) -> None:
        """Update one parameter in place from its gradient ``g`` (subclasses)."""
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
