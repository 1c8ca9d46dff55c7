"""Classification losses: ``cross_entropy`` (takes logits; fused ``CrossEntropy`` op, stable
log-softmax) and ``nll_loss`` (takes log-probabilities; ``NLLLoss`` op), with PyTorch's
``weight``, ``ignore_index``, ``label_smoothing`` and probability targets.

``Targets`` holds the validated targets of one call, so the fused ops' backward needs no
second check. Rows that already are probability distributions raise a
``ProbabilitiesWarning`` (softmax twice trains worse).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from tinygrad_bp.engine import Function
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn.checks import REDUCTIONS, check_reduction, float_input, reduce_loss
from tinygrad_bp.nn.class_targets import (
    as_rows,
    class_targets,
    class_weight,
    flat_positions,
    label_shape,
)

__all__ = [
    "CrossEntropy",
    "NLLLoss",
    "ProbabilitiesWarning",
    "Targets",
    "cross_entropy",
    "nll_loss",
]

_MAX, _SUM = np.maximum.reduce, np.add.reduce


class ProbabilitiesWarning(UserWarning):
    """``cross_entropy`` got rows that are already probability distributions; it takes logits."""


def _are_probabilities(rows: np.ndarray) -> bool:
    """True when every row of (M, C) ``rows`` lies in [0, 1] and sums to 1 (softmax output).
    Cheap for logits: the first row's sum rejects them in one reduction."""
    if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] < 2:
        return False
    if abs(float(_SUM(rows[0])) - 1.0) > 1e-3:
        return False
    if np.minimum.reduce(rows, axis=None) < 0 or _MAX(rows, axis=None) > 1:
        return False
    return bool((np.abs(_SUM(rows, axis=1) - 1.0) <= 1e-3).all())


_PROBABILITIES_MESSAGE = (
    "cross_entropy: every row of the input {shape} is already a probability distribution "
    "(entries in [0, 1] summing to 1), but cross_entropy takes logits and applies log_softmax "
    "itself; softmax twice trains worse. Remove the final Softmax (e.g. from the Sequential), "
    "or pass log-probabilities to nll_loss"
)
_tuple_new = tuple.__new__  # Targets(...) without the namedtuple's Python-level __new__


class Targets(NamedTuple):
    """What a class loss compares its (M, C) rows with: loss_i = -sum_c W_ic log p_ic.

    ``target`` (M,) class indices with optional per-row weights ``wt`` (W = wt * one-hot),
    or ``dense`` (M, C) target weights W; ``inv`` scales the sum for reduction 'mean'.
    ``flat`` (set with ``target``) holds the targets' positions in the flattened (M, C)
    rows (``flat_positions``): indexing a flat view with one integer array is several
    times faster than ``a[rows, target]``.
    """

    target: np.ndarray | None
    wt: np.ndarray | None
    dense: np.ndarray | None
    reduction: str
    inv: float
    flat: np.ndarray | None = None

    def matrix(self, rows: int, classes: int, dtype: Any) -> np.ndarray:
        """W as a dense (M, C) array."""
        if self.dense is not None:
            return self.dense
        assert self.target is not None
        w = np.zeros((rows, classes), dtype=dtype)
        w.reshape(-1)[self.flat] = 1.0 if self.wt is None else self.wt
        return w

    def scale(self, g: Any) -> Any:
        """The upstream grad as a factor for the (M, C) rows."""
        if self.reduction == "none":
            return g.reshape(-1, 1)
        return g * self.inv if self.reduction == "mean" else g

    def reduce(self, loss: Any, dtype: np.dtype) -> np.ndarray:
        """Per-row losses (or their sum, when summed already) -> the reduced output."""
        if self.reduction == "none":
            return loss.astype(dtype, copy=False)  # type: ignore[no-any-return]
        s = _SUM(loss, axis=None) if loss.ndim else loss  # (numpy scalars have ndim 0 too)
        return np.array(s * self.inv if self.reduction == "mean" else s, dtype=dtype)

    def pick(self, a: np.ndarray) -> np.ndarray:
        """-sum_c W_ic a_ic per row, or summed over rows when no per-row result is needed."""
        if self.target is None:
            return -_SUM(a * self.dense, axis=1)
        assert self.flat is not None  # (set with target)
        picked = a.take(self.flat)  # (take: on the flattened array)
        if self.wt is not None:
            picked = picked * self.wt
        return -picked if self.reduction == "none" else -_SUM(picked, axis=None)


class CrossEntropy(Function):
    """loss_i = -sum_c W_ic log softmax(x)_ic over rows x: (M, C), then reduced;
    dx_i = p_i * sum_c W_ic - W_i  (p = softmax(x); W = one-hot or target probabilities)"""

    grads_are_new = True

    save_inputs = True
    saved_attrs = ("softmax",)

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, spec: Targets) -> np.ndarray:
        s = x - _MAX(x, axis=1, keepdims=True)  # max shift: exp never overflows (logits 1e4)
        e = np.exp(s)
        se = _SUM(e, axis=1, keepdims=True)
        log_se = np.log(se)
        red = spec.reduction
        if spec.flat is not None and spec.wt is None and red != "none":
            # one label per row, reduced: the sum of log_se - s[label], with pick() and
            # reduce() written out (each distinct function costs ~1 us in a training step)
            total = _SUM(log_se, axis=None) - _SUM(s.take(spec.flat), axis=None)
            out = np.array(total * spec.inv if red == "mean" else total, dtype=x.dtype)
        else:
            s -= log_se  # log-probabilities
            out = spec.reduce(spec.pick(s), x.dtype)
        e /= se
        ctx.softmax = e  # for backward
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, spec = ctx.inputs
        if isinstance(x, Tensor) or isinstance(g, Tensor):  # create_graph: stay differentiable
            p = x.softmax(axis=1) if isinstance(x, Tensor) else ctx.softmax
            w = spec.matrix(x.shape[0], x.shape[1], x.dtype)
            return (p * w.sum(axis=1, keepdims=True) - w) * spec.scale(g), None
        red = spec.reduction  # spec.scale(g), written out as in forward
        scale = g * spec.inv if red == "mean" else g if red == "sum" else g.reshape(-1, 1)
        p = ctx.softmax
        if spec.target is not None:  # sparse targets: w_i (p_i - onehot_i), built in place
            gx = p.copy() if spec.wt is None else p * spec.wt[:, None]
            gx.reshape(-1)[spec.flat] -= 1.0 if spec.wt is None else spec.wt
        else:
            gx = p * _SUM(spec.dense, axis=1, keepdims=True)
            gx -= spec.dense
        gx *= scale
        return gx, None


class NLLLoss(Function):
    """loss_i = -sum_c W_ic x_ic over rows of log-probabilities x: (M, C);  dx = -W"""

    grads_are_new = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, spec: Targets) -> np.ndarray:
        ctx.shape, ctx.spec = x.shape, spec
        return spec.reduce(spec.pick(x), x.dtype)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        spec = ctx.spec
        w = spec.matrix(*ctx.shape, g.dtype)
        return -w * spec.scale(g), None


def _class_loss(
    op: type[Function],
    fn: str,
    input: Any,
    target: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    t = target.data if type(target) is Tensor else target
    if (  # the common case, checked cheaply: (N, C) float logits, int labels, no options
        type(input) is Tensor
        and type(t) is np.ndarray
        and weight is None
        and not label_smoothing
        and reduction in REDUCTIONS
    ):
        xd = input.data
        shape = xd.shape
        if (
            len(shape) == 2
            and t.shape == shape[:1]
            and shape[0]
            and t.dtype.kind in "iu"
            and xd.dtype.kind == "f"
            and not 0 <= ignore_index < shape[1]
        ):
            flat = flat_positions(t, shape[1])
            if op is CrossEntropy and _are_probabilities(xd):
                warnings.warn(_PROBABILITIES_MESSAGE.format(shape=shape), ProbabilitiesWarning, 3)
            if flat is not None:  # (else: the general path says which label is wrong)
                spec = _tuple_new(Targets, (t, None, None, reduction, 1.0 / shape[0], flat))
                return op.apply(input, spec)
    x = float_input(input, fn, like=target)
    check_reduction(reduction, fn)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must have a class axis, got a 0-d tensor")
    shape = x.shape
    n_classes = shape[0] if x.ndim == 1 else shape[1]
    w = class_weight(weight, n_classes, x.dtype, fn)
    tgt = target.data if isinstance(target, Tensor) else np.asarray(target)
    rows_x = as_rows(x)
    m = rows_x.shape[0]
    if op is CrossEntropy and _are_probabilities(rows_x.data):
        warnings.warn(_PROBABILITIES_MESSAGE.format(shape=shape), ProbabilitiesWarning, 3)
    out_shape = label_shape(shape)
    if tgt.dtype.kind == "f" and tgt.shape == shape:  # class probabilities
        if isinstance(target, Tensor) and target.requires_grad:
            return _soft_loss_graph(op, rows_x, target, w, reduction, label_smoothing, out_shape)
        p = as_rows(tgt).astype(x.dtype, copy=False)
        if label_smoothing:
            p = p * (1.0 - label_smoothing) + label_smoothing / n_classes
        dense = p if w is None else p * w
        loss = op.apply(rows_x, Targets(None, None, dense, reduction, 1.0 / m))
    else:
        t = class_targets(target, shape, fn, ignore_index)
        keep = t != ignore_index
        tc = np.where(keep, t, 0)
        wt = (np.ones(m, dtype=x.dtype) if w is None else w[tc]) * keep
        total = float(wt.sum())
        inv = 1.0 / total if total > 0 else float("nan")  # all ignored: nan, as PyTorch
        if label_smoothing:
            wc = np.ones(n_classes, dtype=x.dtype) if w is None else w
            dense = np.zeros((m, n_classes), dtype=x.dtype)
            dense[np.arange(m), tc] = (1.0 - label_smoothing) * wt
            dense += (label_smoothing / n_classes) * wc * keep[:, None]
            loss = op.apply(rows_x, Targets(None, None, dense, reduction, inv))
        else:
            plain = w is None and bool(keep.all())
            wt_arg = None if plain else wt
            flat = flat_positions(tc, n_classes)
            loss = op.apply(rows_x, Targets(tc, wt_arg, None, reduction, inv, flat))
    if reduction == "none" and loss.shape != out_shape:
        return loss.reshape(out_shape)
    return loss


def _soft_loss_graph(
    op: type[Function],
    rows_x: Tensor,
    target: Tensor,
    w: np.ndarray | None,
    reduction: str,
    smoothing: float,
    out_shape: tuple[int, ...],
) -> Tensor:
    """Probability targets that require grad: composed from Tensor ops."""
    logp = rows_x.log_softmax(axis=1) if op is CrossEntropy else rows_x
    p = as_rows(target)
    if smoothing:
        p = p * (1.0 - smoothing) + smoothing / rows_x.shape[1]
    if w is not None:
        p = p * w
    loss = -(logp * p).sum(axis=1)
    return loss.reshape(out_shape) if reduction == "none" else reduce_loss(loss, reduction)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits, fused and stable (log-softmax with a max shift, finite
    for logits of 1e4). It takes raw scores (logits), not probabilities: a model ending in
    ``Softmax`` applies softmax twice and trains worse, so rows that are already probability
    distributions raise a ``ProbabilitiesWarning`` (once per call site).

    Args:
        input: logits of shape (N, C), (C,) or (N, C, d1, ...) (class axis 1).
        target: integer class indices of shape (N,) / () / (N, d1, ...), or class
            probabilities of the input's shape.
        weight: optional per-class weights, shape (C,).
        ignore_index: class-index targets equal to it contribute nothing.
        reduction: 'mean' (weighted mean over targets), 'sum' or 'none'.
        label_smoothing: mix the targets with the uniform distribution by this amount.
    """
    return _class_loss(
        CrossEntropy,
        "cross_entropy",
        input,
        target,
        weight,
        ignore_index,
        reduction,
        label_smoothing,
    )


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (e.g. from ``log_softmax``);
    same target forms and options as ``cross_entropy``."""
    return _class_loss(NLLLoss, "nll_loss", input, target, weight, ignore_index, reduction, 0.0)
