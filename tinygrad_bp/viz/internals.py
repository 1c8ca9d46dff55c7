"""The one place where drawing, tracing and bisecting read the graph's internals.

The engine keeps a graph of nodes (``Function`` instances) and leaf Tensors; what a node
holds (``parents``, ``inputs``/``input_tensors``/``out``/``saved_tensors``, ``kwargs``,
``creation_trace``, ``released``) is the engine's business and may change. Everything in
``viz`` and in the gradient bisector reads it through these helpers, so a refactor of the
engine changes this module only.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine import no_grad, sum_to, toposort
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "const_arg",
    "creation_site",
    "graph_order",
    "is_leaf",
    "key_of",
    "local_backward",
    "op_name",
    "out_dtype",
    "out_shape",
    "parents",
    "recompute",
    "rule",
    "saved_args",
    "saved_output",
    "stale_inputs",
]

UNKNOWN: Any = object()  # an argument the node did not keep (or backward released)


def is_leaf(n: Any) -> bool:
    """True for a leaf Tensor in the graph, False for an op node."""
    return isinstance(n, Tensor)


def key_of(t: Tensor) -> Any:
    """The graph item a Tensor stands for: its node, or the Tensor itself when a leaf."""
    return t if t._ctx is None else t._ctx


def graph_order(roots: Iterable[Any]) -> list[Any]:
    """Nodes and leaves reachable from ``roots`` (nodes or leaves), each before its inputs:
    the order ``backward()`` finishes them in."""
    return toposort(list(roots))


def parents(n: Any) -> tuple[Any, ...]:
    """Per input of an op node: the node or leaf it came from, or None (a constant)."""
    return () if is_leaf(n) else tuple(n.parents)


def op_name(n: Any) -> str:
    """The op's class name (``Mul``), or ``leaf``."""
    return "leaf" if is_leaf(n) else type(n).__name__


def out_shape(n: Any) -> tuple[int, ...]:
    """The shape of what a node (or leaf) produced."""
    return tuple(n.shape) if is_leaf(n) else tuple(n.out_shape)


def out_dtype(n: Any) -> np.dtype:
    """The dtype of what a node (or leaf) produced."""
    return np.dtype(n.dtype if is_leaf(n) else n.out_dtype)


def kwargs(n: Any) -> dict[str, Any]:
    """The op's keyword arguments (``axis=1``...)."""
    return dict(n.kwargs or {}) if not is_leaf(n) else {}


def rule(n: Any) -> str:
    """The op's docstring: its forward formula and local derivative, on one line."""
    doc = inspect.getdoc(type(n)) if not is_leaf(n) else None
    if not doc:
        return "(no docstring: local rule unknown)"
    first = doc.split("\n\n")[0]
    return " ".join(first.split())


def creation_site(n: Any) -> str | None:
    """Where the user's code created the op (recorded in anomaly mode), else None."""
    return None if is_leaf(n) else n.creation_trace


def released(n: Any) -> bool:
    """True when ``backward()`` already freed what the node saved."""
    return bool(not is_leaf(n) and n.released)


def saved_args(n: Any) -> list[Any]:
    """Per input of an op node: the array it was called with, or ``UNKNOWN`` when the node
    did not keep it (inputs the op does not need, or everything once released). Graph
    inputs that are nodes are usually UNKNOWN here: their value is the parent's output."""
    ps = parents(n)
    args: list[Any] = [UNKNOWN] * len(ps)
    inputs, src = n.inputs, n.input_tensors
    some = callable(type(n).save_inputs)
    for i in range(len(ps)):
        if inputs is not None and i < len(inputs):
            a = inputs[i]
        elif src is not None and i < len(src):
            a = src[i].data if isinstance(src[i], Tensor) else src[i]
        else:
            continue
        if a is None and some:
            continue  # the op keeps only the inputs backward needs: None means not kept
        args[i] = a
    return args


def const_arg(n: Any, i: int) -> Any:
    """The constant passed as input ``i`` (a number, array, Targets...), or ``UNKNOWN``."""
    return saved_args(n)[i]


def saved_output(n: Any) -> np.ndarray | None:
    """The node's output when it kept it (``out``, or a retained Tensor), else None."""
    if n.out is not None:
        return n.out  # type: ignore[no-any-return]
    rt = n.retained() if n.retained is not None else None
    return rt.data if rt is not None else None


def retained_name(n: Any) -> str | None:
    """The name of a Tensor that called ``retain_grad()`` for this node, if any."""
    rt = n.retained() if not is_leaf(n) and n.retained is not None else None
    return rt.name if rt is not None else None


def stale_inputs(n: Any) -> bool:
    """True when an input the node saved was modified in place after the op ran."""
    src = n.input_tensors if not is_leaf(n) else None
    if not src:
        return False
    return any(isinstance(t, Tensor) and t._version > n.stamp for t in src)


def recompute(n: Any, args: Sequence[Any]) -> np.ndarray:
    """Run the op's forward again on ``args`` (arrays and constants), on a throwaway context."""
    fn = type(n)
    with no_grad():
        out = fn.forward(object.__new__(fn), *args, **kwargs(n))
    return np.asarray(out)


def local_backward(n: Any, g: np.ndarray) -> list[np.ndarray | None]:
    """One backward step of node ``n`` with upstream gradient ``g``, on the values it saved
    (the graph is left as it was, like ``retain_graph=True``): the gradient for each input,
    brought to the input's shape and dtype as the engine does, None where there is none."""
    if released(n):
        raise RuntimeError(
            f"{op_name(n)}: its saved values were released by backward(); trace (or draw with "
            "trace=True) before calling backward(), or call backward(retain_graph=True)"
        )
    if stale_inputs(n):
        raise RuntimeError(
            f"{op_name(n)}: an input it saved was modified in place after the op ran, so its "
            "gradient would be wrong"
        )
    fn = type(n)
    with no_grad():
        gs = fn.backward(n, g)
    if not isinstance(gs, tuple):
        gs = (gs,)
    ps = parents(n)
    if len(gs) != len(ps):
        raise RuntimeError(f"{fn.__name__}.backward returned {len(gs)} gradients for {len(ps)}")
    out: list[np.ndarray | None] = []
    for p, gp in zip(ps, gs):
        if p is None or gp is None:
            out.append(None)
            continue
        a = np.asarray(gp.data if isinstance(gp, Tensor) else gp)
        shape = out_shape(p)
        if a.shape != shape:
            a = np.asarray(sum_to(a, shape))
            if a.shape != shape:
                raise RuntimeError(
                    f"{fn.__name__}.backward returned a gradient of shape {a.shape} for an "
                    f"input of shape {shape}"
                )
        out.append(a.astype(out_dtype(p), copy=False))
    return out
