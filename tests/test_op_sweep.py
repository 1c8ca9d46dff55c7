"""One hypothesis sweep over the op table (forward vs numpy, gradcheck, gradgradcheck, float32
stays float32), the coverage meta-test, and example tests for what the sweep avoids: kinks,
ties, huge logits, 1-D matmul, list inputs, cross-dtype casts."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_table import (
    NON_OP_METHODS,
    OP_TABLE,
    OpSpec,
    cast_case,
    covered_names,
    public_tensor_ops,
    required_names,
)

import tinygrad_bp as tg
from tinygrad_bp.engine import ops
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.testing import (
    assert_gradients_match,
    assert_matches_numpy,
    assert_second_order_match,
)

ROWS = [pytest.param(s, marks=s.marks, id=s.name) for s in OP_TABLE]


def _bind(spec: OpSpec, kwargs: dict[str, Any], fn: Any = None) -> Any:
    f = spec.fn if fn is None else fn

    def call(*xs: Any) -> Any:
        return f(*xs, **kwargs)

    call.__qualname__ = spec.name
    return call


def _check_float32(spec: OpSpec, case64: Any) -> None:
    """float32 in -> float32 out (and float32 grads), values close to the float64 reference
    computed on the same (float32-rounded) inputs."""
    case = cast_case(case64, np.float32)
    up = cast_case(case, np.float64)
    ref64 = np.asarray(spec.reference(*up.arrays, **up.kwargs))
    xs = [tg.from_numpy(a, requires_grad=spec.differentiable) for a in case.arrays]
    out = spec.fn(*xs, **case.kwargs)
    if spec.keeps_dtype:
        assert out.dtype == np.float32, f"{spec.name}: float32 inputs gave {out.dtype}"
    if out.dtype.kind == "f":
        np.testing.assert_allclose(out.data, ref64, rtol=spec.f32_rtol, atol=spec.f32_atol)
    else:
        np.testing.assert_array_equal(out.data, ref64)
    if spec.differentiable:
        up = np.ones(out.shape, dtype=out.dtype)
        up.flags.writeable = False
        out.backward(up)
        for i, x in enumerate(xs):
            assert x.grad is not None, f"{spec.name}: input {i} got no gradient"
            assert x.grad.dtype == np.float32, f"{spec.name}: input {i} grad is {x.grad.dtype}"
            assert x.grad.shape == x.shape
            assert np.isfinite(x.grad.data).all()


@pytest.mark.parametrize("spec", ROWS)
@given(data=st.data())
def test_op_sweep(spec: OpSpec, data: st.DataObject) -> None:
    """Forward against numpy (rtol 1e-7 in float64), gradcheck, gradgradcheck where twice
    differentiable, and float32 in -> float32 out, on read-only inputs."""
    case = data.draw(spec.inputs(np.float64), label="case")
    kw = case.kwargs
    assert_matches_numpy(
        _bind(spec, kw),
        _bind(spec, kw, spec.reference),
        *case.arrays,
        rtol=1e-7,
        atol=spec.fwd_atol,
    )
    if spec.differentiable:
        xs = [Tensor(a, requires_grad=True) for a in case.arrays]
        assert_gradients_match(_bind(spec, kw), *xs, atol=spec.atol, rtol=spec.rtol)
        if spec.twice_differentiable:
            assert_second_order_match(_bind(spec, kw), *xs, atol=spec.atol, rtol=spec.rtol)
    else:
        out = spec.fn(*[Tensor(a, requires_grad=True) for a in case.arrays], **kw)
        assert not out.requires_grad and out.grad_fn is None
    _check_float32(spec, case)


def test_op_table_covers_every_public_op() -> None:
    """Every op in ops.__all__, every public Tensor method returning a Tensor and every op
    function of tinygrad_bp has a row (adding an op means adding a row)."""
    missing = required_names() - covered_names()
    assert not missing, f"ops without a row in tests/op_table.py: {sorted(missing)}"
    stale = covered_names() - required_names()
    assert not stale, f"rows cover names that are not public ops (renamed?): {sorted(stale)}"
    gone = {f"Tensor.{n}" for n in NON_OP_METHODS} - {f"Tensor.{n}" for n in dir(Tensor)}
    assert not gone, f"NON_OP_METHODS lists methods Tensor no longer has: {sorted(gone)}"


def test_op_table_meta_test_sees_tensor_ops() -> None:
    """The introspection finds the obvious ones (so the meta-test above can fail)."""
    found = public_tensor_ops()
    for name in ["Tensor.exp", "Tensor.__add__", "Tensor.__rmatmul__", "Tensor.T", "Tensor.sum"]:
        assert name in found
    assert "Tensor.detach" not in found and "Tensor.numpy" not in found
    assert len({s.name for s in OP_TABLE}) == len(OP_TABLE), "row names must be unique"


# --------------------------------------------------------------------------- every axis
_AXES_3D = [None, (), *range(-3, 3), *itertools.permutations(range(3), 2), (0, -1), (0, 1, 2)]
_REDUCTIONS = {
    "sum": (lambda x, a, k: x.sum(a, k), np.sum),
    "mean": (lambda x, a, k: x.mean(a, k), np.mean),
    "max": (lambda x, a, k: x.max(a, k), np.max),
    "min": (lambda x, a, k: x.min(a, k), np.min),
    "var": (lambda x, a, k: x.var(a, k), np.var),
    "prod": (lambda x, a, k: x.prod(a, k), np.prod),
    "logsumexp": (
        lambda x, a, k: x.logsumexp(a, k),
        lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    ),
}


@pytest.mark.parametrize("name", list(_REDUCTIONS))
def test_reductions_every_axis_and_keepdims(name: str) -> None:
    """Exhaustively: every axis form of a (2, 1, 3) array, with and without keepdims."""
    f, ref = _REDUCTIONS[name]
    a = np.random.default_rng(0).permutation(6).reshape(2, 1, 3) / 4.0 - 0.6  # distinct values
    for axis, keepdims in itertools.product(_AXES_3D, [False, True]):
        x = Tensor(a, requires_grad=True)
        out = f(x, axis, keepdims)
        want = ref(a, axis=axis, keepdims=keepdims)
        assert out.shape == np.shape(want), (axis, keepdims)
        np.testing.assert_allclose(out.data, want, rtol=1e-12)
        assert_gradients_match(lambda t, ax=axis, kd=keepdims: f(t, ax, kd), x)


# --------------------------------------------------------------------------- kinks and ties
def _grad(fn: Any, *values: Any) -> list[np.ndarray]:
    xs = [Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    out = fn(*xs)
    out.backward(np.ones(out.shape))
    return [x.grad.data for x in xs]  # type: ignore[union-attr]


def test_relu_and_abs_subgradient_at_zero_is_zero() -> None:
    assert _grad(lambda x: x.relu(), [-1.0, 0.0, 2.0])[0].tolist() == [0.0, 0.0, 1.0]
    assert _grad(lambda x: x.abs(), [-1.0, 0.0, 2.0])[0].tolist() == [-1.0, 0.0, 1.0]
    assert _grad(lambda x: abs(x), [0.0])[0].tolist() == [0.0]


def test_clip_passes_the_gradient_at_its_bounds() -> None:
    g = _grad(lambda x: x.clip(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])[0]
    assert g.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_max_min_reductions_share_the_gradient_between_ties() -> None:
    assert _grad(lambda x: x.max(), [1.0, 3.0, 3.0, 0.0])[0].tolist() == [0, 0.5, 0.5, 0]
    assert _grad(lambda x: x.min(axis=1), [[2.0, 2.0, 2.0], [1.0, 0.0, 5.0]])[0].tolist() == [
        [1 / 3, 1 / 3, 1 / 3],
        [0, 1, 0],
    ]
    g = _grad(lambda x: x.max(axis=0, keepdims=True), [[1.0, 4.0], [1.0, 2.0]])[0]
    assert g.tolist() == [[0.5, 1.0], [0.5, 0.0]]


def test_maximum_minimum_share_the_gradient_on_ties() -> None:
    gx, gy = _grad(lambda x, y: tg.maximum(x, y), [1.0, 2.0, 3.0], [1.0, 5.0, 0.0])
    assert gx.tolist() == [0.5, 0.0, 1.0] and gy.tolist() == [0.5, 1.0, 0.0]
    gx, gy = _grad(lambda x, y: x.minimum(y), [1.0, 2.0], [1.0, 5.0])
    assert gx.tolist() == [0.5, 1.0] and gy.tolist() == [0.5, 0.0]
    gx, gy = _grad(lambda x, y: x.maximum(y), [[2.0, 0.0]], [2.0])  # broadcast tie
    assert gx.tolist() == [[0.5, 0.0]] and gy.tolist() == [1.5]


def test_pow_integer_exponent_at_zero() -> None:
    assert _grad(lambda x: x**2, [0.0, -1.5])[0].tolist() == [0.0, -3.0]
    assert _grad(lambda x: x**1, [0.0])[0].tolist() == [1.0]


def test_pow_exponent_gradient_is_zero_where_the_base_is_not_positive() -> None:
    """d/dy x**y = x**y ln x is taken as 0 for x <= 0 (the sweep keeps x > 0), in both the
    plain and the create_graph backward, without warnings."""
    base, expo = [0.0, -2.0, 3.0, 0.0], [2.0, 2.0, 2.0, 0.0]
    gx, gy = _grad(lambda x, y: x**y, base, expo)  # 0**0 with a differentiable exponent too
    np.testing.assert_allclose(gx, [0.0, -4.0, 6.0, 0.0])
    np.testing.assert_allclose(gy, [0.0, 0.0, 9.0 * np.log(3.0), 0.0])
    x, y = (Tensor(np.array(v), requires_grad=True) for v in (base, expo))
    hx, hy = tg.grad((x**y).sum(), [x, y], create_graph=True)
    assert hx is not None and hy is not None
    np.testing.assert_allclose(hy.data, gy)
    np.testing.assert_allclose(hx.data, gx)


def test_pow_zero_exponent_at_zero_has_zero_gradient() -> None:
    assert _grad(lambda x: x**0, [0.0, 2.0])[0].tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------- huge logits
_HUGE = [
    ("softmax", lambda x: x.softmax(-1)),
    ("log_softmax", lambda x: x.log_softmax(-1)),
    ("logsumexp", lambda x: x.logsumexp(-1)),
    ("sigmoid", lambda x: x.sigmoid()),
    ("tanh", lambda x: x.tanh()),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "fn"), _HUGE, ids=[n for n, _ in _HUGE])
def test_huge_logits_stay_finite_without_warnings(name: str, fn: Any, dtype: Any) -> None:
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, 3.0]], dtype=dtype)
    x = Tensor(logits, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fn(x)
        up = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
        out.backward(up)
    assert out.dtype == dtype and x.grad is not None and x.grad.dtype == dtype
    assert np.isfinite(out.data).all(), f"{name}: {out.data}"
    assert np.isfinite(x.grad.data).all(), f"{name} grad: {x.grad.data}"


def test_huge_logits_values() -> None:
    x = Tensor(np.array([1e4, 0.0, -1e4]))
    np.testing.assert_allclose(x.softmax().data, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(x.log_softmax().data, [0.0, -1e4, -2e4])
    np.testing.assert_allclose(x.logsumexp().data, 1e4)
    np.testing.assert_allclose(x.sigmoid().data, [1.0, 0.5, 0.0], atol=1e-300)
    g = _grad(lambda t: t.log_softmax()[0], [1e4, 0.0, -1e4])[0]  # d/dx of the winner's logprob
    np.testing.assert_allclose(g, [0.0, 0.0, 0.0], atol=1e-300)


# --------------------------------------------------------------------------- large arrays
# The sweep draws small arrays; ops may switch to other code on big ones (in-place temporaries
# above a size threshold). Elementwise results must not depend on the array's size.
_ELEMENTWISE: dict[str, tuple[Any, tuple[float, float]]] = {
    "neg": (lambda x: -x, (-3, 3)),
    "exp": (lambda x: x.exp(), (-3, 3)),
    "log": (lambda x: x.log(), (0.1, 3)),
    "sqrt": (lambda x: x.sqrt(), (0.1, 3)),
    "tanh": (lambda x: x.tanh(), (-3, 3)),
    "sigmoid": (lambda x: x.sigmoid(), (-8, 8)),
    "relu": (lambda x: x.relu(), (-3, 3)),
    "abs": (lambda x: x.abs(), (-3, 3)),
    "clip": (lambda x: x.clip(-1.0, 1.0), (-3, 3)),
    "pow": (lambda x: x**1.5, (0.1, 3)),
    "mul_self": (lambda x: x * x.exp(), (-3, 3)),
    "div": (lambda x: 1.0 / (x * x + 1.0), (-3, 3)),
    "maximum": (lambda x: x.maximum(x * 0.5 + 0.25), (-3, 3)),
    "where": (lambda x: tg.where(x.data > 0, x * 2.0, x.exp()), (-3, 3)),
    "sin": (lambda x: x.sin(), (-3, 3)),
    "log1p": (lambda x: x.log1p(), (-0.9, 3)),
    "expm1": (lambda x: x.expm1(), (-3, 3)),
    "softplus": (lambda x: x.softplus(), (-30, 30)),
    "elu": (lambda x: x.elu(), (-3, 3)),
    "gelu": (lambda x: x.gelu(), (-3, 3)),
    "cumsum": (lambda x: x.reshape(-1, 1).cumsum(axis=1).reshape(-1), (-3, 3)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(_ELEMENTWISE))
def test_elementwise_ops_give_the_same_results_on_large_arrays(name: str, dtype: Any) -> None:
    """Values and gradients of a 12,293-element array equal those of its 1,000-element
    chunks; two nodes share one upstream array (fan-out), so a backward that wrote into g
    would corrupt the other one's gradient."""
    f, (lo, hi) = _ELEMENTWISE[name]
    rng = np.random.default_rng(7)
    a = rng.uniform(lo, hi, 3 * 4096 + 5).astype(dtype)
    a.flags.writeable = False
    up = rng.standard_normal(a.size).astype(dtype)
    up.flags.writeable = False

    def run(x_arr: np.ndarray, g_arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = tg.from_numpy(x_arr, requires_grad=True)  # read-only: a write fails loudly
        y = f(x)
        (y + f(x)).backward(g_arr)  # Add hands the same g to both f nodes
        assert x.grad is not None and x.grad.dtype == dtype and y.dtype == dtype
        return y.data, x.grad.data

    big_y, big_g = run(a, up)
    cuts = range(1000, a.size, 1000)
    small = [run(xa, ga) for xa, ga in zip(np.split(a, cuts), np.split(up, cuts))]
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 0}
    np.testing.assert_allclose(big_y, np.concatenate([y for y, _ in small]), **tol)
    np.testing.assert_allclose(big_g, np.concatenate([g for _, g in small]), **tol)
    assert np.isfinite(big_g).all()


_W = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
_ROWWISE: dict[str, Any] = {
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(-1),
    "logsumexp": lambda x: x.logsumexp(-1, keepdims=True),
    "sum": lambda x: x.sum(-1),
    "mean": lambda x: x.mean(-1, keepdims=True),
    "max": lambda x: x.max(-1),
    "var": lambda x: x.var(-1),
    "matmul": lambda x: x @ _W.astype(x.dtype),
    "transpose": lambda x: x.T.T * 2.0,
    "getitem": lambda x: x[:, ::-1][:, [0, 0, 2]],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(_ROWWISE))
def test_row_wise_ops_give_the_same_results_on_large_arrays(name: str, dtype: Any) -> None:
    """Ops acting on each row of a (4,100, 3) array give what they give on blocks of rows."""
    f = _ROWWISE[name]
    a = np.random.default_rng(8).permutation(3 * 4100).reshape(4100, 3).astype(dtype) / 4000
    a.flags.writeable = False  # distinct values: no ties for max
    up = np.random.default_rng(9).standard_normal(f(Tensor(a)).shape).astype(dtype)
    up.flags.writeable = False

    def run(x_arr: np.ndarray, g_arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = tg.from_numpy(x_arr, requires_grad=True)  # read-only: a write fails loudly
        y = f(x)
        (y + f(x)).backward(g_arr)  # fan-out: both nodes get the same upstream array
        assert x.grad is not None and x.grad.dtype == dtype and y.dtype == dtype
        return y.data, x.grad.data

    big_y, big_g = run(a, up)
    cuts = range(500, 4100, 500)
    small = [run(xa, ga) for xa, ga in zip(np.split(a, cuts), np.split(up, cuts))]
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(big_y, np.concatenate([y for y, _ in small]), **tol)
    np.testing.assert_allclose(big_g, np.concatenate([g for _, g in small]), **tol)


# --------------------------------------------------------------------------- matmul, lists
def test_matmul_1d_cases() -> None:
    rng = np.random.default_rng(2)
    v, w, m, b = (rng.standard_normal(s) for s in [(3,), (3,), (3, 4), (2, 4, 3)])
    mt, bt = np.ascontiguousarray(m.T), np.ascontiguousarray(b.transpose(0, 2, 1))
    for x, y in [(v, w), (v, m), (mt, v), (v, bt), (b, v)]:
        xt, yt = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
        out = xt @ yt
        assert out.shape == np.matmul(x, y).shape
        np.testing.assert_allclose(out.data, np.matmul(x, y), rtol=1e-12)
        assert_gradients_match(lambda p, q: p @ q, xt, yt)
        assert_second_order_match(lambda p, q: p @ q, xt, yt)
    assert (Tensor(v) @ Tensor(w)).shape == ()


def test_list_inputs() -> None:
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.dtype == np.float32
    row = [10.0, 20.0]
    out = x + row
    assert out.data.tolist() == [[11, 22], [13, 24]]
    y = x[[1, 1, 0]]  # a list index with a repeat accumulates
    assert y.shape == (3, 2)
    (tg.concatenate([x, y], axis=0).sum() + tg.stack([x, x]).sum() + out.sum()).backward()
    assert x.grad is not None and x.grad.data.tolist() == [[5, 5], [6, 6]]
    assert x.grad.dtype == np.float32
    assert_gradients_match(
        lambda t: t[[1, 1, -2]] * 2.0, Tensor(np.arange(4.0), requires_grad=True)
    )


def test_list_operand_keeps_float32() -> None:
    x = Tensor([1.0, 2.0])
    row = [10.0, 20.0]
    assert (x + row).dtype == np.float32
    assert (x * (2.0, 3.0)).dtype == np.float32


def test_astype_across_float_dtypes_keeps_grad_dtypes() -> None:
    x = Tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.data, [3.0, -4.0])
    z = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    w = z.astype(np.float64)
    assert w.dtype == np.float64
    (w * 3.0).sum().backward()
    assert z.grad is not None and z.grad.dtype == np.float32 and z.grad.data.tolist() == [3, 3]


def test_ops_do_not_modify_inputs_or_upstream_grads() -> None:
    """Shared node and read-only arrays: a backward that writes into g fails loudly."""
    a = np.arange(6.0).reshape(2, 3) / 5 + 0.1
    a.flags.writeable = False
    x = Tensor(a, requires_grad=True)
    y = (x + x) * x.exp() / x.sum(axis=0) - x.softmax(0) + x.log()
    g = np.ones((2, 3))
    g.flags.writeable = False
    y.backward(g)
    assert x.grad is not None and np.isfinite(x.grad.data).all()
    assert ops.__name__ == "tinygrad_bp.engine.ops"
