"""The autograd engine: Function (the op and its context), grad mode, topological order,
``backward`` and ``grad``, and ``sum_to`` (the one place where broadcasting is undone)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_bp.tensor import Tensor

__all__ = [
    "Function",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_grad_enabled",
    "sum_to",
]


# --------------------------------------------------------------------------- grad mode
class _State(threading.local):
    """Per-thread switches: recording of graphs, anomaly detection, the running Module.

    ``extra`` is true when anomaly mode is on or a Module is running, so the hot path reads
    one flag instead of two."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self._anomaly = False
        self._scope: Any = None
        self.extra = False

    @property
    def anomaly(self) -> bool:
        return self._anomaly

    @anomaly.setter
    def anomaly(self, on: bool) -> None:
        self._anomaly = on
        self.extra = on or self._scope is not None

    @property
    def scope(self) -> Any:
        """The Module whose forward is running (drawings group its ops), or None."""
        return self._scope

    @scope.setter
    def scope(self, module: Any) -> None:
        self._scope = module
        self.extra = self._anomaly or module is not None


_state = _State()


def is_grad_enabled() -> bool:
    """True when new ops are recorded into the graph (per thread)."""
    return _state.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode for the current thread."""

    mode = True

    def __init__(self) -> None:
        self._prev: list[bool] = []

    def _recreate_cm(self) -> _GradMode:  # each decorated call gets its own state
        return type(self)()

    def __enter__(self) -> None:
        self._prev.append(_state.grad_enabled)
        _state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._prev.pop()


class no_grad(_GradMode):
    """``with tg.no_grad():`` (or ``@tg.no_grad()``): run ops without recording a graph."""

    mode = False


class enable_grad(_GradMode):
    """``with tg.enable_grad():``: record ops again inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``; usable as a plain call, context manager or decorator."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.mode = bool(mode)
        self._prev.append(_state.grad_enabled)
        _state.grad_enabled = self.mode  # takes effect at once, like torch.set_grad_enabled

    def _recreate_cm(self) -> set_grad_enabled:
        cm = object.__new__(set_grad_enabled)
        _GradMode.__init__(cm)
        cm.mode = self.mode
        return cm

    def __enter__(self) -> None:
        if not self._prev:  # recreated for a decorated call
            super().__enter__()

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._prev.pop()


# --------------------------------------------------------------------------- Function
class Function:
    """Base class of every op: subclass with static ``forward`` and ``backward``.

    ``forward(ctx, *arrays, **kwargs)`` receives ndarrays (and non-tensor constants) and
    returns one ndarray. ``backward(ctx, g)`` receives the upstream gradient in the output's
    shape and returns one gradient per input (``None`` where there is none); the engine sums
    broadcast gradients back to each input's shape. ``MyOp.apply(*tensors, **kwargs)`` runs it.

    The instance is the context (the graph node): store what backward needs with
    ``ctx.save_for_backward(*arrays)`` (read back as ``ctx.saved_tensors``) or, for the
    built-in ops, the class flags ``save_inputs`` / ``save_output`` (``ctx.inputs``,
    ``ctx.out``). ``ctx.needs_input_grad`` tells backward which gradients are wanted.

    Under ``backward(create_graph=True)`` the engine passes Tensors instead of arrays
    (``g``, ``ctx.inputs``, ``ctx.out``, and saved inputs/outputs), so a backward written
    with operations that ndarrays and Tensors share is differentiable again. A backward that
    calls ``np.*`` on them returns arrays: it is once-differentiable, and differentiating
    through it a second time raises a ``RuntimeError``.
    """

    save_inputs: bool | str = False
    save_output = False
    saved_attrs: tuple[str, ...] = ()  # op-specific arrays on ctx that backward releases

    # node state, set by apply; class-level defaults keep apply short
    parents: tuple[Any, ...] = ()  # per input: its node, the leaf Tensor, or None (no grad)
    needs_input_grad: tuple[bool, ...] = ()
    src: tuple[Any, ...] | None = None  # saved input Tensors (constants as given)
    inputs: tuple[Any, ...] | None = None  # their arrays
    out: Any = None
    saved_tensors: tuple[Any, ...] | None = ()
    stamp = 0  # the modification clock when the inputs were saved
    oshape: tuple[int, ...] = ()
    odtype: Any = None
    kwargs: dict[str, Any] | None = None
    released = False
    special = False  # set when hooks, retain_grad or release need the engine's slow path
    hooks: list[Callable[..., Any]] | None = None
    retained: Any = None
    scope: Any = None
    creation_trace: Any = None

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        """Compute the output ndarray from input ndarrays."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        """Return one gradient per input (or a single one for a one-input op)."""
        raise NotImplementedError

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward; read them back as ``ctx.saved_tensors``."""
        self.saved_tensors = arrays

    def __repr__(self) -> str:
        return f"<{type(self).__name__} node>"

    # -- apply: the general path, and short ones for one and two inputs (the hot path)
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the op on Tensors (other arguments pass through as constants)."""
        ctx = _new(cls)
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, arrays, kwargs, e) from e
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        st = _state
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        if st.grad_enabled and any(needs):
            t = _make(out, True)
            ctx.parents = tuple(_edge(a) if n else None for a, n in zip(args, needs))
            ctx.needs_input_grad = needs
            ctx.oshape = out.shape
            ctx.odtype = out.dtype
            if kwargs:
                ctx.kwargs = kwargs
            if cls.save_inputs:
                if cls.save_inputs == "cross":  # each input is needed only for the other's grad
                    keep = [any(n for j, n in enumerate(needs) if j != i) for i in range(len(args))]
                else:
                    keep = [True] * len(args)
                ctx.src = tuple(a if k else None for a, k in zip(args, keep))
                ctx.inputs = tuple(a if k else None for a, k in zip(arrays, keep))
                ctx.stamp = _clock[0]
            elif ctx.saved_tensors:  # save_for_backward: keep the tensors to map them back
                ctx.src = args
                ctx.stamp = _clock[0]
                if any(a is out for a in ctx.saved_tensors):
                    ctx.out = out
            if cls.save_output:
                ctx.out = out
            t._ctx = ctx
            if st.extra:
                _extra(st, ctx, out)
            return t
        if st.extra:
            _extra(st, ctx, out)
        return _make(out, False)

    @classmethod
    def _apply1(cls, x: Tensor) -> Tensor:
        ctx = _new(cls)
        xd = x.data
        try:
            out = cls.forward(ctx, xd)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, (xd,), None, e) from e
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        st = _state
        if x.requires_grad and st.grad_enabled:
            t = _make(out, True)
            p = x._ctx
            ctx.parents = (x if p is None else p,)
            ctx.needs_input_grad = _TRUE1
            ctx.oshape = out.shape
            ctx.odtype = out.dtype
            if cls.save_inputs:
                ctx.src = (x,)
                ctx.inputs = (xd,)
                ctx.stamp = _clock[0]
            if cls.save_output:
                ctx.out = out
            t._ctx = ctx
            if st.extra:
                _extra(st, ctx, out)
            return t
        if st.extra:
            _extra(st, ctx, out)
        return _make(out, False)

    @classmethod
    def _apply2(cls, x: Tensor, y: Any) -> Tensor:
        ctx = _new(cls)
        xd = x.data
        yt = isinstance(y, Tensor)
        yd = y.data if yt else y
        try:
            out = cls.forward(ctx, xd, yd)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, (xd, yd), None, e) from e
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        st = _state
        nx = x.requires_grad
        ny = yt and y.requires_grad
        if (nx or ny) and st.grad_enabled:
            t = _make(out, True)
            if nx:
                p = x._ctx
                px = x if p is None else p
            else:
                px = None
            if ny:
                p = y._ctx
                py = y if p is None else p
            else:
                py = None
            ctx.parents = (px, py)
            ctx.needs_input_grad = (nx, ny)
            ctx.oshape = out.shape
            ctx.odtype = out.dtype
            si = cls.save_inputs
            if si:
                if si == "cross":  # x is needed only for y's grad and y only for x's
                    ctx.src = (x if ny else None, y if nx else None)
                    ctx.inputs = (xd if ny else None, yd if nx else None)
                else:
                    ctx.src = (x, y)
                    ctx.inputs = (xd, yd)
                ctx.stamp = _clock[0]
            if cls.save_output:
                ctx.out = out
            t._ctx = ctx
            if st.extra:
                _extra(st, ctx, out)
            return t
        if st.extra:
            _extra(st, ctx, out)
        return _make(out, False)


def _extra(st: _State, ctx: Function, out: np.ndarray) -> None:
    """The rarely-on parts of apply: record the running Module, check for NaN/Inf."""
    if st.scope is not None:
        ctx.scope = st.scope
    if st.anomaly:
        _anomaly_forward(ctx, out)


# In-place changes are caught with a modification clock: each in-place change ticks it and
# stamps the tensor (``t._version``); a node stamps itself when it saves inputs. A saved
# input whose stamp is later than its node's was changed after it was saved.
_clock = [0]


def bump_version(t: Tensor) -> None:
    """Record that ``t``'s data was changed in place (call after writing into ``t.data``)."""
    _clock[0] += 1
    t._version = _clock[0]


def _edge(t: Tensor) -> Any:
    """What the graph keeps of an input: its node, or the leaf Tensor itself."""
    return t if t._ctx is None else t._ctx


_new = object.__new__
_TRUE1 = (True,)


def _describe(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.shape} {a.dtype}"
    if isinstance(a, (list, tuple)) and a and all(isinstance(b, np.ndarray) for b in a):
        return "[" + ", ".join(_describe(b) for b in a) + "]"
    return repr(a) if not isinstance(a, np.generic) else f"{a!r}"


def _op_error(
    cls: type, arrays: Sequence[Any], kwargs: dict[str, Any] | None, e: Exception
) -> Exception:
    """Re-raise a numpy failure inside an op with the op's name, the shapes and a hint."""
    name = getattr(cls, "op_name", cls.__name__)
    shapes = ", ".join(_describe(a) for a in arrays)
    args = "".join(f", {k}={v!r}" for k, v in (kwargs or {}).items())
    explain = getattr(cls, "explain", None)
    hint = explain(arrays) if explain is not None else getattr(cls, "hint", "")
    msg = f"{name}: cannot apply to inputs ({shapes}{args}): {e}"
    if hint:
        msg += f". {hint}"
    return type(e)(msg) if type(e) in (ValueError, TypeError, IndexError) else ValueError(msg)


# --------------------------------------------------------------------------- anomaly mode
def _anomaly_forward(ctx: Function, out: np.ndarray) -> None:
    from tinygrad_bp.anomaly import check_forward

    check_forward(ctx, out)


def _anomaly_backward(ctx: Function, grads: Sequence[Any]) -> None:
    from tinygrad_bp.anomaly import check_backward

    check_backward(ctx, grads)


# --------------------------------------------------------------------------- broadcasting
def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Undo numpy broadcasting: sum ``g`` down to ``shape`` (Tensor ops stay differentiable)."""
    lead = g.ndim - len(shape)
    if lead < 0:  # a backward returned fewer dims than its input: broadcast up first
        from tinygrad_bp.ops import broadcast_to

        return broadcast_to(g, shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g


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


def _version_error(ctx: Function) -> RuntimeError:
    shapes = [t.shape for t in ctx.src or () if isinstance(t, Tensor)]
    return RuntimeError(
        f"{type(ctx).__name__}: an input it saved for backward (shapes {shapes}) was modified "
        "in place after the op ran, so its gradient would be wrong. Modify a copy instead "
        "(build a new Tensor), or make the in-place change after backward()."
    )


def _run_hooks(
    hooks: list[Callable[..., Any]], shape: tuple[int, ...], g: Any, create_graph: bool
) -> Any:
    for hook in list(hooks):
        gt = g if isinstance(g, Tensor) else _make(g, False)
        r = hook(gt)
        if r is None:
            continue
        if not isinstance(r, Tensor):
            r = _make(np.asarray(r), False)
        if r.shape != shape:
            raise ValueError(
                f"register_hook: hook {getattr(hook, '__name__', hook)!r} returned a gradient of "
                f"shape {r.shape} for a tensor of shape {shape}; return None or a same-shaped grad"
            )
        g = r if create_graph else r.data
    return g


def _accumulate(t: Tensor, g: Any, create_graph: bool, handed: set[int]) -> None:
    """Add ``g`` into ``t.grad``; the first grad is stored without copying when the engine
    made it (and gave it to no other tensor), later ones are added in place."""
    if create_graph:
        gt = g if isinstance(g, Tensor) else _make(g, False)
        t.grad = gt if t.grad is None else t.grad + gt
        return
    if t.grad is None:
        if (
            type(g) is not np.ndarray
            or not g.flags.writeable
            or g.base is not None
            or id(g) in handed
        ):
            g = np.array(g, dtype=t.data.dtype)
        handed.add(id(g))
        t.grad = _make(g, False)
        return
    old = t.grad.data
    if old.shape == g.shape and old.flags.writeable and old.dtype == g.dtype:
        np.add(old, g, out=old)
        bump_version(t.grad)
    else:
        t.grad = _make(np.asarray(old + g, dtype=t.data.dtype), False)


def _key(t: Tensor) -> Any:
    return t if t._ctx is None else t._ctx


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> dict[int, Any] | None:
    """Walk the graph from ``roots`` once in topological order, applying the chain rule.

    With ``inputs`` None, gradients accumulate into ``.grad`` of leaves (and of tensors that
    called ``retain_grad``). Otherwise the gradients of ``inputs`` are returned by the id of
    their node (or leaf) and no ``.grad`` changes.
    """
    starts = [_key(r) for r in roots]
    order = toposort(starts)
    grads: dict[int, Any] = {}
    owned: set[int] = set()  # grads the engine allocated itself: safe to add into in place
    for n, g in zip(starts, root_grads):
        k = id(n)
        grads[k] = g if k not in grads else grads[k] + g
    want = None if inputs is None else {id(_key(t)) for t in inputs}
    captured: dict[int, Any] = {}
    handed: set[int] = set()
    prev_mode = _state.grad_enabled
    _state.grad_enabled = create_graph
    anomaly = _state.anomaly
    pop = grads.pop
    get = grads.get
    ndarray = np.ndarray
    try:
        for node in order:
            key = id(node)
            g = pop(key, None)
            if g is None:
                continue
            if type(node) is Tensor:  # a leaf
                if node._hooks:
                    g = _run_hooks(node._hooks, node.shape, g, create_graph)
                if want is None:
                    _accumulate(node, g, create_graph, handed)
                elif key in want:
                    captured[key] = g
                continue
            ctx = node
            if ctx.special or want is not None:  # hooks, retain_grad, released, tg.grad
                if ctx.released:
                    raise _released_error(ctx)
                if ctx.hooks:
                    g = _run_hooks(ctx.hooks, ctx.oshape, g, create_graph)
                if want is not None:
                    if key in want:
                        captured[key] = g
                        if len(captured) == len(want):
                            break
                elif ctx.retained is not None:
                    rt = ctx.retained()
                    if rt is not None:
                        _accumulate(rt, g, create_graph, handed)
            src = ctx.src
            if src is not None and ctx.stamp != _clock[0]:
                stamp = ctx.stamp
                if any(isinstance(t, Tensor) and t._version > stamp for t in src):
                    raise _version_error(ctx)
            fn = type(ctx)
            gs = _graph_backward(fn, ctx, g) if create_graph else fn.backward(ctx, g)
            parents = ctx.parents
            if type(gs) is not tuple:
                gs = (gs,)
            if len(gs) != len(parents):
                raise RuntimeError(
                    f"{fn.__name__}.backward returned {len(gs)} gradients for {len(parents)} inputs"
                )
            if anomaly:
                _anomaly_backward(ctx, gs)
            for p, gp in zip(parents, gs):
                if p is None or gp is None:  # no grad wanted, or none given
                    continue
                if create_graph:
                    if not isinstance(gp, Tensor):
                        gp = _once_differentiable(gp, ctx)
                elif type(gp) is not ndarray:
                    gp = np.asarray(gp.data if isinstance(gp, Tensor) else gp)
                if type(p) is Tensor:
                    pshape = p.data.shape
                    pdtype = p.data.dtype
                else:
                    pshape = p.oshape
                    pdtype = p.odtype
                if gp.shape != pshape:
                    gp = sum_to(gp, pshape)
                    if gp.shape != pshape:
                        raise RuntimeError(
                            f"{fn.__name__}.backward returned a gradient of shape {gp.shape} "
                            f"for an input of shape {pshape}"
                        )
                if gp.dtype != pdtype:
                    gp = gp.astype(pdtype)
                pk = id(p)
                prev = get(pk)
                if prev is None:
                    grads[pk] = gp
                elif pk in owned:
                    np.add(prev, gp, out=prev)
                else:
                    s = prev + gp
                    grads[pk] = s
                    if type(s) is ndarray:
                        owned.add(pk)
            if not retain_graph:
                ctx.inputs = None
                ctx.src = None
                ctx.out = None
                ctx.saved_tensors = None
                ctx.released = True
                ctx.special = True
                if fn.saved_attrs:
                    for name in fn.saved_attrs:
                        setattr(ctx, name, None)
    finally:
        _state.grad_enabled = prev_mode
    return captured if want is not None else None


def _root_grad(t: Tensor, g: Any, create_graph: bool, where: str) -> Any:
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{where}: the output has shape {t.shape}; a gradient can be created implicitly "
                "only for a one-element output. Pass grad= (an array of the output's shape), "
                "or reduce the output first (e.g. loss.sum() or loss.mean())."
            )
        arr = np.array(1, dtype=t.data.dtype).reshape(t.shape)
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
    run_backward((t,), (g,), retain_graph or create_graph, create_graph)


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
        elif isinstance(g, Tensor):
            result.append(g)
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


from tinygrad_bp.tensor import Tensor, _make  # noqa: E402  (Tensor imports this module)
