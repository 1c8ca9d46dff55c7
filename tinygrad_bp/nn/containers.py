"""Modules made of modules: ``Sequential`` (applied in order, indexable and sliceable) and
``MLP``, the multilayer perceptron of the backpropagation article built from ``Linear``
layers and an activation."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine import no_grad
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn.layers import ACTIVATIONS, RELU_LIKE, Linear
from tinygrad_bp.nn.module import Module

__all__ = ["MLP", "Sequential"]


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

    ``MLP([784, 100, 10], "sigmoid")`` is the article's network. ``activation`` is a key of
    ``nn.ACTIVATIONS`` (sigmoid, tanh, relu, leaky_relu, elu, gelu, silu, identity). Hidden
    layers use He init before the ReLU family (relu, leaky_relu, elu, gelu, silu) and Glorot
    init otherwise; the output layer uses Glorot.
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
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"MLP: unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}"
            )
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        hidden_init = "kaiming_uniform" if activation in RELU_LIKE else "xavier_uniform"
        layers: list[Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            last = i == len(sizes) - 2
            layers.append(
                Linear(a, b, rng=gen, init="xavier_uniform" if last else hidden_init, dtype=dtype)
            )
            if not last:
                layers.append(ACTIVATIONS[activation]())
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
        with no_grad():
            return self(x if isinstance(x, Tensor) else Tensor(x)).softmax(-1).numpy()

    def extra_repr(self) -> str:
        return f"{self.architecture}, activation={self.activation}"
