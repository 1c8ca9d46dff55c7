"""Example tests for the ops of issue 16 where the sweep stays away: products with zeros,
kinks and their subgradients, einsum's forms and fast path, errors, numpy hints, comparisons,
and a deliberately wrong backward that the sweep must catch."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import find, settings
from op_table import OP_TABLE

import tinygrad_bp as tg
from tinygrad_bp.engine import ops, toposort
from tinygrad_bp.gradcheck import GradcheckError
from tinygrad_bp.testing import assert_gradients_match, assert_second_order_match


def _grad(fn: Any, *values: Any) -> list[np.ndarray]:
    xs = [tg.Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    out = fn(*xs)
    out.backward(np.ones(out.shape))
    return [x.grad.data for x in xs]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- zeros
def test_prod_gradient_with_exactly_one_zero_is_the_product_of_the_others() -> None:
    g = _grad(lambda x: x.prod(), [2.0, 0.0, 3.0, 5.0])[0]
    assert g.tolist() == [0.0, 30.0, 0.0, 0.0]


def test_prod_gradient_with_several_zeros_is_zero() -> None:
    g = _grad(lambda x: x.prod(axis=1), [[0.0, 2.0, 0.0], [1.0, 2.0, 3.0]])[0]
    assert g.tolist() == [[0.0, 0.0, 0.0], [6.0, 3.0, 2.0]]


def test_prod_with_zeros_is_twice_differentiable() -> None:
    for v in ([2.0, 0.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]):
        x = tg.Tensor(np.array(v), requires_grad=True)
        assert_gradients_match(lambda t: t.prod(), x)
        assert_second_order_match(lambda t: t.prod(), x)
    # d2/dx0 dx1 of x0 x1 x2 at (0, 0, 3) is x2 = 3
    x = tg.Tensor(np.array([0.0, 0.0, 3.0]), requires_grad=True)
    (gx,) = tg.grad(x.prod(), [x], create_graph=True)
    (h,) = tg.grad(gx[0], [x])
    assert h.data.tolist() == [0.0, 3.0, 0.0]


def test_cumprod_gradient_with_zeros() -> None:
    # z = [x0, x0 x1, x0 x1 x2];  dz/dx summed: [1 + x1 + x1 x2, x0 + x0 x2, x0 x1]
    g = _grad(lambda x: x.cumprod(), [2.0, 0.0, 3.0])[0]
    assert g.tolist() == [1.0, 2.0 + 6.0, 0.0]
    g = _grad(lambda x: x.cumprod(), [0.0, 0.0, 3.0])[0]
    assert g.tolist() == [1.0, 0.0, 0.0]
    x = tg.Tensor(np.array([[2.0, 0.0, 3.0], [0.5, 1.5, 0.0]]), requires_grad=True)
    assert_gradients_match(lambda t: t.cumprod(axis=1), x)
    assert_second_order_match(lambda t: t.cumprod(axis=1), x)


def test_cumprod_gradient_when_the_product_underflows() -> None:
    x = tg.Tensor(np.array([1e-200, 1e-200, 2.0]), requires_grad=True)
    x.cumprod().sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.data, [1.0 + 1e-200 + 2e-200, 1e-200 + 2e-200, 1e-400])


# --------------------------------------------------------------------------- kinks
def test_activation_subgradients_at_their_kinks() -> None:
    assert _grad(lambda x: x.relu6(), [0.0, 3.0, 6.0])[0].tolist() == [0.0, 1.0, 0.0]
    assert _grad(lambda x: x.hardtanh(), [-1.0, 0.0, 1.0])[0].tolist() == [0.0, 1.0, 0.0]
    assert _grad(lambda x: x.leaky_relu(0.1), [-1.0, 0.0, 1.0])[0].tolist() == [0.1, 0.1, 1.0]
    assert _grad(lambda x: x.elu(0.5), [-1e-300, 0.0, 1.0])[0].tolist() == [0.5, 0.5, 1.0]
    assert _grad(lambda x: x.hardswish(), [-3.0, 3.0])[0].tolist() == [0.0, 1.0]
    assert _grad(lambda x: x.sign(), [-2.0, 0.0, 2.0])[0].tolist() == [0.0, 0.0, 0.0]


def test_softplus_is_stable_for_large_inputs() -> None:
    x = tg.Tensor(np.array([-800.0, 0.0, 800.0]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = x.softplus(threshold=1e9)  # no linear shortcut: the stable formula itself
        out.backward(np.ones(3))
    np.testing.assert_allclose(out.data, [0.0, np.log(2.0), 800.0])
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 1.0], atol=1e-300)


def test_elu_does_not_overflow_for_large_inputs() -> None:
    out = tg.Tensor(np.array([1000.0, -1000.0])).elu()
    np.testing.assert_allclose(out.data, [1000.0, -1.0])


def test_mod_follows_the_sign_of_the_divisor() -> None:
    x = tg.Tensor(np.array([5.5, -5.5, 5.5]), requires_grad=True)
    y = tg.Tensor(np.array([2.0, 2.0, -2.0]), requires_grad=True)
    z = x % y
    assert z.data.tolist() == [1.5, 0.5, -0.5]
    z.backward(np.ones(3))
    assert x.grad is not None and y.grad is not None
    assert x.grad.data.tolist() == [1.0, 1.0, 1.0]
    assert y.grad.data.tolist() == [-2.0, 3.0, 3.0]  # -floor(x / y)
    assert (np.ones(2) % tg.Tensor(np.array([0.75, 2.0]))).data.tolist() == [0.25, 1.0]
    assert (7.0 % tg.Tensor(np.array([2.0]))).data.tolist() == [1.0]


def test_norm_forms_match_numpy() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4))
    for ord_, axis in [
        (None, None),
        ("fro", None),
        ("nuc", None),
        (2, None),
        (-2, None),
        (1, None),
        (-1, None),
        (np.inf, None),
        (-np.inf, None),
        (None, 1),
        (0.5, 0),
        (np.inf, 1),
        (1, (1, 0)),
        (np.inf, (1, 0)),
    ]:
        want = np.linalg.norm(a, ord_, axis)
        x = tg.Tensor(a, requires_grad=True)
        np.testing.assert_allclose(x.norm(ord_, axis).data, want, rtol=1e-12)
        assert_gradients_match(lambda t, o=ord_, ax=axis: t.norm(o, ax), x)
    with pytest.raises(ValueError, match="ord=0 counts nonzeros"):
        tg.Tensor(a).norm(0, axis=1)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        tg.Tensor(np.ones((2, 2, 2))).norm(2)


def test_norm_gradient_at_zero_is_zero_without_warnings() -> None:
    """The 2-norm's subgradient at 0 is 0 (as PyTorch), not sqrt's 0 * inf = nan."""
    assert _grad(lambda x: x.norm(), [0.0, 0.0, 0.0])[0].tolist() == [0.0, 0.0, 0.0]
    g = _grad(lambda x: x.norm(axis=1), [[0.0, 0.0], [3.0, 4.0]])[0]
    assert g.tolist() == [[0.0, 0.0], [0.6, 0.8]]
    assert _grad(lambda x: x.norm("fro"), [[0.0, 0.0]] * 2)[0].tolist() == [[0.0, 0.0]] * 2


def test_ops_on_empty_axes() -> None:
    """An empty product is 1 (no gradient), an einsum over an empty letter is 0."""
    x = tg.Tensor(np.zeros((2, 0)), requires_grad=True)
    out = x.prod(axis=1) + tg.einsum("ij,kj->ik", x, x).sum(axis=1) + x.norm(axis=1)
    assert out.data.tolist() == [1.0, 1.0]
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == (2, 0)


def test_svdvals_is_once_differentiable() -> None:
    x = tg.Tensor(np.diag([3.0, 1.0]) + 0.1, requires_grad=True)
    (g,) = tg.grad(x.norm(2), [x], create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


# --------------------------------------------------------------------------- einsum
_EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("ij->", [(2, 3)]),
    ("i,i", [(3,), (3,)]),
    ("i,j", [(2,), (3,)]),
    ("ji", [(2, 3)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("b...k,bkn->b...n", [(2, 1, 3), (2, 3, 4)]),
    ("...j,...j->...", [(1, 3), (2, 3)]),
    ("ijk,kj->i", [(2, 3, 4), (4, 3)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 2), (2, 4), (4, 1)]),
    ("iij->j", [(2, 2, 3)]),
    ("i,j,k->ijk", [(2,), (1,), (3,)]),
]


@pytest.mark.parametrize(("subscripts", "shapes"), _EINSUM_CASES, ids=[c[0] for c in _EINSUM_CASES])
def test_einsum_matches_numpy_and_gradcheck(subscripts: str, shapes: list[tuple[int, ...]]) -> None:
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = tg.einsum(subscripts, *xs)
    np.testing.assert_allclose(out.data, np.einsum(subscripts, *arrays), rtol=1e-12, atol=1e-14)
    assert_gradients_match(lambda *ts: tg.einsum(subscripts, *ts), *xs)
    assert_second_order_match(lambda *ts: tg.einsum(subscripts, *ts), *xs)


def test_einsum_and_tensordot_of_a_matrix_product_are_one_matmul() -> None:
    x = tg.randn(8, 5, rng=0, requires_grad=True)
    y = tg.randn(5, 6, rng=1, requires_grad=True)
    out = tg.einsum("ij,jk->ik", x, y)
    names = [type(n).__name__ for n in toposort([out.grad_fn]) if not isinstance(n, tg.Tensor)]
    assert names == ["MatMul"], names
    out = tg.tensordot(x, y, 1)
    names = [type(n).__name__ for n in toposort([out.grad_fn]) if not isinstance(n, tg.Tensor)]
    assert names == ["MatMul"], names


def test_einsum_errors_name_the_problem() -> None:
    a = tg.ones(2, 3)
    with pytest.raises(ValueError, match="names 2 operands, got 1"):
        tg.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="do not fit an operand of shape"):
        tg.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="letter 'j' has sizes 3 and 2"):
        tg.einsum("ij,jk->ik", a, tg.ones(2, 2))
    with pytest.raises(ValueError, match="output letter 'z'"):
        tg.einsum("ij->z", a)


# --------------------------------------------------------------------------- errors
def test_shape_op_errors_name_the_op_and_the_fix() -> None:
    t = tg.ones(4, 3)
    with pytest.raises(ValueError, match="split: 3 sections do not divide axis 0"):
        t.split(3)
    with pytest.raises(ValueError, match="pad: mode must be"):
        t.pad(1, mode="mirror")
    with pytest.raises(ValueError, match=r"pad_width .* does not fit 2 axes"):
        t.pad(((1, 1), (1, 1), (1, 1)))
    with pytest.raises(ValueError, match="triu: needs at least 2 dims"):
        tg.ones(3).triu()
    with pytest.raises(ValueError, match="diag: needs a 1-D or 2-D tensor"):
        tg.diag(tg.ones(2, 2, 2))
    with pytest.raises(ValueError, match="hardtanh: min_val"):
        t.hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match="gelu: approximate"):
        t.gelu("fast")
    with pytest.raises(TypeError, match="take_along_axis: indices must be integers"):
        t.take_along_axis(np.zeros((1, 3)), 0)
    with pytest.raises(ValueError, match="tensordot: the summed axes"):
        tg.tensordot(t, t, 1)


def test_split_and_chunk_sizes() -> None:
    t = tg.Tensor(np.arange(10.0), requires_grad=True)
    assert [p.shape for p in t.chunk(3)] == [(4,), (4,), (2,)]
    assert [p.shape for p in t.chunk(4)] == [(3,), (3,), (3,), (1,)]
    assert [p.shape for p in t.split([2, 5])] == [(2,), (3,), (5,)]
    assert [p.shape for p in tg.ones(2, 6).split(3, axis=1)] == [(2, 2)] * 3


def test_scatter_add_adds_repeated_positions() -> None:
    x = tg.Tensor(np.zeros((2, 3)), requires_grad=True)
    src = tg.Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    out = x.scatter_add(1, np.array([[0, 0, 2]]), src)
    assert out.data.tolist() == [[3.0, 0.0, 3.0], [0.0, 0.0, 0.0]]
    out.backward(np.array([[10.0, 20.0, 30.0], [1.0, 1.0, 1.0]]))
    assert src.grad is not None and src.grad.data.tolist() == [[10.0, 10.0, 30.0]]


def test_pad_reflect_gradient_adds_at_the_mirrored_elements() -> None:
    g = _grad(lambda x: x.pad(2, mode="reflect"), [1.0, 2.0, 3.0])[0]
    assert g.tolist() == [2.0, 3.0, 2.0]  # [3 2 | 1 2 3 | 2 1]
    g = _grad(lambda x: x.pad((1, 0), mode="edge"), [1.0, 2.0])[0]
    assert g.tolist() == [2.0, 1.0]


def test_linspace_of_numbers_is_float32_and_of_tensors_differentiable() -> None:
    assert tg.linspace(0, 1, 5).dtype == np.float32
    a = tg.Tensor(np.array(1.0), requires_grad=True)
    b = tg.Tensor(np.array(3.0), requires_grad=True)
    out = tg.linspace(a, b, 5)
    assert out.data.tolist() == [1.0, 1.5, 2.0, 2.5, 3.0]
    out.sum().backward()
    assert a.grad is not None and b.grad is not None
    assert a.grad.item() == 2.5 and b.grad.item() == 2.5


# --------------------------------------------------------------------------- comparisons
def test_comparison_methods_give_bool_tensors_and_eq_stays_identity() -> None:
    t = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    u = tg.Tensor(np.array([1.0, 0.0, 5.0]))
    assert t.ne(u).tolist() == [False, True, True]
    assert t.lt(u).tolist() == [False, False, True]
    assert t.le(2.0).tolist() == [True, True, False]
    assert t.gt(u).tolist() == [False, True, False]
    assert t.ge(u).tolist() == [True, True, False]
    assert not t.ne(u).requires_grad and t.ne(u).dtype == np.bool_
    same = t.clone()
    assert (t == same) is False and (t == t) is True  # identity: Tensors are dict keys
    assert len({t, same}) == 2 and {t: 1}[t] == 1


# --------------------------------------------------------------------------- numpy
@pytest.mark.parametrize(
    ("call", "method"),
    [
        (lambda t: np.sin(t), "t.sin()"),
        (lambda t: np.log1p(t), "t.log1p()"),
        (lambda t: np.cumsum(t), "t.cumsum(axis)"),
        (lambda t: np.prod(t), "t.prod(axis, keepdims)"),
        (lambda t: np.std(t), "t.std(axis, keepdims, ddof)"),
        (lambda t: np.linalg.norm(t), "t.norm(ord, axis, keepdims)"),
        (lambda t: np.flip(t), "t.flip(axis)"),
        (lambda t: np.pad(t, 1), "t.pad(pad_width, mode)"),
        (lambda t: np.einsum("ij->", t), "tg.einsum(subscripts, *tensors)"),
        (lambda t: np.mod(t, 2.0), "t % u"),
        (lambda t: np.not_equal(t, 2.0), "t.ne(u)"),
    ],
)
def test_numpy_functions_on_tensors_name_the_method(call: Any, method: str) -> None:
    with pytest.raises(TypeError, match=re.escape(f"use the Tensor method: {method}")):
        call(tg.ones(2, 2))


# --------------------------------------------------------------------------- the sweep bites
def _row(name: str) -> Any:
    return next(r for r in OP_TABLE if r.name == name)


@pytest.mark.parametrize(
    ("row", "cls", "wrong"),
    [
        ("sin", ops.Sin, lambda ctx, g: g * np.sin(ctx.inputs[0])),  # sin' taken as sin
        ("prod", ops.Prod, lambda ctx, g: np.zeros(ctx.inputs[0].shape) + g.sum()),
        ("softplus", ops.Softplus, lambda ctx, g: g * 0.5),  # a constant slope
    ],
)
def test_a_wrong_backward_fails_the_sweep(
    row: str, cls: type, wrong: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the backward replaced by a wrong formula, hypothesis finds a case of the row on
    which the sweep's gradient check raises (so the rows can fail)."""
    spec = _row(row)
    monkeypatch.setattr(cls, "backward", staticmethod(wrong))

    def caught(case: Any) -> bool:
        xs = [tg.Tensor(a, requires_grad=True) for a in case.arrays]
        try:
            assert_gradients_match(lambda *ts: spec.fn(*ts, **case.kwargs), *xs)
        except GradcheckError:
            return True
        return False

    found = find(spec.inputs(np.float64), caught, settings=_FIND)
    assert caught(found)


_FIND = settings(max_examples=200, derandomize=True, database=None)
