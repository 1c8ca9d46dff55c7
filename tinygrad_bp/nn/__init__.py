"""Neural-network building blocks: ``Module``, layers, containers, and the ``functional``,
``init`` and ``utils`` modules.

Reading order:

1. ``module.py``: ``Module`` (parameter registration, state dicts, train/eval) and
   ``Parameter``.
2. ``layers.py``: ``Linear`` (alias ``Dense``), the basic activation modules, ``Flatten``;
   ``activations.py``: PyTorch's other activation modules (``GELU``, ``SiLU``, ...);
   ``loss_modules.py``: the losses as modules (``CrossEntropyLoss``, ``MSELoss``, ...).
3. ``containers.py``: ``Sequential`` and ``MLP``.
4. ``functional.py``: the same layers and the losses as functions (its docstring lists the
   modules behind it); ``init.py``: weight initialisations; ``utils.py``: gradient clipping.
"""

from tinygrad_bp.nn import functional, init, utils
from tinygrad_bp.nn.activations import (
    ELU,
    GELU,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    Mish,
    ReLU6,
    SiLU,
    Softplus,
)
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
from tinygrad_bp.nn.loss_modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from tinygrad_bp.nn.module import IncompatibleKeys, Module, Parameter

__all__ = [
    "ELU",
    "GELU",
    "MLP",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dense",
    "Flatten",
    "Hardswish",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "IncompatibleKeys",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Mish",
    "Module",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "ReLU6",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
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
