"""``Tensor``: the data model of ``TensorCore`` (tensor_core.py), plus one thin method or
operator per op, in-place updates (inplace.py) and numpy's protocols (numpy_interop.py).

Each method runs its op: ``ops.Sum.apply(self, axis=...)``. Ops of one or two inputs without
keyword arguments (the operators, ``exp``, ``tanh``...) say ``apply_one(ops.Exp, self)``: that
is ``ops.Exp.apply(self)`` written out for speed (fast_apply.py, the engine's one speed module
for the forward pass; read ``Function.apply`` instead)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine.inplace import InPlaceMethods
from tinygrad_bp.engine.numpy_interop import NumpyInterop
from tinygrad_bp.engine.tensor_core import TensorCore
from tinygrad_bp.engine.tensor_math import MathMethods

__all__ = ["Tensor"]

Axis = int | Sequence[int] | None


class Tensor(TensorCore, InPlaceMethods, NumpyInterop, MathMethods):
    """An n-dimensional array that records the operations applied to it.

    Args:
        data: array-like, always copied (like ``torch.tensor``: a later change of the
            caller's array never reaches the graph; ``tg.from_numpy`` shares instead).
            Float ndarrays keep their dtype; Python numbers and lists become float32;
            integer and bool arrays are allowed but cannot require gradients.
        requires_grad: record operations on this tensor so ``backward`` can reach it.
        dtype: convert the data to this dtype first.
        name: a label used by ``repr`` and graph drawings.

    ``t.data`` is the ndarray itself. To change it directly, use arrays on both sides
    (``w.data -= lr * w.grad.data``), or update the tensor: ``with tg.no_grad(): w -= lr * w.grad``.

    numpy: ``np.asarray(t)`` / ``np.array(t)`` give the data (outside the graph). numpy
    functions whose result carries no gradient (``np.shape``, ``np.argmax``, ``np.allclose``,
    ``np.isfinite``...) work; those that would drop the graph (``np.sum(t)``, ``np.exp(t)``)
    raise a TypeError naming the Tensor method to use; ``ndarray (op) Tensor`` runs the Tensor op.
    """

    __slots__ = ()

    @property
    def T(self) -> Tensor:
        """Axes reversed (the transpose of a matrix)."""
        return self.transpose()

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    # -- autograd
    def backward(
        self, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on.

        Args:
            grad: the upstream gradient, required unless this tensor has one element.
            retain_graph: keep saved values to walk this graph again (default: create_graph).
            create_graph: record the backward pass itself, for higher-order derivatives.
        """
        retain = create_graph if retain_graph is None else retain_graph
        backward_from(self, grad, retain, create_graph)

    # -- elementwise ops
    def __add__(self, other: Any) -> Tensor:
        return apply_two(ops.Add, self, _const(other, self))

    def __radd__(self, other: Any) -> Tensor:  # commutative: same op, same result
        return apply_two(ops.Add, self, _const(other, self))

    def __sub__(self, other: Any) -> Tensor:
        return apply_two(ops.Sub, self, _const(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return apply_two(ops.Sub, _const(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return apply_two(ops.Mul, self, _const(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return apply_two(ops.Mul, self, _const(other, self))

    def __truediv__(self, other: Any) -> Tensor:
        return apply_two(ops.Div, self, _const(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply_two(ops.Div, _const(other, self), self)

    def __pow__(self, other: Any) -> Tensor:
        return apply_two(ops.Pow, self, _const(other, self))

    def __rpow__(self, other: Any) -> Tensor:
        return apply_two(ops.Pow, _const(other, self), self)

    def __matmul__(self, other: Any) -> Tensor:
        return apply_two(ops.MatMul, self, _const(other, self))

    def __rmatmul__(self, other: Any) -> Tensor:
        return apply_two(ops.MatMul, _const(other, self), self)

    def __neg__(self) -> Tensor:
        return apply_one(ops.Neg, self)

    def __abs__(self) -> Tensor:
        return apply_one(ops.Abs, self)

    def __pos__(self) -> Tensor:
        return self

    # comparisons give bool tensors outside the graph; == stays identity (tensors are hashable)
    def __lt__(self, other: Any) -> Tensor:
        return _make(self.data < _data(other), False)

    def __le__(self, other: Any) -> Tensor:
        return _make(self.data <= _data(other), False)

    def __gt__(self, other: Any) -> Tensor:
        return _make(self.data > _data(other), False)

    def __ge__(self, other: Any) -> Tensor:
        return _make(self.data >= _data(other), False)

    def eq(self, other: Any) -> Tensor:
        """Elementwise ``==`` as a bool tensor (``==`` itself compares identity)."""
        return _make(np.asarray(self.data == _data(other)), False)

    def add(self, other: Any) -> Tensor:
        """``self + other``."""
        return self + other

    def sub(self, other: Any) -> Tensor:
        """``self - other``."""
        return self - other

    def mul(self, other: Any) -> Tensor:
        """``self * other``."""
        return self * other

    def div(self, other: Any) -> Tensor:
        """``self / other``."""
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent``."""
        return self**exponent

    def matmul(self, other: Any) -> Tensor:
        """Matrix product with ``np.matmul`` semantics (1-D, 2-D and batched)."""
        return self @ other

    def dot(self, other: Any) -> Tensor:
        """Alias of ``matmul``."""
        return self @ other

    def neg(self) -> Tensor:
        """``-self``."""
        return apply_one(ops.Neg, self)

    def exp(self) -> Tensor:
        """e ** x."""
        return apply_one(ops.Exp, self)

    def log(self) -> Tensor:
        """Natural logarithm."""
        return apply_one(ops.Log, self)

    def sqrt(self) -> Tensor:
        """Square root."""
        return apply_one(ops.Sqrt, self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent."""
        return apply_one(ops.Tanh, self)

    def sigmoid(self) -> Tensor:
        """Logistic sigmoid 1 / (1 + e^-x), stable for large |x|."""
        return apply_one(ops.Sigmoid, self)

    def relu(self) -> Tensor:
        """max(x, 0)."""
        return apply_one(ops.Relu, self)

    def abs(self) -> Tensor:
        """|x|."""
        return apply_one(ops.Abs, self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Limit values to [min, max]; the gradient passes where min <= x <= max."""
        return ops.Clip.apply(self, min=min, max=max)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise maximum (ties share the gradient)."""
        return apply_two(ops.Maximum, self, _const(other, self))

    def minimum(self, other: Any) -> Tensor:
        """Elementwise minimum (ties share the gradient)."""
        return apply_two(ops.Minimum, self, _const(other, self))

    def astype(self, dtype: npt.DTypeLike) -> Tensor:
        """Convert to ``dtype``: differentiable between float dtypes; a cast to an integer
        or bool dtype cuts the graph (the result does not require grad, as in PyTorch)."""
        dt = np.dtype(dtype)
        if dt.kind != "f":
            return _make(self.data.astype(dt), False)
        return ops.Cast.apply(self, dtype=dt)

    # -- reductions
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (int, tuple or None for all)."""
        return ops.Sum.apply(self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis``."""
        return ops.Mean.apply(self, axis=_axis(axis), keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis`` (tied maxima share the gradient equally)."""
        return ops.Max.apply(self, axis=_axis(axis), keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis`` (tied minima share the gradient equally)."""
        return ops.Min.apply(self, axis=_axis(axis), keepdims=keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the maxima along ``axis`` (of the flattened tensor when None), as an
        integer tensor outside the graph (first index on ties, like numpy)."""
        return self._arg(np.argmax, axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the minima along ``axis``, as an integer tensor outside the graph."""
        return self._arg(np.argmin, axis, keepdims)

    def _arg(self, fn: Callable[..., Any], axis: int | None, keepdims: bool) -> Tensor:
        if self.data.size == 0:
            raise ValueError(f"{fn.__name__}: the tensor of shape {self.shape} is empty")
        ax = None if axis is None else int(axis)
        return _make(np.asarray(fn(self.data, axis=ax, keepdims=keepdims)), False)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Variance over ``axis`` with numpy's ``ddof`` (0: population variance)."""
        return ops.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))) over ``axis``, max-shifted so it never overflows."""
        return ops.LogSumExp.apply(self, axis=_axis(axis), keepdims=keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / sum(exp(x)) along ``axis``, max-shifted."""
        return ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x - logsumexp(x) along ``axis`` (stable for logits of 1e4)."""
        return ops.LogSoftmax.apply(self, axis=axis)

    # -- movement
    def reshape(self, *shape: Any) -> Tensor:
        """Same data in a new shape; one dimension may be -1."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=tuple(int(s) for s in shape))

    def flatten(self, start_axis: int = 0) -> Tensor:
        """Merge the axes from ``start_axis`` on into one."""
        s = self.shape[: start_axis % max(self.ndim, 1)] if self.ndim else ()
        return self.reshape(*s, -1)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes (reverse them when none are given)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return ops.Transpose.apply(self, axes=tuple(axes) if axes else None)

    def swapaxes(self, a: int, b: int) -> Tensor:
        """Exchange two axes."""
        perm = list(range(self.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return self.transpose(*perm)

    def expand_dims(self, axis: int | Sequence[int]) -> Tensor:
        """Insert size-1 axes at ``axis`` (like ``np.expand_dims``)."""
        return self.reshape(np.expand_dims(self.data, axis).shape)

    def squeeze(self, axis: int | Sequence[int] | None = None) -> Tensor:
        """Remove size-1 axes (all, or those in ``axis``)."""
        try:
            shape = np.squeeze(self.data, axis).shape
        except ValueError as e:
            raise ValueError(
                f"squeeze: cannot squeeze axis {axis} of shape {self.shape}: {e}"
            ) from e
        return self.reshape(shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Repeat size-1 axes (and add leading ones) to reach ``shape``."""
        return ops.BroadcastTo.apply(self, shape=tuple(shape))

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=_index(index))


# --------------------------------------------------------------------------- helpers
_new = object.__new__


def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
    """Build a Tensor around an ndarray without validation (the hot path)."""
    t = _new(Tensor)
    t.data = data
    t.requires_grad = requires_grad
    t._ctx = None
    t._version_counter = None
    return t


# The ops and the walk build on Tensor, and Tensor's methods call them: importing them last
# closes the engine's one import cycle (function.py's import of Tensor is the same cycle).
from tinygrad_bp.engine import ops  # noqa: E402
from tinygrad_bp.engine.arrays import _axis, _const, _data, _index  # noqa: E402
from tinygrad_bp.engine.backward import backward as backward_from  # noqa: E402
from tinygrad_bp.engine.fast_apply import apply_one, apply_two  # noqa: E402
