"""Op-table rows for the ops of issue 16 (appended to ``op_table.OP_TABLE``; same sweep).

Rows of ops that exist as a Tensor method and as a ``tg`` function draw ``form`` ("method" or
"function") as a keyword argument, so the sweep runs both through the same checks.
Import ``op_table`` (which appends these rows), not this module: it builds on op_table's
helpers, so op_table must be initialised first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_table import (
    MAX_SIDE,
    Layout,
    OpSpec,
    _one,
    _pairs,
    _reduce_kwargs,
    _row,
    _unary,
    _with,
)

import tinygrad_bp as tg
from tinygrad_bp.engine import ops
from tinygrad_bp.testing import Shape, axes, shapes

FORMS = st.sampled_from(["method", "function"])


def _both(method: str, function: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """fn(*xs, form, **kw): ``xs[0].<method>(*xs[1:], **kw)`` or ``tg.<method>(*xs, **kw)``."""
    fn = function or getattr(tg, method)

    def call(*xs: Any, form: str, **kw: Any) -> Any:
        return getattr(xs[0], method)(*xs[1:], **kw) if form == "method" else fn(*xs, **kw)

    return call


def _ref(f: Callable[..., Any]) -> Callable[..., Any]:
    """A numpy reference that ignores ``form``."""
    return lambda *xs, form, **kw: f(*xs, **kw)


def _k(**strategies: Any) -> Callable[[Shape], st.SearchStrategy[dict[str, Any]]]:
    """Keyword strategies (plus ``form``) that do not depend on the shape."""
    return lambda _: st.fixed_dictionaries({"form": FORMS, **strategies})


def _unary_forms(**strategies: Any) -> Layout:
    return _unary(_k(**strategies))


def _binary_forms() -> Layout:
    return _with(_pairs(), lambda _: st.fixed_dictionaries({"form": FORMS}))


def _ufunc_row(name: str, ref: Any, domain: Any = "real", **kw: Any) -> OpSpec:
    op = {"log1p": "Log1p", "log2": "Log2", "log10": "Log10", "expm1": "Expm1"}.get(
        name, name.capitalize()
    )
    return _row(
        name,
        _both(name),
        _ref(ref),
        [f"Tensor.{name}", f"tg.{name}", f"ops.{op}"],
        layout=_unary_forms(),
        domains=(domain,),
        **kw,
    )


# --------------------------------------------------------------------------- layouts
def _axis_or_none(s: Shape) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.integers(-len(s), len(s) - 1)) if s else st.none()


def _scan_layout() -> Layout:
    return _unary(lambda s: st.fixed_dictionaries({"axis": _axis_or_none(s)}))


@st.composite
def _std_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(shapes(1, 3, 2, MAX_SIDE))  # >= 2 elements per reduction: no zero deviation
    ax = draw(axes(len(s), allow_empty=False))
    return (s,), {
        "axis": ax,
        "keepdims": draw(st.booleans()),
        "ddof": draw(st.sampled_from([0, 1])),
        "form": draw(FORMS),
    }


@st.composite
def _norm_vector_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(_one(1))
    axis = None if len(s) == 1 and draw(st.booleans()) else draw(st.integers(-len(s), len(s) - 1))
    ords = [None, 2, 1, 3, 1.5] if axis is not None or len(s) == 1 else [None]
    return (s,), {
        "ord": draw(st.sampled_from(ords)),
        "axis": axis,
        "keepdims": draw(st.booleans()),
        "form": draw(FORMS),
    }


@st.composite
def _norm_inf_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(_one(1))
    return (s,), {
        "ord": draw(st.sampled_from([math.inf, -math.inf])),
        "axis": draw(st.integers(-len(s), len(s) - 1)),
        "keepdims": draw(st.booleans()),
        "form": draw(FORMS),
    }


@st.composite
def _norm_matrix_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(_one(2))
    pair = tuple(draw(st.permutations(range(len(s))))[:2])
    pair = tuple(a - len(s) if draw(st.booleans()) else a for a in pair)
    return (s,), {
        "ord": draw(st.sampled_from([None, "fro", 2])),
        "axis": pair,
        "keepdims": draw(st.booleans()),
        "form": draw(FORMS),
    }


_SPREAD = np.array([3.0, 6.0, 9.0])  # added to the diagonal: singular values far apart


def _spread(n: int, m: int) -> np.ndarray:
    d = np.zeros((n, m))
    k = min(n, m)
    d[range(k), range(k)] = _SPREAD[:k]
    return d


def _flip_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": axes(len(s), allow_empty=True), "form": FORMS})


def _rot90_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    pair = st.permutations(range(len(s))).map(lambda p: tuple(p[:2]))
    return st.fixed_dictionaries({"k": st.integers(-1, 4), "axes": pair, "form": FORMS})


@st.composite
def _roll_kwargs(draw: st.DrawFn, s: Shape) -> dict[str, Any]:
    if not s or draw(st.booleans()):
        return {"shift": draw(st.integers(-4, 4)), "axis": None, "form": draw(FORMS)}
    ax = draw(hnp.valid_tuple_axes(len(s), min_size=1))
    shift = tuple(draw(st.integers(-4, 4)) for _ in ax)
    if len(ax) == 1 and draw(st.booleans()):
        return {"shift": shift[0], "axis": ax[0], "form": draw(FORMS)}
    return {"shift": shift, "axis": ax, "form": draw(FORMS)}


@st.composite
def _repeat_kwargs(draw: st.DrawFn, s: Shape) -> dict[str, Any]:
    if not s or draw(st.booleans()):
        return {"repeats": draw(st.integers(1, 3)), "axis": None, "form": draw(FORMS)}
    ax = draw(st.integers(-len(s), len(s) - 1))
    per = st.lists(st.integers(0, 3), min_size=s[ax], max_size=s[ax])
    return {"repeats": draw(st.one_of(st.integers(1, 3), per)), "axis": ax, "form": draw(FORMS)}


def _tile_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    reps = st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), max_size=3).map(tuple))
    return st.fixed_dictionaries({"reps": reps, "form": FORMS})


@st.composite
def _pad_kwargs(draw: st.DrawFn, s: Shape) -> dict[str, Any]:
    mode = draw(st.sampled_from(["constant", "reflect", "symmetric", "edge", "wrap"]))
    w = st.integers(0, 2)
    width = draw(
        st.one_of(
            w,
            st.tuples(w, w),
            st.tuples(*[st.tuples(w, w) for _ in s]) if s else st.just(()),
        )
    )
    if s == () and width == ():
        width = 0
    value = draw(st.sampled_from([0.0, 1.5])) if mode == "constant" else 0.0
    return {"pad_width": width, "mode": mode, "value": value, "form": draw(FORMS)}


def _np_pad(x: np.ndarray, pad_width: Any, mode: str, value: float) -> np.ndarray:
    if mode == "constant":
        return np.pad(x, pad_width, mode="constant", constant_values=value)
    return np.pad(x, pad_width, mode=mode)  # type: ignore[call-overload, no-any-return]


def _tri_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"k": st.integers(-2, 2), "form": FORMS})


def _diagonal_kwargs(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
    pair = st.permutations(range(len(s))).map(lambda p: tuple(p[:2]))
    return st.tuples(pair, st.integers(-2, 2), FORMS).map(
        lambda t: {"axis1": t[0][0], "axis2": t[0][1], "offset": t[1], "form": t[2]}
    )


@st.composite
def _diag_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(shapes(1, 2, 1, MAX_SIDE))
    return (s,), {"k": draw(st.integers(-2, 2)), "form": draw(FORMS)}


@st.composite
def _split_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = list(draw(_one(1)))
    ax = draw(st.integers(-len(s), len(s) - 1))
    n = s[ax]
    if draw(st.booleans()):
        parts = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
        return (tuple(s),), {"sections": parts, "axis": ax, "form": draw(FORMS)}
    cuts = sorted(draw(st.lists(st.integers(0, n + 1), max_size=3)))
    return (tuple(s),), {"sections": cuts, "axis": ax, "form": draw(FORMS)}


def _joined(parts: list[Any]) -> Any:
    """The parts joined again, each scaled by its position (a wrong cut changes the result)."""
    scaled = [p * float(i + 1) for i, p in enumerate(parts)]
    if isinstance(parts[0], np.ndarray):
        return np.concatenate([p.reshape(-1) for p in scaled])
    return tg.concatenate([p.reshape(-1) for p in scaled])


@st.composite
def _chunk_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(_one(1))
    return (s,), {
        "chunks": draw(st.integers(1, 4)),
        "axis": draw(st.integers(-len(s), len(s) - 1)),
        "form": draw(FORMS),
    }


def _np_chunk(x: np.ndarray, chunks: int, axis: int) -> list[np.ndarray]:
    n = x.shape[axis]
    size = max(-(-n // chunks), 1)
    return np.split(x, list(range(size, n, size)), axis=axis)


@st.composite
def _along_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(_one(1))
    ax = draw(st.integers(-len(s), len(s) - 1))
    ishape = tuple(
        draw(st.integers(1, MAX_SIDE)) if i == ax % len(s) else draw(st.sampled_from([1, n]))
        for i, n in enumerate(s)
    )
    idx = draw(hnp.arrays(np.intp, ishape, elements=st.integers(-s[ax], s[ax] - 1)))
    return (s,), {"indices": idx, "axis": ax}


@st.composite
def _scatter_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(_one(1))
    ax = draw(st.integers(-len(s), len(s) - 1))
    ishape = tuple(
        draw(st.integers(1, MAX_SIDE)) if i == ax % len(s) else draw(st.integers(1, n))
        for i, n in enumerate(s)
    )
    idx = draw(hnp.arrays(np.intp, ishape, elements=st.integers(0, s[ax] - 1)))
    return (s, ishape), {"axis": ax, "index": idx}


def _np_scatter_add(x: np.ndarray, src: np.ndarray, axis: int, index: np.ndarray) -> np.ndarray:
    out = x.copy()
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index
    np.add.at(out, tuple(grid), src)
    return out


@st.composite
def _linspace_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    s = draw(shapes(0, 2, 1, MAX_SIDE))
    return (s, s), {"num": draw(st.integers(1, 5)), "endpoint": draw(st.booleans())}


@st.composite
def _tensordot_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    k = draw(st.integers(0, 2))
    shared = [draw(st.integers(1, MAX_SIDE)) for _ in range(k)]
    lx = [draw(st.integers(1, MAX_SIDE)) for _ in range(draw(st.integers(0, 2)))]
    ry = [draw(st.integers(1, MAX_SIDE)) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        return (tuple(lx + shared), tuple(shared + ry)), {"axes": k}
    px = draw(st.permutations(range(len(lx) + k)))  # shuffle x's axes: pairs by position
    xs = [*lx, *shared]
    x_shape = tuple(xs[i] for i in px)
    ax = [px.index(len(lx) + j) for j in range(k)]
    return (x_shape, tuple(shared + ry)), {"axes": (ax, list(range(k)))}


# einsum: (subscripts, operand shapes as letter strings) templates, sizes drawn per letter
_EINSUM = [
    ("ij,jk->ik", ["ij", "jk"]),
    ("ij,jk", ["ij", "jk"]),
    ("bij,bjk->bik", ["bij", "bjk"]),
    ("i,i->", ["i", "i"]),
    ("i,j->ij", ["i", "j"]),
    ("ii->i", ["ii"]),
    ("ii", ["ii"]),
    ("bii->b", ["bii"]),
    ("ij->ji", ["ij"]),
    ("ijk->kj", ["ijk"]),
    ("...ij,...jk->...ik", ["bij", "jk"]),
    ("...j,j->...", ["bcj", "j"]),
    ("ij,ij->i", ["ij", "ij"]),
    ("ij,jk,kl->il", ["ij", "jk", "kl"]),
    ("iij,jk->ik", ["iij", "jk"]),
    ("bi,bj->bij", ["bi", "bj"]),
]


@st.composite
def _einsum_layout(draw: st.DrawFn) -> tuple[tuple[Shape, ...], dict[str, Any]]:
    subs, terms = draw(st.sampled_from(_EINSUM))
    size = {c: draw(st.integers(1, MAX_SIDE)) for c in "".join(terms)}
    shs = [tuple(size[c] for c in t) for t in terms]
    if subs.startswith("...") and draw(st.booleans()):
        shs[0] = (1, *shs[0][1:])  # a size-1 batch axis broadcasts
    return tuple(shs), {"subscripts": subs}


# --------------------------------------------------------------------------- rows
def _np_hardswish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3, 0, 6) / 6


def _np_softplus(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    return np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


def _np_gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    erf = np.vectorize(math.erf, otypes=[x.dtype])
    return 0.5 * x * (1 + erf(x / math.sqrt(2))) if x.size else x.copy()


def _np_erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


def _np_norm(x: np.ndarray, ord: Any, axis: Any, keepdims: bool) -> np.ndarray:
    return np.asarray(np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims))


def _mod_layout() -> Layout:
    """x % 1.5 (the row keeps x away from the multiples of 1.5, where x % c steps)."""
    return _unary(lambda s: st.fixed_dictionaries({"c": st.just(1.5)}))


def _rmod_layout() -> Layout:
    def kw(s: Shape) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({"c": st.floats(0.1, 0.9)})  # c / x in (0.05, 0.9)

    return _unary(kw)


BREADTH_ROWS: list[OpSpec] = [
    # ---- elementwise: values vs numpy, in domains away from poles
    _ufunc_row("sin", np.sin),
    _ufunc_row("cos", np.cos),
    _ufunc_row("tan", np.tan, (-1.2, 1.2)),
    _ufunc_row("arcsin", np.arcsin, "unit", atol=1e-4),
    _ufunc_row("arccos", np.arccos, "unit", atol=1e-4),
    _ufunc_row("arctan", np.arctan),
    _ufunc_row("sinh", np.sinh),
    _ufunc_row("cosh", np.cosh),
    _ufunc_row("log1p", np.log1p, (-0.9, 3.0)),
    _ufunc_row("expm1", np.expm1),
    _ufunc_row("log2", np.log2, "positive"),
    _ufunc_row("log10", np.log10, "positive"),
    _ufunc_row("erf", _np_erf),
    _row(
        "sign",
        _both("sign"),
        _ref(np.sign),
        ["Tensor.sign", "tg.sign", "ops.Sign"],
        layout=_unary_forms(),
        away_from=0.0,
    ),
    _row(
        "arctan2",
        _both("arctan2"),
        _ref(np.arctan2),
        ["Tensor.arctan2", "tg.arctan2", "ops.Arctan2"],
        arity=2,
        layout=_binary_forms(),
        domains=("nonzero", "real"),  # y != 0: away from the branch cut and the origin
    ),
    _row(
        "hypot",
        _both("hypot"),
        _ref(np.hypot),
        ["Tensor.hypot", "tg.hypot", "ops.Hypot"],
        arity=2,
        layout=_binary_forms(),
        domains=("nonzero", "real"),
    ),
    _row(
        "mod",
        _both("mod"),
        _ref(np.mod),
        ["Tensor.mod", "tg.mod", "ops.Mod"],
        arity=2,
        layout=_binary_forms(),
        domains=((0.1, 0.9), (1.0, 2.0)),  # x / y in (0.05, 0.9): no step
    ),
    _row(
        "mod negative",
        lambda x, y: x % y,
        np.mod,
        [],
        arity=2,
        domains=((-0.9, -0.1), (1.0, 2.0)),  # x / y in (-0.9, -0.05): floor -1
    ),
    _row(
        "__mod__",
        lambda x, c: x % c,
        lambda x, c: np.mod(x, c),
        ["Tensor.__mod__"],
        layout=_mod_layout(),
        away_from=[-3.0, -1.5, 0.0, 1.5, 3.0],
    ),
    _row(
        "__rmod__",
        lambda x, c: c % x,
        lambda x, c: np.mod(c, x),
        ["Tensor.__rmod__"],
        layout=_rmod_layout(),
        domains=((1.0, 2.0),),
    ),
    # ---- activations, away from their kinks
    _row(
        "leaky_relu",
        _both("leaky_relu"),
        _ref(lambda x, negative_slope: np.where(x > 0, x, negative_slope * x)),
        ["Tensor.leaky_relu", "tg.leaky_relu", "ops.LeakyRelu"],
        layout=_unary_forms(negative_slope=st.sampled_from([0.01, 0.2])),
        away_from=0.0,
    ),
    _row(
        "relu6",
        _both("relu6"),
        _ref(lambda x: np.clip(x, 0, 6)),
        ["Tensor.relu6", "tg.relu6"],
        layout=_unary_forms(),
        domains=((-2.0, 8.0),),
        away_from=[0.0, 6.0],
    ),
    _row(
        "hardtanh",
        _both("hardtanh"),
        _ref(lambda x, min_val, max_val: np.clip(x, min_val, max_val)),
        ["Tensor.hardtanh", "tg.hardtanh", "ops.Hardtanh"],
        layout=_unary_forms(
            min_val=st.sampled_from([-1.0, -0.5]), max_val=st.sampled_from([1.0, 2.0])
        ),
        away_from=lambda kw: [kw["min_val"], kw["max_val"]],
    ),
    _row(
        "elu",
        _both("elu"),
        _ref(lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))),
        ["Tensor.elu", "tg.elu", "ops.Elu"],
        layout=_unary_forms(alpha=st.sampled_from([1.0, 0.5])),
        away_from=0.0,
    ),
    _row(
        "softplus",
        _both("softplus"),
        _ref(_np_softplus),
        ["Tensor.softplus", "tg.softplus", "ops.Softplus"],
        layout=_unary_forms(
            beta=st.sampled_from([1.0, 2.0]), threshold=st.sampled_from([20.0, 1.5])
        ),
        away_from=lambda kw: kw["threshold"] / kw["beta"],
    ),
    _row(
        "silu",
        _both("silu"),
        _ref(lambda x: x / (1 + np.exp(-x))),
        ["Tensor.silu", "tg.silu"],
        layout=_unary_forms(),
    ),
    _row(
        "mish",
        _both("mish"),
        _ref(lambda x: x * np.tanh(np.logaddexp(0, x))),
        ["Tensor.mish", "tg.mish"],
        layout=_unary_forms(),
    ),
    _row(
        "gelu",
        _both("gelu"),
        _ref(_np_gelu),
        ["Tensor.gelu", "tg.gelu"],
        layout=_unary_forms(approximate=st.sampled_from(["none", "tanh"])),
    ),
    _row(
        "hardswish",
        _both("hardswish"),
        _ref(_np_hardswish),
        ["Tensor.hardswish", "tg.hardswish"],
        layout=_unary_forms(),
        domains=((-4.0, 4.0),),
        away_from=[-3.0, 3.0],
    ),
    # ---- products, scans, norms
    _row(
        "prod",
        lambda x, axis, keepdims: x.prod(axis, keepdims),
        np.prod,
        ["Tensor.prod", "ops.Prod"],
        layout=_reduce_kwargs(),
    ),
    _row(
        "cumsum",
        lambda x, axis: x.cumsum(axis),
        lambda x, axis: np.cumsum(x, axis),
        ["Tensor.cumsum", "ops.CumSum"],
        layout=_scan_layout(),
    ),
    _row(
        "cumprod",
        lambda x, axis: x.cumprod(axis),
        lambda x, axis: np.cumprod(x, axis),
        ["Tensor.cumprod", "ops.CumProd"],
        layout=_scan_layout(),
    ),
    _row(
        "std",
        _both("std"),
        _ref(lambda x, axis, keepdims, ddof: np.std(x, axis=axis, keepdims=keepdims, ddof=ddof)),
        ["Tensor.std", "tg.std"],
        layout=_std_layout(),
        distinct=True,
    ),
    _row(
        "norm",
        _both("norm"),
        _ref(_np_norm),
        ["Tensor.norm", "tg.norm", "ops.Norm2"],
        layout=_norm_vector_layout(),
        domains=("nonzero",),
    ),
    _row(
        "norm inf",
        _both("norm"),
        _ref(_np_norm),
        [],
        layout=_norm_inf_layout(),
        domains=("positive",),
        distinct=True,  # no ties for the max
    ),
    _row(
        "norm matrix",
        _both("norm"),
        _ref(_np_norm),
        [],
        layout=_norm_matrix_layout(),
        domains=("positive",),  # positive matrices: the largest singular value is simple
        twice_differentiable=False,  # ord=2 goes through svdvals (once differentiable)
        f32_rtol=1e-3,
    ),
    _row(
        "Svdvals.apply",
        lambda x: ops.Svdvals.apply(x + _spread(*x.shape).astype(x.dtype)),
        lambda x: np.linalg.svd(x + _spread(*x.shape), compute_uv=False),
        ["ops.Svdvals"],
        layout=_with(shapes(2, 2, 1, MAX_SIDE).map(lambda s: (s,))),
        domains=((-0.3, 0.3),),  # + diag(3, 6, 9): distinct singular values
        twice_differentiable=False,
        f32_rtol=1e-3,
    ),
    # ---- rearranging
    _row(
        "ravel", _both("ravel"), _ref(np.ravel), ["Tensor.ravel", "tg.ravel"], layout=_unary_forms()
    ),
    _row(
        "flip",
        lambda x, axis, form: x.flip(axis),
        lambda x, axis, form: np.flip(x, axis),
        ["Tensor.flip", "ops.Flip"],
        layout=_unary(_flip_kwargs),
    ),
    _row("flipud", lambda x: x.flipud(), np.flipud, ["Tensor.flipud"], layout=_unary(min_dims=1)),
    _row("fliplr", lambda x: x.fliplr(), np.fliplr, ["Tensor.fliplr"], layout=_unary(min_dims=2)),
    _row(
        "rot90",
        _both("rot90"),
        _ref(np.rot90),
        ["Tensor.rot90", "tg.rot90"],
        layout=_unary(_rot90_kwargs, min_dims=2),
    ),
    _row(
        "roll",
        lambda x, shift, axis, form: x.roll(shift, axis),
        lambda x, shift, axis, form: np.roll(x, shift, axis),
        ["Tensor.roll", "ops.Roll"],
        layout=_unary(_roll_kwargs),
    ),
    _row(
        "repeat",
        _both("repeat"),
        _ref(np.repeat),
        ["Tensor.repeat", "tg.repeat"],
        layout=_unary(_repeat_kwargs),
    ),
    _row(
        "tile",
        _both("tile"),
        _ref(np.tile),
        ["Tensor.tile", "tg.tile"],
        layout=_unary(_tile_kwargs),
    ),
    _row(
        "pad",
        _both("pad"),
        _ref(_np_pad),
        ["Tensor.pad", "tg.pad", "ops.Pad"],
        layout=_unary(_pad_kwargs),
    ),
    _row(
        "triu",
        _both("triu"),
        _ref(np.triu),
        ["Tensor.triu", "tg.triu"],
        layout=_unary(_tri_kwargs, 2),
    ),
    _row(
        "tril",
        _both("tril"),
        _ref(np.tril),
        ["Tensor.tril", "tg.tril"],
        layout=_unary(_tri_kwargs, 2),
    ),
    _row(
        "diagonal",
        _both("diagonal"),
        _ref(np.diagonal),
        ["Tensor.diagonal", "tg.diagonal"],
        layout=_unary(_diagonal_kwargs, 2),
    ),
    _row(
        "trace",
        _both("trace"),
        _ref(np.trace),
        ["Tensor.trace", "tg.trace"],
        layout=_unary(_diagonal_kwargs, 2),
    ),
    _row(
        "diag",
        lambda x, k, form: tg.diag(x, k),
        lambda x, k, form: np.diag(x, k),
        ["tg.diag"],
        layout=_diag_layout(),
    ),
    _row(
        "split",
        lambda x, sections, axis, form: _joined(
            x.split(sections, axis) if form == "method" else tg.split(x, sections, axis)
        ),
        lambda x, sections, axis, form: _joined(np.split(x, sections, axis)),
        ["tg.split"],
        layout=_split_layout(),
    ),
    _row(
        "chunk",
        lambda x, chunks, axis, form: _joined(
            x.chunk(chunks, axis) if form == "method" else tg.chunk(x, chunks, axis)
        ),
        lambda x, chunks, axis, form: _joined(_np_chunk(x, chunks, axis)),
        ["tg.chunk"],
        layout=_chunk_layout(),
    ),
    _row(
        "take_along_axis",
        lambda x, indices, axis: x.take_along_axis(indices, axis),
        lambda x, indices, axis: np.take_along_axis(x, indices, axis),
        ["Tensor.take_along_axis"],
        layout=_along_layout(),
    ),
    _row(
        "tg.take_along_axis",
        lambda x, indices, axis: tg.take_along_axis(x, indices, axis),
        lambda x, indices, axis: np.take_along_axis(x, indices, axis),
        ["tg.take_along_axis"],
        layout=_along_layout(),
    ),
    _row(
        "gather",
        lambda x, indices, axis: x.gather(axis, indices),
        lambda x, indices, axis: np.take_along_axis(x, indices, axis),
        ["Tensor.gather"],
        layout=_along_layout(),
    ),
    _row(
        "scatter_add",
        lambda x, src, axis, index: x.scatter_add(axis, index, src),
        _np_scatter_add,
        ["Tensor.scatter_add"],
        layout=_scatter_layout(),
    ),
    _row(
        "tg.scatter_add",
        lambda x, src, axis, index: tg.scatter_add(x, axis, index, src),
        _np_scatter_add,
        ["tg.scatter_add"],
        layout=_scatter_layout(),
    ),
    _row(
        "linspace",
        lambda a, b, num, endpoint: tg.linspace(a, b, num, endpoint),
        lambda a, b, num, endpoint: np.linspace(a, b, num, endpoint),
        ["tg.linspace"],
        layout=_linspace_layout(),
        fwd_atol=1e-15,
    ),
    # ---- linear algebra
    _row(
        "outer",
        lambda x, y: tg.outer(x, y),
        np.outer,
        ["tg.outer"],
        arity=2,
        layout=_with(st.tuples(_one(), _one())),
    ),
    _row(
        "tensordot",
        lambda x, y, axes: tg.tensordot(x, y, axes),
        lambda x, y, axes: np.tensordot(x, y, axes),
        ["tg.tensordot"],
        arity=2,
        layout=_tensordot_layout(),
    ),
    _row(
        "einsum",
        lambda *xs, subscripts: tg.einsum(subscripts, *xs),
        lambda *xs, subscripts: np.einsum(subscripts, *xs),
        ["tg.einsum"],
        arity=0,
        layout=_einsum_layout(),
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
            ("ne", lambda x, y: x.ne(y), np.not_equal),
            ("lt", lambda x, y: x.lt(y), np.less),
            ("le", lambda x, y: x.le(y), np.less_equal),
            ("gt", lambda x, y: x.gt(y), np.greater),
            ("ge", lambda x, y: x.ge(y), np.greater_equal),
        ]
    ],
]
