"""Functional layers and losses: linear, activations, cross_entropy (fused and stable),
nll_loss, mse_loss, binary_cross_entropy(_with_logits), one_hot, accuracy.

Losses follow PyTorch's definitions (class axis 1, ``reduction`` 'mean' | 'sum' | 'none',
``weight``, ``ignore_index``, ``label_smoothing``) and check their inputs, naming the
function, the shapes and the fix. The fused ops (``Affine``, ``CrossEntropy``, ``NLLLoss``,
``BinaryCrossEntropy``, ``BCEWithLogits``) write their backward with operations that arrays
and Tensors share, so they are differentiable twice like the engine's own ops.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tinygrad_bp.autograd import Function
from tinygrad_bp.ops import sum_rows, where
from tinygrad_bp.tensor import Tensor

__all__ = [
    "Affine",
    "BCEWithLogits",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "NLLLoss",
    "ProbabilitiesWarning",
    "Targets",
    "accuracy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")
_MAX, _SUM = np.maximum.reduce, np.add.reduce
_BCE_EPS = float(np.float32(1e-12))  # PyTorch's clamp of p (1 - p), a C float


# --------------------------------------------------------------------------- shims
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


# --------------------------------------------------------------------------- checks
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


_PROBABILITIES = (
    "cross_entropy: every row of the input {shape} is already a probability distribution "
    "(entries in [0, 1] summing to 1), but cross_entropy takes logits and applies log_softmax "
    "itself; softmax twice trains worse. Remove the final Softmax (e.g. from the Sequential), "
    "or pass log-probabilities to nll_loss"
)


def _tensor(x: Any, fn: str, what: str, like: Any = None) -> Tensor:
    """``x`` as a Tensor by the one dtype rule: arrays keep their dtype; Python numbers and
    lists become float32, or follow ``like`` (the other operand) when it is a float Tensor or
    array, as Python numbers in an op follow the tensor."""
    if isinstance(x, Tensor):
        return x
    try:
        if isinstance(x, (np.ndarray, np.generic)):
            return Tensor(x)
        lt = getattr(like, "dtype", None)
        if lt is not None and lt.kind == "f":
            a = np.asarray(x)
            if a.dtype.kind in "iuf":
                return Tensor(a.astype(lt))
        return Tensor(x)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{fn}: {what} must be a Tensor or array-like, got {type(x).__name__}"
        ) from e


def _float_input(x: Any, fn: str, like: Any = None) -> Tensor:
    t = _tensor(x, fn, "input", like=like)
    if t.dtype.kind != "f":
        raise TypeError(
            f"{fn}: input must be floating point (logits or probabilities), got dtype {t.dtype} "
            f"with shape {t.shape}; convert with .astype('float32')"
        )
    return t


def _check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _as_rows(x: Any) -> Any:
    """(N, C, d1, ...) -> (N*d1*..., C) with the class axis last (arrays or Tensors)."""
    if x.ndim <= 2:
        return x.reshape(-1, x.shape[-1])
    perm = (0, *range(2, x.ndim), 1)
    return x.transpose(perm).reshape(-1, x.shape[1])


def _label_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of class-index targets for an input of ``shape`` (class axis 1; 0 for 1-D)."""
    return () if len(shape) == 1 else (shape[0], *shape[2:])


_ROWS: dict[int, np.ndarray] = {}  # batch size -> arange(batch size)


def flat_positions(target: np.ndarray, n_classes: int) -> np.ndarray | None:
    """``row * n_classes + target[row]`` for every row: where each row's target sits in the
    C-ordered (M, n_classes) array flattened; None if a label is outside [0, n_classes).
    One ``np.ravel_multi_index`` call both computes and range-checks them (the row numbers
    are cached per batch size): several times cheaper than a separate min/max check."""
    m = target.shape[0]
    rows = _ROWS.get(m)
    if rows is None:
        if len(_ROWS) > 64:
            _ROWS.clear()
        rows = _ROWS[m] = np.arange(m)
        rows.flags.writeable = False
    try:
        return np.ravel_multi_index((rows, target), (m, n_classes))  # type: ignore[no-any-return]
    except (ValueError, TypeError):  # a label out of range (negative ones included)
        return None


def _class_targets(target: Any, shape: tuple[int, ...], fn: str, ignore_index: int) -> np.ndarray:
    """Validate integer class targets for an input of ``shape``; returns them as int64 rows."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    want = _label_shape(shape)
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    if t.shape == shape and len(shape) >= 2 and t.dtype.kind in "biu":
        raise TypeError(
            f"{fn}: the target has the input's shape {shape} but dtype {t.dtype}: one-hot or "
            "probability targets must be floating point (target.astype(np.float32)); or pass "
            f"class indices of shape {want} (e.g. target.argmax(axis=1))"
        )
    if t.dtype.kind not in "iu":
        hint = (
            "pass integer labels (e.g. y.astype(np.int64))"
            if t.dtype.kind == "f" and t.shape == want
            else f"pass integer labels of shape {want} or class probabilities of shape {shape}"
        )
        raise TypeError(
            f"{fn}: class-index targets must be integers, got dtype {t.dtype} with shape "
            f"{t.shape} for an input of shape {shape}; {hint}"
        )
    if t.shape != want:
        if len(shape) >= 2 and t.ndim >= 1 and t.shape[0] != shape[0]:
            raise ValueError(
                f"{fn}: batch size mismatch: input has {shape[0]} rows (shape {shape}) but "
                f"target has {t.shape[0]} (shape {t.shape}); pass one label per row"
            )
        raise ValueError(
            f"{fn}: target of shape {t.shape} does not fit input of shape {shape}: expected "
            f"class indices of shape {want} (class axis 1) or probabilities of shape {shape}"
        )
    rows = t.reshape(-1).astype(np.int64, copy=False)
    bad = (rows != ignore_index) & ((rows < 0) | (rows >= n_classes))
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(
            f"{fn}: target labels must be in [0, {n_classes}) for an input with {n_classes} "
            f"classes (shape {shape}); found {rows[i]} at flat position {i} "
            f"(min {rows.min()}, max {rows.max()}). Check the labels or the output size"
        )
    return rows


def _class_weight(weight: Any, n_classes: int, dtype: np.dtype, fn: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
    if w.shape != (n_classes,):
        raise ValueError(
            f"{fn}: weight must have one entry per class, shape ({n_classes},), got {w.shape}"
        )
    return w


# --------------------------------------------------------------------------- layers
class Affine(Function):
    """z = x @ w + b  (x: (N, in), w: (in, out), b: (out,));
    dx = g @ w^T,  dw = x^T @ g,  db = sum of g over the batch"""

    grads_are_new = True

    save_inputs = "cross"  # x only for w's grad, w only for x's

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
        x = _tensor(x, "linear", "input", like=weight)
    check_input_dtype(x, weight, "linear")
    if x.ndim == 2 and weight.ndim == 2:
        return Affine._apply3(x, weight, bias)
    y = x @ weight
    return y if bias is None else y + bias


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x)."""
    return _tensor(x, "sigmoid", "input").sigmoid()


def relu(x: Any) -> Tensor:
    """max(x, 0)."""
    return _tensor(x, "relu", "input").relu()


def tanh(x: Any) -> Tensor:
    """tanh(x)."""
    return _tensor(x, "tanh", "input").tanh()


def softmax(x: Any, axis: int = -1) -> Tensor:
    """e^x / sum(e^x) along ``axis`` (max-shifted); a Tensor, array or list."""
    return _tensor(x, "softmax", "input").softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis`` (stable); a Tensor, array or list."""
    return _tensor(x, "log_softmax", "input").log_softmax(axis)


# --------------------------------------------------------------------------- class losses
_new_tuple = tuple.__new__  # Targets(...) without the namedtuple's Python-level __new__


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
        ctx.saved_tensors = (e,)  # the softmax, for backward
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, spec = ctx.inputs
        if isinstance(x, Tensor) or isinstance(g, Tensor):  # create_graph: stay differentiable
            p = x.softmax(axis=1) if isinstance(x, Tensor) else ctx.saved_tensors[0]
            w = spec.matrix(x.shape[0], x.shape[1], x.dtype)
            return (p * w.sum(axis=1, keepdims=True) - w) * spec.scale(g), None
        red = spec.reduction  # spec.scale(g), written out as in forward
        scale = g * spec.inv if red == "mean" else g if red == "sum" else g.reshape(-1, 1)
        p = ctx.saved_tensors[0]
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
        and reduction in _REDUCTIONS
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
                warnings.warn(_PROBABILITIES.format(shape=shape), ProbabilitiesWarning, 3)
            if flat is not None:  # (else: the general path says which label is wrong)
                spec = _new_tuple(Targets, (t, None, None, reduction, 1.0 / shape[0], flat))
                return op._apply2(input, spec)
    x = _float_input(input, fn, like=target)
    _check_reduction(reduction, fn)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must have a class axis, got a 0-d tensor")
    shape = x.shape
    n_classes = shape[0] if x.ndim == 1 else shape[1]
    w = _class_weight(weight, n_classes, x.dtype, fn)
    tgt = target.data if isinstance(target, Tensor) else np.asarray(target)
    rows_x = _as_rows(x)
    m = rows_x.shape[0]
    if op is CrossEntropy and _are_probabilities(rows_x.data):
        warnings.warn(_PROBABILITIES.format(shape=shape), ProbabilitiesWarning, 3)
    out_shape = _label_shape(shape)
    if tgt.dtype.kind == "f" and tgt.shape == shape:  # class probabilities
        if isinstance(target, Tensor) and target.requires_grad:
            return _soft_loss_graph(op, rows_x, target, w, reduction, label_smoothing, out_shape)
        p = _as_rows(tgt).astype(x.dtype, copy=False)
        if label_smoothing:
            p = p * (1.0 - label_smoothing) + label_smoothing / n_classes
        dense = p if w is None else p * w
        loss = op._apply2(rows_x, Targets(None, None, dense, reduction, 1.0 / m))
    else:
        t = _class_targets(target, shape, fn, ignore_index)
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
            loss = op._apply2(rows_x, Targets(None, None, dense, reduction, inv))
        else:
            plain = w is None and bool(keep.all())
            wt_arg = None if plain else wt
            flat = flat_positions(tc, n_classes)
            loss = op._apply2(rows_x, Targets(tc, wt_arg, None, reduction, inv, flat))
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
    p = _as_rows(target)
    if smoothing:
        p = p * (1.0 - smoothing) + smoothing / rows_x.shape[1]
    if w is not None:
        p = p * w
    loss = -(logp * p).sum(axis=1)
    return loss.reshape(out_shape) if reduction == "none" else _reduce(loss, reduction)


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


# --------------------------------------------------------------------------- other losses
def _same_shape(x: Tensor, t: Any, fn: str) -> Tensor:
    tt = _tensor(t, fn, "target", like=x)
    if tt.shape != x.shape:
        raise ValueError(
            f"{fn}: target shape {tt.shape} differs from input shape {x.shape}; they must match "
            "(broadcasting a target is usually a bug: reshape one of them)"
        )
    if tt.dtype.kind != "f":
        tt = Tensor(tt.data.astype(x.dtype))
    return tt


def _weighted(loss: Tensor, weight: Any, fn: str, reduction: str) -> Tensor:
    if weight is not None:
        w = _tensor(weight, fn, "weight", like=loss)
        try:
            ok = np.broadcast_shapes(w.shape, loss.shape) == loss.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"{fn}: weight of shape {w.shape} does not broadcast to the loss shape {loss.shape}"
            )
        loss = loss * w
    return _reduce(loss, reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error (x - t)^2, reduced."""
    x = _float_input(input, "mse_loss", like=target)
    _check_reduction(reduction, "mse_loss")
    d = x - _same_shape(x, target, "mse_loss")
    return _reduce(d * d, reduction)


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
    p = _float_input(input, fn, like=target)
    _check_reduction(reduction, fn)
    y = _same_shape(p, target, fn)
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
    x = _float_input(input, fn, like=target)
    _check_reduction(reduction, fn)
    y = _same_shape(x, target, fn)
    pw = None
    if pos_weight is not None:
        pw = _tensor(pos_weight, fn, "pos_weight", like=x)
        try:
            np.broadcast_shapes(pw.shape, x.shape)
        except ValueError:
            raise ValueError(
                f"{fn}: pos_weight of shape {pw.shape} does not broadcast to input {x.shape}"
            ) from None
    return _weighted(BCEWithLogits.apply(x, y, pw), weight, fn, reduction)


# --------------------------------------------------------------------------- utilities
def one_hot(labels: Any, num_classes: int = -1, dtype: npt.DTypeLike = np.float32) -> Tensor:
    """Labels of any shape -> a tensor with a new last axis of ``num_classes`` (default:
    max label + 1), 1 at each label and 0 elsewhere."""
    t = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {t.dtype}")
    if num_classes < 0:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise IndexError(
            f"one_hot: labels must be in [0, {num_classes}), found values in [{t.min()}, {t.max()}]"
        )
    out = np.zeros((*t.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, t[..., None].astype(np.intp), 1, axis=-1)
    return Tensor(out)


def accuracy(output: Any, target: Any) -> float:
    """Fraction of rows whose highest score (class axis 1, or the last for 1-D/2-D) equals
    the target class (integer labels, or one-hot/probability rows)."""
    out = np.asarray(output.data if isinstance(output, Tensor) else output)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if out.ndim == 0:
        raise ValueError("accuracy: output needs a class axis")
    axis = 0 if out.ndim == 1 else 1
    pred = out.argmax(axis=axis)
    if t.shape == out.shape and t.dtype.kind == "f":
        t = t.argmax(axis=axis)
    if t.shape != pred.shape:
        raise ValueError(
            f"accuracy: target of shape {t.shape} does not match predictions of shape "
            f"{pred.shape} (from output {out.shape})"
        )
    return float((pred == t).mean()) if pred.size else float("nan")


# re-exports: convolution, pooling and normalization live in their own modules
from tinygrad_bp.nn.conv import (  # noqa: E402
    adaptive_avg_pool2d,
    avg_pool2d,
    conv2d,
    max_pool2d,
)
from tinygrad_bp.nn.normalization import batch_norm, dropout, embedding, layer_norm  # noqa: E402

__all__ += [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "dropout",
    "embedding",
    "layer_norm",
    "max_pool2d",
]
