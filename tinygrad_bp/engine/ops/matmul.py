"""Matrix product with ``np.matmul`` semantics (1-D, 2-D and batched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.ops.shims import _matmul, _mT, each_for_the_other

__all__ = ["MatMul", "dtype_mismatch"]


def dtype_mismatch(op: str, xt: np.dtype, yt: np.dtype) -> str:
    """The hint for a matmul of two float dtypes (PyTorch refuses them too, saying "expected
    m1 and m2 to have the same dtype")."""
    return (
        f"{op} needs both operands in the same float dtype, got {xt} and {yt} (no silent "
        f"promotion to float64); convert one, e.g. x.astype(np.{yt}) for a {xt} batch into "
        f"{yt} weights"
    )


class MatMul(Function):
    """z = x @ y (np.matmul: 1-D, 2-D, batched);  dx = g @ y^T, dy = x^T @ g"""

    grads_are_new = True

    save_inputs = staticmethod(each_for_the_other)

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xnd, ynd = np.ndim(x), np.ndim(y)
        if xnd == 0 or ynd == 0:
            raise ValueError(
                "matmul: operands must have at least one dimension (use * for scalars)"
            )
        xt, yt = x.dtype, y.dtype
        if xt is not yt and xt.kind == "f" and yt.kind == "f" and xt != yt:
            raise TypeError("matmul: the operands' float dtypes differ")  # (explain says more)
        ctx.nd = (xnd, ynd)
        return np.matmul(x, y)

    @staticmethod
    def explain(arrays: Sequence[Any]) -> str:
        """Why numpy refused: the clean message that replaces numpy's own text."""
        x, y = (np.shape(a) for a in arrays)
        xt, yt = (np.result_type(a) for a in arrays)
        if xt != yt and xt.kind == "f" and yt.kind == "f":
            return dtype_mismatch("matmul", xt, yt)
        if not len(x) or not len(y):
            return "operands must have at least one dimension (use * for scalars)"
        if len(x) and len(y):
            k = x[-1]
            k2 = y[0] if len(y) == 1 else y[-2]
            if k != k2:
                return (
                    f"the last axis of the first operand ({k}) must equal the "
                    f"{'only' if len(y) == 1 else 'second-to-last'} axis of the second ({k2}); "
                    "transpose an operand or fix the layer sizes"
                )
        return f"the batch dimensions {x[:-2]} and {y[:-2]} must broadcast"

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.inputs
        xnd, ynd = ctx.nd
        nx, ny = ctx.needs_input_grad
        if xnd == 1 and ynd == 1:
            return (g * y if nx else None), (g * x if ny else None)
        if xnd == 1:
            g = g.reshape((*g.shape[:-1], 1, g.shape[-1]))
        if ynd == 1:
            g = g.reshape((*g.shape, 1))
        gx = gy = None
        if nx:
            gx = _matmul(g, _mT(y.reshape(-1, 1) if ynd == 1 else y))
            if xnd == 1:
                gx = gx.reshape((*gx.shape[:-2], gx.shape[-1]))
        if ny:
            gy = _matmul(_mT(x.reshape(1, -1) if xnd == 1 else x), g)
            if ynd == 1:
                gy = gy.reshape(gy.shape[:-1])
        return gx, gy
