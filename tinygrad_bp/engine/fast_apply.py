"""``Function.apply`` for ops of one and of two inputs, written out: the engine's one speed
module for the forward pass. Skip it on a first reading: it does exactly what ``apply`` does.

Why: ``apply`` takes any number of inputs and keyword arguments, so Python packs them
(``*args, **kwargs``), apply loops over them to sort out each input's array, node and flag, and
calls ``forward(ctx, *arrays, **kwargs)``. For an op of one or two inputs and no keyword
arguments, which is what the arithmetic operators and the elementwise methods of ``Tensor``
are, none of that is needed.

How much (``python benchmarks/apply_cost.py``, one thread, Python 3.11): ``apply`` costs
0.36-0.53 us more per op than these (1.28-1.48x the whole forward of ``tanh`` or ``x * 2`` at
1-100 elements); the 1,000-op chain of ``python -m benchmarks --workloads overhead`` runs
1.14x faster through them at 1 and 100 elements (1.05x at 10,000). Ops with keyword
arguments (``sum(axis=...)``, ``reshape``...) and your own ops go through ``apply``.

Kept honest by ``tests/test_fast_apply.py``: for every op ``Tensor`` sends here, both ways
record the same node (parents, flags, saved values, version counters, module scope), give the
same gradients and raise the same errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine import versions
from tinygrad_bp.engine.function import _new, _next_seq, _op_error, _remember_saved
from tinygrad_bp.engine.grad_mode import _state
from tinygrad_bp.engine.tensor import Tensor

__all__ = ["apply_one", "apply_two"]


def apply_one(cls: Any, x: Tensor) -> Tensor:
    """``cls.apply(x)`` for a Tensor ``x``, written out."""
    ctx = _new(cls)
    xd = x.data
    stamp = versions.clock[0]
    try:
        out = cls.forward(ctx, xd)
    except (ValueError, TypeError, IndexError) as e:
        raise _op_error(cls, (xd,), None, e) from e
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    result = _new(Tensor)
    result.data = out
    result._ctx = result._version_counter = None
    result.requires_grad = record = x.requires_grad and _state.grad_enabled
    if cls.view:
        versions.share_if_view(x, result)
    if record:  # the node, as apply records it
        ctx.parents = (x._ctx or x,)
        ctx.needs_input_grad = (True,)
        ctx.seq = _next_seq()
        ctx.stamp = stamp
        ctx.out_shape = out.shape
        ctx.out_dtype = out.dtype
        saves = cls.save_inputs
        if saves:
            if saves is True:
                ctx.input_tensors, ctx.inputs = (x,), (xd,)
            else:
                ctx.input_tensors, ctx.inputs = saves((x,), (xd,), (True,))
        if cls.save_output:
            ctx.out = out
            result._version_counter = ctx.out_counter = [0]
        elif ctx.saved_tensors:
            _remember_saved(ctx, (x,), out, result)
        result._ctx = ctx
    if _state.extras_on:
        ctx.scope = _state._scope
        if _state._anomaly:
            from tinygrad_bp.engine.anomaly import check_forward

            check_forward(ctx, out)
    return result


def apply_two(cls: Any, x: Any, y: Any) -> Tensor:
    """``cls.apply(x, y)`` for two inputs, at least one a Tensor (the other may be a
    constant), written out."""
    ctx = _new(cls)
    x_is_tensor = isinstance(x, Tensor)
    y_is_tensor = isinstance(y, Tensor)
    xd = x.data if x_is_tensor else x
    yd = y.data if y_is_tensor else y
    stamp = versions.clock[0]
    try:
        out = cls.forward(ctx, xd, yd)
    except (ValueError, TypeError, IndexError) as e:
        raise _op_error(cls, (xd, yd), None, e) from e
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    nx = x_is_tensor and x.requires_grad
    ny = y_is_tensor and y.requires_grad
    result = _new(Tensor)
    result.data = out
    result._ctx = result._version_counter = None
    result.requires_grad = record = (nx or ny) and _state.grad_enabled
    if cls.view:
        versions.share_if_view(x, result)
    if record:  # the node, as apply records it
        ctx.parents = ((x._ctx or x) if nx else None, (y._ctx or y) if ny else None)
        ctx.needs_input_grad = needs = (nx, ny)
        ctx.seq = _next_seq()
        ctx.stamp = stamp
        ctx.out_shape = out.shape
        ctx.out_dtype = out.dtype
        saves = cls.save_inputs
        if saves:
            if saves is True:
                ctx.input_tensors, ctx.inputs = (x, y), (xd, yd)
            else:
                ctx.input_tensors, ctx.inputs = saves((x, y), (xd, yd), needs)
        if cls.save_output:
            ctx.out = out
            result._version_counter = ctx.out_counter = [0]
        elif ctx.saved_tensors:
            _remember_saved(ctx, (x, y), out, result)
        result._ctx = ctx
    if _state.extras_on:
        ctx.scope = _state._scope
        if _state._anomaly:
            from tinygrad_bp.engine.anomaly import check_forward

            check_forward(ctx, out)
    return result
