"""Layers of convolutional nets: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``,
``AdaptiveAvgPool2d``, ``Dropout``, ``BatchNorm1d``/``BatchNorm2d``, ``LayerNorm``,
``Embedding``, and ``LeNet`` (the small CNN the CLI trains).

Weights follow PyTorch's layouts and default initialisations (``Conv2d`` weight
``(out_channels, in_channels/groups, KH, KW)``, uniform in +-1/sqrt(fan_in)), so state dicts
map one to one. Running statistics are buffers: they are saved in ``state_dict`` but are not
parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn import conv as C
from tinygrad_bp.nn import normalization as N
from tinygrad_bp.nn import pooling as P
from tinygrad_bp.nn.module import Module, Parameter

__all__ = [
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
]

Rng = np.random.Generator | int | None


def _gen(rng: Rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Conv2d(Module):
    """2-D convolution layer (see ``nn.conv.conv2d`` for the arguments); weight and bias
    uniform in +-1/sqrt(in_channels/groups * KH * KW), PyTorch's default."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        rng: Rng = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: in_channels {in_channels} and out_channels {out_channels} must be "
                f"divisible by groups={groups}"
            )
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        gen = _gen(rng)
        bound = 1.0 / np.sqrt(in_channels // groups * k[0] * k[1])
        shape = (out_channels, in_channels // groups, *k)
        self.weight = Parameter(gen.uniform(-bound, bound, shape).astype(dtype))
        self.bias = (
            Parameter(gen.uniform(-bound, bound, out_channels).astype(dtype)) if bias else None
        )

    def forward(self, x: Tensor) -> Tensor:
        return C.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        for name, default in (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s if self.bias is not None else s + ", bias=False"


class MaxPool2d(Module):
    """Max pooling (see ``nn.pooling.max_pool2d``)."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = (
            kernel_size,
            stride,
            padding,
            dilation,
        )

    def forward(self, x: Tensor) -> Tensor:
        return P.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Average pooling (see ``nn.pooling.avg_pool2d``)."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return P.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (see ``nn.pooling.adaptive_avg_pool2d``)."""

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return P.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Dropout(Module):
    """Zero elements with probability ``p`` in training mode (scaling the rest by 1/(1-p));
    the identity in eval mode. ``rng`` (a Generator or a seed) makes the masks repeatable."""

    def __init__(self, p: float = 0.5, rng: Rng = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.rng = _gen(rng)

    def forward(self, x: Tensor) -> Tensor:
        return N.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """Batch normalization over axis 1 with running statistics (buffers ``running_mean``,
    ``running_var``, ``num_batches_tracked``), PyTorch's defaults."""

    ndims: tuple[int, ...] = (2, 3)
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        self.register_buffer(
            "running_mean",
            Tensor(np.zeros(num_features, dtype=dtype)) if track_running_stats else None,
        )
        self.register_buffer(
            "running_var",
            Tensor(np.ones(num_features, dtype=dtype)) if track_running_stats else None,
        )
        self.register_buffer(
            "num_batches_tracked",
            Tensor(np.zeros((), dtype=np.int64)) if track_running_stats else None,
        )

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.weight.dtype if self.weight is not None else None)
        if x.ndim not in self.ndims:
            raise ValueError(
                f"{name}: expected an input with {' or '.join(map(str, self.ndims))} axes, got "
                f"shape {x.shape}"
            )
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.data += 1
        return N.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or self.running_mean is None,
            self.momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs."""

    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images."""

    ndims = (4,)


class LayerNorm(Module):
    """Layer normalization over the last axes (``normalized_shape``), with a learned
    elementwise scale (ones) and shift (zeros) unless ``elementwise_affine=False``."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = ns, eps
        self.weight = Parameter(np.ones(ns, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(ns, dtype=dtype)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        return N.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class Embedding(Module):
    """A lookup table: integer indices -> rows of ``weight`` (num_embeddings, embedding_dim),
    initialised N(0, 1) like PyTorch's; gradients of repeated indices add up."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        rng: Rng = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        w = _gen(rng).standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        self.weight = Parameter(w)

    def forward(self, indices: Any) -> Tensor:
        return N.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LeNet(Module):
    """A small LeNet-style CNN for 28x28 grey images: two blocks of conv 5x5 (padding 2) ->
    ReLU -> max-pool 2x2, then dense -> ReLU -> dropout -> dense (logits)."""

    def __init__(
        self,
        num_classes: int = 10,
        channels: Sequence[int] = (32, 64),
        hidden: int = 256,
        dropout: float = 0.5,
        in_channels: int = 1,
        image_size: int = 28,
        rng: Rng = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        from tinygrad_bp.nn import Flatten, Linear, ReLU, Sequential

        gen = _gen(rng)
        c1, c2 = channels
        side = image_size // 4
        self.num_classes, self.channels, self.hidden = num_classes, (c1, c2), hidden
        self.image_size = image_size
        self.layers = Sequential(
            Conv2d(in_channels, c1, 5, padding=2, rng=gen, dtype=dtype),
            ReLU(),
            MaxPool2d(2),
            Conv2d(c1, c2, 5, padding=2, rng=gen, dtype=dtype),
            ReLU(),
            MaxPool2d(2),
            Flatten(),
            Linear(c2 * side * side, hidden, rng=gen, init="kaiming_uniform", dtype=dtype),
            ReLU(),
            Dropout(dropout, rng=gen),
            Linear(hidden, num_classes, rng=gen, dtype=dtype),
        )

    @property
    def architecture(self) -> str:
        """A short name: ``lenet-C1-C2-H``."""
        return f"lenet-{self.channels[0]}-{self.channels[1]}-{self.hidden}"

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)  # type: ignore[no-any-return]
