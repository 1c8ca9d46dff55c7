"""``Module``, the base class of every layer, and ``Parameter``.

Parameters are plain leaf Tensors with ``requires_grad=True``: assigning one to a module
attribute registers it (``Parameter(data)`` makes one), and so does assigning a sub-module.
``Module`` gives what every layer shares: ``parameters()``/``named_parameters()`` with dotted
names, ``zero_grad``, ``train()``/``eval()``, ``state_dict()``/``load_state_dict()`` and the
nested ``repr``. A subclass writes ``__init__`` and ``forward``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine.grad_mode import _state
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.engine.versions import bump_version

__all__ = ["IncompatibleKeys", "Module", "Parameter"]


def Parameter(data: Any, requires_grad: bool = True) -> Tensor:
    """A leaf Tensor that a Module registers as a parameter when assigned to an attribute
    (float32 unless ``data`` is already a float array)."""
    arr = np.asarray(data.data if isinstance(data, Tensor) else data)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return Tensor(arr, requires_grad=requires_grad)


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclass, assign parameters and sub-modules as
    attributes in ``__init__`` (after ``super().__init__()``), and define ``forward``."""

    training: bool
    _parameters: dict[str, Tensor]
    _buffers: dict[str, Tensor | None]
    _modules: dict[str, Module]

    def __init__(self) -> None:
        d = self.__dict__
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_modules"] = {}
        d["training"] = True

    # -- registration: registered objects live in the registries and in __dict__ (fast access)
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Module):
            buffers.pop(name, None)
            modules[name] = value
        elif isinstance(value, Tensor) and value.requires_grad and value.is_leaf:
            buffers.pop(name, None)
            params[name] = value
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}.{name} is a buffer: assign a Tensor or None, "
                    f"not {type(value).__name__}"
                )
            buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for reg in ("_parameters", "_buffers", "_modules"):
            self.__dict__[reg].pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Register a Tensor that is state but not a parameter (saved in ``state_dict``)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: expected a Tensor or None, got {type(tensor)}")
        self.__dict__["_buffers"][name] = tensor
        object.__setattr__(self, name, tensor)

    # -- running
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it. Call the module, not ``forward``."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        st = _state
        prev = st._scope
        st._scope = self  # ops recorded now belong to this module (graph drawings group by it)
        st.extras_on = True  # (set directly: the property setters cost ~0.25 us per call)
        try:
            return self.forward(*args, **kwargs)
        finally:
            st._scope = prev
            st.extras_on = st._anomaly or prev is not None

    # -- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``, '' for the root) and all below it, dotted names."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items()]
            stack.extend(reversed([(k, c) for k, c in children if c is not None]))

    def modules(self) -> Iterator[Module]:
        """This module and all its sub-modules."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names."""
        yield from ((k, m) for k, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, m in self.named_children():
            yield m

    def _named(self, reg: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, m in mods:
            for k, t in m.__dict__[reg].items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mname}.{k}" if mname else k), t

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs, e.g. ``layers.0.weight``; shared ones once."""
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """All parameters (each shared one once)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs."""
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """All buffers."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self) -> int:
        """The number of scalar parameters."""
        return sum(p.size for p in self.parameters())

    # -- modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and all below it; returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters (to None, or to zeros in place)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data.fill(0)
                bump_version(p.grad)

    def astype(self, dtype: npt.DTypeLike) -> Module:
        """Convert every float parameter and buffer to ``dtype`` in place (the Tensor objects
        stay the same, so optimizers keep working); gradients are dropped. Returns self."""
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"astype: parameters must stay floating point, got {dt}")
        for t in [*self.parameters(), *self.buffers()]:
            if t.data.dtype.kind == "f" and t.data.dtype != dt:
                t.data = t.data.astype(dt)
                t.grad = None
                bump_version(t)
        return self

    def double(self) -> Module:
        """``astype(float64)``."""
        return self.astype(np.float64)

    def float(self) -> Module:
        """``astype(float32)``."""
        return self.astype(np.float32)

    # -- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters and buffers by dotted name."""
        out = {k: np.array(t.data, copy=True) for k, t in self.named_parameters()}
        out.update((k, np.array(t.data, copy=True)) for k, t in self.named_buffers())
        return out

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state`` into the parameters and buffers in place.

        Raises ValueError listing every missing or unexpected key (when ``strict``) and every
        shape mismatch; nothing is changed unless all checks pass.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping, got {type(state).__name__}")
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        problems: list[str] = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        values: dict[str, np.ndarray] = {}
        for k, t in own.items():
            if k not in state:
                continue
            v = state[k]
            a = np.asarray(v.data if isinstance(v, Tensor) else v)
            if a.dtype.kind not in "biuf":
                problems.append(f"{k}: dtype {a.dtype} is not numeric")
            elif a.shape != t.shape:
                hint = ""
                if a.shape == t.shape[::-1] and a.ndim == 2:
                    hint = " (transposed? Linear weights here are (in_features, out_features))"
                problems.append(f"{k}: shape {a.shape} in the state, {t.shape} in the model{hint}")
            values[k] = a
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        for k, a in values.items():
            t = own[k]
            np.copyto(t.data, a, casting="same_kind")
            bump_version(t)
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: Any, **metadata: Any) -> None:
        """Write ``state_dict()`` (and optional JSON-able metadata) to an ``.npz`` file."""
        from tinygrad_bp import serialization

        payload: dict[str, Any] = {"model": self.state_dict()}
        if metadata:
            payload["meta"] = metadata
        serialization.save(path, payload)

    def load(self, path: Any, strict: bool = True) -> IncompatibleKeys:
        """Load parameters written by ``save`` (or a checkpoint with a ``model`` entry)."""
        from tinygrad_bp import serialization

        data = serialization.load(path)
        state = data.get("model", data) if isinstance(data, dict) else data
        return self.load_state_dict(state, strict=strict)

    # -- printing
    def extra_repr(self) -> str:
        """The text between the parentheses of this module's one-line repr."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for k, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({k}): {sub}")
        name = type(self).__name__
        if not lines:
            return f"{name}({self.extra_repr()})"
        head = f"{name}({self.extra_repr()}" if self.extra_repr() else f"{name}("
        return head + "\n" + "\n".join(lines) + "\n)"
