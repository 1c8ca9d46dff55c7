"""The op table: one row per public op, for the sweep in ``test_op_sweep.py``.

A row names the callable under test, its numpy reference, how many tensor inputs it takes, the
domain of each input (away from kinks and poles), a strategy for its keyword arguments (axis and
keepdims variants, clip bounds, reshape shapes, permutations, index expressions, ...), tolerances
and whether it is twice differentiable. ``covers`` says which public names the row tests;
``test_op_table_covers_every_public_op`` fails when an op in ``ops.__all__``, a public Tensor
method or property returning a Tensor, or an op function of ``tinygrad_bp`` has no row.
Adding an op means adding a row here.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_bp as tg
from tinygrad_bp.engine import ops
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.testing import Domain, Shape, arrays, axes, broadcastable_shapes, shapes

MAX_DIMS = 3
MAX_SIDE = 3
GAP = 1e-3  # values of max/min rows are at least this far apart: no ties (tested by examples)

Layout = st.SearchStrategy[tuple[tuple[Shape, ...], dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    """One drawn example: the (read-only) input arrays and the keyword arguments."""

    arrays: tuple[np.ndarray, ...]
    kwargs: dict[str, Any]

    def __repr__(self) -> str:
        arrs = ", ".join(
            np.array2string(a, precision=17, separator=", ").replace("\n", "")
            + f" (shape {a.shape})"
            for a in self.arrays
        )
        return f"Case(arrays=[{arrs}], kwargs={self.kwargs!r})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


@dataclass(frozen=True)
class OpSpec:
    """One row of the table; ``inputs()`` draws a ``Case`` for it."""

    name: str
    fn: Callable[..., Any]  # fn(*tensors, **kwargs) -> Tensor
    reference: Callable[..., Any]  # reference(*arrays, **kwargs) -> ndarray
    covers: tuple[str, ...]  # "ops.Add", "Tensor.__add__", "tg.where", ...
    arity: int = 1  # tensor inputs; 0: a variable number (concatenate, stack)
    layout: Layout | None = None  # input shapes + kwargs; default by arity
    domains: tuple[Domain, ...] = ("real",)  # one per input, or one for all
    away_from: Callable[[dict[str, Any]], Sequence[float]] | float | None = None
    distinct: bool = False  # all input values at least GAP apart (max/min: no ties)
    fwd_atol: float = 1e-12
    f32_rtol: float = 1e-4
    f32_atol: float = 1e-5
    atol: float = 1e-5  # gradcheck
    rtol: float = 1e-3
    differentiable: bool = True
    twice_differentiable: bool = True
    keeps_dtype: bool = True  # float32 in -> float32 out
    marks: tuple[Any, ...] = field(default=())

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # hypothesis prints rows by name
        p.text(f"OpSpec({self.name!r})")

    def domain(self, i: int) -> Domain:
        return self.domains[i] if len(self.domains) > 1 else self.domains[0]

    def inputs(self, dtype: Any = np.float64) -> st.SearchStrategy[Case]:
        """Read-only input arrays of ``dtype`` plus kwargs, drawn for this row."""
        return _case(self, np.dtype(dtype))


@st.composite
def _case(draw: st.DrawFn, spec: OpSpec, dtype: np.dtype) -> Case:
    layout = spec.layout if spec.layout is not None else _default_layout(spec.arity)
    shs, kw = draw(layout, label="shapes and kwargs")
    away = spec.away_from(kw) if callable(spec.away_from) else spec.away_from
    if spec.distinct:  # draw all inputs as one array with distinct values, then split
        sizes = [math.prod(s) for s in shs]
        flat = draw(
            arrays(sum(sizes), dtype, domain=spec.domain(0), away_from=away, min_gap=GAP),
            label="values",
        )
        cuts = np.cumsum(sizes)[:-1]
        arrs = [np.array(p).reshape(s) for p, s in zip(np.split(flat, cuts), shs)]
    else:
        arrs = [
            draw(arrays(s, dtype, domain=spec.domain(i), away_from=away), label=f"input {i}")
            for i, s in enumerate(shs)
        ]
    for a in arrs:
        a.flags.writeable = False  # an op that writes into its input fails loudly
    return Case(tuple(arrs), kw)


def cast_case(case: Case, dtype: Any) -> Case:
    """The same case in another float dtype (inputs and float array kwargs), read-only."""
    dt = np.dtype(dtype)

    def conv(a: Any) -> Any:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            b = a.astype(dt)
            b.flags.writeable = False
            return b
        return a

    return Case(tuple(conv(a) for a in case.arrays), {k: conv(v) for k, v in case.kwargs.items()})


# --------------------------------------------------------------------------- layouts
def _one(min_dims: int = 0) -> st.SearchStrategy[Shape]:
    return shapes(min_dims, MAX_DIMS, 1, MAX_SIDE)


def _with(
    shape_sets: st.SearchStrategy[tuple[Shape, ...]],
    kwargs: Callable[[tuple[Shape, ...]], st.SearchStrategy[dict[str, Any]]] | None = None,
) -> Layout:
    if kwargs is None:
        return shape_sets.map(lambda s: (s, {}))
    return shape_sets.flatmap(lambda s: kwargs(s).map(lambda k: (s, k)))


def _unary(
    kwargs: Callable[[Shape], st.SearchStrategy[dict[str, Any]]] | None = None, min_dims: int = 0
) -> Layout:
    return _with(
        _one(min_dims).map(lambda s: (s,)), None if kwargs is None else lambda ss: kwargs(ss[0])
    )


def _pairs() -> st.SearchStrategy[tuple[Shape, ...]]:
    return _one().flatmap(lambda s: broadcastable_shapes(s, 2, max_side=MAX_SIDE))


def _default_layout(arity: int) -> Layout:
    if arity == 1:
        return _unary()
    if arity == 2:
        return _with(_pairs())
    raise ValueError(f"no default layout for arity {arity}")


def _fixed(**kw: Any) -> Callable[[Any], st.SearchStrategy[dict[str, Any]]]:
    return lambda _: st.fixed_dictionaries({k: st.just(v) for k, v in kw.items()})


# A constant on the left of a reflected operator: a Python float or an ndarray that
# broadcasts with the tensor (float64 here; the float32 run casts it like the inputs).
def _left_const(domain: Domain) -> Layout:
    def kw(ss: tuple[Shape, ...]) -> st.SearchStrategy[dict[str, Any]]:
        lo, hi = (0.5, 3.0) if domain == "positive" else (-2.0, 2.0)
        scalar = st.floats(lo, hi, allow_subnormal=False)
        return st.fixed_dictionaries({"c": st.one_of(scalar, arrays(ss[0], domain=domain))})

    return _with(_pairs(), kw).map(lambda sk: ((sk[0][1],), sk[1]))


def _reduce_kwargs(min_dims: int = 0, ddof: bool = False) -> Layout:
    def kw(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
        d: dict[str, st.SearchStrategy[Any]] = {"axis": axes(len(s)), "keepdims": st.booleans()}
        if ddof:
            d["ddof"] = st.sampled_from([0, 1])
        return st.fixed_dictionaries(d).map(lambda k: _fix_ddof(s, k))

    return _unary(kw, min_dims)


def _fix_ddof(shape: Shape, kw: dict[str, Any]) -> dict[str, Any]:
    if "ddof" in kw:
        ax = kw["axis"]
        red = range(len(shape)) if ax is None else ((ax,) if isinstance(ax, int) else ax)
        if math.prod(shape[a] for a in red) <= kw["ddof"]:
            kw = {**kw, "ddof": 0}  # no degrees of freedom left: numpy would divide by zero
    return kw


def _softmax_kwargs() -> Layout:
    return _unary(lambda s: st.fixed_dictionaries({"axis": st.integers(-len(s), len(s) - 1)}), 1)


@st.composite
def _matmul_shapes(draw: st.DrawFn) -> tuple[Shape, Shape]:
    """Operand shapes for np.matmul: 1-D, 2-D or batched, batch dims broadcasting."""
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    kx, ky = (
        draw(st.sampled_from(["1d", "2d", "batch"])),
        draw(st.sampled_from(["1d", "2d", "batch"])),
    )
    bx, by = draw(broadcastable_shapes(_one(1).filter(lambda s: len(s) <= 2), 2, max_side=MAX_SIDE))
    x = (k,) if kx == "1d" else ((n, k) if kx == "2d" else (*bx, n, k))
    y = (k,) if ky == "1d" else ((k, m) if ky == "2d" else (*by, k, m))
    return x, y


def _rmatmul_layout() -> Layout:
    return _matmul_shapes().flatmap(lambda xy: arrays(xy[0]).map(lambda c: ((xy[1],), {"c": c})))


def _clip_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    bound = st.floats(-2.0, 2.0, allow_subnormal=False)
    both = st.tuples(bound, bound).map(lambda t: {"min": min(t), "max": max(t)})
    return st.one_of(
        both,
        bound.map(lambda v: {"min": v, "max": None}),
        bound.map(lambda v: {"min": None, "max": v}),
    )


def _clip_bounds(kw: dict[str, Any]) -> list[float]:
    return [v for v in (kw["min"], kw["max"]) if v is not None]


def _factors(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def _reshape_target(draw: st.DrawFn, shape: Shape) -> dict[str, Any]:
    """A shape with as many elements as ``shape``: its prime factors shuffled and grouped,
    some 1s inserted, maybe one size replaced by -1; passed packed or as separate ints."""
    fs = draw(st.permutations(_factors(math.prod(shape))))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(fs) - 1, 1)), max_size=2)))
    groups = [fs[a:b] for a, b in zip([0, *cuts], [*cuts, len(fs)]) if fs[a:b]]
    dims = [math.prod(g) for g in groups]
    for _ in range(draw(st.integers(0, 2))):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return {"shape": tuple(dims), "packed": draw(st.booleans())}


@st.composite
def _transpose_kwargs(draw: st.DrawFn, shape: Shape) -> dict[str, Any]:
    nd = len(shape)
    form = draw(st.sampled_from(["reverse", "args", "tuple"]))
    perm = draw(st.permutations(range(nd)))
    perm = [a - nd if draw(st.booleans()) else a for a in perm]  # negative axes too
    return {"axes": None if form == "reverse" else tuple(perm), "packed": form == "tuple"}


def _swap_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    ax = st.integers(-len(s), len(s) - 1)
    return st.fixed_dictionaries({"a": ax, "b": ax})


def _expand_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    nd = len(s)
    one = st.integers(-nd - 1, nd)
    many = st.integers(1, 2).flatmap(lambda k: hnp.valid_tuple_axes(nd + k, min_size=k, max_size=k))
    return st.fixed_dictionaries({"axis": st.one_of(one, many)})


def _squeeze_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    ones = [i for i, n in enumerate(s) if n == 1]
    signed = [st.sampled_from([i, i - len(s)]) for i in ones]
    opts: list[st.SearchStrategy[Any]] = [st.none()]
    if ones:
        opts.append(st.one_of(signed))
        opts.append(st.lists(st.sampled_from(ones), unique=True).map(tuple))
    return st.fixed_dictionaries({"axis": st.one_of(opts)})


@st.composite
def _broadcast_target(draw: st.DrawFn, shape: Shape) -> dict[str, Any]:
    lead = draw(st.lists(st.integers(1, MAX_SIDE), max_size=2))
    body = [draw(st.integers(1, MAX_SIDE)) if n == 1 else n for n in shape]
    return {"shape": (*lead, *body)}


def _flatten_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    nd = max(len(s), 1)
    return st.fixed_dictionaries({"start_axis": st.integers(-nd, nd - 1)})


def _index(shape: Shape) -> st.SearchStrategy[Any]:
    """numpy index expressions: basic (ints incl. negative, slices incl. negative steps, None,
    Ellipsis), an int array along one axis (repeats, negatives), int arrays on every axis,
    boolean masks over leading axes, a Python list, and an int array mixed with a reversed
    slice."""
    nd = len(shape)
    opts: list[st.SearchStrategy[Any]] = [
        hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True)
    ]
    if nd:

        def along(ax: int) -> st.SearchStrategy[Any]:
            n = shape[ax]
            ints = hnp.arrays(np.intp, shapes(1, 2, 1, 4), elements=st.integers(-n, n - 1))
            return ints.map(lambda a: (slice(None),) * ax + (a,))

        opts += [
            st.integers(0, nd - 1).flatmap(along),
            hnp.integer_array_indices(shape, result_shape=shapes(1, 2, 1, 3)),
            st.integers(1, nd).flatmap(lambda k: hnp.arrays(np.bool_, shape[:k])),
            st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=4),
        ]
    if nd >= 2:
        n0 = shape[0]
        opts.append(
            hnp.arrays(np.intp, shapes(1, 1, 1, 4), elements=st.integers(-n0, n0 - 1)).map(
                lambda a: (a, slice(None, None, -1))
            )
        )
    return st.one_of(opts)


def _getitem_layout() -> Layout:
    return _unary(lambda s: _index(s).map(lambda ix: {"index": ix}))


def _index_add_layout() -> Layout:
    """IndexAdd scatters x into zeros(shape) at index: x has the shape of zeros(shape)[index]."""

    def pick(s: Shape) -> st.SearchStrategy[tuple[tuple[Shape, ...], dict[str, Any]]]:
        return _index(s).map(
            lambda ix: ((np.empty(s)[_as_index(ix)].shape,), {"shape": s, "index": _as_index(ix)})
        )

    return _one().flatmap(pick)


def _as_index(ix: Any) -> Any:
    return np.asarray(ix) if isinstance(ix, list) else ix


@st.composite
def _concat_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(_one(1))
    axis = draw(st.integers(-len(s), len(s) - 1))
    n = draw(st.integers(1, 3))
    shs = []
    for _ in range(n):
        t = list(s)
        t[axis] = draw(st.integers(1, MAX_SIDE))
        shs.append(tuple(t))
    return tuple(shs), {"axis": axis}


@st.composite
def _stack_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(_one())
    n = draw(st.integers(1, 3))
    return (s,) * n, {"axis": draw(st.integers(-len(s) - 1, len(s)))}


def _where_layout(cond_as_tensor: bool = False) -> Layout:
    def pick(ss: tuple[Shape, ...]) -> st.SearchStrategy[tuple[tuple[Shape, ...], dict[str, Any]]]:
        cond = hnp.arrays(np.bool_, ss[0])
        if cond_as_tensor:
            cond = cond.map(Tensor)  # type: ignore[arg-type]
        return cond.map(lambda c: ((ss[1], ss[2]), {"cond": c}))

    return _one().flatmap(lambda s: broadcastable_shapes(s, 3, max_side=MAX_SIDE)).flatmap(pick)


# --------------------------------------------------------------------------- references
def _np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=_norm(axis, x.ndim))


def _norm(axis: Any, nd: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(nd))
    return (axis % nd,) if isinstance(axis, int) else tuple(a % nd for a in axis)


def _np_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x - _np_logsumexp(x, axis=axis, keepdims=True)


def _np_index_add(x: np.ndarray, shape: Shape, index: Any) -> np.ndarray:
    z = np.zeros(shape, dtype=x.dtype)
    np.add.at(z, index, x)
    return z


def _np_flatten(x: np.ndarray, start_axis: int = 0) -> np.ndarray:
    return x.reshape((*x.shape[: start_axis % max(x.ndim, 1)], -1))


def _reshape(x: Tensor, shape: Shape, packed: bool) -> Tensor:
    return x.reshape(shape) if packed else x.reshape(*shape)


def _transpose(x: Tensor, axes: Shape | None, packed: bool) -> Tensor:
    if axes is None:
        return x.transpose()
    return x.transpose(axes) if packed else x.transpose(*axes)


# --------------------------------------------------------------------------- the table
def _row(
    name: str, fn: Callable[..., Any], ref: Callable[..., Any], covers: Sequence[str], **kw: Any
) -> OpSpec:
    return OpSpec(name, fn, ref, tuple(covers), **kw)


_POS = ("positive",)
_NONZERO_Y = ("real", "nonzero")

OP_TABLE: list[OpSpec] = [
    # ---- unary elementwise
    _row("neg", lambda x: x.neg(), np.negative, ["Tensor.neg", "ops.Neg"]),
    _row("__neg__", lambda x: -x, np.negative, ["Tensor.__neg__"]),
    _row("__pos__", lambda x: +x, lambda x: x, ["Tensor.__pos__"]),
    _row("exp", lambda x: x.exp(), np.exp, ["Tensor.exp", "ops.Exp"]),
    _row("log", lambda x: x.log(), np.log, ["Tensor.log", "ops.Log"], domains=_POS),
    _row("sqrt", lambda x: x.sqrt(), np.sqrt, ["Tensor.sqrt", "ops.Sqrt"], domains=_POS),
    _row("tanh", lambda x: x.tanh(), np.tanh, ["Tensor.tanh", "ops.Tanh"]),
    _row(
        "sigmoid",
        lambda x: x.sigmoid(),
        lambda x: 1 / (1 + np.exp(-x)),
        ["Tensor.sigmoid", "ops.Sigmoid"],
        domains=((-8.0, 8.0),),
    ),
    _row(
        "relu",
        lambda x: x.relu(),
        lambda x: np.maximum(x, 0),
        ["Tensor.relu", "ops.Relu"],
        away_from=0.0,
    ),
    _row("clone", lambda x: x.clone(), np.copy, ["Tensor.clone", "ops.Clone"]),
    _row("abs", lambda x: x.abs(), np.abs, ["Tensor.abs", "ops.Abs"], away_from=0.0),
    _row("__abs__", lambda x: abs(x), np.abs, ["Tensor.__abs__"], away_from=0.0),
    _row(
        "clip",
        lambda x, min, max: x.clip(min, max),
        lambda x, min, max: np.clip(x, min, max),
        ["Tensor.clip", "ops.Clip"],
        layout=_unary(_clip_kwargs),
        away_from=_clip_bounds,
    ),
    _row(
        "astype",
        lambda x, dtype: x.astype(dtype),
        lambda x, dtype: x.astype(dtype),
        ["Tensor.astype", "ops.Cast"],
        # float64 targets only: a float32 result cannot be finite-differenced; the cross-dtype
        # gradients (float64 -> float32 -> grad float64) are example tests.
        layout=_unary(
            lambda s: st.fixed_dictionaries({"dtype": st.sampled_from([np.float64, "float64"])})
        ),
        keeps_dtype=False,
    ),
    # ---- binary elementwise (broadcast pairs)
    _row("add", lambda x, y: x.add(y), np.add, ["Tensor.add", "ops.Add"], arity=2),
    _row("__add__", lambda x, y: x + y, np.add, ["Tensor.__add__"], arity=2),
    _row(
        "__radd__",
        lambda x, c: c + x,
        lambda x, c: c + x,
        ["Tensor.__radd__"],
        layout=_left_const("real"),
    ),
    _row("sub", lambda x, y: x.sub(y), np.subtract, ["Tensor.sub", "ops.Sub"], arity=2),
    _row("__sub__", lambda x, y: x - y, np.subtract, ["Tensor.__sub__"], arity=2),
    _row(
        "__rsub__",
        lambda x, c: c - x,
        lambda x, c: c - x,
        ["Tensor.__rsub__"],
        layout=_left_const("real"),
    ),
    _row("mul", lambda x, y: x.mul(y), np.multiply, ["Tensor.mul", "ops.Mul"], arity=2),
    _row("__mul__", lambda x, y: x * y, np.multiply, ["Tensor.__mul__"], arity=2),
    _row(
        "__rmul__",
        lambda x, c: c * x,
        lambda x, c: c * x,
        ["Tensor.__rmul__"],
        layout=_left_const("real"),
    ),
    _row(
        "div",
        lambda x, y: x.div(y),
        np.divide,
        ["Tensor.div", "ops.Div"],
        arity=2,
        domains=_NONZERO_Y,
    ),
    _row(
        "__truediv__",
        lambda x, y: x / y,
        np.divide,
        ["Tensor.__truediv__"],
        arity=2,
        domains=_NONZERO_Y,
    ),
    _row(
        "__rtruediv__",
        lambda x, c: c / x,
        lambda x, c: c / x,
        ["Tensor.__rtruediv__"],
        layout=_left_const("real"),
        domains=("nonzero",),
    ),
    _row(
        "pow",
        lambda x, y: x.pow(y),
        np.power,
        ["Tensor.pow", "ops.Pow"],
        arity=2,
        domains=("positive", "real"),
    ),
    _row(
        "__pow__",
        lambda x, y: x**y,
        np.power,
        ["Tensor.__pow__"],
        arity=2,
        domains=("positive", "real"),
    ),
    _row(
        "__pow__ scalar exponent",
        lambda x, p: x**p,
        lambda x, p: np.power(x, p),
        [],
        layout=_unary(
            lambda s: st.fixed_dictionaries(
                {"p": st.sampled_from([2.0, -1.0, 0.5, -0.5, 1.5, 3.0, -2.0])}
            )
        ),
        domains=_POS,
    ),
    _row(
        "__pow__ int exponent",
        lambda x, p: x**p,
        lambda x, p: np.power(x, p),
        [],
        layout=_unary(lambda s: st.fixed_dictionaries({"p": st.sampled_from([2, 3])})),
    ),
    _row(
        "__pow__ exponent 0 or 1",
        lambda x, p: x**p,
        lambda x, p: np.power(x, p),
        [],
        layout=_unary(lambda s: st.fixed_dictionaries({"p": st.sampled_from([0, 1])})),
    ),
    _row(
        "__rpow__",
        lambda x, c: c**x,
        lambda x, c: c**x,
        ["Tensor.__rpow__"],
        layout=_left_const("positive"),
    ),
    _row(
        "maximum",
        lambda x, y: x.maximum(y),
        np.maximum,
        ["Tensor.maximum", "ops.Maximum"],
        arity=2,
        distinct=True,
    ),
    _row(
        "tg.maximum",
        lambda x, y: tg.maximum(x, y),
        np.maximum,
        ["tg.maximum"],
        arity=2,
        distinct=True,
    ),
    _row(
        "maximum scalar",
        lambda x, c: x.maximum(c),
        lambda x, c: np.maximum(x, c),
        [],
        layout=_unary(_fixed(c=0.5)),
        away_from=0.5,
    ),
    _row(
        "minimum",
        lambda x, y: x.minimum(y),
        np.minimum,
        ["Tensor.minimum", "ops.Minimum"],
        arity=2,
        distinct=True,
    ),
    _row(
        "tg.minimum",
        lambda x, y: tg.minimum(x, y),
        np.minimum,
        ["tg.minimum"],
        arity=2,
        distinct=True,
    ),
    _row(
        "minimum scalar",
        lambda x, c: x.minimum(c),
        lambda x, c: np.minimum(x, c),
        [],
        layout=_unary(_fixed(c=-0.5)),
        away_from=-0.5,
    ),
    _row(
        "where",
        lambda x, y, cond: tg.where(cond, x, y),
        lambda x, y, cond: np.where(cond, x, y),
        ["tg.where"],
        layout=_where_layout(),
    ),
    _row(
        "where tensor cond",
        lambda x, y, cond: tg.where(cond, x, y),
        lambda x, y, cond: np.where(cond.data, x, y),
        [],
        layout=_where_layout(cond_as_tensor=True),
    ),
    _row(
        "Where.apply",
        lambda x, y, cond: ops.Where.apply(cond, x, y),
        lambda x, y, cond: np.where(cond, x, y),
        ["ops.Where"],
        layout=_where_layout(),
    ),
    # ---- comparisons: bool results outside the graph
    *[
        _row(
            name,
            f,
            r,
            [f"Tensor.{name}"],
            arity=2,
            differentiable=False,
            keeps_dtype=False,
            domains=((-2.0, 2.0),),
        )
        for name, f, r in [
            ("__lt__", lambda x, y: x < y, np.less),
            ("__le__", lambda x, y: x <= y, np.less_equal),
            ("__gt__", lambda x, y: x > y, np.greater),
            ("__ge__", lambda x, y: x >= y, np.greater_equal),
            ("eq", lambda x, y: x.eq(y), np.equal),
        ]
    ],
    # ---- matmul: 1-D, 2-D and batched operands with broadcast batch dims
    _row(
        "__matmul__",
        lambda x, y: x @ y,
        np.matmul,
        ["Tensor.__matmul__", "ops.MatMul"],
        arity=2,
        layout=_with(_matmul_shapes()),
    ),
    _row(
        "matmul",
        lambda x, y: x.matmul(y),
        np.matmul,
        ["Tensor.matmul"],
        arity=2,
        layout=_with(_matmul_shapes()),
    ),
    _row(
        "dot",
        lambda x, y: x.dot(y),
        np.matmul,
        ["Tensor.dot"],
        arity=2,
        layout=_with(_matmul_shapes()),
    ),
    _row(
        "__rmatmul__",
        lambda y, c: c @ y,
        lambda y, c: c @ y,
        ["Tensor.__rmatmul__"],
        layout=_rmatmul_layout(),
    ),
    # ---- reductions: every axis form (None, int, negative, tuple, ()) with and without keepdims
    _row(
        "sum",
        lambda x, axis, keepdims: x.sum(axis, keepdims),
        np.sum,
        ["Tensor.sum", "ops.Sum"],
        layout=_reduce_kwargs(),
    ),
    _row(
        "mean",
        lambda x, axis, keepdims: x.mean(axis, keepdims),
        np.mean,
        ["Tensor.mean", "ops.Mean"],
        layout=_reduce_kwargs(),
    ),
    _row(
        "max",
        lambda x, axis, keepdims: x.max(axis, keepdims),
        np.max,
        ["Tensor.max", "ops.Max"],
        layout=_reduce_kwargs(),
        distinct=True,
    ),
    _row(
        "min",
        lambda x, axis, keepdims: x.min(axis, keepdims),
        np.min,
        ["Tensor.min", "ops.Min"],
        layout=_reduce_kwargs(),
        distinct=True,
    ),
    _row(
        "var",
        lambda x, axis, keepdims, ddof: x.var(axis, keepdims, ddof),
        lambda x, axis, keepdims, ddof: np.var(x, axis=axis, keepdims=keepdims, ddof=ddof),
        ["Tensor.var"],
        layout=_reduce_kwargs(ddof=True),
    ),
    _row(
        "logsumexp",
        lambda x, axis, keepdims: x.logsumexp(axis, keepdims),
        _np_logsumexp,
        ["Tensor.logsumexp", "ops.LogSumExp"],
        layout=_reduce_kwargs(),
    ),
    _row(
        "tg.logsumexp",
        lambda x, axis, keepdims: tg.logsumexp(x, axis, keepdims),
        _np_logsumexp,
        ["tg.logsumexp"],
        layout=_reduce_kwargs(),
    ),
    _row(
        "softmax",
        lambda x, axis: x.softmax(axis),
        _np_softmax,
        ["Tensor.softmax", "ops.Softmax"],
        layout=_softmax_kwargs(),
    ),
    _row(
        "tg.softmax",
        lambda x, axis: tg.softmax(x, axis),
        _np_softmax,
        ["tg.softmax"],
        layout=_softmax_kwargs(),
    ),
    _row(
        "log_softmax",
        lambda x, axis: x.log_softmax(axis),
        _np_log_softmax,
        ["Tensor.log_softmax", "ops.LogSoftmax"],
        layout=_softmax_kwargs(),
    ),
    _row(
        "tg.log_softmax",
        lambda x, axis: tg.log_softmax(x, axis),
        _np_log_softmax,
        ["tg.log_softmax"],
        layout=_softmax_kwargs(),
    ),
    # ---- movement
    _row(
        "reshape",
        _reshape,
        lambda x, shape, packed: x.reshape(shape),
        ["Tensor.reshape", "ops.Reshape"],
        layout=_unary(_reshape_target),
    ),
    _row(
        "flatten",
        lambda x, start_axis: x.flatten(start_axis),
        _np_flatten,
        ["Tensor.flatten"],
        layout=_unary(_flatten_kwargs),
    ),
    _row(
        "transpose",
        _transpose,
        lambda x, axes, packed: np.transpose(x, axes),
        ["Tensor.transpose", "ops.Transpose"],
        layout=_unary(_transpose_kwargs),
    ),
    _row("T", lambda x: x.T, lambda x: x.T, ["Tensor.T"]),
    _row(
        "swapaxes",
        lambda x, a, b: x.swapaxes(a, b),
        lambda x, a, b: np.swapaxes(x, a, b),
        ["Tensor.swapaxes"],
        layout=_unary(_swap_kwargs, min_dims=1),
    ),
    _row(
        "expand_dims",
        lambda x, axis: x.expand_dims(axis),
        lambda x, axis: np.expand_dims(x, axis),
        ["Tensor.expand_dims"],
        layout=_unary(_expand_kwargs),
    ),
    _row(
        "squeeze",
        lambda x, axis: x.squeeze(axis),
        lambda x, axis: np.squeeze(x, axis),
        ["Tensor.squeeze"],
        layout=_unary(_squeeze_kwargs),
    ),
    _row(
        "broadcast_to",
        lambda x, shape: x.broadcast_to(shape),
        lambda x, shape: np.broadcast_to(x, shape),
        ["Tensor.broadcast_to", "ops.BroadcastTo"],
        layout=_unary(_broadcast_target),
    ),
    _row(
        "__getitem__",
        lambda x, index: x[index],
        lambda x, index: x[_as_index(index)],
        ["Tensor.__getitem__", "ops.GetItem"],
        layout=_getitem_layout(),
    ),
    _row(
        "IndexAdd.apply",
        lambda x, shape, index: ops.IndexAdd.apply(x, shape=shape, index=index),
        _np_index_add,
        ["ops.IndexAdd"],
        layout=_index_add_layout(),
    ),
    _row(
        "concatenate",
        lambda *xs, axis: tg.concatenate(xs, axis=axis),
        lambda *xs, axis: np.concatenate(xs, axis=axis),
        ["tg.concatenate", "ops.Concatenate"],
        arity=0,
        layout=_concat_layout(),
    ),
    _row(
        "stack",
        lambda *xs, axis: tg.stack(list(xs), axis=axis),
        lambda *xs, axis: np.stack(xs, axis=axis),
        ["tg.stack"],
        arity=0,
        layout=_stack_layout(),
    ),
]


# --------------------------------------------------------------------------- convolutional layers
# tinygrad_bp.nn.conv and tinygrad_bp.nn.normalization (issue 16). The references are written
# independently of the im2col code: one einsum per kernel offset on the padded input.
from tinygrad_bp.nn import conv as _conv  # noqa: E402
from tinygrad_bp.nn import functional as _F  # noqa: E402
from tinygrad_bp.nn import normalization as _normalization  # noqa: E402
from tinygrad_bp.nn import pooling as _pooling  # noqa: E402


@st.composite
def _conv_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    """x (N, C, H, W), w (O, C/groups, KH, KW), b (O,) and a valid geometry."""
    groups = draw(st.integers(1, 2))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.sampled_from([1, 2, (1, 2)]))
    dilation = draw(st.sampled_from([1, 2, (2, 1)]))
    padding = draw(st.sampled_from([0, 1, (1, 0), "valid"] + (["same"] if stride == 1 else [])))
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    h = draw(st.integers((kh - 1) * dh + 1, (kh - 1) * dh + 3))
    w = draw(st.integers((kw - 1) * dw + 1, (kw - 1) * dw + 3))
    n = draw(st.integers(1, 2))
    shapes_ = ((n, groups * cg, h, w), (groups * og, cg, kh, kw), (groups * og,))
    kw_ = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return shapes_, kw_


def _two(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _geo_of(
    x: np.ndarray, kernel: Shape, stride: Any, padding: Any, dilation: Any, groups: int = 1
) -> Any:
    return _conv._geometry(
        "ref", x.shape, tuple(kernel), _two(stride), padding, _two(dilation), groups
    )


def _offset_slices(geo: Any, i: int, j: int) -> tuple[slice, slice]:
    (sh, sw), (dh, dw), (oh, ow) = geo.stride, geo.dilation, geo.out
    return slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(
        j * dw, j * dw + sw * (ow - 1) + 1, sw
    )


def _np_pad(x: np.ndarray, geo: Any, value: float = 0.0) -> np.ndarray:
    t, b, left, r = geo.pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (left, r)), constant_values=value)


def _np_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, **kw: Any) -> np.ndarray:
    geo = _geo_of(x, w.shape[2:], kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    g, xp = geo.groups, _np_pad(x, geo)
    n, c = x.shape[:2]
    o = w.shape[0]
    out = np.zeros((n, g, o // g, *geo.out), dtype=np.result_type(x, w))
    xg, wg = xp.reshape(n, g, c // g, *xp.shape[2:]), w.reshape(g, o // g, *w.shape[1:])
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            rs, cs = _offset_slices(geo, i, j)
            out += np.einsum("ngchw,goc->ngohw", xg[..., rs, cs], wg[..., i, j])
    out = out.reshape(n, o, *geo.out)
    return out if b is None else out + b.reshape(-1, 1, 1)


def _np_conv_transpose(g_: np.ndarray, w: np.ndarray, xshape: Shape, **kw: Any) -> np.ndarray:
    x = np.empty(xshape)
    geo = _geo_of(x, w.shape[2:], kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    gr = geo.groups
    n, c = xshape[:2]
    o = w.shape[0]
    dxp = np.zeros((n, gr, c // gr, *_np_pad(x, geo).shape[2:]), dtype=np.result_type(g_, w))
    gg, wg = g_.reshape(n, gr, o // gr, *g_.shape[2:]), w.reshape(gr, o // gr, *w.shape[1:])
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            rs, cs = _offset_slices(geo, i, j)
            dxp[..., rs, cs] += np.einsum("ngohw,goc->ngchw", gg, wg[..., i, j])
    t, left = geo.pads[0], geo.pads[2]
    return dxp.reshape(n, c, *dxp.shape[3:])[..., t : t + xshape[2], left : left + xshape[3]]


def _np_weight_grad(x: np.ndarray, g_: np.ndarray, wshape: Shape, **kw: Any) -> np.ndarray:
    geo = _geo_of(x, wshape[2:], kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    gr, xp = geo.groups, _np_pad(x, geo)
    n, c = x.shape[:2]
    o = wshape[0]
    dw = np.zeros((gr, o // gr, c // gr, *wshape[2:]), dtype=np.result_type(x, g_))
    xg, gg = xp.reshape(n, gr, c // gr, *xp.shape[2:]), g_.reshape(n, gr, o // gr, *g_.shape[2:])
    for i in range(wshape[2]):
        for j in range(wshape[3]):
            rs, cs = _offset_slices(geo, i, j)
            dw[..., i, j] = np.einsum("ngchw,ngohw->goc", xg[..., rs, cs], gg)
    return dw.reshape(wshape)


def _geo_kwargs(kw: dict[str, Any], x_shape: Shape, kernel: Shape) -> Any:
    return _geo_of(
        np.empty(x_shape), kernel, kw["stride"], kw["padding"], kw["dilation"], kw["groups"]
    )


def _transpose_layout() -> Layout:
    """g (shaped like conv2d's output) and w, with the input shape and geometry as kwargs."""

    def pick(
        sk: tuple[tuple[Shape, ...], dict[str, Any]],
    ) -> tuple[tuple[Shape, ...], dict[str, Any]]:
        (xs, ws, _), kw = sk
        geo = _geo_kwargs(kw, xs, ws[2:])
        return ((xs[0], ws[0], *geo.out), ws), {**kw, "xshape": xs}

    return _conv_layout().map(pick)


def _weight_grad_layout() -> Layout:
    def pick(
        sk: tuple[tuple[Shape, ...], dict[str, Any]],
    ) -> tuple[tuple[Shape, ...], dict[str, Any]]:
        (xs, ws, _), kw = sk
        geo = _geo_kwargs(kw, xs, ws[2:])
        return (xs, (xs[0], ws[0], *geo.out)), {**kw, "wshape": ws}

    return _conv_layout().map(pick)


def _apply_transpose(g_: Tensor, w: Tensor, xshape: Shape, **kw: Any) -> Tensor:
    geo = _geo_kwargs(kw, xshape, w.shape[2:])
    return _conv.ConvTranspose2d.apply(g_, w, geo=geo)


def _apply_weight_grad(x: Tensor, g_: Tensor, wshape: Shape, **kw: Any) -> Tensor:
    geo = _geo_kwargs(kw, x.shape, wshape[2:])
    return _conv.ConvWeightGrad.apply(x, g_, wshape=wshape, geo=geo)


@st.composite
def _pool_layout(
    draw: st.DrawFn, dilation: bool = False
) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([None, 1, 2, (2, 1)]))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = draw(st.sampled_from([1, 2])) if dilation else 1
    # with dilation, a window of a small image can hold padding only (max: -inf): avoid it
    ph, pw = padding if d == 1 else (0, 0)
    h = draw(st.integers(max(1, (k[0] - 1) * d + 1 - 2 * ph), (k[0] - 1) * d + 3))
    w = draw(st.integers(max(1, (k[1] - 1) * d + 1 - 2 * pw), (k[1] - 1) * d + 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    kw: dict[str, Any] = {"kernel_size": k, "stride": stride, "padding": padding}
    if dilation:
        kw["dilation"] = d
    return (shape,), kw


def _np_max_pool2d(
    x: np.ndarray, kernel_size: Any, stride: Any, padding: Any, dilation: int = 1
) -> np.ndarray:
    geo = _geo_of(x, kernel_size, kernel_size if stride is None else stride, padding, dilation)
    xp = _np_pad(x, geo, -np.inf)
    out = np.full((*x.shape[:2], *geo.out), -np.inf, dtype=x.dtype)
    for i in range(kernel_size[0]):
        for j in range(kernel_size[1]):
            rs, cs = _offset_slices(geo, i, j)
            out = np.maximum(out, xp[..., rs, cs])
    return out


def _np_avg_pool2d(
    x: np.ndarray, kernel_size: Any, stride: Any, padding: Any, count_include_pad: bool = True
) -> np.ndarray:
    geo = _geo_of(x, kernel_size, kernel_size if stride is None else stride, padding, 1)
    xp, ones = _np_pad(x, geo), _np_pad(np.ones_like(x), geo)
    total = np.zeros((*x.shape[:2], *geo.out), dtype=x.dtype)
    count = np.zeros_like(total)
    for i in range(kernel_size[0]):
        for j in range(kernel_size[1]):
            rs, cs = _offset_slices(geo, i, j)
            total += xp[..., rs, cs]
            count += ones[..., rs, cs]
    return total / (count if not count_include_pad else kernel_size[0] * kernel_size[1])


def _avg_pool_layout() -> Layout:
    return _pool_layout().flatmap(
        lambda sk: st.booleans().map(lambda c: (sk[0], {**sk[1], "count_include_pad": c}))
    )


@st.composite
def _adaptive_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    shape = (
        draw(st.integers(1, 2)),
        draw(st.integers(1, 2)),
        draw(st.integers(1, 5)),
        draw(st.integers(1, 5)),
    )
    size = draw(
        st.one_of(
            st.integers(1, 4), st.tuples(st.one_of(st.none(), st.integers(1, 4)), st.integers(1, 4))
        )
    )
    return (shape,), {"output_size": size}


def _np_adaptive_avg_pool2d(x: np.ndarray, output_size: Any) -> np.ndarray:
    h, w = x.shape[2:]
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    oh, ow = h if oh is None else oh, w if ow is None else ow
    out = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            a, b = (i * h) // oh, -((-(i + 1) * h) // oh)
            c, d = (j * w) // ow, -((-(j + 1) * w) // ow)
            out[..., i, j] = x[..., a:b, c:d].mean(axis=(-2, -1))
    return out


@st.composite
def _window_layout(draw: st.DrawFn, scatter: bool) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    """A pooling geometry and one-hot window positions ``sel`` (as max pooling would pick)."""
    (shape,), kw = draw(_pool_layout(dilation=True))
    k = kw["kernel_size"]
    geo = _geo_of(
        np.empty(shape),
        k,
        k if kw["stride"] is None else kw["stride"],
        kw["padding"],
        kw["dilation"],
    )
    pos = draw(
        hnp.arrays(np.intp, (*shape[:2], *geo.out), elements=st.integers(0, k[0] * k[1] - 1))
    )
    sel = np.arange(k[0] * k[1]).reshape(-1, 1, 1, 1, 1) == pos
    if scatter:
        return ((*shape[:2], *geo.out),), {"sel": sel, "shape": shape, "geo": geo}
    return (shape,), {"sel": sel, "geo": geo}


def _np_window_gather(x: np.ndarray, sel: np.ndarray, geo: Any) -> np.ndarray:
    xp = _np_pad(x, geo)
    out = np.zeros(sel.shape[1:], dtype=x.dtype)
    for k, (i, j) in enumerate(np.ndindex(*geo.kernel)):
        rs, cs = _offset_slices(geo, i, j)
        out += np.where(sel[k], xp[..., rs, cs], 0)
    return out


def _np_window_scatter(g_: np.ndarray, sel: np.ndarray, shape: Shape, geo: Any) -> np.ndarray:
    dxp = np.zeros((*shape[:2], *_np_pad(np.empty(shape), geo).shape[2:]), dtype=g_.dtype)
    for k, (i, j) in enumerate(np.ndindex(*geo.kernel)):
        rs, cs = _offset_slices(geo, i, j)
        dxp[..., rs, cs] += np.where(sel[k], g_, 0)
    t, left = geo.pads[0], geo.pads[2]
    return dxp[..., t : t + shape[2], left : left + shape[3]]


@st.composite
def _norm_layout(draw: st.DrawFn, kind: str) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    shape = tuple(draw(st.lists(st.integers(2, 3), min_size=2, max_size=4)))
    if kind == "layer":
        k = draw(st.integers(1, len(shape) - 1))
        return (shape, shape[-k:], shape[-k:]), {"normalized_shape": shape[-k:]}
    c = shape[1]
    return (shape, (c,), (c,)), {"training": draw(st.booleans())}


_RUNNING = (np.array([0.3, -0.2, 0.1]), np.array([0.5, 1.5, 2.0]))  # eval-mode statistics


def _batch_norm(x: Tensor, w: Tensor, b: Tensor, training: bool) -> Tensor:
    if training:  # (no running statistics: the sweep calls it many times)
        return _F.batch_norm(x, None, None, w, b, training=True)
    c = x.shape[1]
    rm, rv = (Tensor(a[:c].astype(x.dtype)) for a in _RUNNING)
    return _F.batch_norm(x, rm, rv, w, b, training=False)


def _np_batch_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, training: bool) -> np.ndarray:
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    else:
        c = x.shape[1]
        mean, var = (a[:c].reshape(shape) for a in _RUNNING)
    return (x - mean) / np.sqrt(var + 1e-5) * w.reshape(shape) + b.reshape(shape)


def _np_layer_norm(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, normalized_shape: Shape
) -> np.ndarray:
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w + b


def _dropout_layout() -> Layout:
    return _unary(
        lambda s: st.fixed_dictionaries(
            {"p": st.sampled_from([0.0, 0.25, 0.5]), "seed": st.integers(0, 9)}
        )
    )


def _np_dropout(x: np.ndarray, p: float, seed: int) -> np.ndarray:
    if p == 0.0:
        return x
    keep = np.random.default_rng(seed).random(x.shape) >= p
    return x * keep / (1 - p)


def _embedding_layout() -> Layout:
    def pick(s: Shape) -> st.SearchStrategy[tuple[tuple[Shape, ...], dict[str, Any]]]:
        idx = hnp.arrays(np.intp, shapes(1, 2, 1, 4), elements=st.integers(0, s[0] - 1))
        return idx.map(lambda i: ((s,), {"indices": i}))

    return shapes(2, 2, 1, MAX_SIDE).flatmap(pick)


OP_TABLE += [
    _row(
        "conv2d",
        lambda x, w, b, **kw: _F.conv2d(x, w, b, **kw),
        _np_conv2d,
        ["nn.conv.conv2d", "nn.conv.Conv2d"],
        arity=3,
        layout=_conv_layout(),
        fwd_atol=1e-10,
    ),
    _row(
        "conv_transpose2d",
        _apply_transpose,
        _np_conv_transpose,
        ["nn.conv.ConvTranspose2d"],
        arity=2,
        layout=_transpose_layout(),
        fwd_atol=1e-10,
    ),
    _row(
        "conv_weight_grad",
        _apply_weight_grad,
        _np_weight_grad,
        ["nn.conv.ConvWeightGrad"],
        arity=2,
        layout=_weight_grad_layout(),
        fwd_atol=1e-10,
    ),
    _row(
        "max_pool2d",
        lambda x, **kw: _F.max_pool2d(x, **kw),
        _np_max_pool2d,
        ["nn.pooling.max_pool2d", "nn.pooling.MaxPool2d"],
        layout=_pool_layout(dilation=True),
        distinct=True,
    ),
    _row(
        "window_gather",
        lambda x, **kw: _pooling.WindowGather.apply(x, **kw),
        _np_window_gather,
        ["nn.pooling.WindowGather"],
        layout=_window_layout(scatter=False),
    ),
    _row(
        "window_scatter",
        lambda g_, **kw: _pooling.WindowScatter.apply(g_, **kw),
        _np_window_scatter,
        ["nn.pooling.WindowScatter"],
        layout=_window_layout(scatter=True),
    ),
    _row(
        "avg_pool2d",
        lambda x, **kw: _F.avg_pool2d(x, **kw),
        _np_avg_pool2d,
        ["nn.pooling.avg_pool2d"],
        layout=_avg_pool_layout(),
    ),
    _row(
        "adaptive_avg_pool2d",
        lambda x, **kw: _F.adaptive_avg_pool2d(x, **kw),
        _np_adaptive_avg_pool2d,
        ["nn.pooling.adaptive_avg_pool2d"],
        layout=_adaptive_layout(),
    ),
    _row(
        "batch_norm",
        _batch_norm,
        _np_batch_norm,
        ["nn.normalization.batch_norm"],
        arity=3,
        layout=_norm_layout("batch"),
        fwd_atol=1e-10,
        # float32: dividing by sqrt(var + 1e-5) magnifies the rounding of x - mean by up to
        # ~300x when a group is nearly constant (hypothesis finds such groups)
        f32_atol=1e-3,
    ),
    _row(
        "layer_norm",
        lambda x, w, b, normalized_shape: _F.layer_norm(x, normalized_shape, w, b),
        _np_layer_norm,
        ["nn.normalization.layer_norm"],
        arity=3,
        layout=_norm_layout("layer"),
        fwd_atol=1e-10,
        # float32: dividing by sqrt(var + 1e-5) magnifies the rounding of x - mean by up to
        # ~300x when a group is nearly constant (hypothesis finds such groups)
        f32_atol=1e-3,
    ),
    _row(
        "dropout",
        lambda x, p, seed: _normalization.dropout(x, p, True, seed),
        _np_dropout,
        ["nn.normalization.dropout"],
        layout=_dropout_layout(),
    ),
    _row(
        "embedding",
        lambda w, indices: _normalization.embedding(indices, w),
        lambda w, indices: w[indices],
        ["nn.normalization.embedding"],
        layout=_embedding_layout(),
    ),
]


# the ops of issue 16, in their own module (this one only defines what they need first)
from op_table_breadth import BREADTH_ROWS  # noqa: E402

OP_TABLE += BREADTH_ROWS


# --------------------------------------------------------------------------- coverage
# Public Tensor methods that return a Tensor but are not ops of the graph; everything else
# that returns a Tensor needs a row above.
NON_OP_METHODS: dict[str, str] = {
    "detach": "returns a new leaf sharing data: cuts the graph, nothing to differentiate",
    "requires_grad_": "sets a flag on a leaf and returns self",
    "zero_": "in-place fill outside the graph (refused on tensors requiring grad)",
    "fill_": "in-place fill outside the graph",
    "copy_": "in-place copy outside the graph",
    "add_": "in-place update outside the graph (optimizers)",
    "mul_": "in-place update outside the graph (optimizers)",
    "__iadd__": "in-place update outside the graph (under no_grad; tests/test_habits.py)",
    "__isub__": "in-place update outside the graph (under no_grad; tests/test_habits.py)",
    "__imul__": "in-place update outside the graph (under no_grad; tests/test_habits.py)",
    "__itruediv__": "in-place update outside the graph (under no_grad; tests/test_habits.py)",
    "argmax": "integer indices without a gradient (tests/test_habits.py)",
    "argmin": "integer indices without a gradient (tests/test_habits.py)",
}


def _returns_tensor(obj: Any) -> bool:
    if isinstance(obj, property):
        obj = obj.fget
    if not callable(obj):
        return False
    try:
        ann = inspect.signature(obj).return_annotation
    except (TypeError, ValueError):
        return False
    return ann in ("Tensor", Tensor)


def public_tensor_ops() -> set[str]:
    """``Tensor.<name>`` for each public method/property (dunders included) returning a
    Tensor, minus ``NON_OP_METHODS``."""
    names = set()
    members: dict[str, object] = {}
    for klass in reversed(Tensor.__mro__[:-1]):  # Tensor and its bases, Tensor's own last
        members.update(vars(klass))
    for name, obj in members.items():
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue
        if _returns_tensor(obj):
            names.add(name)
    return {f"Tensor.{n}" for n in names - set(NON_OP_METHODS)}


def required_names() -> set[str]:
    """Everything the table must cover: ``ops.__all__`` classes, public Tensor ops, the
    op functions ``tinygrad_bp`` exports from ``tinygrad_bp.engine.ops``, and the ops of
    ``tinygrad_bp.nn.conv`` and ``tinygrad_bp.nn.normalization``."""
    names = {f"ops.{n}" for n in ops.__all__}
    names |= public_tensor_ops()
    names |= {
        f"tg.{n}"
        for n in tg.__all__
        if getattr(getattr(tg, n), "__module__", "").startswith(ops.__name__)
    }
    names |= {f"nn.conv.{n}" for n in _conv.__all__}  # the convolutional layers' ops
    names |= {f"nn.pooling.{n}" for n in _pooling.__all__}
    names |= {f"nn.normalization.{n}" for n in _normalization.__all__}
    return names


def covered_names() -> set[str]:
    return {c for spec in OP_TABLE for c in spec.covers}
