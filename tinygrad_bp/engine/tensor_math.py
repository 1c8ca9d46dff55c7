"""``MathMethods``, a mixin of ``Tensor``: one-line methods for the ops of issue 16 (trig and
hyperbolic functions, logs, activations, products and scans, norms, flips, pads, triangles,
diagonals, gathers, splits) and the comparisons ``ne/lt/le/gt/ge``.

The ops import Tensor, so they are imported at first use here (the engine's one cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_bp.engine.arrays import _data

if TYPE_CHECKING:
    from types import ModuleType

    from tinygrad_bp.engine.tensor import Tensor

__all__ = ["MathMethods"]


def _ops() -> ModuleType:  # the ops import Tensor, so they are imported at first use
    from tinygrad_bp.engine import ops

    return ops


def _cmp(t: Any, other: Any, fn: Any) -> Tensor:
    """A comparison as a bool tensor outside the graph."""
    from tinygrad_bp.engine.tensor import _make  # (tensor.py imports this module)

    return _make(np.asarray(fn(t.data, _data(other))), False)


class MathMethods:
    """The op methods of issue 16 (see the module docstring)."""

    __slots__ = ()

    # -- comparisons: bool tensors outside the graph. ``==``/``!=`` stay identity: Tensors
    # are hashable and used as dict keys and in sets (parameters, optimizer state).
    def ne(self, other: Any) -> Tensor:
        """Elementwise ``!=`` as a bool tensor (``!=`` itself compares identity)."""
        return _cmp(self, other, np.not_equal)

    def lt(self, other: Any) -> Tensor:
        """Elementwise ``<`` as a bool tensor (no gradient)."""
        return _cmp(self, other, np.less)

    def le(self, other: Any) -> Tensor:
        """Elementwise ``<=`` as a bool tensor (no gradient)."""
        return _cmp(self, other, np.less_equal)

    def gt(self, other: Any) -> Tensor:
        """Elementwise ``>`` as a bool tensor (no gradient)."""
        return _cmp(self, other, np.greater)

    def ge(self, other: Any) -> Tensor:
        """Elementwise ``>=`` as a bool tensor (no gradient)."""
        return _cmp(self, other, np.greater_equal)

    # -- elementwise
    def sin(self) -> Tensor:
        """sin x."""
        return _ops().Sin.apply(self)

    def cos(self) -> Tensor:
        """cos x."""
        return _ops().Cos.apply(self)

    def tan(self) -> Tensor:
        """tan x."""
        return _ops().Tan.apply(self)

    def arcsin(self) -> Tensor:
        """arcsin x, for |x| <= 1."""
        return _ops().Arcsin.apply(self)

    def arccos(self) -> Tensor:
        """arccos x, for |x| <= 1."""
        return _ops().Arccos.apply(self)

    def arctan(self) -> Tensor:
        """arctan x."""
        return _ops().Arctan.apply(self)

    def arctan2(self, x: Any) -> Tensor:
        """The angle of the point (x, self), as ``np.arctan2(self, x)``."""
        return _ops().arctan2(self, x)

    def hypot(self, other: Any) -> Tensor:
        """sqrt(self^2 + other^2) without overflow."""
        return _ops().hypot(self, other)

    def sinh(self) -> Tensor:
        """sinh x."""
        return _ops().Sinh.apply(self)

    def cosh(self) -> Tensor:
        """cosh x."""
        return _ops().Cosh.apply(self)

    def log1p(self) -> Tensor:
        """ln(1 + x), exact for tiny x."""
        return _ops().Log1p.apply(self)

    def expm1(self) -> Tensor:
        """e^x - 1, exact for tiny x."""
        return _ops().Expm1.apply(self)

    def log2(self) -> Tensor:
        """Base-2 logarithm."""
        return _ops().Log2.apply(self)

    def log10(self) -> Tensor:
        """Base-10 logarithm."""
        return _ops().Log10.apply(self)

    def erf(self) -> Tensor:
        """The error function."""
        return _ops().Erf.apply(self)

    def sign(self) -> Tensor:
        """-1, 0 or 1 (gradient 0)."""
        return _ops().Sign.apply(self)

    def mod(self, other: Any) -> Tensor:
        """x mod y with the sign of y (numpy's mod, Python's %)."""
        return _ops().mod(self, other)

    def __mod__(self, other: Any) -> Tensor:
        return _ops().mod(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _ops().mod(other, self)

    # -- activations
    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """x where x > 0, else negative_slope * x."""
        return _ops().LeakyRelu.apply(self, slope=negative_slope)

    def relu6(self) -> Tensor:
        """min(max(x, 0), 6)."""
        return _ops().Hardtanh.apply(self, min_val=0.0, max_val=6.0)

    def hardtanh(self, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
        """x clamped to [min_val, max_val] (gradient 0 at the bounds, as PyTorch)."""
        return _ops().Hardtanh.apply(self, min_val=min_val, max_val=max_val)

    def elu(self, alpha: float = 1.0) -> Tensor:
        """x where x > 0, else alpha (e^x - 1)."""
        return _ops().Elu.apply(self, alpha=alpha)

    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        """log(1 + e^(beta x)) / beta, stable; linear where beta x > threshold."""
        return _ops().Softplus.apply(self, beta=beta, threshold=threshold)

    def silu(self) -> Tensor:
        """x * sigmoid(x)."""
        return _ops().silu(self)

    def mish(self) -> Tensor:
        """x * tanh(softplus(x))."""
        return _ops().mish(self)

    def gelu(self, approximate: str = "none") -> Tensor:
        """x * Phi(x) (exact, with erf), or its tanh approximation (``approximate="tanh"``)."""
        return _ops().gelu(self, approximate)

    def hardswish(self) -> Tensor:
        """x * relu6(x + 3) / 6."""
        return _ops().hardswish(self)

    # -- products, scans, norms
    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Product over ``axis`` (the gradient is exact where elements are 0)."""
        return _ops().Prod.apply(self, axis=axis if axis is None else _ax(axis), keepdims=keepdims)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Standard deviation over ``axis`` with numpy's ``ddof``."""
        return _ops().std(self, axis, keepdims, ddof)

    def cumsum(self, axis: int | None = None) -> Tensor:
        """Running sum along ``axis`` (of the flattened tensor for None, as numpy)."""
        x = self.reshape(-1) if axis is None else self  # type: ignore[attr-defined]
        return _ops().CumSum.apply(x, axis=0 if axis is None else axis)

    def cumprod(self, axis: int | None = None) -> Tensor:
        """Running product along ``axis`` (of the flattened tensor for None)."""
        x = self.reshape(-1) if axis is None else self  # type: ignore[attr-defined]
        return _ops().CumProd.apply(x, axis=0 if axis is None else axis)

    def norm(self, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Vector or matrix norm, as ``np.linalg.norm``."""
        return _ops().norm(self, ord, axis, keepdims)

    # -- rearranging
    def ravel(self) -> Tensor:
        """The elements as a 1-D tensor."""
        return _ops().ravel(self)

    def flip(self, axis: Any = None) -> Tensor:
        """Reverse the order along ``axis`` (all axes for None)."""
        return _ops().Flip.apply(self, axis=axis if axis is None else _ax(axis))

    def flipud(self) -> Tensor:
        """Reverse axis 0."""
        return _ops().Flip.apply(self, axis=0)

    def fliplr(self) -> Tensor:
        """Reverse axis 1."""
        return _ops().Flip.apply(self, axis=1)

    def rot90(self, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
        """Rotate by 90 degrees k times in the plane of ``axes``."""
        return _ops().rot90(self, k, axes)

    def roll(self, shift: Any, axis: Any = None) -> Tensor:
        """Shift elements cyclically along ``axis`` (of the flattened tensor for None)."""
        return _ops().Roll.apply(self, shift=_ax(shift), axis=axis if axis is None else _ax(axis))

    def repeat(self, repeats: Any, axis: int | None = None) -> Tensor:
        """Repeat each element ``repeats`` times along ``axis``."""
        return _ops().repeat(self, repeats, axis)

    def tile(self, reps: Any) -> Tensor:
        """The tensor repeated ``reps`` times per axis."""
        return _ops().tile(self, reps)

    def pad(self, pad_width: Any, mode: str = "constant", value: float = 0.0) -> Tensor:
        """Pad as ``np.pad`` (modes constant, reflect, symmetric, edge, wrap)."""
        return _ops().pad(self, pad_width, mode, value)

    def triu(self, k: int = 0) -> Tensor:
        """Zeros below diagonal ``k`` of the last two axes."""
        return _ops().triu(self, k)

    def tril(self, k: int = 0) -> Tensor:
        """Zeros above diagonal ``k`` of the last two axes."""
        return _ops().tril(self, k)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        """Diagonal ``offset`` of the planes of (axis1, axis2), as a new last axis."""
        return _ops().diagonal(self, offset, axis1, axis2)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        """Sum of diagonal ``offset``."""
        return _ops().trace(self, offset, axis1, axis2)

    def split(self, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
        """Split as ``np.split`` (equal parts, or at indices)."""
        return _ops().split(self, indices_or_sections, axis)  # type: ignore[no-any-return]

    def chunk(self, chunks: int, axis: int = 0) -> list[Tensor]:
        """Split into at most ``chunks`` parts of equal size (the last smaller), as PyTorch."""
        return _ops().chunk(self, chunks, axis)  # type: ignore[no-any-return]

    def take_along_axis(self, indices: Any, axis: int) -> Tensor:
        """Pick along ``axis`` with an index array of the same ndim (``np.take_along_axis``)."""
        return _ops().take_along_axis(self, indices, axis)

    def gather(self, axis: int, index: Any) -> Tensor:
        """PyTorch's gather: ``take_along_axis(index, axis)``."""
        return _ops().take_along_axis(self, index, axis)

    def scatter_add(self, axis: int, index: Any, src: Any) -> Tensor:
        """A copy with src added at ``index`` along ``axis`` (PyTorch's scatter_add)."""
        return _ops().scatter_add(self, axis, index, src)


def _ax(a: Any) -> Any:
    """An int or a sequence of ints as an int or a tuple (hashable, numpy-friendly)."""
    return int(a) if np.ndim(a) == 0 else tuple(int(i) for i in a)
