"""The layers as functions: ``linear`` (the fused ``Affine`` op that ``nn.Linear`` calls, with its
input dtype check) and the activations ``sigmoid``, ``relu``, ``tanh``, ``softmax``,
``log_softmax``, and PyTorch's ``gelu``, ``silu``, ``elu``, ``leaky_relu``, ``softplus``,
``mish``, ``hardswish``, ``hardtanh``, ``relu6`` (thin wrappers of the Tensor methods, same
names and defaults as ``torch.nn.functional``), which accept arrays and lists as well as
Tensors."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine import Function
from tinygrad_bp.engine.ops import sum_rows
from tinygrad_bp.engine.ops.shims import each_for_the_other
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn.checks import as_tensor

__all__ = [
    "Affine",
    "check_input_dtype",
    "elu",
    "gelu",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]


class Affine(Function):
    """z = x @ w + b  (x: (N, in), w: (in, out), b: (out,));
    dx = g @ w^T,  dw = x^T @ g,  db = sum of g over the batch"""

    grads_are_new = True

    save_inputs = staticmethod(each_for_the_other)  # x only for w's grad, w only for x's

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        out = np.dot(x, w)
        if b is not None:
            out += b  # out is fresh: add the bias in place
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, w, _ = ctx.inputs
        nx, nw, nb = ctx.needs_input_grad
        if type(g) is np.ndarray:  # the usual case: straight to BLAS and the ufunc
            return (
                np.dot(g, w.T) if nx else None,
                np.dot(x.T, g) if nw else None,
                sum_rows(g) if nb else None,  # float64-accumulated for float32
            )
        return (g @ w.T if nx else None), (x.T @ g if nw else None), (g.sum(axis=0) if nb else None)


def check_input_dtype(x: Tensor, weight: Tensor, where: str) -> None:
    """Refuse an input whose dtype differs from the weights' (a float64 batch into a float32
    layer would silently run in float64; PyTorch refuses it too)."""
    xt, wt = x.data.dtype, weight.data.dtype
    if xt is not wt and xt != wt:
        fix = f"convert the batch, x.astype(np.{wt})"
        if xt.kind == "f":
            fix += f", or the model, model.astype(np.{xt})"
        raise TypeError(
            f"{where}: input of shape {x.shape} has dtype {xt} but the weights "
            f"{weight.shape} are {wt}; they must match (no silent promotion): {fix}"
        )


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight + bias`` with ``weight`` of shape (in, out); one fused op for 2-D ``x``.
    ``x`` must have the weights' dtype (lists follow it)."""
    if not isinstance(x, Tensor):
        x = as_tensor(x, "linear", "input", like=weight)
    check_input_dtype(x, weight, "linear")
    if x.ndim == 2 and weight.ndim == 2:
        return Affine.apply(x, weight, bias)
    y = x @ weight
    return y if bias is None else y + bias


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x)."""
    return as_tensor(x, "sigmoid", "input").sigmoid()


def relu(x: Any) -> Tensor:
    """max(x, 0)."""
    return as_tensor(x, "relu", "input").relu()


def tanh(x: Any) -> Tensor:
    """tanh(x)."""
    return as_tensor(x, "tanh", "input").tanh()


def softmax(x: Any, axis: int = -1) -> Tensor:
    """e^x / sum(e^x) along ``axis`` (max-shifted); a Tensor, array or list."""
    return as_tensor(x, "softmax", "input").softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis`` (stable); a Tensor, array or list."""
    return as_tensor(x, "log_softmax", "input").log_softmax(axis)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x * Phi(x) with Phi the standard normal CDF (``approximate="tanh"``: its tanh form)."""
    return as_tensor(x, "gelu", "input").gelu(approximate)


def silu(x: Any) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return as_tensor(x, "silu", "input").silu()


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha (e^x - 1)."""
    return as_tensor(x, "elu", "input").elu(alpha)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return as_tensor(x, "leaky_relu", "input").leaky_relu(negative_slope)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta (stable), x itself where beta x > threshold."""
    return as_tensor(x, "softplus", "input").softplus(beta, threshold)


def mish(x: Any) -> Tensor:
    """x * tanh(softplus(x))."""
    return as_tensor(x, "mish", "input").mish()


def hardswish(x: Any) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return as_tensor(x, "hardswish", "input").hardswish()


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clamped to [min_val, max_val] (gradient 0 at the bounds, as PyTorch)."""
    return as_tensor(x, "hardtanh", "input").hardtanh(min_val, max_val)


def relu6(x: Any) -> Tensor:
    """min(max(x, 0), 6) (gradient 0 at 0 and 6, as PyTorch)."""
    return as_tensor(x, "relu6", "input").relu6()
