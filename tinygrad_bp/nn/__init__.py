"""Layers: ``Module`` (parameter registration, state dicts), ``Linear`` (alias ``Dense``), the
activation modules, ``Sequential`` and ``MLP``.

Parameters are plain leaf Tensors with ``requires_grad=True``: assigning one to a module
attribute registers it (``Parameter(data)`` makes one). ``Linear`` stores its weight as
``(in_features, out_features)`` and computes ``y = x @ W + b``, the convention of the
backpropagation article and of Keras (PyTorch stores the transpose).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from tinygrad_bp import ops
from tinygrad_bp.autograd import _state, bump_version
from tinygrad_bp.nn import functional, init
from tinygrad_bp.tensor import Tensor

__all__ = [
    "MLP",
    "Dense",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "Linear",
    "LogSoftmax",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "activation",
    "functional",
    "init",
    "utils",
]


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
        st.extra = True  # (set directly: the property setters cost ~0.25 us per call)
        try:
            return self.forward(*args, **kwargs)
        finally:
            st._scope = prev
            st.extra = st._anomaly or prev is not None

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


# --------------------------------------------------------------------------- layers
_INITS: dict[str, Callable[..., Tensor]] = {
    "xavier_uniform": init.xavier_uniform_,
    "xavier_normal": init.xavier_normal_,
    "kaiming_uniform": init.kaiming_uniform_,
    "kaiming_normal": init.kaiming_normal_,
}


class Linear(Module):
    """A fully connected layer: ``y = x @ weight + bias``.

    Args:
        in_features: size of each input's last axis.
        out_features: size of each output's last axis.
        bias: add a learned bias (initialised to zeros).
        rng: a ``np.random.Generator`` or int seed for the weight initialisation.
        init: 'xavier_uniform' (default, Glorot: suits sigmoid/tanh/softmax),
            'xavier_normal', 'kaiming_uniform' or 'kaiming_normal' (He: suits ReLU).
        dtype: parameter dtype (float32).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        init: str = "xavier_uniform",
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        if int(in_features) <= 0 or int(out_features) <= 0:
            raise ValueError(
                f"Linear: in_features and out_features must be positive, got "
                f"{in_features} and {out_features}"
            )
        if init not in _INITS:
            raise ValueError(f"Linear: unknown init {init!r}; use one of {', '.join(_INITS)}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.zeros((self.in_features, self.out_features), dtype=dtype))
        _INITS[init](self.weight, rng=rng)
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., in_features) -> (..., out_features)."""
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.weight.data.dtype)  # lists follow the weights
        xd = x.data
        shape = xd.shape
        if xd.dtype is not self.weight.data.dtype:  # (the fast path: one identity test)
            functional.check_input_dtype(x, self.weight, f"Linear({self.extra_repr()})")
        if len(shape) == 2 and shape[1] == self.in_features:
            return functional.Affine._apply3(x, self.weight, self.bias)  # one fused op
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.extra_repr()}): input of shape {shape} should have "
                f"{self.in_features} features in its last axis"
            )
        y = x @ self.weight  # 1-D or batched inputs: composed from Tensor ops
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        s = f"{self.in_features} -> {self.out_features}"
        return s if self.bias is not None else s + ", bias=False"


Dense = Linear


class Sigmoid(Module):
    """Elementwise 1 / (1 + e^-x)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.Sigmoid._apply1(x if isinstance(x, Tensor) else Tensor(x))  # (= x.sigmoid())


class Tanh(Module):
    """Elementwise tanh."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.Tanh._apply1(x if isinstance(x, Tensor) else Tensor(x))  # (= x.tanh())


class ReLU(Module):
    """Elementwise max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.Relu._apply1(x if isinstance(x, Tensor) else Tensor(x))  # (= x.relu())


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class Softmax(Module):
    """Softmax along ``axis``."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        return (x if isinstance(x, Tensor) else Tensor(x)).softmax(self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """Log-softmax along ``axis``."""

    def forward(self, x: Tensor) -> Tensor:
        return (x if isinstance(x, Tensor) else Tensor(x)).log_softmax(self.axis)


class Flatten(Module):
    """Merge the axes from ``start_axis`` (default 1: keep the batch axis) into one."""

    def __init__(self, start_axis: int = 1) -> None:
        super().__init__()
        self.start_axis = start_axis

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}"


_ACTIVATIONS: dict[str, type[Module]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "identity": Identity,
}


def activation(name: str) -> Module:
    """The activation module called ``name`` (sigmoid, tanh, relu, identity)."""
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; use one of {', '.join(_ACTIVATIONS)}"
        ) from None


class Sequential(Module):
    """Modules applied in order; indexable, sliceable, iterable, with children named 0, 1, ...
    (or by the keys of a dict passed as the only argument)."""

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        items: list[tuple[str, Any]]
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for k, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {k!r} is a {type(m).__name__}, not a Module")
            setattr(self, k, m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    @overload
    def __getitem__(self, i: int) -> Module: ...

    @overload
    def __getitem__(self, i: slice) -> Sequential: ...

    def __getitem__(self, i: int | slice) -> Module | Sequential:
        items = list(self._modules.items())
        if isinstance(i, slice):
            return Sequential(dict(items[i]))
        try:
            return items[i][1]
        except IndexError:
            raise IndexError(
                f"Sequential: index {i} out of range for {len(items)} modules"
            ) from None


class MLP(Module):
    """A multilayer perceptron: Linear layers of ``sizes`` with ``activation`` between them;
    returns logits (apply softmax, or train with ``cross_entropy``).

    ``MLP([784, 100, 10], "sigmoid")`` is the article's network. Hidden layers use He init
    for ReLU and Glorot init otherwise; the output layer uses Glorot.
    """

    def __init__(
        self,
        sizes: Iterable[int],
        activation: str = "sigmoid",
        rng: np.random.Generator | int | None = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP: need at least an input and an output size, got {sizes}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"MLP: unknown activation {activation!r}; use one of {', '.join(_ACTIVATIONS)}"
            )
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        hidden_init = "kaiming_uniform" if activation == "relu" else "xavier_uniform"
        layers: list[Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            last = i == len(sizes) - 2
            layers.append(
                Linear(a, b, rng=gen, init="xavier_uniform" if last else hidden_init, dtype=dtype)
            )
            if not last:
                layers.append(_ACTIVATIONS[activation]())
        self.sizes = sizes
        self.activation = activation
        self.layers = Sequential(*layers)

    @property
    def architecture(self) -> str:
        """The layer sizes joined by dashes, e.g. ``784-100-10``."""
        return "-".join(str(s) for s in self.sizes)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)  # type: ignore[no-any-return]

    def predict_proba(self, x: Any) -> np.ndarray:
        """Class probabilities (softmax of the logits), computed without a graph."""
        from tinygrad_bp.autograd import no_grad

        with no_grad():
            return self(x if isinstance(x, Tensor) else Tensor(x)).softmax(-1).numpy()

    def extra_repr(self) -> str:
        return f"{self.architecture}, activation={self.activation}"


from tinygrad_bp.nn import utils  # noqa: E402  (utils uses Module)
from tinygrad_bp.nn.conv_layers import (  # noqa: E402  (the layers use Module)
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    LayerNorm,
    LeNet,
    MaxPool2d,
)

__all__ += [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "LayerNorm",
    "LeNet",
    "MaxPool2d",
    "conv",
    "normalization",
]
