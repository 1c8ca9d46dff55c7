"""The chain-rule walk (``backward`` and ``grad`` in backward.py check their arguments and
call it).

A graph is made of nodes (``Function`` instances, one per recorded op) and leaf Tensors.
``run_backward`` states the algorithm: give the root its gradient; then, newest node
first, take a node's summed gradient, call its ``backward`` to get one gradient per input,
bring each to its input's shape (undoing broadcasting) and add it to what that input has
received; finally store each leaf's total in ``.grad``. Everything else a node may need
(hooks, retain_grad, tg.grad's capture, create_graph, in-place checks, anomaly mode) is one
call into its own module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from tinygrad_bp.engine import higher_order, hooks, versions
from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.grad_mode import _state
from tinygrad_bp.engine.ops import reduce_sum
from tinygrad_bp.engine.tensor import Tensor

__all__ = ["run_backward", "sum_to", "toposort"]


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> dict[int, Any] | None:
    """Walk the graph from ``roots`` once, applying the chain rule node by node.

    Order: nodes are numbered as they are created, always after their inputs, so taking the
    waiting node with the highest number runs each node once, after every consumer has
    added its gradient: a topological order without a separate sort.

    With ``inputs`` None, gradients accumulate into ``.grad`` of leaves (and of tensors that
    called ``retain_grad``). Otherwise only the part of the graph leading to ``inputs`` runs,
    and their gradients are returned by the id of their node (or leaf).
    """
    targets = None if inputs is None else hooks.GradTargets([r._ctx or r for r in roots], inputs)
    grads: dict[int, Any] = {}  # id(node or leaf) -> the gradient it has received so far
    made_here: set[int] = set()  # ids whose gradient array the walk made (no copy to keep)
    waiting: list[tuple[int, Function]] = []  # a heap of (-seq, node): the newest first
    leaves: dict[int, Tensor] = {}
    for root, g in zip(roots, root_grads):
        node = root._ctx or root
        if targets is None or targets.reaches(node):
            _receive(node, g, True, grads, made_here, waiting, leaves)
    anomaly = _state._anomaly
    clock = versions.clock  # the tick of the latest in-place change (versions.py)
    grad_mode = _state.grad_enabled
    _state.grad_enabled = create_graph  # backward formulas record a graph only for create_graph
    try:
        while waiting:
            node = heappop(waiting)[1]
            g = grads.pop(id(node))
            if node.hooks or node.retained is not None or targets is not None:
                g = hooks.before_backward(node, g, create_graph, targets)
                if g is None:  # tg.grad: nothing it asked for lies below this node
                    continue
            if node.released:
                raise _released_error(node)
            if node.stamp != clock[0]:  # something changed in place since it ran
                versions.check_versions(node)
            fn = type(node)
            gs = higher_order.graph_backward(fn, node, g) if create_graph else fn.backward(node, g)
            if type(gs) is not tuple:
                gs = (gs,)
            if len(gs) != len(node.parents) or anomaly:
                _check_grads(node, gs)
            for parent, gp in zip(node.parents, gs):
                if parent is None or gp is None:  # no gradient wanted, or none given
                    continue
                if targets is None or targets.reaches(parent):
                    fitted = _fit(gp, parent, node, create_graph)
                    new_array = fitted is not gp or fn.grads_are_new
                    _receive(parent, fitted, new_array, grads, made_here, waiting, leaves)
            if not retain_graph:
                _release(node)
        for key, leaf in leaves.items():
            hooks.finish_leaf(leaf, grads.pop(key), key in made_here, create_graph, targets)
    finally:
        _state.grad_enabled = grad_mode
    return None if targets is None else targets.captured


def _receive(
    node: Any,
    g: Any,
    new_array: bool,
    grads: dict[int, Any],
    made_here: set[int],
    waiting: list[tuple[int, Function]],
    leaves: dict[int, Tensor],
) -> None:
    """Add ``g`` to what ``node`` has received; its first gradient puts it in line."""
    key = id(node)
    if key in grads:  # one more consumer's share: add it (out of place)
        total = grads[key] + g
        grads[key] = np.asarray(total) if isinstance(total, np.generic) else total  # (0-d sums)
        made_here.add(key)
        return
    grads[key] = g
    if new_array:
        made_here.add(key)
    if type(node) is Tensor:
        leaves[key] = node
    else:
        heappush(waiting, (-node.seq, node))


def _check_grads(node: Function, gs: tuple[Any, ...]) -> None:
    """One gradient per input, and (in anomaly mode) none with NaN or Inf."""
    if len(gs) != len(node.parents):
        n_in, fn = len(node.parents), type(node).__name__
        raise RuntimeError(
            f"{fn}.backward returned {len(gs)} gradient{'s' * (len(gs) != 1)} "
            f"for {n_in} input{'s' * (n_in != 1)}"
        )
    if _state._anomaly:
        from tinygrad_bp.engine.anomaly import check_backward

        check_backward(node, gs)


def _fit(gp: Any, parent: Any, node: Function, create_graph: bool) -> Any:
    """A gradient brought to its input's shape (undoing broadcasting) and dtype; a new
    array whenever it differs from ``gp``."""
    if create_graph:
        gp = higher_order.as_graph_grad(gp, node)
    elif type(gp) is not np.ndarray:
        gp = np.asarray(gp.data if isinstance(gp, Tensor) else gp)
    if type(parent) is Tensor:
        shape, dtype = parent.data.shape, parent.data.dtype
    else:
        shape, dtype = parent.out_shape, parent.out_dtype
    if gp.shape == shape and gp.dtype is dtype:
        return gp
    if gp.shape != shape:
        reduced = sum_to(gp, shape)
        if reduced.shape != shape:
            raise RuntimeError(
                f"{type(node).__name__}.backward returned a gradient of shape {gp.shape} for "
                f"an input of shape {shape}; it must have the input's shape (or the output's, "
                "when the forward broadcast the input)"
            )
        gp = reduced
    if gp.dtype != dtype:
        gp = gp.astype(dtype)
    return gp


def _release(node: Function) -> None:
    """Free what the node saved (its structure stays, so a second walk can say why not)."""
    # (only what was set: giving a node an attribute it never had costs several times an
    # overwrite; clearing all four on every node made a chain of small ops 7% slower)
    if node.input_tensors is not None:
        node.inputs = node.input_tensors = None
    if node.out is not None:
        node.out = node.out_counter = None
    if node.saved_tensors:
        node.saved_tensors = None
    for name in type(node).saved_attrs:
        setattr(node, name, None)
    node.released = True


def _released_error(node: Function) -> RuntimeError:
    return RuntimeError(
        f"{type(node).__name__}: trying to backward through the graph a second time, but its "
        "saved values were released by the first backward(). Pass retain_graph=True to the "
        "first backward() (or tg.grad) to walk the same graph more than once."
    )


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Undo numpy broadcasting: sum ``g`` down to ``shape`` (Tensor ops stay differentiable).
    Only sums what broadcasting added; any other shape comes back unchanged for the caller
    to reject (a scalar is never spread over an input)."""
    lead = g.ndim - len(shape)
    if lead < 0:  # fewer dims than the input: not a broadcast result (the walk raises)
        return g
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if not axes:
        return g
    if isinstance(g, Tensor):
        return g.sum(axis=axes, keepdims=True).reshape(shape)
    return reduce_sum(g, axes, keepdims=True).reshape(shape)  # float32: not naively summed


def toposort(roots: Iterable[Any]) -> list[Any]:
    """Nodes and leaf Tensors reachable from ``roots`` (nodes or leaves), each before its
    inputs (for drawings and ``tg.grad``; the walk orders by creation number instead).
    Explicit stack: no recursion limit; a node is marked visited when it is expanded, not
    when it is pushed."""
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(r, False) for r in roots]
    while stack:
        n, expanded = stack.pop()
        if expanded:
            order.append(n)
            continue
        if id(n) in visited:
            continue
        visited.add(id(n))
        stack.append((n, True))
        if type(n) is not Tensor:
            stack.extend((p, False) for p in n.parents if p is not None and id(p) not in visited)
    order.reverse()
    return order
