"""Layers without state of their own beyond parameters: ``Linear`` (alias ``Dense``), the
activation modules (``Sigmoid``, ``Tanh``, ``ReLU``, ``Identity``, ``Softmax``, ``LogSoftmax``),
``Flatten``, and ``activation(name)``, which makes one by name.

``Linear`` stores its weight as ``(in_features, out_features)`` and computes ``y = x @ W + b``,
the convention of the backpropagation article and of Keras (PyTorch stores the transpose).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine import ops
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn import init
from tinygrad_bp.nn.activations import ELU, GELU, LeakyReLU, SiLU
from tinygrad_bp.nn.functional_layers import Affine, check_input_dtype
from tinygrad_bp.nn.module import Module, Parameter

__all__ = [
    "ACTIVATIONS",
    "Dense",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "activation",
]

_INIT_FUNCTIONS: dict[str, Callable[..., Tensor]] = {
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
        if init not in _INIT_FUNCTIONS:
            raise ValueError(
                f"Linear: unknown init {init!r}; use one of {', '.join(_INIT_FUNCTIONS)}"
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.zeros((self.in_features, self.out_features), dtype=dtype))
        _INIT_FUNCTIONS[init](self.weight, rng=rng)
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., in_features) -> (..., out_features)."""
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.weight.data.dtype)  # lists follow the weights
        xd = x.data
        shape = xd.shape
        if xd.dtype is not self.weight.data.dtype:  # (the fast path: one identity test)
            check_input_dtype(x, self.weight, f"Linear({self.extra_repr()})")
        if len(shape) == 2 and shape[1] == self.in_features:
            return Affine.apply(x, self.weight, self.bias)  # one fused op
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
        return ops.Sigmoid.apply(x if isinstance(x, Tensor) else Tensor(x))  # (= x.sigmoid())


class Tanh(Module):
    """Elementwise tanh."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.Tanh.apply(x if isinstance(x, Tensor) else Tensor(x))  # (= x.tanh())


class ReLU(Module):
    """Elementwise max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.Relu.apply(x if isinstance(x, Tensor) else Tensor(x))  # (= x.relu())


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


# the activations that MLP and activation() know by name (with PyTorch's default arguments)
ACTIVATIONS: dict[str, type[Module]] = {
    "sigmoid": Sigmoid,
    "relu": ReLU,
    "tanh": Tanh,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SiLU,
    "identity": Identity,
}
# those of the ReLU family: MLP initialises the layers before them with He's rule
RELU_LIKE = ("relu", "leaky_relu", "elu", "gelu", "silu")


def activation(name: str) -> Module:
    """The activation module called ``name`` (a key of ``ACTIVATIONS``)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; use one of {', '.join(ACTIVATIONS)}"
        ) from None
