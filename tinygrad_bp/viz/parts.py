"""``fused=False``: the fused ops drawn as the equations they fuse.

``Affine`` (x @ w + b in one op) becomes ``MatMul`` then ``Add``; the fused cross-entropy
becomes ``LogSoftmax`` -> ``NLL`` (the picked -log p per row) -> ``Mean``/``Sum``. Each part
gets its value and gradient when the node's inputs and gradient are known, so the picture
matches the chain rule written out by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_bp.viz import internals as I

__all__ = ["FUSED", "Part", "expand"]

FUSED = {"Affine", "CrossEntropy"}


@dataclass(frozen=True)
class Part:
    """One drawn piece of a fused op: ``args`` are ``("in", i)`` (the op's input ``i``) or
    ``("part", j)`` (an earlier piece); the last piece stands for the node itself."""

    op: str
    args: tuple[tuple[str, int], ...]
    shape: tuple[int, ...]
    value: np.ndarray | None
    grad: np.ndarray | None
    rule: str


def _known(a: Any) -> bool:
    return isinstance(a, np.ndarray)


def expand(
    n: Any, args: list[Any] | None, value: np.ndarray | None, grad: np.ndarray | None
) -> list[Part] | None:
    """The pieces of a fused node (None for any other op). ``args``: the node's argument
    values (None or ``I.UNKNOWN`` where unknown); ``value``/``grad``: the node's own."""
    name = I.op_name(n)
    args = args if args is not None else [I.UNKNOWN] * len(I.parents(n))
    if name == "Affine":
        return _affine(n, args, value, grad)
    if name == "CrossEntropy":
        return _cross_entropy(n, args, value, grad)
    return None


def _affine(n: Any, args: list[Any], value: Any, grad: Any) -> list[Part]:
    x, w = args[0], args[1]
    shape = I.out_shape(n)
    mm_val = x @ w if _known(x) and _known(w) else None
    mm = Part(
        "MatMul", (("in", 0), ("in", 1)), shape, mm_val, grad, "z = x @ w;  dx = g w^T, dw = x^T g"
    )
    if I.parents(n)[2] is None:  # no bias (a frozen, non-grad bias is not drawn apart)
        return [Part("MatMul", mm.args, shape, value, grad, mm.rule)]
    add = Part(
        "Add",
        (("part", 0), ("in", 2)),
        shape,
        value,
        grad,
        "z = y + b;  dy = g, db = sum of g over the batch",
    )
    return [mm, add]


def _cross_entropy(n: Any, args: list[Any], value: Any, grad: Any) -> list[Part]:
    x, spec = args[0], args[1]
    shape = I.out_shape(n)
    ls_rule = "z = x - logsumexp(x) along axis 1;  dx = g - softmax(x) sum(g)"
    nll_rule = "loss_i = -sum_c W_ic z_ic (W: one-hot targets or their weights);  dz = -W g_i"
    if not _known(x) or not hasattr(spec, "matrix"):
        return [
            Part("LogSoftmax", (("in", 0),), (), None, None, ls_rule),
            Part("NLL", (("part", 0), ("in", 1)), shape, value, grad, nll_rule),
        ]
    m, c = x.shape
    shift = x - x.max(axis=1, keepdims=True)
    logp = shift - np.log(np.exp(shift).sum(axis=1, keepdims=True))
    w = spec.matrix(m, c, x.dtype)
    rows = -(w * logp).sum(axis=1)
    g_rows = g_logp = None
    if grad is not None:
        g_rows = np.broadcast_to(spec.scale(grad), (m, 1)).reshape(m).astype(x.dtype)
        g_logp = -w * g_rows[:, None]
    ls = Part("LogSoftmax", (("in", 0),), (m, c), logp, g_logp, ls_rule)
    if spec.reduction == "none":
        return [ls, Part("NLL", (("part", 0), ("in", 1)), shape, value, grad, nll_rule)]
    nll = Part("NLL", (("part", 0), ("in", 1)), (m,), rows, g_rows, nll_rule)
    op = "Mean" if spec.reduction == "mean" else "Sum"
    red_rule = (
        "z = mean of loss_i;  dloss_i = g / N"
        if op == "Mean"
        else "z = sum of loss_i;  dloss_i = g"
    )
    return [ls, nll, Part(op, (("part", 1),), shape, value, grad, red_rule)]
