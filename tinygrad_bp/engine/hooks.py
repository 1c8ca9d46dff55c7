"""What the walk does at a node besides the chain rule: hooks, retain_grad, ``tg.grad``'s
capture of its inputs' gradients, and storing ``.grad`` into leaves.

What it adds and why: users inspect and change gradients (``register_hook``), keep them on
intermediate tensors (``retain_grad``) and ask for some only (``tg.grad``). Ownership rule:
whatever a hook or the user has seen never changes afterwards, so ``.grad`` is always added
out of place, and kept without a copy only when the walk made the array itself.

Cost: none for nodes without hooks or retain_grad (the walk reads two attributes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.grad_mode import enable_grad
from tinygrad_bp.engine.ops import Clone
from tinygrad_bp.engine.tensor import Tensor, _make

__all__ = ["register_hook"]


def register_hook(t: Tensor, fn: Callable[[Tensor], Tensor | None]) -> Any:
    """Attach ``fn`` to ``t`` (to its node, for a non-leaf); see ``Tensor.register_hook``."""
    if not callable(fn):
        raise TypeError(f"register_hook: expected a callable, got {type(fn).__name__}")
    if not t.requires_grad:
        raise RuntimeError(
            "register_hook: cannot register a hook on a tensor that doesn't require grad"
        )
    if t._ctx is None:
        if t._hooks is None:
            t._hooks = []
        hooks = t._hooks
    else:
        if t._ctx.hooks is None:
            t._ctx.hooks = []
        hooks = t._ctx.hooks
    hooks.append(fn)
    return _HookHandle(hooks, fn)


class _HookHandle:
    """Returned by ``register_hook``; ``.remove()`` detaches the hook."""

    def __init__(self, hooks: list[Callable[..., Any]], fn: Callable[..., Any]) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


class GradTargets:
    """What ``tg.grad`` asked for: the inputs' nodes, the part of the graph leading to them
    (nothing else runs, hooks included), and the gradients captured on the way."""

    def __init__(self, roots: Sequence[Any], inputs: Sequence[Tensor]) -> None:
        from tinygrad_bp.engine.walk import toposort

        self.wanted = {id(t._ctx or t) for t in inputs}
        self.on_path: set[int] = set()  # nodes from which a wanted one is reachable
        for n in reversed(toposort(roots)):  # inputs first
            if id(n) in self.wanted or (
                type(n) is not Tensor
                and any(p is not None and id(p) in self.on_path for p in n.parents)
            ):
                self.on_path.add(id(n))
        self.captured: dict[int, Any] = {}

    def reaches(self, node: Any) -> bool:
        return id(node) in self.on_path

    def stops_at(self, node: Function) -> bool:
        """A wanted node below which nothing is wanted only hands its gradient over (its
        backward never runs; PyTorch stops there too)."""
        return not any(p is not None and id(p) in self.on_path for p in node.parents)


def before_backward(node: Function, g: Any, create_graph: bool, targets: GradTargets | None) -> Any:
    """Run the node's hooks, then fill a retained ``.grad`` or capture ``tg.grad``'s result.
    Returns the gradient to go on with (a hook may replace it), or None to stop here."""
    if node.hooks:
        g = run_hooks(node.hooks, node.out_shape, node.out_dtype, g, create_graph)
    if targets is not None:
        if id(node) in targets.wanted:
            targets.captured[id(node)] = g
        return None if targets.stops_at(node) else g
    if node.retained is not None:
        t = node.retained()
        if t is not None:
            store_grad(t, g, False, create_graph)
    return g


def finish_leaf(
    leaf: Tensor, g: Any, made_here: bool, create_graph: bool, targets: GradTargets | None
) -> None:
    """A leaf's total gradient: through its hooks into ``.grad`` (or to ``tg.grad``)."""
    if targets is not None and id(leaf) not in targets.wanted:
        return  # tg.grad: a leaf not asked for (its hooks do not run either)
    if leaf._hooks:
        g = run_hooks(leaf._hooks, leaf.shape, leaf.dtype, g, create_graph)
        made_here = False
    if targets is not None:
        targets.captured[id(leaf)] = g
    else:
        store_grad(leaf, g, made_here, create_graph)


def run_hooks(
    hooks: list[Callable[..., Any]],
    shape: tuple[int, ...],
    dtype: np.dtype,
    g: Any,
    create_graph: bool,
) -> Any:
    """Call each hook with the gradient; a returned value replaces it (same shape and dtype).
    Hooks get a read-only view: the walk may pass the same array on to other nodes."""
    for hook in list(hooks):
        if isinstance(g, Tensor):
            gt = g
        else:
            view = np.asarray(g).view()
            view.flags.writeable = False
            gt = _make(view, False)
        r = hook(gt)
        if r is None:
            continue
        name = getattr(hook, "__name__", repr(hook))
        if not isinstance(r, (Tensor, np.ndarray)):  # numbers and lists take the grad's dtype
            r = np.asarray(r, dtype=dtype)
        if r.shape != shape:
            raise ValueError(
                f"register_hook: hook {name!r} returned a gradient of shape {r.shape} for a "
                f"tensor of shape {shape}; return None or a gradient of the same shape"
            )
        if r.dtype != dtype:
            raise TypeError(
                f"register_hook: hook {name!r} returned a gradient of dtype {r.dtype} for a "
                f"tensor of dtype {dtype}; return one of the same dtype (e.g. "
                f"grad.astype(np.{dtype}))"
            )
        if create_graph:
            g = r if isinstance(r, Tensor) else _make(r, False)
        else:
            g = r.data if isinstance(r, Tensor) else r
    return g


# Two threads running backward into one leaf must not lose an update (PyTorch locks too).
_grad_lock = threading.Lock()


def store_grad(t: Tensor, g: Any, made_here: bool, create_graph: bool) -> None:
    """Add ``g`` into ``t.grad``, always out of place: an array the engine handed out (as a
    ``.grad``, to a hook, to ``tg.grad``'s caller) never changes afterwards.

    A first gradient becomes ``.grad`` as it is only when the walk made the array itself
    (``made_here``); otherwise ``.grad`` gets a copy, so it never shares memory with another
    leaf's grad, a hook's argument, the caller's array or a saved value."""
    with _grad_lock:
        old = t.grad
        if create_graph:  # g is a Tensor: a differentiable copy keeps the graph
            if old is not None:
                t.grad = old + g
            elif g.requires_grad:
                t.grad = Clone.apply(g)
            else:
                t.grad = _make(np.array(g.data, dtype=t.data.dtype), False)
        elif old is None:
            t.grad = _make(g if made_here else np.array(g, dtype=t.data.dtype), False)
        elif old.requires_grad:  # a graph from an earlier create_graph: keep it, add g as a
            with enable_grad():  # constant (PyTorch adds in place and keeps it too)
                t.grad = old + _make(np.asarray(g, dtype=t.data.dtype), False)
        else:
            t.grad = _make(np.asarray(old.data + g, dtype=t.data.dtype), False)
