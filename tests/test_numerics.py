"""float32 numerics: log_softmax with a large common offset, and sum / mean / var over an axis
numpy adds naively (anything but the innermost one), against float64 truth and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp.nn import functional as F
from tinygrad_bp.testing.strategies import shapes

EPS32 = float(np.finfo(np.float32).eps)


def _log_softmax64(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """The float64 truth for float32 logits (the same inputs, exactly widened)."""
    x = x.astype(np.float64)
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _assert_few_ulp(got: np.ndarray, truth: np.ndarray, ulps: float = 4) -> None:
    """Within ``ulps`` float32 ulps of the result's magnitude."""
    tol = ulps * EPS32 * max(float(np.max(np.abs(truth))), 1.0)
    np.testing.assert_allclose(got, truth, rtol=0, atol=tol)


# Rows with a large common offset: only the shifted values carry information.
OFFSETS = [-1e4, 1e4, 1e7, -1e7]


def _offset_logits(offset: float) -> np.ndarray:
    rows = [[0.0, 0.0, 1.0], [0.5, -2.0, 0.25], [3.0, 1.0, -1.0]]
    return (np.float32(offset) + np.array(rows, np.float32)).astype(np.float32)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_float32_large_offset_matches_float64(offset, axis):
    x = _offset_logits(offset)
    if axis == 0:
        x = np.ascontiguousarray(x.T)
    got = tg.Tensor(x).log_softmax(axis).numpy()
    assert got.dtype == np.float32
    _assert_few_ulp(got, _log_softmax64(x, axis))


@pytest.mark.parametrize("offset", OFFSETS)
def test_log_softmax_float32_large_offset_gradient(offset):
    x = _offset_logits(offset)
    w = np.array([[1.0, 2.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.5]], np.float32)
    t = tg.Tensor(x, requires_grad=True)
    (t.log_softmax() * tg.Tensor(w)).sum().backward()
    z = _log_softmax64(x)
    truth = w - np.exp(z) * w.sum(axis=1, keepdims=True)  # dz^T w / dx
    assert t.grad is not None
    _assert_few_ulp(t.grad.numpy(), truth)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_of_log_softmax_equals_cross_entropy_at_large_offsets(offset, reduction):
    x = _offset_logits(offset)
    y = np.array([2, 0, 1])
    via_nll = F.nll_loss(tg.Tensor(x).log_softmax(), y, reduction=reduction).numpy()
    fused = F.cross_entropy(tg.Tensor(x), y, reduction=reduction).numpy()
    truth = -_log_softmax64(x)[np.arange(3), y]
    truth = truth.mean() if reduction == "mean" else truth.sum() if reduction == "sum" else truth
    _assert_few_ulp(fused, truth)
    _assert_few_ulp(via_nll, truth)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
def test_logsumexp_float32_large_offset_value_and_gradient(offset, axis):
    x = _offset_logits(offset)
    t = tg.Tensor(x, requires_grad=True)
    z = t.logsumexp(axis=axis)
    x64 = x.astype(np.float64)
    m = x64.max(axis=axis, keepdims=True)
    z64 = np.log(np.exp(x64 - m).sum(axis=axis, keepdims=True)) + m
    _assert_few_ulp(z.numpy(), z64.reshape(z.shape))
    z.sum().backward()
    assert t.grad is not None  # the softmax over axis: e^(x - z) taken from the shifted values
    _assert_few_ulp(t.grad.numpy(), np.exp((x64 - m) - (z64 - m)))


def test_softmax_float32_over_a_long_outer_axis_sums_to_one():
    x = _normal((1_000_000, 2), 0.0, seed=8)  # e^x summed over axis 0: not numpy's pairwise
    got = tg.Tensor(x).softmax(axis=0).numpy()
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=0))
    truth = e / e.sum(axis=0)
    assert np.max(np.abs(got - truth) / truth) < 1e-6


# --------------------------------------------------------------------------- reductions
def _normal(shape: tuple[int, ...], loc: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, 1.0, shape).astype(np.float32)


def _cases() -> list[tuple[str, np.ndarray, int | None]]:
    """(name, float32 array, axis): each one numpy's float32 reduction gets wrong."""
    return [
        ("N(1e4,1) axis 0", _normal((100_000, 3), 1e4), 0),
        ("N(1e6,1) contiguous axis", _normal((3, 100_000), 1e6, seed=1), 1),
        ("N(1e6,1) all axes", _normal((300, 1000), 1e6, seed=2), None),
        ("N(1e3,1) (1024, 100) axis 0", _normal((1024, 100), 1e3, seed=3), 0),
    ]


CASES = _cases()
IDS = [c[0] for c in CASES]


def _rel(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - truth) / np.abs(truth)))


@pytest.mark.parametrize(("name", "x", "axis"), CASES, ids=IDS)
def test_float32_sum_mean_var_match_float64(name, x, axis):
    t, x64 = tg.Tensor(x), x.astype(np.float64)
    for op in ("sum", "mean", "var"):
        got = getattr(t, op)(axis=axis).numpy()
        assert got.dtype == np.float32, op
        truth = getattr(x64, op)(axis=axis)
        assert _rel(got, truth) < 1e-6, (name, op, got, truth)


def test_float32_sum_of_ten_million_tenths_over_axis_0():
    x = np.full((10**7, 2), 0.1, np.float32)
    truth = 10**7 * float(np.float32(0.1))
    assert _rel(tg.Tensor(x).sum(axis=0).numpy(), np.array([truth, truth])) < 1e-6
    assert _rel(tg.Tensor(x).mean(axis=0).numpy(), np.array([truth, truth]) / 10**7) < 1e-6


def test_float32_bias_gradient_of_linear_is_accumulated_accurately():
    x = np.zeros((100_000, 2), np.float32)  # the bias gradient: upstream summed over rows
    w, b = tg.Tensor(np.ones((2, 3), np.float32)), tg.Tensor(np.zeros(3, np.float32))
    b.requires_grad = True
    up = _normal((100_000, 3), 1e4, seed=7)
    (F.linear(tg.Tensor(x), w, b) * tg.Tensor(up)).sum().backward()
    assert b.grad is not None
    assert _rel(b.grad.numpy(), up.astype(np.float64).sum(axis=0)) < 1e-6


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("ddof", [0, 1])
def test_float32_var_over_several_axes_and_ddof(keepdims, ddof):
    x = _normal((200, 30, 40), 1e5, seed=4)
    for axis in [(0, 2), (1, 2), 0, None]:
        got = tg.Tensor(x).var(axis=axis, keepdims=keepdims, ddof=ddof).numpy()
        truth = x.astype(np.float64).var(axis=axis, keepdims=keepdims, ddof=ddof)
        assert got.shape == np.shape(truth)
        assert _rel(got, truth) < 1e-6, axis


def test_float32_var_of_a_constant_is_zero():
    x = np.full((5000, 3), 1234.5678, np.float32)
    np.testing.assert_array_equal(tg.Tensor(x).var(axis=0).numpy(), 0)


@pytest.mark.parametrize("op", ["mean", "var"])
def test_float32_mean_and_var_gradients_at_an_offset(op):
    x = _normal((20_000, 3), 1e4, seed=5)
    t = tg.Tensor(x, requires_grad=True)
    getattr(t, op)(axis=0).sum().backward()
    x64 = x.astype(np.float64)
    n = x.shape[0]
    truth = np.full_like(x64, 1 / n) if op == "mean" else 2 * (x64 - x64.mean(axis=0)) / n
    assert t.grad is not None
    _assert_few_ulp(t.grad.numpy() * n, truth * n, ulps=16)


def test_float64_reductions_unchanged():
    x = np.random.default_rng(6).normal(size=(50, 7))
    t = tg.Tensor(x)
    for axis in (0, 1, None):
        np.testing.assert_array_equal(t.sum(axis=axis).numpy(), x.sum(axis=axis))
        np.testing.assert_array_equal(t.mean(axis=axis).numpy(), x.mean(axis=axis))
        np.testing.assert_allclose(t.var(axis=axis).numpy(), x.var(axis=axis), rtol=1e-12)


@st.composite
def _reduction_inputs(draw: st.DrawFn) -> tuple[np.ndarray, int | tuple[int, ...] | None, bool]:
    """A float32 array (offset normal values, any layout: C order, transposed or strided),
    an axis argument (None, an int or a tuple, negatives included) and keepdims."""
    shape = draw(shapes(min_dims=1, max_dims=4, min_side=1, max_side=12))
    seed = draw(st.integers(0, 2**16))
    offset = draw(st.sampled_from([0.0, 1e3, 1e4, -1e5]))
    x = _normal(tuple(2 * n for n in shape), offset, seed)
    layout = draw(st.sampled_from(["c", "transposed", "strided"]))
    if layout == "strided":
        x = x[tuple(slice(None, None, 2) for _ in shape)]
    else:
        x = x[tuple(slice(0, n) for n in shape)].copy()
        if layout == "transposed":
            x = np.ascontiguousarray(x.T).T
    nd = x.ndim
    axis = draw(
        st.none()
        | st.integers(-nd, nd - 1)
        | st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)
    )
    return x, axis, draw(st.booleans())


@given(_reduction_inputs())
def test_float32_reductions_any_axis_and_layout_match_float64(args):
    x, axis, keepdims = args
    t, x64 = tg.Tensor(x), x.astype(np.float64)
    for op in ("sum", "mean"):
        got = getattr(t, op)(axis=axis, keepdims=keepdims).numpy()
        want = getattr(x, op)(axis=axis, keepdims=keepdims)  # numpy's float32 shape and dtype
        assert got.shape == np.shape(want) and got.dtype == want.dtype == np.float32, op
        truth = getattr(x64, op)(axis=axis, keepdims=keepdims)
        scale = getattr(np.abs(x64), op)(axis=axis, keepdims=keepdims)  # cancellation-proof
        assert np.all(np.abs(got - truth) <= 2 * EPS32 * scale), op
    got = t.var(axis=axis, keepdims=keepdims).numpy()
    truth = x64.var(axis=axis, keepdims=keepdims)  # of the same float32 values
    assert got.shape == np.shape(truth) and got.dtype == np.float32
    assert np.all(np.abs(got - truth) <= 8 * EPS32 * truth)  # whatever the offset


@pytest.mark.torch
@pytest.mark.parametrize(("name", "x", "axis"), CASES, ids=IDS)
def test_float32_sum_mean_var_at_least_as_accurate_as_torch(name, x, axis):
    import torch  # the `torch` extra; never skipped (deselect with -m "not torch")

    t, tt, x64 = tg.Tensor(x), torch.from_numpy(x), x.astype(np.float64)
    dims = tuple(range(x.ndim)) if axis is None else axis
    ours = {op: getattr(t, op)(axis=axis).numpy() for op in ("sum", "mean", "var")}
    theirs = {
        "sum": tt.sum(dims).numpy(),
        "mean": tt.mean(dims).numpy(),
        "var": tt.var(dims, correction=0).numpy(),
    }
    for op in ours:  # at least as close to the float64 truth as PyTorch (whose var over all
        truth = getattr(x64, op)(axis=axis)  # axes of the (300, 1000) case is 0.4% off)
        assert _rel(ours[op], truth) <= max(_rel(theirs[op], truth), 2 * EPS32), (name, op)


@pytest.mark.torch
@pytest.mark.parametrize("offset", OFFSETS)
def test_float32_log_softmax_and_cross_entropy_match_torch(offset):
    import torch  # the `torch` extra; never skipped (deselect with -m "not torch")

    x, y = _offset_logits(offset), np.array([2, 0, 1])
    theirs = torch.log_softmax(torch.from_numpy(x), -1).numpy()
    _assert_few_ulp(tg.Tensor(x).log_softmax().numpy(), theirs)
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(x), torch.from_numpy(y)).item()
    _assert_few_ulp(F.nll_loss(tg.Tensor(x).log_softmax(), y).numpy(), np.float64(loss))
