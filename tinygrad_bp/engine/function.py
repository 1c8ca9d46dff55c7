"""``Function``: an op (forward beside backward) and, once applied, a node of the graph.

Reading order: ``Function`` (what an op declares), then ``apply`` (how a call becomes a node).
``apply`` is how every op runs, built-in or yours. (Tensor's operators and elementwise
methods call ``fast_apply.apply_one``/``apply_two``, the same steps written out for one and
two inputs: 0.36-0.53 us less per op, ``python benchmarks/apply_cost.py``.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine import versions
from tinygrad_bp.engine.grad_mode import _state

__all__ = ["Function"]


class Function:
    """Base class of every op: subclass with static ``forward`` and ``backward``.

    ``forward(ctx, *arrays, **kwargs)`` receives ndarrays (and non-tensor constants) and
    returns one ndarray. ``backward(ctx, g)`` receives the upstream gradient in the output's
    shape and returns one gradient per input (``None`` where there is none); the engine sums
    broadcast gradients back to each input's shape. ``MyOp.apply(*tensors, **kwargs)`` runs it.

    The instance is the context (the graph node). Keep what backward needs with
    ``ctx.save_for_backward(*arrays)`` in forward and read it back as ``ctx.saved_tensors``
    in backward: that is the one way for your own ops. ``ctx.needs_input_grad`` tells
    backward which gradients are wanted. (The built-in ops declare ``save_inputs`` /
    ``save_output`` instead: ``apply`` keeps them without a call in every forward.)

    Under ``backward(create_graph=True)`` the engine passes Tensors instead of arrays (``g``,
    and in ``ctx.saved_tensors`` the saved inputs and output), so a backward written with
    operations that ndarrays and Tensors share is differentiable again. A backward that
    calls ``np.*`` on them returns arrays: it is once-differentiable, and differentiating
    through it a second time raises a ``RuntimeError``.
    """

    # -- what an op declares (class attributes)
    # The inputs backward reads, kept as ``ctx.inputs`` (arrays) and ``ctx.input_tensors``:
    # True for all, or a rule ``(tensors, arrays, needs_input_grad) -> (tensors, arrays)``
    # kept, None for the others (x * y keeps x only when y needs a grad: ops/shims.py).
    save_inputs: bool | Callable[..., tuple[tuple[Any, ...], tuple[Any, ...]]] = False
    save_output = False  # keep the output as ``ctx.out`` (exp' = out)
    saved_attrs: tuple[str, ...] = ()  # op-specific arrays on ctx, released after backward
    # True when ``backward`` returns newly allocated, writable arrays that alias nothing: not
    # ``g``, not a saved value, not each other (``g * y`` does; ``g`` or ``g.reshape`` does
    # not). The engine may then keep one as a leaf's ``.grad`` without copying it; for every
    # other op (user Functions by default) it copies. tests/test_ownership.py checks the claim.
    grads_are_new = False
    # True for ops whose output can be a view of their first input (reshape, transpose,
    # basic indexing, broadcast_to): such an output shares its input's version counter.
    view = False

    # -- what apply records on the node (class-level defaults: most nodes set few of them)
    parents: tuple[Any, ...] = ()  # per input: its node, the leaf Tensor, or None (no grad)
    needs_input_grad: tuple[bool, ...] = ()  # per input: whether its gradient is wanted
    inputs: tuple[Any, ...] | None = None  # the saved input arrays (None: not saved)
    input_tensors: tuple[Any, ...] | None = None  # the same inputs as Tensors (or constants)
    out: Any = None  # the saved output array
    saved_tensors: tuple[Any, ...] | None = ()
    stamp = 0  # the version clock when the inputs were read (see versions.py)
    out_counter: list[int] | None = None  # the saved output's version counter
    seq = 0  # creation number: a node is numbered after its inputs (the walk's order)
    out_shape: tuple[int, ...] = ()
    out_dtype: Any = None
    kwargs: dict[str, Any] | None = None
    released = False  # its saved values were freed by a backward without retain_graph
    hooks: list[Callable[..., Any]] | None = None  # register_hook on the output
    retained: Any = None  # weakref to the output that called retain_grad
    scope: Any = None  # the Module whose forward made it (for drawings)
    creation_trace: Any = None  # where it was made (anomaly mode)

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

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the op on Tensors (other arguments pass through as constants) and, when a
        gradient will be wanted, record the node that ``backward`` walks."""
        ctx = _new(cls)
        arrays = []  # what forward gets: each Tensor's ndarray, constants as they are
        parents = []  # per input: its node (a leaf is its own), or None if it needs no grad
        needs = []  # per input: whether its gradient will be wanted
        for a in args:  # (a plain loop: in Python 3.11 it beats three comprehensions)
            if isinstance(a, Tensor):
                arrays.append(a.data)
                if a.requires_grad:
                    parents.append(a._ctx or a)
                    needs.append(True)
                    continue
            else:
                arrays.append(a)
            parents.append(None)
            needs.append(False)
        stamp = versions.clock[0]  # read before forward reads the inputs
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, arrays, kwargs, e) from e
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        result = _new(Tensor)  # _make(out, ...) written out: one call fewer per op
        result.data = out
        result._ctx = result._version_counter = None
        result.requires_grad = record = True in needs and _state.grad_enabled
        if cls.view:
            versions.share_if_view(args[0], result)
        if record:  # the node: where the gradient goes, and what backward will read
            ctx.parents = tuple(parents)
            ctx.needs_input_grad = tuple(needs)
            ctx.seq = _next_seq()
            ctx.stamp = stamp  # the version check compares saved values' counters with it
            ctx.out_shape = out.shape
            ctx.out_dtype = out.dtype
            if kwargs:
                ctx.kwargs = kwargs
            saves = cls.save_inputs
            if saves:
                if saves is True:
                    ctx.input_tensors, ctx.inputs = args, tuple(arrays)
                else:  # a rule: the inputs backward reads, given the gradients wanted
                    ctx.input_tensors, ctx.inputs = saves(args, arrays, ctx.needs_input_grad)
            if cls.save_output:
                ctx.out = out
                result._version_counter = ctx.out_counter = [0]  # its own, guarded by ctx
            elif ctx.saved_tensors:  # save_for_backward, in your own ops
                _remember_saved(ctx, args, out, result)
            result._ctx = ctx
        if _state.extras_on:  # a Module is running (drawings group its ops) or anomaly mode
            ctx.scope = _state._scope
            if _state._anomaly:
                from tinygrad_bp.engine.anomaly import check_forward

                check_forward(ctx, out)
        return result


def _remember_saved(ctx: Function, args: tuple[Any, ...], out: np.ndarray, result: Tensor) -> None:
    """After ``save_for_backward``: keep the inputs (create_graph maps saved arrays back to
    them, the version check guards them) and note whether the output is among the saved."""
    ctx.input_tensors = args
    if any(a is out for a in ctx.saved_tensors or ()):
        ctx.out = out
        result._version_counter = ctx.out_counter = [0]


_new = object.__new__
_next_seq = itertools.count(1).__next__  # atomic under the GIL


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


# Tensor builds on Function (grad_fn's type); importing it last closes the engine's one cycle.
from tinygrad_bp.engine.tensor import Tensor  # noqa: E402
