"""tinygrad_bp: a numpy autograd micro-framework for learning and testing backpropagation."""

from tinygrad_bp import autograd  # noqa: F401, I001  (first: tensor.py imports it)
from tinygrad_bp.autograd import (
    Function,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    once_differentiable,
    set_grad_enabled,
)
from tinygrad_bp.tensor import (
    Tensor,
    arange,
    eye,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    uniform,
    zeros,
    zeros_like,
)
from tinygrad_bp.ops import (
    concatenate,
    log_softmax,
    logsumexp,
    maximum,
    minimum,
    softmax,
    stack,
    where,
)
from tinygrad_bp.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_bp.anomaly import detect_anomaly, set_detect_anomaly
from tinygrad_bp.viz import draw_graph
from tinygrad_bp import data, nn, optim, serialization

__version__ = "0.1.0"

__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "arange",
    "concatenate",
    "data",
    "detect_anomaly",
    "draw_graph",
    "enable_grad",
    "eye",
    "from_numpy",
    "full",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "log_softmax",
    "logsumexp",
    "maximum",
    "minimum",
    "nn",
    "no_grad",
    "once_differentiable",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "randn",
    "serialization",
    "set_detect_anomaly",
    "set_grad_enabled",
    "softmax",
    "stack",
    "tensor",
    "uniform",
    "where",
    "zeros",
    "zeros_like",
]
