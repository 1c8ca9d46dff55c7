"""In-place updates of a Tensor (``w -= lr * w.grad``, ``t[i] = v``, ``zero_``, ``add_``...):
outside the graph, refused where they would lose a gradient (PyTorch's rules), and each
bumps the tensor's version counter so a graph that saved it refuses a wrong backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine.arrays import _data, _index
from tinygrad_bp.engine.grad_mode import is_grad_enabled
from tinygrad_bp.engine.tensor_core import TensorCore
from tinygrad_bp.engine.versions import bump_version

__all__ = ["InPlaceMethods"]


class InPlaceMethods:
    """Mixin of ``Tensor``: the in-place methods and operators."""

    __slots__ = ()
    data: np.ndarray
    requires_grad: bool
    name: str | None
    _ctx: Any
    _version_counter: list[int] | None

    def _check_inplace(self, where: str) -> None:
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(
                f"{where}: an in-place change of a tensor that requires grad cannot be "
                "differentiated; wrap it in `with tg.no_grad():` (e.g. an optimizer update) "
                "or build a new tensor"
            )

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        if isinstance(value, TensorCore) and value.requires_grad and is_grad_enabled():
            raise RuntimeError(
                f"__setitem__: the value (shape {value.shape}) requires grad, but an assignment "
                f"into a tensor (shape {self.data.shape}) is not recorded in the graph, so its "
                "gradient would be lost. Build the result out of place instead: tg.stack or "
                "tg.concatenate of the pieces, or tg.where(mask, value, tensor); or assign "
                "value.detach() if no gradient should flow"
            )
        self.data[_index(index)] = _data(value)
        bump_version(self)

    def zero_(self) -> Any:
        """Fill with zeros in place."""
        return self.fill_(0)

    def fill_(self, value: float) -> Any:
        """Fill with ``value`` in place."""
        self._check_inplace("fill_")
        self.data.fill(value)
        bump_version(self)
        return self

    def copy_(self, src: Any) -> Any:
        """Copy ``src`` (broadcast to this shape) into this tensor in place."""
        self._check_inplace("copy_")
        np.copyto(self.data, _data(src), casting="same_kind")
        bump_version(self)
        return self

    def add_(self, other: Any, alpha: float = 1.0) -> Any:
        """``self += alpha * other`` in place."""
        self._check_inplace("add_")
        o = _data(other)
        self.data += o if alpha == 1.0 else alpha * o
        bump_version(self)
        return self

    def mul_(self, other: Any) -> Any:
        """``self *= other`` in place."""
        self._check_inplace("mul_")
        self.data *= _data(other)
        bump_version(self)
        return self

    # in-place operators: ``with tg.no_grad(): w -= lr * w.grad`` changes w itself (a leaf stays
    # a leaf); the result is cast back to this tensor's dtype with numpy's same_kind rule
    def __iadd__(self, other: Any) -> Any:
        return self._inplace_op(np.add, other, "+=")

    def __isub__(self, other: Any) -> Any:
        return self._inplace_op(np.subtract, other, "-=")

    def __imul__(self, other: Any) -> Any:
        return self._inplace_op(np.multiply, other, "*=")

    def __itruediv__(self, other: Any) -> Any:
        return self._inplace_op(np.true_divide, other, "/=")

    def _inplace_op(self, ufunc: np.ufunc, other: Any, sym: str) -> Any:
        """``self <sym> other`` written into ``self.data``; refused where it would lose a
        gradient (PyTorch's rules: not on a tensor that requires grad while grad mode is on)."""
        name = self.name or "t"
        if is_grad_enabled():
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
            if isinstance(other, TensorCore) and other.requires_grad:
                raise RuntimeError(
                    f"{name} {sym} u: u requires grad, and an in-place change of {name} cannot "
                    f"record it. Write `{name} = {name} {sym[0]} u` for a new tensor, or wrap "
                    "the update in `with tg.no_grad():`"
                )
        o = _data(other)
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
                f"{self.data.shape} and dtype {self.data.dtype} (other operand: {what}): {e}. "
                "In place, "
                f"the result must keep {name}'s shape and dtype (numpy's same_kind casting); "
                f"otherwise write `{name} = {name} {sym[0]} ...`"
            ) from e
        bump_version(self)
        return self
