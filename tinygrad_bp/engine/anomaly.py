"""Anomaly mode: find the first op whose result or gradient is NaN or Inf, and where it was made.

What it adds: `apply` records where each op was made and checks its result; the walk checks
every gradient. Off (the default) it costs one flag read per op."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.grad_mode import _state

__all__ = ["AnomalyError", "detect_anomaly", "set_detect_anomaly"]


class AnomalyError(FloatingPointError):
    """A NaN or Inf appeared in an op's result or gradient while anomaly mode was on."""


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off for the current thread."""
    _state.anomaly = bool(mode)


class detect_anomaly:
    """``with tg.detect_anomaly():`` check every forward result and backward gradient for
    NaN/Inf and raise ``AnomalyError`` at the first bad one, naming the op and the line of
    user code that created it. Costs nothing when off; slows ops down when on."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self._prev: list[bool] = []

    def __enter__(self) -> detect_anomaly:
        self._prev.append(_state.anomaly)
        _state.anomaly = self.check_nan
        return self

    def __exit__(self, *exc: object) -> None:
        _state.anomaly = self._prev.pop()


def _where_made() -> str:
    """The innermost stack frame outside this package: the user's line that made the op."""
    frames = traceback.extract_stack()[:-3]
    pkg = __name__.split(".")[0]
    user = [f for f in frames if f"/{pkg}/" not in f.filename.replace("\\", "/")]
    chosen = user[-1] if user else frames[-1]
    return f'File "{chosen.filename}", line {chosen.lineno}, in {chosen.name}\n    {chosen.line}'


def _bad(a: np.ndarray) -> str | None:
    if a.dtype.kind not in "fc":
        return None
    if np.isfinite(a).all():
        return None
    n_nan = int(np.isnan(a).sum())
    n_inf = int(np.isinf(a).sum())
    return f"{n_nan} NaN and {n_inf} Inf of {a.size} elements"


def check_forward(ctx: Function, out: np.ndarray) -> None:
    """Record where ``ctx`` was made; raise if its result holds NaN/Inf."""
    ctx.creation_trace = _where_made()
    what = _bad(out)
    if what is not None:
        raise AnomalyError(
            f"{type(ctx).__name__} forward produced {what} (output shape {out.shape}).\n"
            f"The op was created at:\n  {ctx.creation_trace}"
        )


def check_backward(ctx: Function, grads: Sequence[Any]) -> None:
    """Raise if any gradient ``ctx``'s backward returned holds NaN/Inf."""
    for i, gr in enumerate(grads):
        if gr is None:
            continue
        a = np.asarray(gr.data if hasattr(gr, "data") and not isinstance(gr, np.ndarray) else gr)
        what = _bad(a)
        if what is not None:
            where = ctx.creation_trace or "(created before anomaly mode was turned on)"
            raise AnomalyError(
                f"{type(ctx).__name__} backward returned {what} in the gradient of input {i} "
                f"(shape {a.shape}).\nThe op was created at:\n  {where}"
            )
