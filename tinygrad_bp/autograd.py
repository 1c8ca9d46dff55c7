"""The autograd engine: Function (the op and its context), grad mode, topological order,
``backward`` and ``grad``, and ``sum_to`` (the one place where broadcasting is undone)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_bp.tensor import Tensor

__all__ = [
    "Function",
    "backward",
    "bump_version",
    "bump_versions",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "register_hook",
    "run_backward",
    "set_grad_enabled",
    "share_version",
    "sum_to",
    "toposort",
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

    The instance is the context (the graph node). Keep what backward needs with
    ``ctx.save_for_backward(*arrays)`` in forward and read it back as ``ctx.saved_tensors``
    in backward: that is the one way for your own ops. ``ctx.needs_input_grad`` tells
    backward which gradients are wanted. (The built-in ops use the internal class flags
    ``save_inputs`` / ``save_output`` instead, a shortcut of the hot path.)

    Under ``backward(create_graph=True)`` the engine passes Tensors instead of arrays (``g``,
    and in ``ctx.saved_tensors`` the saved inputs and output), so a backward written with
    operations that ndarrays and Tensors share is differentiable again. A backward that
    calls ``np.*`` on them returns arrays: it is once-differentiable, and differentiating
    through it a second time raises a ``RuntimeError``.
    """

    save_inputs: bool | str = False
    save_output = False
    saved_attrs: tuple[str, ...] = ()  # op-specific arrays on ctx that backward releases
    # Optional ``backward_inplace(ctx, g)``: the same gradients as ``backward``, allowed to
    # write into ``g``. The engine calls it instead of ``backward`` only when it holds the
    # one reference to ``g`` (a large, writable, non-view ndarray), so nothing else can see
    # the change, as PyTorch steals a gradient buffer whose use count is 1. It saves one
    # allocation per call on large arrays.
    backward_inplace: Callable[[Any, Any], Any] | None = None
    # True when ``backward`` returns newly allocated, writable arrays that alias nothing: not
    # ``g``, not a saved value, not each other (``g * y`` does, ``g`` or ``g.reshape`` does
    # not). The engine then owns them and may keep one as a ``.grad`` without a copy; for
    # every other op (user Functions by default) it copies first. tests/test_ownership.py
    # checks the claim for every built-in op that makes it.
    grads_are_new = False
    # True for ops whose output can be a view of their first input (reshape, transpose,
    # basic indexing, broadcast_to): such an output shares its input's version counter.
    view = False

    # node state, set by apply; class-level defaults keep apply short
    parents: tuple[Any, ...] = ()  # per input: its node, the leaf Tensor, or None (no grad)
    needs_input_grad: tuple[bool, ...] = ()
    src: tuple[Any, ...] | None = None  # saved input Tensors (constants as given)
    inputs: tuple[Any, ...] | None = None  # their arrays
    out: Any = None
    saved_tensors: tuple[Any, ...] | None = ()
    stamp = 0  # the modification clock when the inputs were saved (read before forward)
    out_counter: list[int] | None = None  # the saved output's version counter
    seq = 0  # creation number: a node is numbered after its inputs (the engine's order)
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
        """Keep arrays (inputs, the output or intermediates) for backward; read them back as
        ``ctx.saved_tensors`` (inputs and output come back as Tensors under create_graph)."""
        self.saved_tensors = arrays

    def __repr__(self) -> str:
        return f"<{type(self).__name__} node>"

    # -- apply: the general path, and short ones for one, two and three inputs (the hot path).
    # Their tails are alike on purpose: a shared helper would be one more call per op (~3% of
    # the 1,000-op chain's per-op time) and one more function in every training step.
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the op on Tensors (other arguments pass through as constants)."""
        ctx = _new(cls)
        arrays = []
        parents = []
        needs = []
        needed = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                if a.requires_grad:
                    needed = True
                    parents.append(a if a._ctx is None else a._ctx)
                    needs.append(True)
                    continue
            else:
                arrays.append(a)
            parents.append(None)
            needs.append(False)
        stamp = _clock[0]  # before forward reads the inputs (another thread may write)
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, arrays, kwargs, e) from e
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        st = _state
        if needed and st.grad_enabled:
            t = _make(out, True)
            ctx.parents = tuple(parents)
            ctx.needs_input_grad = tuple(needs)
            ctx.oshape = out.shape
            ctx.odtype = out.dtype
            ctx.seq = _next_seq()
            if kwargs:
                ctx.kwargs = kwargs
            if cls.save_inputs:
                if cls.save_inputs == "cross" and len(args) >= 2:  # see _apply3
                    n0, n1 = needs[0], needs[1]
                    rest = (None,) * (len(args) - 2)
                    ctx.src = (args[0] if n1 else None, args[1] if n0 else None, *rest)
                    ctx.inputs = (arrays[0] if n1 else None, arrays[1] if n0 else None, *rest)
                else:
                    ctx.src = args
                    ctx.inputs = tuple(arrays)
                ctx.stamp = stamp
            elif ctx.saved_tensors:  # save_for_backward: keep the tensors to map them back
                ctx.src = args
                ctx.stamp = stamp
                for a in ctx.saved_tensors:
                    if a is out:
                        ctx.out = out
                        t._version_counter = ctx.out_counter = [0]
            if cls.save_output:
                ctx.out = out
                ctx.stamp = stamp
                t._version_counter = ctx.out_counter = [0]
            t._ctx = ctx
            if cls.view:
                _share_if_view(args[0], t)
            if st.extra:
                _extra(st, ctx, out)
            return t
        if st.extra:
            _extra(st, ctx, out)
        t = _make(out, False)
        if cls.view:
            _share_if_view(args[0], t)
        return t

    @classmethod
    def _apply1(cls, x: Tensor) -> Tensor:
        ctx = _new(cls)
        xd = x.data
        stamp = _clock[0]  # before forward reads the inputs (another thread may write)
        try:
            out = cls.forward(ctx, xd)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, (xd,), None, e) from e
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        st = _state
        if x.requires_grad and st.grad_enabled:
            t = _new(Tensor)  # _make, inlined on the hot path
            t.data = out
            t.requires_grad = True
            t._version_counter = None
            p = x._ctx
            ctx.parents = (x if p is None else p,)
            ctx.needs_input_grad = _TRUE1
            ctx.oshape = out.shape
            ctx.odtype = out.dtype
            ctx.seq = _next_seq()
            if cls.save_inputs:
                ctx.src = (x,)
                ctx.inputs = (xd,)
                ctx.stamp = stamp
            if cls.save_output:
                ctx.out = out
                ctx.stamp = stamp
                t._version_counter = ctx.out_counter = [0]
            t._ctx = ctx
            if st.extra:  # _extra, written out: the module scope is on in every model call
                ctx.scope = st._scope
                if st._anomaly:
                    _anomaly_forward(ctx, out)
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
        stamp = _clock[0]  # before forward reads the inputs (another thread may write)
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
            t = _new(Tensor)  # _make, inlined on the hot path
            t.data = out
            t.requires_grad = True
            t._version_counter = None
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
            ctx.seq = _next_seq()
            si = cls.save_inputs
            if si:
                if si == "cross":  # x is needed only for y's grad and y only for x's
                    ctx.src = (x if ny else None, y if nx else None)
                    ctx.inputs = (xd if ny else None, yd if nx else None)
                else:
                    ctx.src = (x, y)
                    ctx.inputs = (xd, yd)
                ctx.stamp = stamp
            if cls.save_output:
                ctx.out = out
                ctx.stamp = stamp
                t._version_counter = ctx.out_counter = [0]
            t._ctx = ctx
            if st.extra:  # _extra, written out: the module scope is on in every model call
                ctx.scope = st._scope
                if st._anomaly:
                    _anomaly_forward(ctx, out)
            return t
        if st.extra:
            _extra(st, ctx, out)
        return _make(out, False)

    @classmethod
    def _apply3(cls, x: Tensor, y: Any, z: Any) -> Tensor:
        """``_apply2`` with a third input (a fused layer's bias, say). With ``save_inputs =
        "cross"`` x is kept only for y's grad, y only for x's, and z not at all."""
        ctx = _new(cls)
        xd = x.data
        yt = isinstance(y, Tensor)
        yd = y.data if yt else y
        zt = isinstance(z, Tensor)
        zd = z.data if zt else z
        stamp = _clock[0]  # before forward reads the inputs (another thread may write)
        try:
            out = cls.forward(ctx, xd, yd, zd)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, (xd, yd, zd), None, e) from e
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        st = _state
        nx = x.requires_grad
        ny = yt and y.requires_grad
        nz = zt and z.requires_grad
        if (nx or ny or nz) and st.grad_enabled:
            t = _new(Tensor)  # _make, inlined on the hot path
            t.data = out
            t.requires_grad = True
            t._version_counter = None
            ctx.parents = (
                (x if x._ctx is None else x._ctx) if nx else None,
                (y if y._ctx is None else y._ctx) if ny else None,
                (z if z._ctx is None else z._ctx) if nz else None,
            )
            ctx.needs_input_grad = (nx, ny, nz)
            ctx.oshape = out.shape
            ctx.odtype = out.dtype
            ctx.seq = _next_seq()
            si = cls.save_inputs
            if si:
                if si == "cross":
                    ctx.src = (x if ny else None, y if nx else None, None)
                    ctx.inputs = (xd if ny else None, yd if nx else None, None)
                else:
                    ctx.src = (x, y, z)
                    ctx.inputs = (xd, yd, zd)
                ctx.stamp = stamp
            if cls.save_output:
                ctx.out = out
                ctx.stamp = stamp
                t._version_counter = ctx.out_counter = [0]
            t._ctx = ctx
            if st.extra:  # _extra, written out: the module scope is on in every model call
                ctx.scope = st._scope
                if st._anomaly:
                    _anomaly_forward(ctx, out)
            return t
        if st.extra:
            _extra(st, ctx, out)
        return _make(out, False)


def _extra(st: _State, ctx: Function, out: np.ndarray) -> None:
    """The rarely-on parts of apply: record the running Module, check for NaN/Inf."""
    scope = st._scope  # (the plain attributes: the properties cost more than this function)
    if scope is not None:
        ctx.scope = scope
    if st._anomaly:
        _anomaly_forward(ctx, out)


# In-place changes are caught with a modification clock. A tensor, its views and its
# detached copies share one version counter (a one-element list, made when first needed)
# that holds the clock tick of the last in-place change of their memory. A node reads the
# clock before its forward and keeps the tensors it saved (and its output's counter); a
# counter later than the node's stamp means a saved value changed after it was read.
_clock = [0]
_clock_lock = threading.Lock()


def bump_version(t: Tensor) -> None:
    """Record that ``t``'s data was changed in place (call after writing into ``t.data``):
    every node that saved ``t``, a view of it or the tensor it views then refuses to run
    backward. Call it after the write, so an op recorded meanwhile is caught too."""
    bump_versions((t,))


def bump_versions(tensors: Sequence[Tensor]) -> None:
    """``bump_version`` for several tensors changed together, with one tick (an optimizer
    step: call it after the last write)."""
    with _clock_lock:  # ticks from two threads never collide or go backwards
        _clock[0] += 1
        tick = _clock[0]
        for t in tensors:
            _counter_of(t)[0] = tick


def share_version(base: Tensor, t: Tensor) -> None:
    """Make ``t`` (a view of ``base``'s memory, or ``base`` detached) share its counter."""
    t._version_counter = _counter_of(base)


def _counter_of(t: Tensor) -> list[int]:
    """``t``'s version counter, made (at tick 0) when first needed."""
    counter = t._version_counter
    if counter is None:
        counter = t._version_counter = [0]
    return counter


def _share_if_view(base: Any, t: Tensor) -> None:
    """Share the counter when ``t``'s data really is a view of ``base``'s (numpy copies for
    integer-array indexing and some reshapes)."""
    d = t.data
    if isinstance(base, Tensor) and d.base is not None and np.may_share_memory(d, base.data):
        share_version(base, t)


_new = object.__new__
_next_seq = itertools.count(1).__next__  # atomic under the GIL
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
    if explain is not None:  # the op says exactly what is wrong: numpy's text adds nothing
        msg = f"{name}: cannot apply to inputs ({shapes}{args}): {explain(arrays)}"
    else:
        hint = getattr(cls, "hint", "")
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
    """Undo numpy broadcasting: sum ``g`` down to ``shape`` (Tensor ops stay differentiable).
    Only sums what broadcasting added; any other shape comes back unchanged for the caller
    to reject (a scalar is never spread over an input)."""
    lead = g.ndim - len(shape)
    if lead < 0:  # fewer dims than the input: not a broadcast result (the engine raises)
        return g
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if not axes:
        return g
    if isinstance(g, Tensor):
        return g.sum(axis=axes, keepdims=True).reshape(shape)
    return reduce_sum(g, axes, keepdims=True).reshape(shape)  # float32: not naively summed


# Tensor and the engine build on what is above; importing them last closes the cycle.
from tinygrad_bp.tensor import Tensor, _make  # noqa: E402, I001
from tinygrad_bp.ops import reduce_sum  # noqa: E402
from tinygrad_bp.engine import (  # noqa: E402
    backward,
    grad,
    once_differentiable,
    register_hook,
    run_backward,
    toposort,
)
