"""The backward engine: topological order, the chain-rule walk (``backward``, ``grad``),
gradient accumulation, hooks, and the create_graph view of a node."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from heapq import heapify, heappop, heappush
from typing import Any

import numpy as np

from tinygrad_bp.autograd import (
    Function,
    _anomaly_backward,
    _clock,
    _new,
    _next_seq,
    _state,
    enable_grad,
    sum_to,
)
from tinygrad_bp.ops import Clone
from tinygrad_bp.tensor import Tensor, _make, const_of

__all__ = ["backward", "grad", "once_differentiable", "register_hook", "run_backward", "toposort"]


# --------------------------------------------------------------------------- graph walk
# The graph holds nodes (Function instances) and leaf Tensors; intermediate Tensors are not
# kept by it, so their arrays are freed as soon as no user variable or saved value needs them.
def toposort(roots: Iterable[Any]) -> list[Any]:
    """Nodes and leaf Tensors reachable from ``roots`` (nodes or leaves), each before its
    inputs: the order backward runs in. Explicit stack: no recursion limit; a node is marked
    visited when it is expanded, not when it is pushed."""
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[Any] = []
    for r in roots:
        stack.append(r)
        stack.append(None)
    # the stack holds pairs (item, marker): marker None = expand, True = emit
    while stack:
        done = stack.pop()
        n = stack.pop()
        if done is not None:
            order.append(n)
            continue
        key = id(n)
        if key in visited:
            continue
        visited.add(key)
        stack.append(n)
        stack.append(True)
        if type(n) is not Tensor:
            for p in n.parents:
                if p is not None and id(p) not in visited:
                    stack.append(p)
                    stack.append(None)
    order.reverse()
    return order


class _GraphCtx:
    """The context as a ``create_graph=True`` backward sees it: inputs and output as Tensors."""

    def __init__(self, ctx: Function) -> None:
        self._ctx = ctx
        out = None
        if ctx.out is not None:  # the output, connected to this very node
            out = _make(ctx.out, True)
            out._ctx = ctx
        self.out = out
        self.inputs = ctx.src

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        ctx = self._ctx
        by_id = {id(t.data): t for t in ctx.src or () if isinstance(t, Tensor)}
        if self.out is not None:
            by_id[id(self.out.data)] = self.out
        return tuple(by_id.get(id(a), a) for a in ctx.saved_tensors or ())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


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


def _graph_backward(fn: type[Function], ctx: Function, g: Any) -> Any:
    """Run a backward under create_graph=True: with Tensors, unless marked once_differentiable."""
    if getattr(fn.backward, "once_differentiable", False):
        return fn.backward(ctx, g.data if isinstance(g, Tensor) else g)
    try:
        return fn.backward(_GraphCtx(ctx), g)
    except TypeError as e:
        if "__array_ufunc__" not in str(e) and "ufunc" not in str(e):
            raise
        raise TypeError(
            f"{fn.__name__}.backward: under create_graph=True it receives Tensors instead of "
            f"arrays, and a numpy function rejected them ({e}). Write it with operations that "
            "Tensors support (+ - * / ** @ .sum .reshape .exp ...) to make it twice "
            "differentiable, or decorate it with @tg.once_differentiable."
        ) from e


def _once_differentiable(arr: Any, ctx: Function) -> Tensor:
    node = _new(_NotTwiceDifferentiable)
    node.origin = f"{type(ctx).__name__}.backward"
    node.parents = tuple(p for p in ctx.parents if p is not None)
    node.needs_input_grad = tuple(True for _ in node.parents)
    node.seq = _next_seq()
    a = np.asarray(arr)
    node.oshape, node.odtype = a.shape, a.dtype
    t = _make(a, True)
    t._ctx = node
    return t


def _released_error(ctx: Function) -> RuntimeError:
    return RuntimeError(
        f"{type(ctx).__name__}: trying to backward through the graph a second time, but its "
        "saved values were released by the first backward(). Pass retain_graph=True to the "
        "first backward() (or tg.grad) to walk the same graph more than once."
    )


def _version_error(ctx: Function, what: str) -> RuntimeError:
    return RuntimeError(
        f"{type(ctx).__name__}: {what}, saved for backward, was modified in place after the "
        "op ran (directly, or through a view or a detached copy sharing its memory), so its "
        "gradient would be wrong. Modify a copy instead (build a new Tensor), or make the "
        "in-place change after backward()."
    )


def _check_versions(ctx: Function) -> None:
    """Raise if a tensor the node saved (or its output) changed in place since it ran."""
    stamp = ctx.stamp
    for t in ctx.src or ():
        if isinstance(t, Tensor):
            counter = t._version_counter
            if counter is not None and counter[0] > stamp:
                raise _version_error(ctx, f"an input of shape {t.shape}")
    counter = ctx.out_counter
    if counter is not None and counter[0] > stamp:
        raise _version_error(ctx, f"its output (shape {ctx.oshape})")


def _run_hooks(
    hooks: list[Callable[..., Any]],
    shape: tuple[int, ...],
    dtype: np.dtype,
    g: Any,
    create_graph: bool,
) -> Any:
    """Call each hook with the gradient; a returned value replaces it (same shape and dtype).
    Hooks get a read-only view: the engine may pass the same array on to other nodes."""
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


def _store_grad(t: Tensor, g: Any, own: bool, create_graph: bool) -> None:
    """Add ``g`` into ``t.grad``, always out of place: an array the engine handed out (as a
    ``.grad``, to a hook, to ``tg.grad``'s caller) never changes afterwards.

    A first gradient becomes ``.grad`` as it is only when ``own`` (the engine alone holds the
    array, see ``run_backward``); otherwise ``.grad`` gets a copy, so it never shares memory
    with another leaf's grad, a hook's argument, the caller's array or a saved value."""
    with _grad_lock:
        old = t.grad
        if create_graph:  # g is a Tensor: a differentiable copy keeps the graph
            if old is not None:
                t.grad = old + g
            elif g.requires_grad:
                t.grad = Clone._apply1(g)
            else:
                t.grad = _make(np.array(g.data, dtype=t.data.dtype), False)
        elif old is None:
            t.grad = _make(g if own else np.array(g, dtype=t.data.dtype), False)
        elif old.requires_grad:  # a graph from an earlier create_graph: keep it, add g as a
            with enable_grad():  # constant (PyTorch adds in place and keeps it too)
                t.grad = old + _make(np.asarray(g, dtype=t.data.dtype), False)
        else:
            t.grad = _make(np.asarray(old.data + g, dtype=t.data.dtype), False)


def _key(t: Tensor) -> Any:
    return t if t._ctx is None else t._ctx


# backward_inplace is used from this size on (below it out= costs more than an allocation)
_STEAL_MIN = 4096


def _fit(gp: Any, shape: tuple[int, ...], dtype: np.dtype, fn: type[Function]) -> Any:
    """A gradient brought to its input's shape (undoing broadcasting) and dtype; a new
    array whenever it differs from ``gp``."""
    if gp.shape != shape:
        reduced = sum_to(gp, shape)
        if reduced.shape != shape:
            raise RuntimeError(
                f"{fn.__name__}.backward returned a gradient of shape {gp.shape} for an input "
                f"of shape {shape}; it must have the input's shape (or the output's, when the "
                "forward broadcast the input)"
            )
        gp = reduced
    if gp.dtype != dtype:
        gp = gp.astype(dtype)
    return gp


def _needed(roots: Sequence[Any], want: set[int]) -> set[int]:
    """Ids of the nodes from which a wanted node or leaf is reachable: the part of the graph
    ``tg.grad`` walks (nothing else runs, hooks included)."""
    needed: set[int] = set()
    for n in reversed(toposort(roots)):  # inputs first
        k = id(n)
        if k in want or (
            type(n) is not Tensor and any(p is not None and id(p) in needed for p in n.parents)
        ):
            needed.add(k)
    return needed


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> dict[int, Any] | None:
    """Walk the graph from ``roots`` once, applying the chain rule node by node.

    Nodes are numbered as they are created, and a node is always created after its inputs,
    so taking the pending node with the highest number (a heap) runs each node once, after
    all its consumers have added their gradients: a topological order without a separate
    sort. While a single node is pending (a chain) it waits in ``nxt`` instead of the heap.
    Leaves are finished last, each with its total gradient.

    Ownership is decided by construction: ``owned`` holds the nodes and leaves whose pending
    gradient array only the engine holds: one it allocated (a sum of contributions), one an
    op with ``grads_are_new`` returned, or its own one passed through by an op exactly once.
    Only those are written into (``+=``, ``backward_inplace``) or kept as ``.grad`` without
    a copy; an array a hook, ``retain_grad`` or ``tg.grad`` has seen is never owned again.

    With ``inputs`` None, gradients accumulate into ``.grad`` of leaves (and of tensors that
    called ``retain_grad``). Otherwise only the part of the graph leading to ``inputs`` runs,
    their gradients are returned by the id of their node (or leaf) and no ``.grad`` changes.
    """
    grads: dict[int, Any] = {}  # node or leaf id -> gradient so far
    owned: set[int] = set()
    leaves: dict[int, Tensor] = {}
    heap: list[tuple[int, Function]] = []
    want = None if inputs is None else {id(_key(t)) for t in inputs}
    needed = None if want is None else _needed([_key(r) for r in roots], want)
    for r, g in zip(roots, root_grads):
        n: Any = r if r._ctx is None else r._ctx
        k = id(n)
        if needed is not None and k not in needed:
            continue
        if k in grads:  # the same tensor twice among the roots
            grads[k] = grads[k] + g if create_graph else np.asarray(grads[k] + g)
            continue
        grads[k] = g
        if type(n) is Tensor:
            leaves[k] = n
        else:
            heap.append((-n.seq, n))
    nxt = None  # the one pending node while there is only one (then the heap is empty)
    if len(heap) == 1:  # one root node, as in loss.backward()
        nxt = heap.pop()[1]
    else:
        heapify(heap)
    captured: dict[int, Any] = {}
    prev_mode = _state.grad_enabled
    _state.grad_enabled = create_graph
    anomaly = _state._anomaly
    pop = grads.pop
    get = grads.get
    ndarray = np.ndarray
    clock = _clock
    try:
        while True:
            if nxt is not None:
                ctx = nxt
                nxt = None
            elif heap:
                ctx = heappop(heap)[1]
            else:
                break
            key = id(ctx)
            g = pop(key)
            own = key in owned
            if ctx.special or want is not None:  # hooks, retain_grad, released, tg.grad
                # tg.grad stops at an input below which nothing it asked for lies (PyTorch
                # stops too): that node only hands its gradient over, its backward never runs
                stop = needed is not None and not any(
                    p is not None and id(p) in needed for p in ctx.parents
                )
                if ctx.released and not stop:
                    raise _released_error(ctx)
                if ctx.hooks:
                    g = _run_hooks(ctx.hooks, ctx.oshape, ctx.odtype, g, create_graph)
                    own = False
                if want is not None:
                    if key in want:
                        captured[key] = g
                        own = False
                    if stop:
                        continue
                elif ctx.retained is not None:
                    rt = ctx.retained()
                    if rt is not None:
                        _store_grad(rt, g, own, create_graph)
                        own = False
            if ctx.stamp != clock[0] and (ctx.src is not None or ctx.out_counter is not None):
                _check_versions(ctx)
            fn = type(ctx)
            if create_graph:
                gs = _graph_backward(fn, ctx, g)
            elif own and fn.backward_inplace is not None and g.size >= _STEAL_MIN:
                gs = fn.backward_inplace(ctx, g)  # g is the engine's alone: reuse its memory
            else:
                gs = fn.backward(ctx, g)
            parents = ctx.parents
            if type(gs) is not tuple:
                gs = (gs,)
            if len(gs) != len(parents):
                n_in = len(parents)
                raise RuntimeError(
                    f"{fn.__name__}.backward returned {len(gs)} gradient{'s' * (len(gs) != 1)} "
                    f"for {n_in} input{'s' * (n_in != 1)}"
                )
            if anomaly:
                _anomaly_backward(ctx, gs)
            for p, gp in zip(parents, gs):
                if p is None or gp is None:  # no grad wanted, or none given
                    continue
                pk = id(p)
                if needed is not None and pk not in needed:
                    continue
                if create_graph:
                    if not isinstance(gp, Tensor):
                        gp = _once_differentiable(gp, ctx)
                elif type(gp) is not ndarray:
                    gp = np.asarray(gp.data if isinstance(gp, Tensor) else gp)
                fitted = gp
                if type(p) is Tensor:  # a leaf: finished after the walk
                    d = p.data
                    if gp.shape != d.shape or gp.dtype is not d.dtype:
                        gp = _fit(gp, d.shape, d.dtype, fn)
                    prev = get(pk)
                    if prev is None:
                        grads[pk] = gp
                        leaves[pk] = p
                        if not create_graph and _owns(gp, fitted, fn, own, g, gs, parents):
                            owned.add(pk)
                        continue
                else:
                    if gp.shape != p.oshape or gp.dtype is not p.odtype:
                        gp = _fit(gp, p.oshape, p.odtype, fn)
                    prev = get(pk)
                    if prev is None:
                        grads[pk] = gp
                        if (  # ownership pays only for arrays worth reusing
                            not create_graph
                            and gp.size >= _STEAL_MIN
                            and _owns(gp, fitted, fn, own, g, gs, parents)
                        ):
                            owned.add(pk)
                        if heap:
                            heappush(heap, (-p.seq, p))
                        elif nxt is None:
                            nxt = p
                        else:  # a second pending node: both go to the heap
                            heappush(heap, (-nxt.seq, nxt))
                            heappush(heap, (-p.seq, p))
                            nxt = None
                        continue
                if pk in owned:
                    np.add(prev, gp, out=prev)
                elif create_graph:
                    grads[pk] = prev + gp
                else:
                    total = prev + gp
                    if type(total) is not ndarray:  # (0-d sums come back as numpy scalars)
                        total = np.asarray(total)
                    grads[pk] = total
                    owned.add(pk)
            gs = gp = prev = g = None
            if not retain_graph:  # release what the node saved; its structure stays
                if ctx.src is not None:
                    ctx.inputs = ctx.src = None
                if ctx.out is not None:
                    ctx.out = ctx.out_counter = None
                if ctx.saved_tensors:
                    ctx.saved_tensors = None
                if fn.saved_attrs:
                    for name in fn.saved_attrs:
                        setattr(ctx, name, None)
                ctx.released = ctx.special = True
        for k, leaf_t in leaves.items():
            g = pop(k)
            own = k in owned
            if want is not None and k not in want:
                continue  # tg.grad: a leaf not asked for (its hooks do not run either)
            if leaf_t._hooks:
                g = _run_hooks(leaf_t._hooks, leaf_t.shape, leaf_t.dtype, g, create_graph)
                own = False
            if want is not None:
                captured[k] = g
            else:
                _store_grad(leaf_t, g, own, create_graph)
    finally:
        _state.grad_enabled = prev_mode
    return captured if want is not None else None


def _owns(
    gp: Any,
    returned: Any,
    fn: type[Function],
    own: bool,
    g: Any,
    gs: tuple[Any, ...],
    parents: tuple[Any, ...],
) -> bool:
    """Whether the engine alone holds ``gp``, a gradient ``fn.backward`` returned (as
    ``returned``, before the engine summed or cast it into ``gp``): the engine made it, the
    op promises new arrays, or the op passed the engine's own ``g`` on to one input only."""
    if gp is not returned or fn.grads_are_new:
        return True
    if not own or gp is not g:
        return False
    n = 0
    for q, p in zip(gs, parents):
        if q is g and p is not None:
            n += 1
    return n == 1


def _root_grad(t: Tensor, g: Any, create_graph: bool, where: str) -> Any:
    if g is None:
        d = t.data
        if d.size != 1:
            raise RuntimeError(
                f"{where}: the output has shape {t.shape}; a gradient can be created implicitly "
                "only for a one-element output. Pass grad= (an array of the output's shape), "
                "or reduce the output first (e.g. loss.sum() or loss.mean())."
            )
        arr = np.ones(d.shape, dtype=d.dtype) if d.ndim else const_of(1, d.dtype)
        return _make(arr, False) if create_graph else arr
    if isinstance(g, Tensor):
        gt = g
    else:
        gt = _make(np.array(g, dtype=t.data.dtype), False)
    if gt.shape != t.shape:
        raise ValueError(
            f"{where}: grad has shape {gt.shape} but the output has shape {t.shape}; "
            "pass a gradient of the output's shape"
        )
    if create_graph:
        return gt
    return np.array(gt.data, dtype=t.data.dtype)  # a copy the engine owns


def _check_root(t: Tensor, i: int, where: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: output {i} is a {type(t).__name__}, expected a Tensor")
    if not t.requires_grad:
        raise RuntimeError(
            f"{where}: output {i} (shape {t.shape}) does not require grad and has no grad_fn: "
            "no input of the computation has requires_grad=True, or it ran under no_grad()"
        )


def backward(
    t: Tensor, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
) -> None:
    """Accumulate d(t)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    _check_root(t, 0, "backward")
    g = _root_grad(t, grad, create_graph, "backward")
    run_backward((t,), (g,), retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple; ``.grad``
    attributes are left alone.

    Args:
        outputs: a Tensor or sequence of Tensors to differentiate.
        inputs: the Tensors (leaves or intermediates) to differentiate with respect to.
        grad_outputs: upstream gradients, one per output (None for one-element outputs).
        retain_graph: keep saved values for another walk; defaults to ``create_graph``.
        create_graph: record the backward pass so the results can be differentiated again.
        allow_unused: return None for an input the outputs do not depend on instead of raising.
    """
    outs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    ins = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if grad_outputs is None or isinstance(
        grad_outputs, (Tensor, np.ndarray, np.generic, int, float)
    ):
        gos = (grad_outputs,) * len(outs) if grad_outputs is None else (grad_outputs,)
    else:
        gos = tuple(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"grad: got {len(gos)} grad_outputs for {len(outs)} outputs")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad; nothing to differentiate")
    for i, t in enumerate(outs):
        _check_root(t, i, "grad")
    root_grads = [_root_grad(t, g, create_graph, "grad") for t, g in zip(outs, gos)]
    if retain_graph is None:
        retain_graph = create_graph
    captured = run_backward(outs, root_grads, retain_graph, create_graph, inputs=ins)
    assert captured is not None
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = captured.get(id(_key(t)))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
        elif isinstance(g, Tensor):  # its own memory: results never alias each other
            if g.requires_grad:
                with enable_grad():
                    result.append(Clone._apply1(g))
            else:
                result.append(_make(g.data.copy(), False))
        else:
            result.append(_make(np.array(g, dtype=t.data.dtype), False))
    return tuple(result)


def register_hook(t: Tensor, fn: Callable[[Tensor], Tensor | None]) -> Any:
    """Attach ``fn`` to ``t`` (to its node, for a non-leaf); see ``Tensor.register_hook``."""
    if not callable(fn):
        raise TypeError(f"register_hook: expected a callable, got {type(fn).__name__}")
    if not t.requires_grad:
        raise RuntimeError(
            "register_hook: cannot register a hook on a tensor that doesn't require grad"
        )
    owner: Any = t if t._ctx is None else t._ctx
    hooks = owner._hooks if owner is t else owner.hooks
    if hooks is None:
        hooks = []
        if owner is t:
            t._hooks = hooks
        else:
            owner.hooks = hooks
            owner.special = True
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
