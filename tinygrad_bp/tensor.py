"""Tensor: dtype rules, creation, properties, and the thin op methods and operators."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp import autograd

__all__ = [
    "Tensor",
    "arange",
    "eye",
    "from_numpy",
    "full",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "tensor",
    "uniform",
    "zeros",
    "zeros_like",
]

Axis = int | Sequence[int] | None


def _check_float(dtype: np.dtype, where: str) -> None:
    if dtype.kind != "f":
        raise TypeError(
            f"{where}: only floating-point tensors can require gradients, got dtype {dtype}; "
            "convert first (e.g. Tensor(data, dtype='float32')) or leave requires_grad=False"
        )


def _to_array(data: Any, dtype: npt.DTypeLike | None) -> np.ndarray:
    """A new array (never the caller's: the graph may save it, and the caller may change
    theirs later) of ``data`` in ``dtype``."""
    if isinstance(data, (Tensor, np.ndarray, np.generic)):
        arr = np.array(data.data if isinstance(data, Tensor) else data, dtype=dtype)
    else:
        try:
            arr = np.asarray(data)
        except ValueError as e:  # ragged lists
            raise ValueError(f"Tensor: cannot make an array from {type(data).__name__}: {e}") from e
        if dtype is None and arr.dtype.kind in "iuf":
            arr = arr.astype(np.float32)  # Python numbers and lists default to float32
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    _check_numeric(arr)
    return arr


def _check_numeric(arr: np.ndarray) -> None:
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: data of dtype {arr.dtype} is not numeric; pass numbers, lists of numbers "
            "or a numeric ndarray"
        )


class Tensor:
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

    # the hot attributes live in slots; rarely set ones default on the class
    __slots__ = ("__dict__", "__weakref__", "_ctx", "_version_counter", "data", "requires_grad")
    __array_priority__ = 1000

    data: np.ndarray
    _ctx: Any
    grad: Tensor | None = None
    name: str | None = None
    _hooks: list[Callable[..., Any]] | None = None
    # shared with views and detached copies: [clock tick of the last in-place change], or
    # None while the tensor was never changed in place nor viewed (see autograd)
    _version_counter: list[int] | None

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: npt.DTypeLike | None = None,
        name: str | None = None,
    ) -> None:
        self.data = _to_array(data, dtype)
        self._ctx = None
        self._version_counter = None
        if name is not None:
            self.name = name
        self.requires_grad = False
        if requires_grad:
            _check_float(self.data.dtype, "Tensor")
            self.requires_grad = True

    # -- properties
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of ``data``."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    @property
    def _version(self) -> int:
        """The clock tick of the last in-place change of this memory (0: never)."""
        c = self._version_counter
        return 0 if c is None else c[0]

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (their ``.grad`` is kept)."""
        return self._ctx is None

    @property
    def grad_fn(self) -> autograd.Function | None:
        """The graph node that produced this tensor (None for leaves)."""
        return self._ctx

    @property
    def T(self) -> Tensor:
        """Axes reversed (the transpose of a matrix)."""
        return self.transpose()

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shared, not copied: writing into it is not tracked, so
        do it only outside a graph that saved this tensor, as with ``.data``)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors convert to a number, got shape {self.shape}"
            )
        return self.data.item()  # type: ignore[no-any-return]

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    # -- numpy interoperability (see the class docstring)
    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(t)`` (the data itself) and ``np.array(t)`` (a copy); the graph is not
        followed. ``copy=False`` raises if ``dtype`` needs a conversion, as numpy 2 does."""
        d = self.data
        if dtype is not None and np.dtype(dtype) != d.dtype:
            if copy is False:
                raise ValueError(
                    f"np.asarray(Tensor, copy=False): converting {d.dtype} to "
                    f"{np.dtype(dtype)} needs a copy"
                )
            return d.astype(dtype)
        return d.copy() if copy else d

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """numpy ufuncs meeting a Tensor: ``ndarray (op) Tensor`` runs the Tensor op (the graph
        is kept); ufuncs with no gradient (``np.isfinite``...) read the data; the rest raise a
        TypeError naming the Tensor method, so the graph is never dropped silently."""
        if method == "__call__" and not kwargs:
            if len(inputs) == 2 and inputs[1] is self and not isinstance(inputs[0], Tensor):
                reflected = _REFLECTED.get(ufunc)
                if reflected is not None:  # ndarray.__add__ etc. ask the ufunc: answer as +
                    return reflected(self, inputs[0])
            if ufunc in _UFUNC_READS:
                return ufunc(*(_data(a) for a in inputs))
        return _numpy_error(ufunc.__name__, inputs, kwargs, "ufunc ")

    def __array_function__(
        self, func: Callable[..., Any], types: Any, args: Any, kwargs: Any
    ) -> Any:
        """numpy functions on Tensors: those whose result carries no gradient (``np.shape``,
        ``np.argmax``, ``np.allclose``...) run on the data; the rest raise a TypeError naming
        the Tensor method (``np.sum(t)`` -> ``t.sum(...)``)."""
        name = func.__name__
        if name in _FUNCTION_READS:
            return func(*_unwrap(args), **_unwrap(kwargs))
        return _numpy_error(name, args, kwargs)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                "use .any() or .all() on .numpy()"
            )
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, prefix="Tensor(", separator=", ", threshold=50)
        extra = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.name:
            extra.insert(0, f"name={self.name!r}")
        if self._ctx is not None:
            extra.append(f"grad_fn={type(self._ctx).__name__}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extra)})"

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
        d = self.data
        if grad is None and not create_graph and self._ctx is not None and d.ndim == 0:
            # loss.backward(): autograd.backward's checks would pass, and its root gradient
            # is this 1; straight to the walk saves two functions per training step
            one = _ONES.get(d.dtype)
            autograd.run_backward(
                (self,), (const_of(1, d.dtype) if one is None else one,), retain, False
            )
            return
        autograd.backward(self, grad, retain, create_graph)

    def clone(self) -> Tensor:
        """A copy in new memory that stays in the graph (the gradient passes through)."""
        return ops.Clone._apply1(self)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data (and its version counter: an in-place
        change of either is seen by a graph that saved the other), cut off from the graph."""
        t = _make(self.data, False)
        autograd.share_version(self, t)
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf in place; returns self."""
        if not self.is_leaf:
            raise RuntimeError(
                "requires_grad_: only leaf tensors can change requires_grad; use .detach() "
                "to get a leaf from an intermediate result"
            )
        if requires_grad:
            _check_float(self.data.dtype, "requires_grad_")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor during backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self._ctx is not None:
            self._ctx.retained = weakref.ref(self)
            self._ctx.special = True

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> Any:
        """Call ``fn(grad)`` when this tensor's gradient is computed; a returned Tensor
        replaces the gradient. Returns a handle with ``.remove()``."""
        return autograd.register_hook(self, fn)

    def zero_grad(self) -> None:
        """Set ``.grad`` to None."""
        self.grad = None

    # -- in-place changes (outside the graph; they bump the version counter)
    def _check_inplace(self, where: str) -> None:
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                f"{where}: an in-place change of a tensor that requires grad cannot be "
                "differentiated; wrap it in `with tg.no_grad():` (e.g. an optimizer update) "
                "or build a new tensor"
            )

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        if isinstance(value, Tensor) and value.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                f"__setitem__: the value (shape {value.shape}) requires grad, but an assignment "
                f"into a tensor (shape {self.shape}) is not recorded in the graph, so its "
                "gradient would be lost. Build the result out of place instead: tg.stack or "
                "tg.concatenate of the pieces, or tg.where(mask, value, tensor); or assign "
                "value.detach() if no gradient should flow"
            )
        self.data[_index(index)] = value.data if isinstance(value, Tensor) else value
        autograd.bump_version(self)

    def zero_(self) -> Tensor:
        """Fill with zeros in place."""
        return self.fill_(0)

    def fill_(self, value: float) -> Tensor:
        """Fill with ``value`` in place."""
        self._check_inplace("fill_")
        self.data.fill(value)
        autograd.bump_version(self)
        return self

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast to this shape) into this tensor in place."""
        self._check_inplace("copy_")
        np.copyto(self.data, src.data if isinstance(src, Tensor) else src, casting="same_kind")
        autograd.bump_version(self)
        return self

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``self += alpha * other`` in place."""
        self._check_inplace("add_")
        o = other.data if isinstance(other, Tensor) else other
        self.data += o if alpha == 1.0 else alpha * o
        autograd.bump_version(self)
        return self

    def mul_(self, other: Any) -> Tensor:
        """``self *= other`` in place."""
        self._check_inplace("mul_")
        self.data *= other.data if isinstance(other, Tensor) else other
        autograd.bump_version(self)
        return self

    # in-place operators: ``with tg.no_grad(): w -= lr * w.grad`` changes w itself (a leaf stays
    # a leaf); the result is cast back to this tensor's dtype with numpy's same_kind rule
    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace_op(np.add, other, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace_op(np.subtract, other, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace_op(np.multiply, other, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace_op(np.true_divide, other, "/=")

    def _inplace_op(self, ufunc: np.ufunc, other: Any, sym: str) -> Tensor:
        """``self <sym> other`` written into ``self.data``; refused where it would lose a
        gradient (PyTorch's rules: not on a tensor that requires grad while grad mode is on)."""
        name = self.name or "t"
        if autograd.is_grad_enabled():
            if self.requires_grad:
                if self._ctx is None:
                    raise RuntimeError(
                        f"{name} {sym} ...: a leaf Variable that requires grad is being used in an "
                        "in-place operation. Wrap the update in `with tg.no_grad():` (e.g. "
                        "`with tg.no_grad(): w -= lr * w.grad`)"
                    )
                raise RuntimeError(
                    f"{name} {sym} ...: {name} is the result of {type(self._ctx).__name__} and "
                    "requires grad; an in-place change would not be recorded in the graph. "
                    f"Write `{name} = {name} {sym[0]} ...` for a new tensor"
                )
            if isinstance(other, Tensor) and other.requires_grad:
                raise RuntimeError(
                    f"{name} {sym} u: u requires grad, and an in-place change of {name} cannot "
                    f"record it. Write `{name} = {name} {sym[0]} u` for a new tensor, or wrap "
                    "the update in `with tg.no_grad():`"
                )
        o = other.data if isinstance(other, Tensor) else other
        if isinstance(o, (list, tuple)):
            o = np.asarray(o)
        try:
            ufunc(self.data, o, out=self.data, casting="same_kind")
        except (TypeError, ValueError) as e:
            what = f"{np.shape(o)} {np.result_type(o)}" if not np.isscalar(o) else repr(o)
            # numpy's casting error is a TypeError subclass whose constructor wants more
            kind = TypeError if isinstance(e, TypeError) else ValueError
            raise kind(
                f"{name} {sym} ...: cannot write the result into this tensor of shape "
                f"{self.shape} and dtype {self.dtype} (other operand: {what}): {e}. In place, "
                f"the result must keep {name}'s shape and dtype (numpy's same_kind casting); "
                f"otherwise write `{name} = {name} {sym[0]} ...`"
            ) from e
        autograd.bump_version(self)
        return self

    # -- elementwise ops
    def __add__(self, other: Any) -> Tensor:
        return ops.Add._apply2(self, _const(other, self))

    def __radd__(self, other: Any) -> Tensor:  # commutative: same op, same result
        return ops.Add._apply2(self, _const(other, self))

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub._apply2(self, _const(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(_const(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul._apply2(self, _const(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul._apply2(self, _const(other, self))

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div._apply2(self, _const(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(_const(other, self), self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.Pow._apply2(self, _const(other, self))

    def __rpow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(_const(other, self), self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul._apply2(self, _const(other, self))

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(_const(other, self), self)

    def __neg__(self) -> Tensor:
        return ops.Neg._apply1(self)

    def __abs__(self) -> Tensor:
        return ops.Abs._apply1(self)

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
        return ops.Neg._apply1(self)

    def exp(self) -> Tensor:
        """e ** x."""
        return ops.Exp._apply1(self)

    def log(self) -> Tensor:
        """Natural logarithm."""
        return ops.Log._apply1(self)

    def sqrt(self) -> Tensor:
        """Square root."""
        return ops.Sqrt._apply1(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent."""
        return ops.Tanh._apply1(self)

    def sigmoid(self) -> Tensor:
        """Logistic sigmoid 1 / (1 + e^-x), stable for large |x|."""
        return ops.Sigmoid._apply1(self)

    def relu(self) -> Tensor:
        """max(x, 0)."""
        return ops.Relu._apply1(self)

    def abs(self) -> Tensor:
        """|x|."""
        return ops.Abs._apply1(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Limit values to [min, max]; the gradient passes where min <= x <= max."""
        return ops.Clip.apply(self, min=min, max=max)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise maximum (ties share the gradient)."""
        return ops.Maximum._apply2(self, _const(other, self))

    def minimum(self, other: Any) -> Tensor:
        """Elementwise minimum (ties share the gradient)."""
        return ops.Minimum._apply2(self, _const(other, self))

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

    # -- drawing
    def draw(self, **kwargs: Any) -> Any:
        """Draw the graph that produced this tensor (see ``tg.draw_graph``)."""
        from tinygrad_bp.viz import draw_graph

        return draw_graph(self, **kwargs)


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


_CONSTS: dict[np.dtype, dict[float, np.ndarray]] = {}


def _const(v: Any, like: Tensor) -> Any:
    """A Python number becomes a read-only 0-d array of ``like``'s dtype (cached)."""
    tv = type(v)
    if tv is float or tv is int:
        dt = like.data.dtype
        cache = _CONSTS.get(dt)
        if cache is not None:
            c = cache.get(v)  # 2 and 2.0 share an entry: both become the same 0-d array
            if c is not None:
                return c
        return const_of(v, dt) if dt.kind == "f" else v
    if tv is Tensor or isinstance(v, Tensor):
        return v
    if tv is np.ndarray:  # an op may save it: a copy, so a later change by the caller
        return v.copy() if v.flags.writeable else v  # cannot reach the graph
    if isinstance(v, (bool, np.generic)):
        return np.asarray(v)  # numpy scalars keep numpy's promotion rules
    if isinstance(v, (list, tuple)):
        arr = np.asarray(v)
        if arr.dtype.kind in "iuf" and like.data.dtype.kind == "f":
            return arr.astype(like.data.dtype)  # lists of numbers follow the tensor, as numbers do
        if arr.dtype.kind in "biuf":
            return arr
    raise TypeError(
        f"cannot combine a Tensor with {type(v).__name__} {v!r:.60}; use numbers, numeric arrays "
        "or Tensors"
    )


def const_of(v: float, dt: np.dtype) -> np.ndarray:
    """The cached read-only 0-d array holding ``v`` in dtype ``dt``: numpy combines it with
    an array much faster than a Python float, and keeps the array's dtype."""
    cache = _CONSTS.get(dt)
    if cache is None:
        cache = _CONSTS[dt] = {}
    c = cache.get(v)
    if c is None:
        if len(cache) > 4096:
            cache.clear()
        c = np.array(v, dtype=dt)
        c.flags.writeable = False
        cache[v] = c
    return c


_ONES = {np.dtype(t): const_of(1.0, np.dtype(t)) for t in (np.float16, np.float32, np.float64)}


def _data(v: Any) -> Any:
    return v.data if isinstance(v, Tensor) else v


# --------------------------------------------------------------------------- numpy protocols
def _r(method: str) -> Callable[[Tensor, Any], Any]:
    return lambda t, other: getattr(t, method)(other)


# ``ndarray (op) Tensor`` reaches Tensor.__array_ufunc__ as ``ufunc(ndarray, Tensor)``
_REFLECTED: dict[Any, Callable[[Tensor, Any], Any]] = {
    np.add: _r("__radd__"),
    np.subtract: _r("__rsub__"),
    np.multiply: _r("__rmul__"),
    np.true_divide: _r("__rtruediv__"),
    np.power: _r("__rpow__"),
    np.matmul: _r("__rmatmul__"),
    np.less: _r("__gt__"),
    np.less_equal: _r("__ge__"),
    np.greater: _r("__lt__"),
    np.greater_equal: _r("__le__"),
}
# ufuncs and functions whose result has no gradient: they run on the data
_UFUNC_READS = frozenset({np.isnan, np.isinf, np.isfinite, np.signbit})
_FUNCTION_READS = frozenset(
    {
        "shape",
        "ndim",
        "size",
        "argmax",
        "argmin",
        "allclose",
        "isclose",
        "array_equal",
        "array_equiv",
        "count_nonzero",
        "result_type",
        "copy",
    }
)
# the Tensor method (or tg function) that replaces a numpy function
_METHOD_HINTS = {
    "sum": "t.sum(axis, keepdims)",
    "mean": "t.mean(axis, keepdims)",
    "max": "t.max(axis, keepdims)",
    "amax": "t.max(axis, keepdims)",
    "min": "t.min(axis, keepdims)",
    "amin": "t.min(axis, keepdims)",
    "var": "t.var(axis, keepdims, ddof)",
    "std": "t.var(axis, keepdims, ddof).sqrt()",
    "exp": "t.exp()",
    "log": "t.log()",
    "sqrt": "t.sqrt()",
    "tanh": "t.tanh()",
    "abs": "t.abs()",
    "absolute": "t.abs()",
    "negative": "-t",
    "add": "t + u",
    "subtract": "t - u",
    "multiply": "t * u",
    "divide": "t / u",
    "true_divide": "t / u",
    "power": "t ** u",
    "square": "t * t",
    "matmul": "t @ u",
    "dot": "t @ u",
    "maximum": "t.maximum(u)",
    "minimum": "t.minimum(u)",
    "clip": "t.clip(min, max)",
    "equal": "t.eq(u)",
    "reshape": "t.reshape(shape)",
    "ravel": "t.flatten()",
    "transpose": "t.transpose(axes) or t.T",
    "swapaxes": "t.swapaxes(a, b)",
    "squeeze": "t.squeeze(axis)",
    "expand_dims": "t.expand_dims(axis)",
    "broadcast_to": "t.broadcast_to(shape)",
    "where": "tg.where(cond, x, y)",
    "concatenate": "tg.concatenate(tensors, axis)",
    "stack": "tg.stack(tensors, axis)",
}

_INPLACE_SYMBOLS = {"add": "+=", "subtract": "-=", "multiply": "*=", "true_divide": "/="}


def _unwrap(v: Any) -> Any:
    """Tensors (also inside lists, tuples and dicts) replaced by their data."""
    if isinstance(v, Tensor):
        return v.data
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(a) for a in v)
    if isinstance(v, dict):
        return {k: _unwrap(a) for k, a in v.items()}
    return v


def _numpy_error(name: str, args: Any, kwargs: Any, kind: str = "") -> Any:
    """The TypeError for a numpy function that would drop a Tensor's graph."""
    if kwargs.get("out") is not None:  # ndarray += Tensor and friends
        sym = _INPLACE_SYMBOLS.get(name)
        what = f"ndarray {sym} Tensor" if sym else f"np.{name}(..., out=ndarray) with a Tensor"
        raise TypeError(
            f"{what}: numpy cannot write a Tensor into an ndarray; use the Tensor's data on "
            "the right-hand side (e.g. `w.data -= lr * w.grad.data`), or update the tensor "
            "itself: `with tg.no_grad(): w -= lr * w.grad`"
        )
    hint = _METHOD_HINTS.get(name)
    fix = (
        f"use the Tensor method: {hint}"
        if hint
        else "there is no differentiable version; call it on t.numpy() (outside the graph)"
    )
    raise TypeError(
        f"numpy {kind}np.{name} does not take Tensors: it would return an ndarray and drop "
        f"the graph; {fix}"
    )


def _axis(axis: Axis) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return tuple(int(a) for a in axis)


def _index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays (numpy's own indexing rules apply)."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data.copy()
    if isinstance(index, np.ndarray):  # GetItem keeps the index for backward: a copy
        return index.copy()
    if isinstance(index, list):
        return np.asarray(index)
    return index


# --------------------------------------------------------------------------- creation
def tensor(data: Any, requires_grad: bool = False, dtype: npt.DTypeLike | None = None) -> Tensor:
    """A new Tensor holding a copy of ``data``: the same as ``Tensor(data, ...)`` (Python
    numbers and lists become float32, arrays keep their dtype)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A Tensor sharing ``array``'s memory (no copy), like ``torch.from_numpy``.

    Writes into ``array`` change the tensor, and are not tracked: changing it while a graph
    that saved the tensor is alive gives that graph's backward wrong values. Use it to
    avoid a copy of data you will not change; ``Tensor(array)`` copies."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    _check_numeric(array)
    if requires_grad:
        _check_float(array.dtype, "from_numpy")
    return _make(array, bool(requires_grad))


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def zeros(*shape: Any, dtype: npt.DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: npt.DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Zeros with ``t``'s shape and dtype."""
    return Tensor(np.zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Ones with ``t``'s shape and dtype."""
    return Tensor(np.ones_like(t.data), requires_grad=requires_grad)


def full(
    shape: Sequence[int] | int,
    value: float,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor filled with ``value``."""
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values like ``np.arange`` (float32 unless ``dtype`` says otherwise)."""
    a = (
        np.arange(start, stop, step, dtype=dtype)
        if stop is not None
        else np.arange(start, dtype=dtype)
    )
    return Tensor(a, requires_grad=requires_grad)


def eye(
    n: int, m: int | None = None, dtype: npt.DTypeLike = np.float32, requires_grad: bool = False
) -> Tensor:
    """The identity matrix."""
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"expected a np.random.Generator or an int seed, got {type(rng).__name__}")


def randn(
    *shape: Any,
    rng: np.random.Generator | int | None = None,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples from ``rng`` (a Generator or a seed)."""
    a = _rng(rng).standard_normal(_shape(shape)).astype(dtype)
    return Tensor(a, requires_grad=requires_grad)


def rand(
    *shape: Any,
    rng: np.random.Generator | int | None = None,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [0, 1) from ``rng``."""
    a = _rng(rng).random(_shape(shape)).astype(dtype)
    return Tensor(a, requires_grad=requires_grad)


def uniform(
    shape: Sequence[int] | int,
    low: float = 0.0,
    high: float = 1.0,
    rng: np.random.Generator | int | None = None,
    dtype: npt.DTypeLike = np.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [low, high) from ``rng``."""
    a = _rng(rng).uniform(low, high, size=shape).astype(dtype)
    return Tensor(a, requires_grad=requires_grad)


from tinygrad_bp import ops  # noqa: E402  (ops builds on Tensor)
