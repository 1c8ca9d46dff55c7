"""Tensor: dtype rules, creation helpers, properties, operators, clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Tensor


def test_tensor_python_numbers_and_lists_become_float32():
    assert Tensor(3).dtype == np.float32
    assert Tensor([1, 2, 3]).dtype == np.float32
    assert Tensor([[1.5, 2.0]]).shape == (1, 2)


def test_tensor_float_arrays_keep_dtype_and_are_copied_from_numpy_shares():
    a = np.zeros(3, dtype=np.float64)
    t = Tensor(a)
    assert t.dtype == np.float64
    a[0] = 5
    assert t.data[0] == 0  # Tensor copies, like torch.tensor
    c = tg.tensor(a)
    a[1] = 7
    assert c.data[1] == 0  # tg.tensor copies
    s = tg.from_numpy(a)
    a[2] = 9
    assert s.data[2] == 9 and s.dtype == np.float64  # from_numpy shares
    assert not np.shares_memory(Tensor(t).data, t.data)  # a Tensor of a Tensor copies too


def test_tensor_integer_data_is_allowed_but_cannot_require_grad():
    t = Tensor(np.arange(3))
    assert t.dtype.kind == "i"
    with pytest.raises(TypeError, match=r"only floating-point.*int64"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        t.requires_grad_()


def test_tensor_rejects_non_numeric_data():
    with pytest.raises(TypeError, match="not numeric"):
        Tensor(np.array(["a", "b"]))
    with pytest.raises((TypeError, ValueError), match="Tensor"):
        Tensor([[1, 2], [3]])


def test_tensor_dtype_argument_converts():
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.ones(2, np.float32), dtype="float64").dtype == np.float64


def test_tensor_properties():
    t = Tensor(np.ones((2, 3), np.float32), requires_grad=True, name="w")
    assert (t.shape, t.ndim, t.size) == ((2, 3), 2, 6)
    assert t.T.shape == (3, 2)
    assert t.is_leaf and t.grad_fn is None
    y = t * 2
    assert not y.is_leaf and type(y.grad_fn).__name__ == "Mul"
    assert Tensor(4.0).item() == 4.0
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert t.numpy() is t.data
    assert float(Tensor([2.5])) == 2.5


def test_tensor_repr_is_readable():
    t = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True, name="w")
    r = repr(t)
    assert (
        "Tensor([1., 2.]" in r and "name='w'" in r and "float32" in r and "requires_grad=True" in r
    )
    assert "grad_fn=Mul" in repr(t * 2)


def test_tensor_detach_and_requires_grad_():
    x = Tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_()
    y = Tensor([1.0]).requires_grad_()
    assert y.requires_grad


def test_creation_helpers():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros((2, 3)).dtype == np.float32
    assert tg.ones(4).data.sum() == 4
    assert tg.full((2,), 7.0).data.tolist() == [7.0, 7.0]
    assert tg.arange(5).data.tolist() == [0, 1, 2, 3, 4]
    assert tg.arange(1, 3, 0.5).shape == (4,)
    np.testing.assert_array_equal(tg.eye(3).data, np.eye(3))
    a = tg.randn(3, 4, rng=0)
    b = tg.randn(3, 4, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a.data, b.data)
    u = tg.uniform((100,), -2, 2, rng=1)
    assert u.data.min() >= -2 and u.data.max() < 2
    assert tg.rand(5, rng=3, requires_grad=True).requires_grad
    assert tg.zeros_like(a).shape == a.shape and tg.ones_like(a).data.sum() == 12
    with pytest.raises(TypeError, match="Generator"):
        tg.randn(2, rng="seed")


def test_operators_and_reflected_forms_match_numpy():
    a = np.array([1.0, 2.0, 4.0])
    x = Tensor(a)
    cases = {
        "x + 2": (x + 2, a + 2),
        "2 + x": (2 + x, 2 + a),
        "x - 1": (x - 1, a - 1),
        "2 - x": (2 - x, 2 - a),
        "x * 3": (x * 3, a * 3),
        "3 * x": (3 * x, 3 * a),
        "x / 4": (x / 4, a / 4),
        "1 / x": (1 / x, 1 / a),
        "x ** 2": (x**2, a**2),
        "2 ** x": (2**x, 2**a),
        "-x": (-x, -a),
        "abs": (abs(-x), a),
        "x @ x": (x @ x, a @ a),
        "arr @ x": (np.ones((2, 3)) @ x, np.ones((2, 3)) @ a),
        "arr + x": (np.ones(3) + x, np.ones(3) + a),
    }
    for name, (got, want) in cases.items():
        assert isinstance(got, Tensor), name
        np.testing.assert_allclose(got.data, want, err_msg=name)


def test_ndarray_with_tensor_keeps_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x  # numpy defers to Tensor (__array_ufunc__ = None)
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])


def test_numpy_functions_on_tensors_fail_loudly():
    with pytest.raises(TypeError):
        np.exp(Tensor([1.0]))


def test_comparisons_give_bool_tensors_outside_the_graph():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    assert m.data.tolist() == [False, True, True]
    assert (x <= 2).data.tolist() == [True, True, False]
    assert x.eq(2.0).data.tolist() == [False, True, False]
    assert {x: 1}[x] == 1  # tensors stay hashable


def test_scalar_constants_keep_float32():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    for y in (x * 2.5, 2.5 - x, x / 3, x**2, x + 1e-3, x.maximum(0.5)):
        assert y.dtype == np.float32


def test_combining_with_unsupported_objects_is_a_type_error():
    with pytest.raises(TypeError, match="cannot combine a Tensor with str"):
        Tensor([1.0]) + "a"
    with pytest.raises(TypeError, match="cannot combine"):
        Tensor([1.0]) * {"a": 1}


def test_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"MatMul.*\(3, 4\).*\(5, 6\).*\(4\).*\(5\)"):
        tg.zeros(3, 4) @ tg.zeros(5, 6)
    with pytest.raises(ValueError, match=r"Add.*\(2, 3\).*\(4,\).*broadcast"):
        tg.zeros(2, 3) + tg.zeros(4)
    with pytest.raises(ValueError, match=r"Reshape.*\(2, 3\).*shape=\(4,\)"):
        tg.zeros(2, 3).reshape(4)
    with pytest.raises(ValueError, match=r"Sum.*axis=2"):
        tg.zeros(2, 3).sum(axis=2)
    with pytest.raises(IndexError, match=r"GetItem.*\(2, 3\)"):
        tg.zeros(2, 3)[5]
    with pytest.raises(ValueError, match="Concatenate"):
        tg.concatenate([tg.zeros(2, 3), tg.zeros(2, 4)], axis=0)
    with pytest.raises(ValueError, match="stack: all tensors need the same shape"):
        tg.stack([tg.zeros(2), tg.zeros(3)])
    with pytest.raises(ValueError, match=r"MatMul.*operands must have at least one dimension"):
        Tensor(2.0) @ tg.zeros(3)


def test_setitem_bumps_version_and_refuses_graph_tensors():
    t = tg.zeros(3)
    t[1] = 5
    assert t.data.tolist() == [0, 5, 0]
    x = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x[0] = 1


def test_movement_methods():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.reshape(3, -1).shape == (3, 2)
    assert x.reshape((6,)).shape == (6,)
    assert x.flatten().shape == (6,)
    assert x.transpose().shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    assert x.swapaxes(0, 1).shape == (3, 2)
    assert x.expand_dims(0).shape == (1, 2, 3)
    assert x.expand_dims(0).squeeze(0).shape == (2, 3)
    assert x.broadcast_to((4, 2, 3)).shape == (4, 2, 3)
    assert [r.shape for r in x] == [(3,), (3,)]
    assert len(x) == 2
    with pytest.raises(ValueError, match="squeeze"):
        x.squeeze(0)


def test_large_arrays_take_the_in_place_formulas_with_the_same_results():
    rng = np.random.default_rng(0)
    big = rng.standard_normal(5000) * 5
    for name in ("sigmoid", "tanh"):
        x = Tensor(big.copy(), requires_grad=True)
        y = getattr(x, name)()
        y.backward(np.linspace(-1, 1, 5000))
        parts = []
        for chunk in np.split(big, 5):  # 1000 elements: the out-of-place formulas
            xc = Tensor(chunk.copy(), requires_grad=True)
            getattr(xc, name)().backward(
                np.linspace(-1, 1, 5000)[len(parts) * 1000 : (len(parts) + 1) * 1000]
            )
            parts.append((xc.data, xc.grad.data))
        np.testing.assert_allclose(
            y.data,
            np.concatenate(
                [
                    getattr(np, name)(c) if name == "tanh" else 1 / (1 + np.exp(-c))
                    for c in np.split(big, 5)
                ]
            ),
            rtol=1e-12,
        )
        np.testing.assert_allclose(x.grad.data, np.concatenate([g for _, g in parts]), rtol=1e-12)
    x = Tensor(big.reshape(50, 100).copy(), requires_grad=True)
    assert tg.gradcheck(lambda x: (x.sigmoid() * x.tanh()).sum(), [x], max_elements=20)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [7, 5000], ids=["small", "large"])
def test_sigmoid_keeps_relative_precision_far_below_zero_and_never_warns(dtype, n):
    x = np.linspace(-80 if dtype == np.float32 else -700, 80, n).astype(dtype)
    with np.errstate(all="raise"):  # no overflow, invalid or divide warning anywhere
        s = Tensor(x).sigmoid().data
    ref = 1 / (1 + np.exp(-x.astype(np.longdouble)))
    tiny = np.finfo(dtype).tiny  # down to the smallest normal number: a few ulp, not absolute
    ok = ref > tiny
    np.testing.assert_allclose(s[ok], ref[ok].astype(np.float64), rtol=8 * np.finfo(dtype).eps)
    assert s.dtype == dtype and s[-1] == 1.0 and np.all(np.diff(s) >= 0)
