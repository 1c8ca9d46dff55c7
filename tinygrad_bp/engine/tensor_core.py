"""What a Tensor is: an ndarray (``data``), whether gradients flow to it (``requires_grad``),
the gradient ``backward`` left on it (``grad``), and the graph node that made it (``_ctx``,
None for a leaf); plus the rest of its part in autograd (hooks, retain_grad, detach).

``Tensor`` (tensor.py) adds the op methods, the operators and ``backward()`` to this base.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine import versions

if TYPE_CHECKING:
    from tinygrad_bp.engine.function import Function
    from tinygrad_bp.engine.tensor import Tensor

__all__ = ["TensorCore"]


def _check_float(dtype: np.dtype, where: str) -> None:
    if dtype.kind != "f":
        raise TypeError(
            f"{where}: only floating-point tensors can require gradients, got dtype {dtype}; "
            "convert first (e.g. Tensor(data, dtype='float32')) or leave requires_grad=False"
        )


def _to_array(data: Any, dtype: npt.DTypeLike | None) -> np.ndarray:
    """A new array (never the caller's: the graph may save it, and the caller may change
    theirs later) of ``data`` in ``dtype``."""
    if isinstance(data, (TensorCore, np.ndarray, np.generic)):
        arr = np.array(data.data if isinstance(data, TensorCore) else data, dtype=dtype)
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


class TensorCore:
    """An n-dimensional array that records the operations applied to it (see ``Tensor``).

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
    # None while the tensor was never changed in place nor viewed (see versions.py)
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
    def grad_fn(self) -> Function | None:
        """The graph node that produced this tensor (None for leaves)."""
        return self._ctx

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

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

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

    # -- autograd (backward() is in tensor.py, beside the ops it walks)
    def clone(self) -> Tensor:
        """A copy in new memory that stays in the graph (the gradient passes through)."""
        from tinygrad_bp.engine.ops import Clone

        return Clone.apply(self)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data (and its version counter: an in-place
        change of either is seen by a graph that saved the other), cut off from the graph."""
        from tinygrad_bp.engine.tensor import _make

        t = _make(self.data, False)
        versions.share_version(self, t)
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
        return self  # type: ignore[return-value]  # (self is a Tensor: TensorCore is its base)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor during backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self._ctx is not None:
            self._ctx.retained = weakref.ref(self)

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> Any:
        """Call ``fn(grad)`` when this tensor's gradient is computed; a returned Tensor
        replaces the gradient. Returns a handle with ``.remove()``."""
        from tinygrad_bp.engine.hooks import register_hook

        return register_hook(self, fn)  # type: ignore[arg-type]

    def zero_grad(self) -> None:
        """Set ``.grad`` to None."""
        self.grad = None
