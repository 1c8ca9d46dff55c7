"""Regression and binary losses: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss`` and
``huber_loss`` (one fused ``Huber`` op for both), ``binary_cross_entropy`` (takes probabilities,
PyTorch's log clamp at -100) and ``binary_cross_entropy_with_logits`` (stable softplus form),
with the fused ``BinaryCrossEntropy`` and ``BCEWithLogits`` ops and their duck-typed shims
(one formula for arrays and Tensors, so the backward is differentiable again)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine import Function
from tinygrad_bp.engine.ops import where
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn.checks import as_tensor, check_reduction, float_input, reduce_loss

__all__ = [
    "BCEWithLogits",
    "BinaryCrossEntropy",
    "Huber",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
]

_BCE_EPS = float(np.float32(1e-12))  # PyTorch's clamp of p (1 - p), a C float


def _sigmoid(a: Any) -> Any:
    if isinstance(a, Tensor):
        return a.sigmoid()
    e = np.exp(-np.abs(a))  # stable: exp of a non-positive number never overflows
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(a: Any) -> Any:
    """log(1 + e^a), stable; for Tensors exact in value and derivative at every point."""
    if isinstance(a, Tensor):
        pos = a + ((-a.clip(min=0)).exp() + 1.0).log()
        neg = (a.clip(max=0).exp() + 1.0).log()
        return where(a.data > 0, pos, neg)
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


def _clamped_log(a: Any) -> Any:
    """log(a) limited below at -100 (PyTorch's binary_cross_entropy convention)."""
    if isinstance(a, Tensor):
        return a.clip(min=np.exp(-100.0)).log().maximum(-100.0)
    out = np.full(np.shape(a), -100.0, dtype=np.result_type(a, np.float32))
    np.log(a, out=out, where=a > 0)
    return np.maximum(out, -100.0)


def _maximum(a: Any, b: float) -> Any:
    return a.maximum(b) if isinstance(a, Tensor) else np.maximum(a, b)


def _target_like_input(x: Tensor, t: Any, fn: str) -> Tensor:
    """``t`` as a Tensor of ``x``'s shape (checked, never broadcast) and float dtype."""
    target = as_tensor(t, fn, "target", like=x)
    if target.shape != x.shape:
        raise ValueError(
            f"{fn}: target shape {target.shape} differs from input shape {x.shape}; they must "
            "match (broadcasting a target is usually a bug: reshape one of them)"
        )
    if target.dtype.kind != "f":
        target = Tensor(target.data.astype(x.dtype))
    return target


def _weighted(loss: Tensor, weight: Any, fn: str, reduction: str) -> Tensor:
    if weight is not None:
        w = as_tensor(weight, fn, "weight", like=loss)
        try:
            ok = np.broadcast_shapes(w.shape, loss.shape) == loss.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"{fn}: weight of shape {w.shape} does not broadcast to the loss shape {loss.shape}"
            )
        if w.dtype != loss.dtype:  # the loss stays in the input's dtype, as in PyTorch
            w = w.astype(loss.dtype)
        loss = loss * w
    return reduce_loss(loss, reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error (x - t)^2, reduced."""
    x = float_input(input, "mse_loss", like=target)
    check_reduction(reduction, "mse_loss")
    d = x - _target_like_input(x, target, "mse_loss")
    return reduce_loss(d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error |x - t|, reduced (gradient sign(x - t), 0 where they are equal)."""
    x = float_input(input, "l1_loss", like=target)
    check_reduction(reduction, "l1_loss")
    return reduce_loss((x - _target_like_input(x, target, "l1_loss")).abs(), reduction)


class Huber(Function):
    """z = s m (|d| - m / 2), d = x - t, m = min(|d|, delta): s 0.5 d^2 where |d| <= delta, else
    s delta (|d| - 0.5 delta) (huber_loss: s = 1; smooth_l1_loss: delta = beta, s = 1 / beta);
    dx = s clip(d, -delta, delta),  dt = -dx"""

    save_inputs = True

    @staticmethod
    def forward(
        ctx: Any, x: np.ndarray, t: np.ndarray, delta: float = 1.0, scale: float = 1.0
    ) -> np.ndarray:
        ctx.delta, ctx.scale = delta, scale
        a = np.abs(x - t)
        m = np.minimum(a, delta)  # one formula for both pieces: no branch that could overflow
        return m * (a - 0.5 * m) * scale

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, t = ctx.inputs
        nx, nt = ctx.needs_input_grad
        d, lim = x - t, ctx.delta
        c = d.clip(-lim, lim) if isinstance(d, Tensor) else np.clip(d, -lim, lim)
        gx = g * c * ctx.scale
        return (gx if nx else None), (-gx if nt else None)


def _positive(value: float, name: str, fn: str, zero_ok: bool) -> float:
    """``value`` as a float, rejecting negatives (and 0 unless ``zero_ok``) and NaN."""
    v = float(value)
    if not (v >= 0 if zero_ok else v > 0):
        need = "0 or more" if zero_ok else "positive"
        raise ValueError(f"{fn}: {name} must be {need}, got {value}")
    return v


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = x - t), reduced; beta = 0 is
    the L1 loss (as PyTorch)."""
    fn = "smooth_l1_loss"
    x = float_input(input, fn, like=target)
    check_reduction(reduction, fn)
    b = _positive(beta, "beta", fn, zero_ok=True)
    t = _target_like_input(x, target, fn)
    if b == 0.0:
        return reduce_loss((x - t).abs(), reduction)
    return reduce_loss(Huber.apply(x, t, delta=b, scale=1.0 / b), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta) (d = x - t), reduced; equals
    delta * smooth_l1_loss with beta = delta."""
    fn = "huber_loss"
    x = float_input(input, fn, like=target)
    check_reduction(reduction, fn)
    dl = _positive(delta, "delta", fn, zero_ok=False)
    return reduce_loss(Huber.apply(x, _target_like_input(x, target, fn), delta=dl), reduction)


class BinaryCrossEntropy(Function):
    """z = -(y log p + (1 - y) log(1 - p)), logs limited below at -100 as PyTorch;
    dp = (p - y) / max(p (1 - p), 1e-12),  dy = log(1 - p) - log p"""

    save_inputs = True

    @staticmethod
    def forward(ctx: Any, p: np.ndarray, y: np.ndarray) -> np.ndarray:
        lp, l1p = _clamped_log(p), _clamped_log(1.0 - p)
        return (-(y * lp + (1.0 - y) * l1p)).astype(p.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        p, y = ctx.inputs
        np_, ny = ctx.needs_input_grad
        gp = g * (p - y) / _maximum(p * (1.0 - p), _BCE_EPS) if np_ else None
        gy = g * (_clamped_log(1.0 - p) - _clamped_log(p)) if ny else None
        return gp, gy


def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target`` (same
    shape); optional ``weight`` broadcast over the elementwise loss."""
    fn = "binary_cross_entropy"
    p = float_input(input, fn, like=target)
    check_reduction(reduction, fn)
    y = _target_like_input(p, target, fn)
    if p.size and (p.data.min() < 0 or p.data.max() > 1):
        raise ValueError(
            f"{fn}: input must hold probabilities in [0, 1], found values in "
            f"[{p.data.min()}, {p.data.max()}]; apply sigmoid first or use "
            "binary_cross_entropy_with_logits on the raw scores"
        )
    return _weighted(BinaryCrossEntropy.apply(p, y), weight, fn, reduction)


class BCEWithLogits(Function):
    """z = (1 - y) x + L softplus(-x), L = 1 + (pw - 1) y  (stable for any x);
    dx = (1 - y) - L sigmoid(-x),  dy = -x + (pw - 1) softplus(-x),  dpw = y softplus(-x)"""

    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray, pw: np.ndarray | None) -> np.ndarray:
        sp = _softplus(-x)
        lw = 1.0 if pw is None else 1.0 + (pw - 1.0) * y
        return ((1.0 - y) * x + lw * sp).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y, pw = ctx.inputs
        nx, ny, npw = ctx.needs_input_grad
        sp = _softplus(-x) if (ny and pw is not None) or npw else None
        lw = 1.0 if pw is None else (pw - 1.0) * y + 1.0
        gx = g * ((1.0 - y) - lw * _sigmoid(-x)) if nx else None
        gy = None
        if ny:
            gy = g * -x if pw is None else g * ((pw - 1.0) * sp - x)
        gpw = g * y * sp if npw else None
        return gx, gy, gpw


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula (finite for logits of 1e4).

    ``weight`` scales the elementwise loss; ``pos_weight`` (broadcast along the last axis,
    e.g. one per class) scales the positive term.
    """
    fn = "binary_cross_entropy_with_logits"
    x = float_input(input, fn, like=target)
    check_reduction(reduction, fn)
    y = _target_like_input(x, target, fn)
    pw = None
    if pos_weight is not None:
        pw = as_tensor(pos_weight, fn, "pos_weight", like=x)
        try:
            np.broadcast_shapes(pw.shape, x.shape)
        except ValueError:
            raise ValueError(
                f"{fn}: pos_weight of shape {pw.shape} does not broadcast to input {x.shape}"
            ) from None
    return _weighted(BCEWithLogits.apply(x, y, pw), weight, fn, reduction)
