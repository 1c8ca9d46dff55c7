"""Gradient statistics for drawings and plots, and the hooks that capture them for
intermediate results (the graph keeps nodes, not intermediate tensors or their grads)."""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_bp.engine import Function, register_hook, toposort
from tinygrad_bp.engine.tensor import Tensor

__all__ = ["GradCapture", "GradStats", "capture_grads", "grad_stats", "named_tensors"]


@dataclass(frozen=True)
class GradStats:
    """Summary of one gradient: L2 norm, mean and max |g| over its finite entries, and how
    many entries are NaN or Inf (``value`` is the signed grad of a one-element tensor)."""

    norm: float
    mean_abs: float
    max_abs: float
    size: int
    nonfinite: int = 0
    value: float | None = None

    @property
    def finite(self) -> bool:
        """True when no entry is NaN or Inf."""
        return self.nonfinite == 0


def summarize(g: Any) -> GradStats:
    """``GradStats`` of a gradient (Tensor or array), computed in float64 without overflow."""
    a = np.asarray(g.data if isinstance(g, Tensor) else g)
    if a.dtype.kind not in "fc":
        a = a.astype(np.float64)
    ok = np.isfinite(a)
    bad = int(a.size - np.count_nonzero(ok))
    mags = np.abs(a[ok] if bad else a.ravel()).astype(np.float64)
    value = float(a.ravel()[0].real) if a.size == 1 and not bad else None
    if mags.size == 0:
        nan = math.nan
        return GradStats(nan, nan, nan, int(a.size), bad, value)
    top = float(mags.max())
    # scale by the largest entry so squaring cannot overflow
    norm = top * math.sqrt(float(np.dot(mags / top, mags / top))) if top > 0 else 0.0
    return GradStats(norm, float(mags.mean()), top, int(a.size), bad, value)


# --------------------------------------------------------------------------- capture
_EMPTY = np.zeros(0, dtype=np.float32)
# Captured stats live here, keyed by the id of the node (or leaf) the hook sat on, with a
# weak reference that both checks identity and drops the entry when the graph is freed.
_captured: dict[int, tuple[weakref.ref[Any], GradStats]] = {}


def _store(obj: Any, stats: GradStats) -> None:
    key = id(obj)
    _captured[key] = (weakref.ref(obj, lambda _r: _captured.pop(key, None)), stats)


def captured(obj: Any) -> GradStats | None:
    """The stats a ``capture_grads`` hook recorded for a node or leaf, if any."""
    entry = _captured.get(id(obj))
    if entry is not None and entry[0]() is obj:
        return entry[1]
    return None


def _recorder(obj: Any) -> Any:
    ref = weakref.ref(obj)  # a strong reference would make node -> hooks -> node cycles

    def record(g: Tensor) -> None:
        target = ref()
        if target is not None:
            _store(target, summarize(g))

    return record


class GradCapture:
    """Hooks on every node and leaf of a graph that record mean/max |grad| during backward.

    Use as ``with capture_grads(loss): loss.backward()`` (hooks are removed on exit), or keep
    the object and call ``.remove()``. ``draw_graph`` picks the recorded stats up by itself
    and colours intermediate results by them; ``capture[t]`` returns the stats of a Tensor.
    Each backward overwrites the previous record (it is not accumulated like ``.grad``).
    """

    def __init__(self, roots: Tensor | Iterable[Tensor]) -> None:
        ts = [roots] if isinstance(roots, Tensor) else list(roots)
        self._handles: list[Any] = []
        self._objs: list[weakref.ref[Any]] = []
        keys = [t if t._ctx is None else t._ctx for t in ts if t.requires_grad]
        for item in toposort(keys):
            if isinstance(item, Tensor):
                owner = item
            else:  # the graph keeps no tensor for a node: a stand-in one carries the hook
                owner = Tensor(_EMPTY, requires_grad=True)
                owner._ctx = item
            self._handles.append(register_hook(owner, _recorder(item)))
            self._objs.append(weakref.ref(item))

    def remove(self) -> None:
        """Detach the hooks (the stats recorded so far stay available for drawing)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> GradCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __getitem__(self, t: Tensor | Function) -> GradStats | None:
        return captured(t._ctx if isinstance(t, Tensor) and t._ctx is not None else t)

    def __len__(self) -> int:
        return sum(1 for r in self._objs if (o := r()) is not None and captured(o) is not None)


def capture_grads(roots: Tensor | Iterable[Tensor]) -> GradCapture:
    """Register hooks before ``backward`` so every node's gradient is summarised (see
    ``GradCapture``); ``draw_graph`` then colours intermediate results, not only leaves."""
    return GradCapture(roots)


# --------------------------------------------------------------------------- named params
def named_tensors(params: Any) -> list[tuple[str, Tensor]]:
    """(name, Tensor) pairs from a Module (``named_parameters()``), a mapping, or pairs."""
    if params is None:
        return []
    if hasattr(params, "named_parameters"):
        items = list(params.named_parameters())
    elif isinstance(params, Mapping):
        items = list(params.items())
    elif isinstance(params, Tensor):
        raise TypeError(
            "params: expected a Module, a {name: Tensor} mapping or (name, Tensor) pairs, "
            "got a single Tensor; pass {'name': tensor}"
        )
    else:
        try:
            items = [(n, t) for n, t in params]
        except (TypeError, ValueError) as e:
            raise TypeError(
                "params: expected a Module (with named_parameters()), a {name: Tensor} "
                f"mapping or (name, Tensor) pairs, got {type(params).__name__}"
            ) from e
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"params: {name!r} is a {type(t).__name__}, expected a Tensor")
    return [(str(n), t) for n, t in items]


def grad_stats(params: Any) -> dict[str, GradStats | None]:
    """``{name: GradStats of .grad}`` (None where ``.grad`` is None) for a Module, mapping or
    pairs: what a training loop records per epoch to follow gradient flow."""
    return {n: (None if t.grad is None else summarize(t.grad)) for n, t in named_tensors(params)}
