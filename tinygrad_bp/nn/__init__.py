"""Neural-network building blocks: ``Module``, layers, containers, and the ``functional``,
``init`` and ``utils`` modules.

Reading order:

1. ``module.py``: ``Module`` (parameter registration, state dicts, train/eval) and
   ``Parameter``.
2. ``layers.py``: ``Linear`` (alias ``Dense``), the activation modules, ``Flatten``.
3. ``containers.py``: ``Sequential`` and ``MLP``.
4. ``functional.py``: the same layers and the losses as functions (its docstring lists the
   modules behind it); ``init.py``: weight initialisations; ``utils.py``: gradient clipping.
"""

from tinygrad_bp.nn import functional, init, utils
from tinygrad_bp.nn.containers import MLP, Sequential
from tinygrad_bp.nn.layers import (
    Dense,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    activation,
)
from tinygrad_bp.nn.module import IncompatibleKeys, Module, Parameter

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

from tinygrad_bp.nn import conv, normalization
from tinygrad_bp.nn.conv_layers import (
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
    "pooling",
]
