"""Text in the drawings: numbers, shapes, values, gradients, op arguments, saved arrays."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.viz.collapse import kwargs_key
from tinygrad_bp.viz.stats import GradStats
from tinygrad_bp.viz.style import esc


def fmt(v: float) -> str:
    """A number in at most ~9 characters: 4 significant digits, scientific when tiny/huge."""
    if v != v:
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e5:
        return f"{v:.4g}"
    return f"{v:.2e}".replace("e-0", "e-").replace("e+0", "e+")


def fmt_shape(shape: Sequence[int]) -> str:
    """``(32, 100)``; ``()`` for a scalar."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_dtype(dtype: Any) -> str:
    """A short dtype name (``float32``)."""
    return str(np.dtype(dtype)) if dtype is not None else "?"


def fmt_value(a: Any) -> str:
    """A short summary of an array: its value when small, else mean and range."""
    if not isinstance(a, (np.ndarray, np.generic, int, float, bool)):
        return type(a).__name__
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        return f"{arr.dtype} {fmt_shape(arr.shape)}"
    if arr.size == 0:
        return "empty"
    if arr.size <= 3:
        items = [fmt(float(x)) for x in arr.ravel()]
        return items[0] if arr.size == 1 else "[" + ", ".join(items) + "]"
    if arr.dtype.kind == "b":
        return f"{int(arr.sum())} of {arr.size} true"
    f = arr.astype(np.float64)
    fin = f[np.isfinite(f)]
    if fin.size == 0:
        return "all NaN/Inf"
    rng = f"[{fmt(float(fin.min()))}, {fmt(float(fin.max()))}]"
    return f"mean {fmt(float(fin.mean()))} in {rng}"


def fmt_grad(st: GradStats) -> str:
    """One line for a gradient: the signed value for one element, else norm and mean |g|."""
    if not st.finite:
        return f"grad NaN/Inf: {st.nonfinite} of {st.size}"
    if st.value is not None:
        return f"grad {fmt(st.value)}"
    return f"‖g‖ {fmt(st.norm)}  mean|g| {fmt(st.mean_abs)}"


def fmt_index(ix: Any) -> str:
    """A numpy index as written in code: ``[:, 0]``, ``[int64(32,)]``."""
    parts = ix if isinstance(ix, tuple) else (ix,)
    out = []
    for p in parts:
        if isinstance(p, slice):
            a, b, c = ("" if v is None else str(v) for v in (p.start, p.stop, p.step))
            out.append(f"{a}:{b}" + (f":{c}" if c else ""))
        elif isinstance(p, np.ndarray):
            out.append(f"{p.dtype}{fmt_shape(p.shape)}")
        else:
            out.append("..." if p is Ellipsis else str(p))
    return "[" + ", ".join(out) + "]"


def kwargs_text(kw: dict[str, Any] | None) -> str:
    """An op's keyword arguments as a label: ``axis=1 keepdims``, ``[:, 0]`` for an index."""
    parts = []
    for k, v in (kw or {}).items():
        if v is None or v is False:
            continue
        if v is True:
            parts.append(k)
            continue
        s = fmt_index(v) if k == "index" else f"{k}=" + kwargs_key({k: v}).partition("=")[2]
        parts.append(s if len(s) <= 32 else s[:31] + "…")
    return " ".join(parts)


def module_summary(m: Any) -> str:
    """``Linear(784 -> 100)``, a short one-line repr, or the class name."""
    i, o = getattr(m, "in_features", None), getattr(m, "out_features", None)
    if isinstance(i, int) and isinstance(o, int):
        return f"{type(m).__name__}({i} -> {o})"
    r = repr(m)
    return r if "\n" not in r and len(r) <= 48 and not r.startswith("<") else type(m).__name__


_SAVED_FIELDS = ("inputs", "input_tensors", "out", "saved_tensors")


def _nbytes(size: int) -> str:
    for unit, b in (("MB", 2**20), ("KB", 2**10)):
        if size >= b:
            return f"{size / b:.3g} {unit}"
    return f"{size} B"


def saved_text(n: Any) -> str:
    """What a node keeps for backward: shapes and bytes (arrays an op stored on its context
    by name), or that backward released it (and what the op still holds, if anything)."""
    seen: set[int] = set()
    kept: list[tuple[str, np.ndarray]] = []

    def add(label: str, a: Any) -> None:
        if isinstance(a, np.ndarray) and id(a) not in seen:
            seen.add(id(a))
            kept.append((label, a))

    for a in n.inputs or ():
        add("", a)
    add("", n.out)
    for a in n.saved_tensors or ():
        add("", a)
    for k, v in vars(n).items():
        if k not in _SAVED_FIELDS:
            add(k, v)
    if not kept:
        return "saved: released by backward()" if n.released else "saved: nothing"
    shapes = ", ".join(f"{k}{fmt_shape(a.shape)}" for k, a in kept[:3])
    shapes += ", …" if len(kept) > 3 else ""
    size = _nbytes(sum(a.nbytes for _, a in kept))
    if n.released:
        return f"released by backward(); keeps {shapes} · {size}"
    return f"saved {shapes} · {size}"


def fmt_const(a: Any) -> str:
    """A non-graph input of an op: a number's value, an array's shape, else its type."""
    if a is None:
        return "const"  # not saved by the op, or released by backward
    if isinstance(a, (np.ndarray, np.generic, int, float, bool)):
        arr = np.asarray(a)
        if arr.dtype.kind in "biuf":
            return fmt_value(arr) if arr.size == 1 else fmt_shape(arr.shape)
    return type(a).__name__


def op_header(n: Any, args: Sequence[Any] | None = None, drawn: Sequence[int] = ()) -> str:
    """An op node's first line (HTML-like markup): ``Sum axis=(1,)``, constants in place:
    ``Sub(1, •)`` (• marks graph inputs and inputs drawn as their own node; ``const`` once
    backward released the value). ``args``: the node's arguments as far as known."""
    head = f"<B>{esc(type(n).__name__)}</B>"
    if any(p is None for p in n.parents):
        parts = []
        for i, p in enumerate(n.parents):
            if p is not None or i in drawn:
                parts.append("•")
                continue
            a = args[i] if args is not None and i < len(args) else None
            if a is None and args is None and n.inputs is not None and i < len(n.inputs):
                a = n.inputs[i]
            parts.append(fmt_const(a))
        head += esc("(" + ", ".join(parts) + ")")
    kw = kwargs_text(n.kwargs)
    if kw:
        head += f' <FONT POINT-SIZE="10">{esc(kw)}</FONT>'
    return head


def fmt_array(a: Any, small: int = 6) -> str:
    """An array for a label or table: a scalar as a number, up to ``small`` elements in
    brackets, larger ones as shape, mean and norm (NaN/Inf counted)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        return f"{arr.dtype} {fmt_shape(arr.shape)}"
    if arr.size == 1:
        return fmt(float(arr.ravel()[0]))
    if arr.size <= small:
        rows = arr.reshape(-1, arr.shape[-1]) if arr.ndim > 1 else arr.reshape(1, -1)
        inner = ["[" + ", ".join(fmt(float(x)) for x in r) + "]" for r in rows]
        return inner[0] if arr.ndim <= 1 else "[" + ", ".join(inner) + "]"
    f = arr.astype(np.float64)
    ok = np.isfinite(f)
    bad = int(f.size - np.count_nonzero(ok))
    fin = f[ok]
    if fin.size == 0:
        return f"{fmt_shape(arr.shape)} all NaN/Inf"
    top = float(np.abs(fin).max())
    norm = top * float(np.sqrt(np.dot(fin / top, fin / top))) if top > 0 else 0.0
    s = f"{fmt_shape(arr.shape)} mean {fmt(float(fin.mean()))} ‖·‖ {fmt(norm)}"
    return s + (f" ({bad} NaN/Inf)" if bad else "")
