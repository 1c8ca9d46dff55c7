"""numpy's protocols on Tensors: ``np.asarray(t)`` gives the data; ``ndarray (op) Tensor``
runs the Tensor op; numpy functions whose result carries no gradient run on the data; the
rest raise a TypeError naming the Tensor method, so a graph is never dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine.arrays import _data
from tinygrad_bp.engine.tensor_core import TensorCore

__all__ = ["NumpyInterop"]


class NumpyInterop:
    """Mixin of ``Tensor``: ``__array__``, ``__array_ufunc__``, ``__array_function__``."""

    __slots__ = ()
    data: np.ndarray

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
            if len(inputs) == 2 and inputs[1] is self and not isinstance(inputs[0], TensorCore):
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


def _r(method: str) -> Callable[[Any, Any], Any]:
    return lambda t, other: getattr(t, method)(other)


# ``ndarray (op) Tensor`` reaches Tensor.__array_ufunc__ as ``ufunc(ndarray, Tensor)``
_REFLECTED: dict[Any, Callable[[Any, Any], Any]] = {
    np.add: _r("__radd__"),
    np.subtract: _r("__rsub__"),
    np.multiply: _r("__rmul__"),
    np.true_divide: _r("__rtruediv__"),
    np.power: _r("__rpow__"),
    np.matmul: _r("__rmatmul__"),
    np.remainder: _r("__rmod__"),
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
    "std": "t.std(axis, keepdims, ddof)",
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
    "ravel": "t.ravel()",
    "transpose": "t.transpose(axes) or t.T",
    "swapaxes": "t.swapaxes(a, b)",
    "squeeze": "t.squeeze(axis)",
    "expand_dims": "t.expand_dims(axis)",
    "broadcast_to": "t.broadcast_to(shape)",
    "where": "tg.where(cond, x, y)",
    "concatenate": "tg.concatenate(tensors, axis)",
    "stack": "tg.stack(tensors, axis)",
    # the ops of issue 16
    "sin": "t.sin()",
    "cos": "t.cos()",
    "tan": "t.tan()",
    "arcsin": "t.arcsin()",
    "arccos": "t.arccos()",
    "arctan": "t.arctan()",
    "arctan2": "t.arctan2(x) or tg.arctan2(y, x)",
    "hypot": "t.hypot(u)",
    "sinh": "t.sinh()",
    "cosh": "t.cosh()",
    "log1p": "t.log1p()",
    "expm1": "t.expm1()",
    "log2": "t.log2()",
    "log10": "t.log10()",
    "sign": "t.sign()",
    "remainder": "t % u",
    "mod": "t % u",
    "prod": "t.prod(axis, keepdims)",
    "cumsum": "t.cumsum(axis)",
    "cumprod": "t.cumprod(axis)",
    "norm": "t.norm(ord, axis, keepdims)",
    "flip": "t.flip(axis)",
    "flipud": "t.flipud()",
    "fliplr": "t.fliplr()",
    "rot90": "t.rot90(k, axes)",
    "roll": "t.roll(shift, axis)",
    "repeat": "t.repeat(repeats, axis)",
    "tile": "t.tile(reps)",
    "pad": "t.pad(pad_width, mode)",
    "triu": "t.triu(k)",
    "tril": "t.tril(k)",
    "diag": "tg.diag(t, k)",
    "diagonal": "t.diagonal(offset, axis1, axis2)",
    "trace": "t.trace(offset, axis1, axis2)",
    "split": "t.split(indices_or_sections, axis)",
    "array_split": "t.chunk(chunks, axis)",
    "take_along_axis": "t.take_along_axis(indices, axis)",
    "outer": "tg.outer(t, u)",
    "tensordot": "tg.tensordot(t, u, axes)",
    "einsum": "tg.einsum(subscripts, *tensors)",
    "linspace": "tg.linspace(start, stop, num)",
    "not_equal": "t.ne(u)",
    "less": "t.lt(u) or t < u",
    "less_equal": "t.le(u) or t <= u",
    "greater": "t.gt(u) or t > u",
    "greater_equal": "t.ge(u) or t >= u",
}

_INPLACE_SYMBOLS = {"add": "+=", "subtract": "-=", "multiply": "*=", "true_divide": "/="}


def _unwrap(v: Any) -> Any:
    """Tensors (also inside lists, tuples and dicts) replaced by their data."""
    if isinstance(v, TensorCore):
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
