"""numpy and PyTorch habits a new user brings: numpy conversion and functions, argmax, in-place
updates, the one dtype rule, list inputs, cross_entropy on probabilities, error texts and the
public save_for_backward API (issue 13)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import nn, optim
from tinygrad_bp.nn import functional as F

RNG = np.random.default_rng(13)


def leaf(shape: tuple[int, ...] = (3, 4), dtype: type = np.float32) -> tg.Tensor:
    return tg.Tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


# --------------------------------------------------------------------------- __array__
def test_array_gives_the_data_not_an_object_array():
    t = leaf()
    y = t * 2  # a graph result: the graph is not followed, only the data is read
    a = np.array(y)
    assert a.dtype == np.float32 and a.shape == (3, 4)
    np.testing.assert_array_equal(a, y.data)
    assert a is not y.data and not np.shares_memory(a, y.data)  # np.array copies
    assert np.asarray(y) is y.data  # np.asarray does not (like t.numpy())


def test_array_follows_numpy2_copy_semantics():
    t = leaf()
    converted = np.asarray(t, dtype=np.float64)
    assert converted.dtype == np.float64 and not np.shares_memory(converted, t.data)
    assert np.asarray(t, copy=False) is t.data
    with pytest.raises(ValueError, match="needs a copy"):
        np.asarray(t, dtype=np.float64, copy=False)


# --------------------------------------------------------------------------- argmax / argmin
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_match_numpy_and_carry_no_gradient(name, axis, keepdims):
    t = leaf((4, 5))
    got = getattr(t, name)(axis=axis, keepdims=keepdims)
    want = getattr(np, name)(t.data, axis=axis, keepdims=keepdims)
    assert isinstance(got, tg.Tensor) and not got.requires_grad and got.is_leaf
    assert got.dtype.kind == "i" and got.shape == np.shape(want)
    np.testing.assert_array_equal(got.data, want)


def test_argmax_takes_the_first_of_tied_maxima_and_refuses_empty_tensors():
    t = tg.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    assert t.argmax(axis=1).tolist() == [1, 0]
    assert t.argmin(axis=1).tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"argmax: the tensor of shape \(0, 3\) is empty"):
        tg.zeros(0, 3).argmax()


# --------------------------------------------------------------------------- numpy functions
@pytest.mark.parametrize(
    ("call", "method"),
    [
        (lambda t: np.sum(t), "t.sum(axis, keepdims)"),
        (lambda t: np.sum(t, axis=1), "t.sum(axis, keepdims)"),
        (lambda t: np.mean(t), "t.mean(axis, keepdims)"),
        (lambda t: np.max(t, axis=0), "t.max(axis, keepdims)"),
        (lambda t: np.exp(t), "t.exp()"),
        (lambda t: np.log(t), "t.log()"),
        (lambda t: np.maximum(t, 0), "t.maximum(u)"),
        (lambda t: np.dot(t, t.T), "t @ u"),
        (lambda t: np.reshape(t, -1), "t.reshape(shape)"),
        (lambda t: np.concatenate([t, t]), "tg.concatenate(tensors, axis)"),
        (lambda t: np.where(t.data > 0, t, 0), "tg.where(cond, x, y)"),
    ],
)
def test_numpy_functions_that_would_drop_the_graph_name_the_tensor_method(call, method):
    t = leaf()
    with pytest.raises(TypeError, match=re.escape(method)) as info:
        call(t)
    assert "drop the graph" in str(info.value)


def test_numpy_function_without_a_tensor_method_says_to_use_numpy_on_the_data():
    with pytest.raises(TypeError, match=r"np\.sort .*t\.numpy\(\)"):  # (cumsum now has one)
        np.sort(leaf())


def test_numpy_functions_without_a_gradient_work_on_tensors():
    t = leaf((4, 3))
    assert np.shape(t) == (4, 3) and np.ndim(t) == 2 and np.size(t) == 12
    am = np.argmax(t, axis=1)
    assert type(am) is np.ndarray
    np.testing.assert_array_equal(am, t.data.argmax(axis=1))
    assert np.allclose(t, t.data) and np.array_equal(t, t.data)
    assert np.isfinite(t).all() and not np.isnan(t).any()


def test_ndarray_operators_with_a_tensor_keep_the_graph():
    t = leaf((3,))
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    out = a * t + a - (a / (t * t + 1.0)) + np.float32(2.0) * t
    assert isinstance(out, tg.Tensor) and out.requires_grad
    out.sum().backward()
    x = t.data
    want = a + a * 2 * x / (x * x + 1) ** 2 + 2.0
    np.testing.assert_allclose(t.grad.data, want, rtol=1e-5)
    assert (a < t).tolist() == (a < t.data).tolist()
    m = np.ones((2, 3), dtype=np.float32) @ t
    assert isinstance(m, tg.Tensor) and m.requires_grad


def test_ndarray_equals_tensor_names_eq_instead_of_answering_false():
    t = leaf((3,))
    with pytest.raises(TypeError, match=r"t\.eq\(u\)"):
        _ = t.data.copy() == t


# --------------------------------------------------------------------------- in-place operators
@pytest.mark.parametrize(
    ("apply", "reference"),
    [
        (lambda w, v: w.__isub__(v), np.subtract),
        (lambda w, v: w.__iadd__(v), np.add),
        (lambda w, v: w.__imul__(v), np.multiply),
        (lambda w, v: w.__itruediv__(v), np.true_divide),
    ],
    ids=["-=", "+=", "*=", "/="],
)
def test_inplace_operator_under_no_grad_updates_the_same_leaf(apply, reference):
    w = leaf((2, 3))
    (w * w).sum().backward()
    before, ident = w.data.copy(), id(w)
    saved = (w * w).sum()  # a graph that saved w: the version check must see the update
    data_array = w.data
    rhs = 0.5 * w.grad + 1.0  # a Tensor right-hand side
    with tg.no_grad():
        out = apply(w, rhs)
    assert out is w and id(w) == ident and w.data is data_array  # written in place
    assert w.is_leaf and w.requires_grad and w.dtype == np.float32
    with pytest.raises(RuntimeError, match="modified in place"):
        saved.backward()
    np.testing.assert_allclose(w.data, reference(before, rhs.data), rtol=1e-6)


def test_classic_manual_update_trains_the_leaf_in_place():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    original = w
    for _ in range(3):
        w.grad = None
        (w * w).sum().backward()
        with tg.no_grad():
            w -= 0.25 * w.grad  # w <- w - 0.25 * 2w = w / 2
    assert w is original and w.is_leaf
    np.testing.assert_allclose(w.data, [0.125, -0.25])


def test_inplace_operator_keeps_the_dtype_with_same_kind_casting():
    w = tg.Tensor(np.ones(3, dtype=np.float32))
    w -= np.array([0.5, 0.25, 0.125])  # float64 right-hand side: cast back to float32
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w.data, [0.5, 0.75, 0.875])
    labels = tg.Tensor(np.arange(3))
    with pytest.raises(TypeError, match=r"/= .*dtype int64.*same_kind"):
        labels /= 2
    with pytest.raises(ValueError, match=r"\+= .*shape \(3,\)"):
        w += np.ones((2, 3))


def test_inplace_on_a_leaf_requiring_grad_outside_no_grad_raises_pytorchs_error():
    w = leaf((3,))
    before = w.data.copy()
    for op in ("-=", "+=", "*=", "/="):
        with pytest.raises(
            RuntimeError,
            match=rf"{re.escape(op)} .*a leaf Variable that requires grad is being used in an "
            r"in-place operation.*with tg\.no_grad\(\):",
        ):
            exec(f"w {op} 0.5", {"w": w})
    np.testing.assert_array_equal(w.data, before)  # nothing was written


def test_inplace_on_an_intermediate_requiring_grad_raises_instead_of_rebinding():
    h = leaf((3,)) * 2
    with pytest.raises(RuntimeError, match=r"result of Mul and requires grad.*t = t - "):
        h -= 1.0


def test_inplace_with_a_grad_requiring_operand_raises():
    t = tg.zeros(3)
    with pytest.raises(RuntimeError, match=r"u requires grad.*t = t \+ u"):
        t += leaf((3,))
    t += tg.ones(3)  # a plain tensor updates in place even in grad mode
    np.testing.assert_array_equal(t.data, [1.0, 1.0, 1.0])


def test_inplace_change_of_a_saved_input_is_caught_at_backward():
    w = leaf((3,))
    y = (w * w).sum()  # Mul saved w
    with tg.no_grad():
        w *= 2.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_ndarray_minus_tensor_in_place_says_to_use_the_data():
    w = leaf((3,))
    (w * w).sum().backward()
    with pytest.raises(TypeError, match=re.escape("w.data -= lr * w.grad.data")):
        w.data -= 0.1 * w.grad
    before = w.data.copy()
    w.data -= 0.1 * w.grad.data  # what the message says works
    np.testing.assert_allclose(w.data, before * 0.8, rtol=1e-6)


# --------------------------------------------------------------------------- dtypes
def test_python_numbers_and_lists_become_float32_at_every_entry_point():
    assert tg.tensor(1.0).dtype == np.float32 == tg.Tensor(1.0).dtype
    assert tg.tensor([1, 2]).dtype == np.float32
    a = np.ones(2)
    t = tg.tensor(a)
    assert t.dtype == np.float64 and not np.shares_memory(t.data, a)  # arrays keep theirs
    assert (tg.Tensor(np.ones(2, np.float32)) * 2.5).dtype == np.float32
    assert F.softmax([1.0, 2.0]).dtype == np.float32
    assert nn.Linear(2, 3, rng=0)([[1.0, 2.0]]).dtype == np.float32


def test_losses_given_lists_follow_the_other_tensor():
    x32 = tg.Tensor(np.zeros(3, dtype=np.float32))
    assert F.mse_loss(x32, [1.0, 2.0, 3.0]).dtype == np.float32
    assert F.mse_loss([1.0, 2.0, 3.0], np.zeros(3)).dtype == np.float64  # follows the array
    assert F.binary_cross_entropy_with_logits(x32, [1.0, 0.0, 1.0]).dtype == np.float32
    assert F.cross_entropy([[1.0, 2.0], [3.0, 4.0]], [0, 1]).dtype == np.float32
    assert F.cross_entropy([[1.0, 2.0]], np.array([[0.2, 0.8]])).dtype == np.float64


def test_float64_batch_into_float32_linear_raises_naming_shapes_dtypes_and_fix():
    layer = nn.Linear(3, 2, rng=0)
    x = tg.Tensor(np.ones((4, 3)))
    pattern = (
        r"Linear\(3 -> 2\): input of shape \(4, 3\) has dtype float64 but the weights "
        r"\(3, 2\) are float32.*x\.astype\(np\.float32\)"
    )
    with pytest.raises(TypeError, match=pattern):
        layer(x)
    with pytest.raises(TypeError, match=r"linear: .*float64.*float32"):
        F.linear(x, layer.weight, layer.bias)
    assert layer(x.astype(np.float32)).dtype == np.float32  # the fix works
    assert layer.double()(x).dtype == np.float64  # and so does the other one


def test_matmul_of_mixed_float_dtypes_raises_like_pytorch():
    a = tg.Tensor(np.ones((4, 3)))
    b = tg.Tensor(np.ones((3, 2), dtype=np.float32))
    msg = (
        r"MatMul: cannot apply to inputs \(\(4, 3\) float64, \(3, 2\) float32\): matmul needs "
        r"both operands in the same float dtype.*x\.astype\(np\.float32\)"
    )
    with pytest.raises(TypeError, match=msg):
        a @ b
    assert (a @ b.astype(np.float64)).dtype == np.float64


def test_dataloader_training_stays_float32():
    ds = tg.data.load_digits()
    model = nn.MLP([64, 16, 10], "sigmoid", rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = tg.data.DataLoader(ds.x_train[:64], ds.y_train[:64], batch_size=32, seed=0)
    for x, y in loader:
        assert x.dtype == np.float32
        loss = F.cross_entropy(model(x), y)
        assert loss.dtype == np.float32
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(p.dtype == np.float32 for p in model.parameters())


# --------------------------------------------------------------------------- lists into softmax
@pytest.mark.parametrize(
    ("fn", "method"),
    [
        (F.softmax, "softmax"),
        (F.log_softmax, "log_softmax"),
        (nn.Softmax(axis=-1), "softmax"),
        (nn.LogSoftmax(axis=-1), "log_softmax"),
        (F.sigmoid, "sigmoid"),
        (F.tanh, "tanh"),
        (F.relu, "relu"),
    ],
)
def test_activations_accept_lists(fn, method):
    rows = [[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]
    got = fn(rows)
    want = getattr(tg.Tensor(np.array(rows, dtype=np.float32)), method)()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.data, want.data, rtol=1e-6)


# --------------------------------------------------------------------------- cross_entropy
def test_cross_entropy_warns_when_given_probabilities():
    assert issubclass(F.ProbabilitiesWarning, UserWarning)
    model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Softmax(axis=1))
    x = tg.Tensor(RNG.standard_normal((8, 4)).astype(np.float32))
    y = RNG.integers(0, 3, size=8)
    with pytest.warns(F.ProbabilitiesWarning, match=r"takes logits.*Remove the final Softmax"):
        F.cross_entropy(model(x), y)
    with pytest.warns(F.ProbabilitiesWarning):  # the general path too (label smoothing)
        F.cross_entropy(model(x), y, label_smoothing=0.1)


def test_cross_entropy_warns_once_per_call_site():
    p = tg.Tensor(np.full((4, 3), 1 / 3, dtype=np.float32))
    y = np.array([0, 1, 2, 0])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")  # Python's usual filter: once per location
        for _ in range(3):
            F.cross_entropy(p, y)
    assert [w.category for w in seen] == [F.ProbabilitiesWarning]
    assert seen[0].filename == __file__  # it points at the caller's line


def test_cross_entropy_stays_quiet_on_logits():
    x = RNG.standard_normal((8, 3)).astype(np.float32)
    y = RNG.integers(0, 3, size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.cross_entropy(tg.Tensor(x), y)
        F.cross_entropy(tg.Tensor(np.abs(x) / 10), y)  # in [0, 1], rows not summing to 1
        F.nll_loss(tg.Tensor(x).log_softmax(axis=1), y)
        F.nll_loss(tg.Tensor(x).softmax(axis=1), y)  # nll_loss does not warn


# --------------------------------------------------------------------------- error texts
def test_int_one_hot_target_names_the_dtype_problem():
    x = tg.Tensor(np.zeros((4, 3), dtype=np.float32))
    one_hot = np.eye(3, dtype=np.int64)[[0, 1, 2, 0]]
    with pytest.raises(
        TypeError, match=r"target has the input's shape \(4, 3\) but dtype int64.*floating point"
    ) as info:
        F.cross_entropy(x, one_hot)
    assert "does not fit" not in str(info.value)
    F.cross_entropy(x, one_hot.astype(np.float32))  # what the message says works


def test_matmul_shape_error_is_clean():
    a, b = tg.ones(4, 3), tg.ones(4, 3)
    with pytest.raises(ValueError) as info:
        a @ b
    msg = str(info.value)
    assert msg == (
        "MatMul: cannot apply to inputs ((4, 3) float32, (4, 3) float32): the last axis of the "
        "first operand (3) must equal the second-to-last axis of the second (4); transpose an "
        "operand or fix the layer sizes"
    )
    assert "gufunc" not in msg


# --------------------------------------------------------------------------- save_for_backward
class Exp(tg.Function):
    """z = e^x (saves its output);  dz/dx = z"""

    @staticmethod
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Cube(tg.Function):
    """z = x^3 (saves the input and an intermediate x^2);  dz/dx = 3 x^2"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x, x * x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_tensors  # the input: a Tensor under create_graph=True
        return g * 3.0 * x * x


def test_saved_tensors_are_graph_tensors_under_create_graph():
    x = tg.Tensor(np.array([-0.5, 0.3, 1.2]), requires_grad=True)
    assert tg.gradcheck(Exp.apply, [x]) and tg.gradgradcheck(Exp.apply, [x])
    assert tg.gradcheck(Cube.apply, [x]) and tg.gradgradcheck(Cube.apply, [x])
    (d,) = tg.grad(Cube.apply(x).sum(), x, create_graph=True)
    (d2,) = tg.grad(d.sum(), x)
    np.testing.assert_allclose(d2.data, 6 * x.data)
    (e,) = tg.grad(Exp.apply(x).sum(), x, create_graph=True)
    (e2,) = tg.grad(e.sum(), x)
    np.testing.assert_allclose(e2.data, np.exp(x.data))


def _readme_softplus_classes() -> list[type]:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    classes = []
    for block in re.findall(r"```python\n(.*?)```", readme, re.S):
        if "class Softplus" in block:
            head = block.split("\nx = ")[0].split("\n@given")[0]
            namespace: dict = {"np": np, "tg": tg}
            exec(compile(head, "README", "exec"), namespace)
            classes.append(namespace["Softplus"])
    return classes


def test_readme_custom_ops_use_save_for_backward_and_never_overflow():
    classes = _readme_softplus_classes()
    assert len(classes) == 2
    for cls in classes:
        assert "save_for_backward" in repr(cls.forward.__code__.co_names)
        for dtype in (np.float32, np.float64):
            x = tg.Tensor(np.array([-1000.0, 0.0, 1000.0], dtype=dtype), requires_grad=True)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # an overflow warning fails the test
                y = cls.apply(x)
                y.sum().backward()
            np.testing.assert_allclose(y.data, [0.0, np.log(2.0), 1000.0], rtol=1e-6)
            np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 1.0], rtol=1e-6)
