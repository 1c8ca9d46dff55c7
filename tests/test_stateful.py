"""A hypothesis state machine (MyGrad-style) that builds random graphs in tinygrad_bp and in
PyTorch side by side and checks, after every step, that both agree.

Every tensor lives as a mirrored ``Pair`` (ours, torch's). Rules make leaves (float64 and
float32), apply unary, binary (broadcasting), reduction and view ops, detach, change tensors in
place under ``no_grad``, register hooks, retain grads, run ``backward`` (with and without
``retain_graph`` / ``create_graph``, then second-order ones through the gradients) and
``tg.grad`` for some inputs, clear grads and take optimizer steps. The rules:

- an error: where PyTorch raises, ours must raise too, and the other way round (but for a
  numerator or a relu output changed in place, see below). One stricter rule is
  ours: a walk that reaches a node released by an earlier ``backward`` without
  ``retain_graph`` raises, while PyTorch raises only at nodes that saved tensors. The machine
  models which nodes are released (all of a ``backward``'s graph; for ``tg.grad`` surely the
  nodes computed from an input node, maybe the rest) and expects our error there. When ours
  raises it on a graph that may be released, PyTorch's walk is not run: it could finish and
  release more than ours did before raising;
- after a failed backward both libraries go back to the grads they had before (PyTorch may
  have accumulated part of them);
- the invariants: every ``.grad`` (leaves and retained) and every tensor's values equal
  PyTorch's; each hook saw what PyTorch's saw, and what it saw never changed afterwards; no
  two ``.grad`` share memory, and no ``.grad`` shares memory with a tensor or an array the
  user passed in (but a detach or view of that very ``.grad``, in both libraries).

PyTorch behaviours deliberately not copied, which the machine models instead:

- without ``create_graph`` PyTorch adds into a leaf's ``.grad`` in place, even when that
  ``.grad`` is a graph the user holds (from an earlier ``create_graph``): the tensor the user
  holds changes. Ours makes a new ``.grad`` (old + new, the old graph kept) and never changes
  what it handed out; the machine gives PyTorch a differentiable clone as ``.grad`` before a
  walk, which means the same and keeps the pair apart;
- without ``create_graph`` PyTorch rebuilds a retained ``.grad`` that was a graph as
  old + new under ``no_grad``, dropping the old graph (a leaf's ``.grad`` keeps it); ours keeps
  it for both, and the machine detaches ours there;
- PyTorch's ``autograd.grad`` fills ``.grad`` of retained tensors; ``tg.grad`` leaves every
  ``.grad`` alone, and the machine puts PyTorch's back;
- PyTorch's ``autograd.grad`` results may share memory with each other (a view's gradient is a
  view of its base's) or with other tensors; ours never do (with ``create_graph`` they are
  copies). After an in-place change of one, PyTorch's other changes too: the machine keeps a
  differentiable clone of such a result of PyTorch's, which means the same;
- PyTorch returns a non-leaf input's gradient from before its hooks, ours after: inputs whose
  hooks replace the gradient are not asked for;
- after an in-place change PyTorch remakes the grad_fn of the views of the changed memory
  (when next asked for it). Hooks registered before stay on the old one, run only by graphs
  built before; a ``retain_grad`` moves to the new one, filled only by graphs built after; the
  new one of a view of a view leads straight to the base, past the views between (which then
  see no gradient); ``autograd.grad`` for such a view finds it unused in older graphs. Ours
  keeps one node per view, which every graph through it reaches. Leaf gradients agree. Such
  views take no more hooks or ``retain_grad``, are not asked for by ``tg.grad``, and their
  retained grads and earlier hooks are no longer compared; a view takes no doubling hook
  (run in one library only, it would change the gradients there);
- ``optimizer.zero_grad(set_to_none=False)`` on a ``.grad`` that is a graph: PyTorch detaches
  it in place; the machine sets such grads to None;
- which saved tensors a backward formula uses decides which nodes a grad of a grad passes
  through. PyTorch's relu backward keeps an edge to relu's output (derivative zero); ours
  multiplies by a constant mask. So a second-order walk reaches the node of a relu in
  PyTorch's only: there hooks run, a retained grad grows, ``tg.grad`` finds the tensor used,
  and after an in-place change of it PyTorch raises. Leaf gradients agree. Such tensors take
  no hooks or ``retain_grad``, are not asked for by ``tg.grad``, and after an in-place change
  PyTorch may raise on walks through them where ours does not. PyTorch's walk goes on below
  the relu with a zero gradient: the machine drops its extra hook runs there that saw zeros,
  and a ``.grad`` it set to zeros where ours stayed None goes back to None. Without
  ``retain_graph`` that walk releases the nodes below the relu in PyTorch only, and where
  they are released PyTorch's walk raises: the machine accepts PyTorch's error there. A
  ``.grad`` can be a graph in PyTorch only (relu's) and keeps it when a real one is added,
  so the machine tracks the graph of each ``.grad`` in both libraries. (Both Divs read only
  the inputs, so a grad of a grad reaches the same nodes through a quotient.)
- our Div saves both its inputs; PyTorch's saves the numerator only when the denominator
  requires grad. After an in-place change of the numerator of a quotient by a tensor that
  requires no grad, a walk through the quotient may raise in ours only (a conservative error,
  never a wrong gradient); PyTorch's walk is not run.

Steps and examples follow the hypothesis profile (tests/conftest.py): ``ci`` stays around a
minute, ``thorough`` runs many more and longer programs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pytest
import torch  # the `torch` extra (CI installs torch==2.13.0); never skipped
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

import tinygrad_bp as tg
from tinygrad_bp.nn.utils import clip_grad_norm_

pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning"),
]

SHAPES = [(), (3,), (2, 3), (1, 3), (2, 1)]
DTYPES = {np.float64: torch.float64, np.float32: torch.float32}
TOL = {np.dtype(np.float64): (1e-7, 1e-9), np.dtype(np.float32): (1e-4, 1e-5)}
BIG = 1e3  # results beyond this are dropped: chains of products would overflow
OUR_ERRORS = (RuntimeError, ValueError, TypeError, IndexError)
TORCH_ERRORS = (RuntimeError, ValueError, TypeError, IndexError)


@dataclass(eq=False)
class Hook:
    """What one hook saw, in both libraries: our tensors (with a copy taken when seen) and
    PyTorch's (cloned, since PyTorch may change its own later)."""

    doubles: bool
    ours: list[tuple[tg.Tensor, np.ndarray]] = field(default_factory=list)
    compared: bool = True  # False once PyTorch's may run it on other walks (a view's, stale)
    theirs: list[np.ndarray] = field(default_factory=list)


@dataclass(eq=False)
class Pair:
    """One tensor in both libraries, and what the machine knows about its graph."""

    ours: tg.Tensor
    theirs: torch.Tensor
    name: str
    graph: frozenset[str] = frozenset()  # names of the non-leaf pairs it was computed from
    exact: bool = True  # graph is exact (False: an over-estimate, for grads of grads)
    retained: bool = False
    hooks: list[Hook] = field(default_factory=list)
    base: Pair | None = None  # the tensor whose memory this view (or detach) shares
    stale: bool = False  # a view whose memory changed in place: PyTorch remakes its grad_fn
    # a grad of a grad passes through this node in PyTorch only: a relu (see the docstring)
    second_order_differs: bool = False

    @property
    def is_leaf(self) -> bool:
        return self.theirs.grad_fn is None

    def __repr__(self) -> str:
        return self.name

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' printer
        printer.text(self.name)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _close(ours: Any, theirs: torch.Tensor, what: str) -> None:
    o = np.asarray(ours.numpy() if isinstance(ours, tg.Tensor) else ours)
    t = _np(theirs)
    assert o.shape == t.shape, f"{what}: shape {o.shape} vs PyTorch {t.shape}"
    assert o.dtype == t.dtype, f"{what}: dtype {o.dtype} vs PyTorch {t.dtype}"
    rtol, atol = TOL[o.dtype]
    if not np.allclose(o, t, rtol=rtol, atol=atol, equal_nan=True):  # (the fast check first)
        np.testing.assert_allclose(o, t, rtol=rtol, atol=atol, err_msg=what)


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _outcome(fn: Any, errors: tuple[type[BaseException], ...]) -> tuple[Any, BaseException | None]:
    try:
        return fn(), None
    except errors as e:
        return None, e


def _released(e: BaseException | None) -> bool:
    return e is not None and "second time" in str(e)


def _modified(e: BaseException | None) -> bool:
    return e is not None and "modified" in str(e)  # (in place / by an inplace operation)


def _profile_settings() -> settings:
    """Stateful settings from the loaded profile (its derandomize and health checks stay):
    dev (10 examples) runs 10 programs of 10 steps, ci (40) 40 of 50, thorough (1000) 300
    of 100; a step costs a few ms, more as the program grows (the invariants see every pair)."""
    base = settings.default
    n = base.max_examples
    steps = 10 if n <= 10 else 50 if n <= 100 else 100
    return settings(base, max_examples=min(n, 300), stateful_step_count=steps)


class AutogradMachine(RuleBasedStateMachine):
    """Random graphs, hooks, backward passes and optimizer steps, mirrored in PyTorch."""

    leaves = Bundle("leaves")  # requires grad, no grad_fn
    nodes = Bundle("nodes")  # computed, requires grad
    consts = Bundle("consts")  # no grad: detached tensors and results of consts only
    optimizers = Bundle("optimizers")

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[Pair] = []
        self.by_name: dict[str, Pair] = {}
        self.user_arrays: list[np.ndarray] = []  # arrays passed to Tensor(...)
        self.user_grads: list[np.ndarray] = []  # the data of grad= Tensors passed to backward
        self.released: set[str] = set()  # nodes whose saved values are surely released
        self.maybe_released: set[str] = set()  # released in part, or by an estimated graph
        self.changed_differs: set[str] = set()  # second_order_differs, changed in place
        # a relu and the nodes below it, maybe released by a grad of a grad in PyTorch only
        self.released_theirs: set[str] = set()
        # a quotient by a tensor that requires no grad: its name -> its numerator's memory's
        self.numerators: dict[str, str] = {}
        self.numerator_changed: set[str] = set()  # quotients whose numerator changed in place
        # the graph of each .grad (of either library) a backward made (kept alive here, by id)
        self.grad_graphs: dict[int, tuple[Any, frozenset[str]]] = {}
        self._names = itertools.count()

    # ------------------------------------------------------------------ helpers
    def _add(self, ours: tg.Tensor, theirs: torch.Tensor, graph=frozenset(), exact=True):
        """Record a new pair (checking our result against PyTorch's) in the right bundle."""
        _close(ours, theirs, "forward")
        assert ours.requires_grad == theirs.requires_grad, (
            f"requires_grad {ours.requires_grad}, PyTorch {theirs.requires_grad}"
        )
        name = f"t{next(self._names)}"
        if theirs.grad_fn is not None:
            graph = graph | {name}
        p = Pair(ours, theirs, name, frozenset(graph), exact)
        self.pairs.append(p)
        self.by_name[name] = p
        if not theirs.requires_grad:
            return multiple(), multiple(p)
        return multiple(p), multiple()

    def _apply(self, inputs: list[Pair], ours_fn: Any, theirs_fn: Any):
        """Run an op in both libraries: both raise or neither; a too-large result is dropped."""
        theirs, e_theirs = _outcome(lambda: theirs_fn(*(p.theirs for p in inputs)), TORCH_ERRORS)
        ours, e_ours = _outcome(lambda: ours_fn(*(p.ours for p in inputs)), OUR_ERRORS)
        assert (e_ours is None) == (e_theirs is None), (
            f"PyTorch raised {e_theirs!r}, ours raised {e_ours!r}"
        )
        if e_ours is not None or not torch.isfinite(theirs).all() or theirs.abs().max() > BIG:
            return multiple(), multiple()
        graph = frozenset().union(*(p.graph for p in inputs))
        exact = all(p.exact for p in inputs)
        return self._add(ours, theirs, graph, exact)

    def _grads(self) -> list[tuple[Pair, tg.Tensor | None, torch.Tensor | None]]:
        return [
            (p, p.ours.grad, p.theirs.grad)
            for p in self.pairs
            if p.theirs.requires_grad and (p.is_leaf or p.retained)
        ]

    def _grad_graph(self, p: Pair) -> frozenset[str]:
        """The nodes ``p``'s ``.grad`` may have been computed from, in either library (PyTorch's
        can be a graph where ours is not: relu's)."""
        graph: frozenset[str] = frozenset()
        for g in (p.ours.grad, p.theirs.grad):
            if g is None or not g.requires_grad:
                continue
            q = next((q for q in self.pairs if g is q.ours or g is q.theirs), None)
            graph |= q.graph if q is not None else self.grad_graphs.get(id(g), (g, graph))[1]
        return graph

    def _snapshot(self) -> Any:
        return [
            (p, g, t, None if t is None else t.detach().clone()) for p, g, t in self._grads()
        ], [(h, len(h.ours), len(h.theirs)) for p in self.pairs for h in p.hooks]

    def _restore(self, snap: Any) -> None:
        """Both libraries back to the grads and hook records they had (after a failed walk)."""
        grads, hooks = snap
        for p, g, t, copy in grads:
            if t is not None and not torch.equal(t.detach(), copy):
                t = copy  # PyTorch added into its .grad, then failed
            p.theirs.grad = t
            p.ours.grad = g
            if g is not None and t is not None and not np.allclose(g.numpy(), _np(t)):
                p.ours.grad = tg.Tensor(_np(t).copy())  # ours changed its .grad, then failed
        for h, n_ours, n_theirs in hooks:
            del h.ours[n_ours:]
            del h.theirs[n_theirs:]

    def _walk(
        self,
        roots: list[Pair],
        run_ours: Any,
        run_theirs: Any,
        retain: bool,
        runs: frozenset[str] | None = None,
    ) -> Any:
        """Run a backward or grad in both; returns (ours, theirs) results, or None if both
        raised (state restored). Models the release of the graph: ``runs`` is the part of it
        the walk surely runs (all of it by default; tg.grad runs less), the rest maybe."""
        graph = frozenset().union(*(r.graph for r in roots))
        if runs is None:
            runs = graph
        exact = all(r.exact for r in roots)
        sure = exact and bool(runs & self.released)
        maybe = bool(graph & (self.released | self.maybe_released))
        snap = self._snapshot()
        # Without create_graph PyTorch adds into a leaf's .grad in place, even when that
        # .grad is a graph the user holds (here a pair); ours never changes what it handed
        # out and makes a new .grad. A differentiable clone as PyTorch's .grad keeps the pair
        # apart and means the same; where ours kept its .grad (the walk did not reach it)
        # and the clone did not change, PyTorch's gets the pair back.
        known = {id(q.theirs) for q in self.pairs}
        cloned = []
        for p, go, gt in self._grads():
            if gt is not None and id(gt) in known:
                with torch.enable_grad():
                    p.theirs.grad = gt.clone()
                cloned.append((p, go, gt))
        ours, e_ours = _outcome(run_ours, OUR_ERRORS)
        changed = bool(graph & self.changed_differs)
        numerator = bool(graph & self.numerator_changed) and str(e_ours).startswith("Div")
        if (maybe and _released(e_ours)) or (numerator and _modified(e_ours)):
            # ours raises at any released node, PyTorch only at one that saved tensors, and
            # ours at a quotient whose numerator changed in place (ours saves it, PyTorch
            # only when the denominator requires grad): PyTorch could finish this walk and
            # release more of the graph than ours did before raising, which no later step
            # could model. So PyTorch's walk is not run.
            theirs, e_theirs = None, e_ours
        else:
            theirs, e_theirs = _outcome(run_theirs, TORCH_ERRORS)
        for p, go, gt in cloned:
            if p.ours.grad is go and torch.equal(p.theirs.grad.detach(), gt.detach()):
                p.theirs.grad = gt
        if e_theirs is not None and e_ours is None and changed and _modified(e_theirs):
            e_ours = e_theirs  # a relu output a grad of a grad saved in PyTorch only
        # a grad of a grad through a relu reaches the relu's node and the nodes below it in
        # PyTorch only (its edge to relu's output), and without retain_graph releases them
        # there: where they are released, PyTorch's walk raises
        relus = (
            []
            if exact
            else [self.by_name[n] for n in graph if self.by_name[n].second_order_differs]
        )
        below = frozenset().union(*(r.graph for r in relus))
        gone = self.released | self.maybe_released
        if e_theirs is not None and e_ours is None and _released(e_theirs):
            if below & gone or graph & self.released_theirs:
                e_ours = e_theirs
        if not retain:
            self.released_theirs |= below
        if e_theirs is not None:
            assert e_ours is not None, f"PyTorch raised {e_theirs!r}, ours did not"
        elif e_ours is not None:
            assert maybe and _released(e_ours), f"ours raised {e_ours!r}, PyTorch did not"
        else:
            assert not sure, "walked a graph an earlier backward released, without an error"
        if e_ours is not None or e_theirs is not None:
            self._restore(snap)
            self.maybe_released |= graph  # a failed walk may have released a part
            return None
        if not retain:
            (self.released if exact else self.maybe_released).update(runs)
            self.maybe_released.update(graph - runs)
        if relus:
            self._drop_zero_gradients(snap)
        return ours, theirs

    def _drop_zero_gradients(self, snap: Any) -> None:
        """After a grad of a grad through a relu, which reached the nodes below the relu in
        PyTorch only (with a zero gradient): PyTorch's extra hook runs that saw zeros are
        dropped, and a ``.grad`` PyTorch set to zeros where ours stayed None goes back to
        None (the same meaning; an optimizer step differs, weight decay skips a None grad)."""
        grads, hooks = snap
        for h, n_ours, n_theirs in hooks:
            extra = (len(h.theirs) - n_theirs) - (len(h.ours) - n_ours)
            for i in reversed(range(n_theirs, len(h.theirs))):
                if extra > 0 and not h.theirs[i].any():
                    del h.theirs[i]
                    extra -= 1
        for p, g, t, _ in grads:
            now = p.theirs.grad
            if g is None and t is None and p.ours.grad is None and now is not None:
                if not now.detach().any():
                    p.theirs.grad = None

    # ------------------------------------------------------------------ making tensors
    @initialize(target=leaves, data=st.data(), shape=st.sampled_from(SHAPES))
    def first_leaf(self, data, shape):
        return self.new_leaf(data, shape, np.float64)

    @initialize(target=nodes, data=st.data())
    def first_node(self, data):
        a = data.draw(arrays(np.float64, (2, 3), elements=st.floats(-2, 2)))
        x = self.new_leaf_from(a)
        return self._apply([x], lambda t: t * t, lambda t: t * t)[0]

    def new_leaf_from(self, a: np.ndarray) -> Pair:
        self.user_arrays.append(a)
        (made,) = self._add(
            tg.Tensor(a, requires_grad=True), torch.tensor(a.copy(), requires_grad=True)
        )[0].values
        return made

    @rule(
        target=leaves,
        data=st.data(),
        shape=st.sampled_from(SHAPES),
        dtype=st.sampled_from([np.float64, np.float64, np.float32]),
    )
    def new_leaf(self, data, shape, dtype):
        width = 64 if dtype is np.float64 else 32
        return self.new_leaf_from(
            data.draw(arrays(dtype, shape, elements=st.floats(-2, 2, width=width)))
        )

    @rule(
        target=consts,
        data=st.data(),
        shape=st.sampled_from(SHAPES),
    )
    def new_const(self, data, shape):
        a = data.draw(arrays(np.float64, shape, elements=st.floats(-2, 2)))
        self.user_arrays.append(a)
        return self._add(tg.Tensor(a), torch.tensor(a.copy()))[1]

    UNARY: ClassVar[dict[str, Any]] = {
        "exp": (lambda t: t.exp(), torch.exp, lambda a: a.max(initial=0) < 3),
        "tanh": (lambda t: t.tanh(), torch.tanh, None),
        "sigmoid": (lambda t: t.sigmoid(), torch.sigmoid, None),
        "relu": (lambda t: t.relu(), torch.relu, None),
        "log": (lambda t: t.log(), torch.log, lambda a: a.min(initial=1) > 0.1),
        "sqrt": (lambda t: t.sqrt(), torch.sqrt, lambda a: a.min(initial=1) > 0.1),
        "neg": (lambda t: -t, lambda t: -t, None),
    }

    @rule(target=nodes, op=st.sampled_from(sorted(UNARY)), x=nodes | leaves)
    def unary(self, op, x):
        ours, theirs, domain = self.UNARY[op]
        if domain is not None and not domain(_np(x.theirs)):
            return multiple()
        made = self._apply([x], ours, theirs)[0]
        for q in made.values:
            q.second_order_differs = op == "relu"
        return made

    BINARY: ClassVar[dict[str, Any]] = {
        "add": (lambda a, b: a + b, lambda a, b: a + b),
        "sub": (lambda a, b: a - b, lambda a, b: a - b),
        "mul": (lambda a, b: a * b, lambda a, b: a * b),
        "div": (lambda a, b: a / b, lambda a, b: a / b),
    }

    @rule(
        target=nodes,
        op=st.sampled_from(sorted(BINARY)),
        a=nodes | leaves | consts,
        b=nodes | leaves | consts,
    )
    def binary(self, op, a, b):
        if a.ours.dtype != b.ours.dtype:  # 0-d tensors promote differently in the two
            return multiple()
        if op == "div" and np.abs(_np(b.theirs)).min(initial=1) < 0.5:
            return multiple()
        ours, theirs = self.BINARY[op]
        made, _ = self._apply([a, b], ours, theirs)
        if op == "div" and not b.theirs.requires_grad:
            for q in made.values:
                self.numerators[q.name] = (a.base or a).name
        return made

    @rule(
        target=nodes,
        x=nodes | leaves,
        kind=st.sampled_from(["sum", "mean"]),
        axis=st.sampled_from([None, 0, 1, -1, 2]),
    )
    def reduce(self, x, kind, axis):
        if axis is not None and x.ours.ndim == 0:  # torch accepts dim 0 / -1 of a 0-d tensor
            return multiple()
        dim = axis
        if axis is None:
            theirs = (lambda t: t.sum()) if kind == "sum" else (lambda t: t.mean())
        else:
            theirs = (lambda t: t.sum(dim)) if kind == "sum" else (lambda t: t.mean(dim))
        ours = (lambda t: t.sum(axis=axis)) if kind == "sum" else (lambda t: t.mean(axis=axis))
        return self._apply([x], ours, theirs)[0]

    @rule(target=nodes, x=nodes | leaves, kind=st.sampled_from(["flat", "T", "row", "tail"]))
    def view(self, x, kind):
        nd = x.ours.ndim
        if kind == "flat":
            made = self._apply([x], lambda t: t.reshape(-1), lambda t: t.reshape(-1))[0]
        elif kind == "T" and nd >= 2:
            made = self._apply([x], lambda t: t.transpose(), lambda t: t.permute(1, 0))[0]
        elif kind == "row" and nd >= 1:
            made = self._apply([x], lambda t: t[0], lambda t: t[0])[0]
        elif kind == "tail" and nd >= 1 and x.ours.shape[-1] >= 2:
            made = self._apply([x], lambda t: t[..., 1:], lambda t: t[..., 1:])[0]
        else:
            return multiple()
        for v in made.values:
            if v.theirs._is_view():  # (reshape copies a non-contiguous tensor)
                v.base = x.base or x
        return made

    @rule(target=consts, x=nodes | leaves)
    def detach(self, x):
        made = self._add(x.ours.detach(), x.theirs.detach())[1]
        for v in made.values:
            v.base = x.base or x
        return made

    def _changed(self, x: Pair) -> None:
        """``x``'s memory changed in place: PyTorch will remake the grad_fn of the views of
        the same memory when asked. Hooks registered before stay on the old one (run only by
        graphs built before), a ``retain_grad`` moves to the new one (filled only by graphs
        built after), and the new one of a view of a view leads straight to the base,
        bypassing the views between. Ours keeps one node per view. So those views take no
        more hooks or ``retain_grad``, are not asked for by tg.grad, and their retained
        grads and earlier hooks are no longer compared (our hooks' records still must never
        change)."""
        family = x.base or x
        for q in self.pairs:
            if q.base is family:
                q.stale = True
                q.retained = False
                for h in q.hooks:
                    h.compared = False
        # Our Div saves its numerator always, PyTorch's only when the denominator requires
        # grad. A walk through a quotient by a tensor that requires no grad whose numerator
        # changed may raise in ours only (conservative).
        self.numerator_changed.update(z for z, n in self.numerators.items() if n == family.name)

    # ------------------------------------------------------------------ in place
    @rule(x=nodes | leaves | consts, kind=st.sampled_from(["mul_", "add_", "setitem"]))
    def change_in_place(self, x, kind):
        def change(t, no_grad):  # the same change in either library
            with no_grad():
                if kind == "mul_":
                    t.mul_(0.5)
                elif kind == "add_":
                    t.add_(0.25)
                else:
                    t[0] = 1.5

        _, e_theirs = _outcome(lambda: change(x.theirs, torch.no_grad), TORCH_ERRORS)
        _, e_ours = _outcome(lambda: change(x.ours, tg.no_grad), OUR_ERRORS)
        assert (e_ours is None) == (e_theirs is None), (
            f"in place {kind}: PyTorch raised {e_theirs!r}, ours raised {e_ours!r}"
        )
        self._changed(x)
        if (x.base or x).second_order_differs:  # PyTorch's grad of a grad saved it
            self.changed_differs.add((x.base or x).name)

    # ------------------------------------------------------------------ hooks, retain_grad
    @rule(x=nodes | leaves, doubles=st.booleans())
    def register_hook(self, x, doubles):
        if x.stale or x.second_order_differs:
            return
        if doubles and x.base is not None:
            # once its memory changes in place, a view's hook runs in one library only
            # (see _changed): a doubling one would change the gradients there
            return
        h = Hook(doubles)

        def ours(g):
            h.ours.append((g, g.numpy().copy()))
            return g * 2 if doubles else None

        def theirs(g):
            h.theirs.append(_np(g).copy())
            return g * 2 if doubles else None

        x.ours.register_hook(ours)
        x.theirs.register_hook(theirs)
        x.hooks.append(h)

    @rule(x=nodes)
    def retain_grad(self, x):
        if x.stale or x.second_order_differs:
            return
        x.ours.retain_grad()
        x.theirs.retain_grad()
        x.retained = True

    # ------------------------------------------------------------------ backward, grad
    @rule(
        target=nodes,
        root=nodes,
        data=st.data(),
        retain_graph=st.sampled_from([None, True, False]),
        create_graph=st.booleans(),
    )
    def backward(self, root, data, retain_graph, create_graph):
        g = None
        if root.ours.size != 1 or root.ours.ndim:
            g = data.draw(
                arrays(root.ours.dtype, root.ours.shape, elements=st.floats(-1, 1, width=32))
            )
        g_ours = None if g is None else tg.Tensor(g.copy())
        g_theirs = None if g is None else torch.tensor(g.copy())
        if g_ours is not None:
            self.user_grads.append(g_ours.numpy())
        before = {p.name: (go, gt, self._grad_graph(p)) for p, go, gt in self._grads()}
        done = self._walk(
            [root],
            lambda: root.ours.backward(
                g_ours, retain_graph=retain_graph, create_graph=create_graph
            ),
            lambda: root.theirs.backward(
                g_theirs, retain_graph=retain_graph, create_graph=create_graph
            ),
            retain=create_graph if retain_graph is None else retain_graph,
        )
        if g_ours is not None:
            np.testing.assert_array_equal(g_ours.numpy(), g, err_msg="backward changed grad=")
        self._check_hooks()
        if done is not None:
            # a new .grad is old + new: the old one's graph (ours keeps it even without
            # create_graph), and with create_graph the new one's, at most the root's
            for p, go, gt in self._grads():
                old_ours, old_theirs, graph = before.get(p.name, (None, None, frozenset()))
                if create_graph and (go is not old_ours or gt is not old_theirs):
                    graph = graph | root.graph
                for g in (go, gt):
                    if g is not None and g.requires_grad:
                        self.grad_graphs[id(g)] = (g, graph)
        if done is not None and not create_graph:
            for p, go, gt in self._grads():
                if (
                    not p.is_leaf
                    and go is not None
                    and go.requires_grad
                    and gt is not None
                    and gt.grad_fn is None
                ):
                    # Without create_graph PyTorch rebuilds a retained .grad that was a graph
                    # as old + new under no_grad, dropping the graph (a leaf's keeps it);
                    # ours keeps it for both. Ours is detached to stay comparable.
                    p.ours.grad = go.detach()
        if done is None or not create_graph:
            return multiple()
        # the gradients that became graphs: they are nodes a second-order step can use
        made = []
        known = {id(q.theirs) for q in self.pairs}
        for p, gt_ours, gt_theirs in self._grads():
            # (PyTorch's grad can keep a graph whose derivative is zero, relu's for one; so
            # only grads that are graphs in both become nodes)
            if (
                gt_theirs is not None
                and gt_theirs.grad_fn is not None
                and gt_ours is not None
                and gt_ours.requires_grad
                and id(gt_theirs) not in known
            ):
                # (an over-estimate of its graph, so marked inexact)
                made.append(self._add(gt_ours, gt_theirs, self._grad_graph(p), exact=False)[0])
        return multiple(*(v for m in made for v in m.values))

    @rule(
        target=nodes,
        root=nodes,
        data=st.data(),
        retain_graph=st.sampled_from([None, True, False]),
        create_graph=st.booleans(),
    )
    def grad(self, root, data, retain_graph, create_graph):
        # PyTorch returns a non-leaf input's gradient from before its hooks (a leaf's from
        # after them); ours returns it after. Inputs whose hooks replace the gradient are
        # left out rather than fix either choice here.
        candidates = [
            p
            for p in self.pairs
            if p.theirs.requires_grad
            and (p.is_leaf or not any(h.doubles for h in p.hooks))
            and not p.second_order_differs
            and not p.stale  # PyTorch's remade grad_fn: older graphs never use it
        ]
        inputs = data.draw(
            st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique=True)
        )
        g = None
        if root.ours.size != 1 or root.ours.ndim:
            g = data.draw(
                arrays(root.ours.dtype, root.ours.shape, elements=st.floats(-1, 1, width=32))
            )
        # PyTorch's autograd.grad also fills .grad of tensors that called retain_grad;
        # tg.grad leaves every .grad alone (README), so PyTorch's are put back afterwards
        retained = [(p, p.theirs.grad) for p in self.pairs if p.retained]
        # Both run (and release) only the nodes between the root and the inputs: surely the
        # ones computed from an input node; an input's own node runs only if another input
        # lies below it, and the machine does not track which nodes a leaf feeds: maybe
        asked = [p.name for p in inputs if not p.is_leaf]
        runs = frozenset(
            n
            for n in root.graph
            if self.by_name[n].exact and any(a != n and a in self.by_name[n].graph for a in asked)
        )
        done = self._walk(
            [root],
            lambda: tg.grad(
                root.ours,
                [p.ours for p in inputs],
                None if g is None else tg.Tensor(g.copy()),
                retain_graph=retain_graph,
                create_graph=create_graph,
            ),
            lambda: torch.autograd.grad(
                root.theirs,
                [p.theirs for p in inputs],
                None if g is None else torch.tensor(g.copy()),
                retain_graph=retain_graph,
                create_graph=create_graph,
            ),
            retain=create_graph if retain_graph is None else retain_graph,
            runs=runs,
        )
        for p, g in retained:
            p.theirs.grad = g
        self._check_hooks()
        if done is None:
            return multiple()
        ours, theirs = done
        assert len(ours) == len(theirs)
        for a, b in itertools.combinations(ours, 2):  # nor another result's
            assert not np.may_share_memory(a.numpy(), b.numpy()), "two tg.grad results alias"
        # PyTorch's results may share memory with each other or a tensor (a view's gradient
        # is a view of its base's): an in-place change of one would change the other, ours
        # never. A differentiable clone of such a result means the same and keeps it apart.
        storages = [_storage(t) for t in theirs]
        known = {_storage(q.theirs) for q in self.pairs}
        made = []
        for p, o, t in zip(inputs, ours, theirs):
            _close(o, t, f"tg.grad for {p}")
            for q in self.pairs:  # a result is the user's: it shares no tensor's memory
                assert not np.may_share_memory(o.numpy(), q.ours.numpy()), f"grad aliases {q}"
            if t.grad_fn is not None and o.requires_grad:
                if storages.count(_storage(t)) > 1 or _storage(t) in known:
                    with torch.enable_grad():
                        t = t.clone()
                made.append(self._add(o, t, root.graph, exact=False)[0])
        return multiple(*(v for m in made for v in m.values))

    # ------------------------------------------------------------------ clearing, optimizers
    @rule(x=leaves)
    def zero_grad(self, x):
        x.ours.zero_grad()
        x.theirs.grad = None

    @rule(
        target=optimizers,
        params=st.lists(leaves, min_size=1, max_size=3, unique=True),
        kind=st.sampled_from(["sgd", "momentum", "adam"]),
    )
    def make_optimizer(self, params, kind):
        if kind == "adam":
            pair = (
                tg.optim.Adam([p.ours for p in params], lr=0.01, weight_decay=0.01),
                torch.optim.Adam([p.theirs for p in params], lr=0.01, weight_decay=0.01),
            )
        else:
            m = 0.9 if kind == "momentum" else 0.0
            pair = (
                tg.optim.SGD([p.ours for p in params], lr=0.1, momentum=m, weight_decay=0.01),
                torch.optim.SGD([p.theirs for p in params], lr=0.1, momentum=m, weight_decay=0.01),
            )
        return (*pair, params)

    @rule(opt=optimizers)
    def step(self, opt):
        ours, theirs, params = opt
        ours.step()
        theirs.step()
        for p in params:
            self._changed(p)

    @rule(opt=optimizers, set_to_none=st.booleans())
    def optimizer_zero_grad(self, opt, set_to_none):
        ours, theirs, params = opt
        if any(p.theirs.grad is not None and p.theirs.grad.grad_fn for p in params):
            set_to_none = True  # PyTorch would detach_ the graph a user may hold in place
        ours.zero_grad(set_to_none=set_to_none)
        theirs.zero_grad(set_to_none=set_to_none)

    @rule(opt=optimizers)
    def clip(self, opt):
        ours, theirs, _ = opt
        params = [p for g in ours.param_groups for p in g["params"]]
        total = clip_grad_norm_(params, 0.5)
        expected = torch.nn.utils.clip_grad_norm_(
            [p for g in theirs.param_groups for p in g["params"]], 0.5
        )
        np.testing.assert_allclose(total, float(expected), rtol=1e-5)

    # ------------------------------------------------------------------ invariants
    def _check_hooks(self) -> None:
        for p in self.pairs:
            for i, h in enumerate(p.hooks):
                if not h.compared:
                    continue
                assert len(h.ours) == len(h.theirs), (
                    f"hook {i} of {p} ran {len(h.ours)} times, PyTorch's {len(h.theirs)}"
                )
                for (seen, _), t in zip(h.ours, h.theirs):
                    _close(seen.numpy(), torch.from_numpy(t), f"what hook {i} of {p} saw")

    @invariant()
    def values_match(self) -> None:
        for p in self.pairs:
            _close(p.ours, p.theirs, f"values of {p}")

    @invariant()
    def grads_match(self) -> None:
        for p, ours, theirs in self._grads():
            assert (ours is None) == (theirs is None), (
                f"{p}.grad is {'None' if ours is None else 'set'}, PyTorch's is not"
            )
            if ours is not None:
                _close(ours, theirs, f"{p}.grad")

    @invariant()
    def seen_grads_never_change(self) -> None:
        for p in self.pairs:
            for i, h in enumerate(p.hooks):
                for seen, copy in h.ours:
                    np.testing.assert_array_equal(
                        seen.numpy(), copy, err_msg=f"a gradient hook {i} of {p} saw changed"
                    )

    @invariant()
    def grads_own_their_memory(self) -> None:
        grads = [(p, g) for p, g, _ in self._grads() if g is not None]
        for (p, a), (q, b) in itertools.combinations(grads, 2):
            assert not np.shares_memory(a.numpy(), b.numpy()), f"{p}.grad and {q}.grad share memory"
        for p, g in grads:
            a = g.numpy()
            for q in self.pairs:
                # (a detach or view of a pair that is this very .grad shares it on purpose)
                family = q.base or q
                if q.is_leaf and family.ours is not g:
                    assert not np.shares_memory(a, q.ours.numpy()), f"{p}.grad aliases {q}'s data"
            for u in self.user_arrays + self.user_grads:
                assert not np.shares_memory(a, u), f"{p}.grad aliases an array the user passed"

    @invariant()
    def tensors_own_user_arrays(self) -> None:
        for p in self.pairs:
            for u in self.user_arrays:
                assert not np.shares_memory(p.ours.numpy(), u), (
                    f"{p} shares memory with an array passed to Tensor(...)"
                )


AutogradMachine.TestCase.settings = _profile_settings()
TestAutogradMachine = AutogradMachine.TestCase
