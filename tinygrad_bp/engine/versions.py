"""In-place checks: version counters, so a backward never reads a saved value that changed.

What it adds: an op's backward reads the arrays its forward saved. If one of them is changed
in place afterwards (``w -= lr * w.grad`` under ``no_grad``, ``x.data[0] = 1``, a write
through a view), the gradient would be silently wrong. PyTorch raises instead; so do we.

How: one global clock. A tensor, its views and its detached copies share one version
counter (a one-element list, made when first needed) holding the clock tick of the last
in-place change of their memory. ``apply`` reads the clock before forward (``ctx.stamp``)
and keeps the tensors it saved (and its output's counter); before a node's backward runs,
a counter later than the stamp means a saved value changed after it was read.

Cost: the walk compares ``ctx.stamp`` with the clock (one read per node) and looks at the
counters only when the clock moved since the node ran.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from tinygrad_bp.engine.function import Function
    from tinygrad_bp.engine.tensor import Tensor

__all__ = ["bump_version", "bump_versions", "share_version"]


class Versioned(Protocol):
    """Anything with a version counter: a Tensor."""

    _version_counter: list[int] | None


clock = [0]  # the tick of the latest in-place change anywhere
_clock_lock = threading.Lock()


def bump_version(t: Versioned) -> None:
    """Record that ``t``'s data was changed in place (call after writing into ``t.data``):
    every node that saved ``t``, a view of it or the tensor it views then refuses to run
    backward. Call it after the write, so an op recorded meanwhile is caught too."""
    bump_versions((t,))


def bump_versions(tensors: Sequence[Versioned]) -> None:
    """``bump_version`` for several tensors changed together, with one tick (an optimizer
    step: call it after the last write)."""
    with _clock_lock:  # ticks from two threads never collide or go backwards
        clock[0] += 1
        tick = clock[0]
        for t in tensors:
            counter_of(t)[0] = tick


def share_version(base: Versioned, t: Versioned) -> None:
    """Make ``t`` (a view of ``base``'s memory, or ``base`` detached) share its counter."""
    t._version_counter = counter_of(base)


def counter_of(t: Versioned) -> list[int]:
    """``t``'s version counter, made (at tick 0) when first needed."""
    counter = t._version_counter
    if counter is None:
        counter = t._version_counter = [0]
    return counter


def share_if_view(base: Any, t: Tensor) -> None:
    """Share the counter when ``t``'s data really is a view of ``base``'s (numpy copies for
    integer-array indexing and some reshapes)."""
    d = t.data
    if hasattr(base, "_version_counter") and d.base is not None:
        if np.may_share_memory(d, base.data):
            share_version(base, t)


def check_versions(ctx: Function) -> None:
    """Raise if a tensor the node saved (or its output) changed in place since it ran."""
    stamp = ctx.stamp
    for t in ctx.input_tensors or ():
        counter = getattr(t, "_version_counter", None)
        if counter is not None and counter[0] > stamp:
            raise _version_error(ctx, f"an input of shape {t.shape}")
    counter = ctx.out_counter
    if counter is not None and counter[0] > stamp:
        raise _version_error(ctx, f"its output (shape {ctx.out_shape})")


def _version_error(ctx: Function, what: str) -> RuntimeError:
    return RuntimeError(
        f"{type(ctx).__name__}: {what}, saved for backward, was modified in place after the "
        "op ran (directly, or through a view or a detached copy sharing its memory), so its "
        "gradient would be wrong. Modify a copy instead (build a new Tensor), or make the "
        "in-place change after backward()."
    )
