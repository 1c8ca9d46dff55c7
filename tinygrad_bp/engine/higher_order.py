"""create_graph: run each backward on Tensors, so the backward pass is itself a graph.

What it adds: under ``backward(create_graph=True)`` (or ``tg.grad(..., create_graph=True)``)
the walk passes Tensors instead of arrays to every backward, with grad mode on. A backward
written with operations ndarrays and Tensors share then records its own graph, and the
gradients it returns can be differentiated again (Hessian-vector products, gradient
penalties). Nothing here runs without create_graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_bp.engine.function import Function, _new, _next_seq
from tinygrad_bp.engine.tensor import Tensor, _make

__all__ = ["once_differentiable"]


class GraphContext:
    """The context as a ``create_graph=True`` backward sees it: inputs and output as Tensors."""

    def __init__(self, ctx: Function) -> None:
        self._ctx = ctx
        out = None
        if ctx.out is not None:  # the output, connected to this very node
            out = _make(ctx.out, True)
            out._ctx = ctx
        self.out = out
        self.inputs = ctx.input_tensors

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        ctx = self._ctx
        by_id = {id(t.data): t for t in ctx.input_tensors or () if isinstance(t, Tensor)}
        if self.out is not None:
            by_id[id(self.out.data)] = self.out
        return tuple(by_id.get(id(a), a) for a in ctx.saved_tensors or ())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


def once_differentiable(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a ``Function.backward`` written with numpy: under ``create_graph=True`` it still
    gets arrays, and taking a second derivative through it raises a clear error.

    Use it below ``@staticmethod``::

        @staticmethod
        @tg.once_differentiable
        def backward(ctx, g): ...
    """
    backward.once_differentiable = True  # type: ignore[attr-defined]
    return backward


def graph_backward(fn: type[Function], ctx: Function, g: Any) -> Any:
    """Run a backward under create_graph=True: with Tensors, unless marked once_differentiable."""
    if getattr(fn.backward, "once_differentiable", False):
        return fn.backward(ctx, g.data if isinstance(g, Tensor) else g)
    try:
        return fn.backward(GraphContext(ctx), g)
    except TypeError as e:
        if "__array_ufunc__" not in str(e) and "ufunc" not in str(e):
            raise
        raise TypeError(
            f"{fn.__name__}.backward: under create_graph=True it receives Tensors instead of "
            f"arrays, and a numpy function rejected them ({e}). Write it with operations that "
            "Tensors support (+ - * / ** @ .sum .reshape .exp ...) to make it twice "
            "differentiable, or decorate it with @tg.once_differentiable."
        ) from e


def as_graph_grad(gp: Any, ctx: Function) -> Tensor:
    """A gradient a backward returned under create_graph, as a Tensor: itself, or (computed
    with numpy) one whose own backward raises, so a second derivative through it cannot be
    silently wrong."""
    if isinstance(gp, Tensor):
        return gp
    node = _new(_NotTwiceDifferentiable)
    node.origin = f"{type(ctx).__name__}.backward"
    node.parents = tuple(p for p in ctx.parents if p is not None)
    node.needs_input_grad = (True,) * len(node.parents)
    node.seq = _next_seq()
    a = np.asarray(gp)
    node.out_shape, node.out_dtype = a.shape, a.dtype
    t = _make(a, True)
    t._ctx = node
    return t


class _NotTwiceDifferentiable(Function):
    """Stands for a gradient that a backward computed with numpy under create_graph=True."""

    origin = ""

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        raise RuntimeError(
            f"{ctx.origin}: its backward computed gradients with numpy arrays, so it is only "
            "once differentiable; write the backward with operations that Tensors support "
            "(see Function's docs) to take a second derivative through it"
        )
