"""nn.functional: losses against numpy references, stability, gradients (gradcheck and
gradgradcheck in float64 over reduction/weight/broadcast variants) and input validation."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp.nn import functional as F

RNG = np.random.default_rng(0)


def _logsoftmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _ce_ref(x, t, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """PyTorch's documented cross-entropy for (N, C) logits and int targets."""
    lp = _logsoftmax(x)
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    keep = t != ignore_index
    tc = np.where(keep, t, 0)
    nll = -lp[np.arange(n), tc] * w[tc] * keep
    smooth = -(lp * w).sum(1) * keep
    loss = (1 - smoothing) * nll + smoothing / c * smooth
    if reduction == "none":
        return loss
    return loss.sum() / (w[tc] * keep).sum() if reduction == "mean" else loss.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_int_targets_match_reference(reduction, weighted, ignore, smoothing):
    x = RNG.normal(size=(6, 4))
    t = np.array([0, 3, 1, 2, 3, 1])
    w = np.array([0.5, 1.0, 2.0, 1.5]) if weighted else None
    ii = 3 if ignore else -100
    got = F.cross_entropy(
        tg.Tensor(x), t, weight=w, ignore_index=ii, reduction=reduction, label_smoothing=smoothing
    )
    np.testing.assert_allclose(got.numpy(), _ce_ref(x, t, w, ii, reduction, smoothing), rtol=1e-12)
    xt = tg.Tensor(x, requires_grad=True)

    def f(a):
        return F.cross_entropy(
            a, t, weight=w, ignore_index=ii, reduction=reduction, label_smoothing=smoothing
        )

    assert tg.gradcheck(f, [xt])
    assert tg.gradgradcheck(f, [xt])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probability_targets(reduction):
    x = RNG.normal(size=(5, 3))
    p = RNG.dirichlet(np.ones(3), size=5)
    w = np.array([1.0, 2.0, 0.5])
    ref = -(_logsoftmax(x) * p * w).sum(1)
    ref = ref.mean() if reduction == "mean" else ref.sum() if reduction == "sum" else ref
    got = F.cross_entropy(tg.Tensor(x), p, weight=w, reduction=reduction)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    assert tg.gradcheck(
        lambda a: F.cross_entropy(a, p, reduction=reduction), [tg.Tensor(x, requires_grad=True)]
    )
    # targets that require grad take a composed path; gradients flow to both
    pt = tg.Tensor(p, requires_grad=True)
    assert tg.gradcheck(
        lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=0.1),
        [tg.Tensor(x, requires_grad=True), pt],
    )


def test_cross_entropy_one_hot_targets_equal_int_targets():
    x = RNG.normal(size=(4, 5))
    t = np.array([4, 0, 2, 2])
    a = F.cross_entropy(tg.Tensor(x), t, label_smoothing=0.2)
    b = F.cross_entropy(tg.Tensor(x), F.one_hot(t, 5, dtype=np.float64), label_smoothing=0.2)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_cross_entropy_nd_and_1d_inputs():
    x = RNG.normal(size=(2, 3, 4, 5))  # (N, C, H, W)
    t = RNG.integers(0, 3, size=(2, 4, 5))
    lp = _logsoftmax(x, axis=1)
    ref = -np.take_along_axis(lp, t[:, None], axis=1)[:, 0]
    got = F.cross_entropy(tg.Tensor(x), t, reduction="none")
    assert got.shape == (2, 4, 5)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    assert tg.gradcheck(lambda a: F.cross_entropy(a, t), [tg.Tensor(x, requires_grad=True)])
    v = RNG.normal(size=4)
    np.testing.assert_allclose(
        F.cross_entropy(tg.Tensor(v), np.array(2)).numpy(), -_logsoftmax(v[None])[0, 2], rtol=1e-12
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    x = tg.Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype), requires_grad=True)
    loss = F.cross_entropy(x, np.array([1, 0]))
    loss.backward()
    assert loss.dtype == dtype
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx((2e4 + 2e4 + np.log(2)) / 2)
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -0.5, 0], [-0.5, 0.25, 0.25]], atol=1e-6)


def test_cross_entropy_all_ignored_is_nan_like_pytorch():
    loss = F.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.array([-100, -100]))
    assert np.isnan(loss.item())


def test_cross_entropy_float32_stays_float32():
    x = tg.Tensor(RNG.normal(size=(3, 4)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 1, 2]), label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_reference_and_gradchecks(reduction):
    lp = _logsoftmax(RNG.normal(size=(5, 4)))
    t = np.array([0, 1, 2, 3, 1])
    w = np.array([1.0, 0.5, 2.0, 1.0])
    ref = -lp[np.arange(5), t] * w[t]
    ref = (
        ref.sum() / w[t].sum() if reduction == "mean" else ref.sum() if reduction == "sum" else ref
    )
    got = F.nll_loss(tg.Tensor(lp), t, weight=w, reduction=reduction)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    f = lambda a: F.nll_loss(a, t, weight=w, reduction=reduction)  # noqa: E731
    assert tg.gradcheck(f, [tg.Tensor(lp, requires_grad=True)])
    assert tg.gradgradcheck(f, [tg.Tensor(lp, requires_grad=True)])


def test_nll_of_log_softmax_equals_cross_entropy():
    x = RNG.normal(size=(4, 3))
    t = np.array([2, 0, 1, 1])
    a = F.nll_loss(F.log_softmax(tg.Tensor(x), axis=1), t)
    np.testing.assert_allclose(a.numpy(), F.cross_entropy(tg.Tensor(x), t).numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- validation
def test_class_loss_errors_name_the_function_shapes_and_fix():
    x = tg.Tensor(np.zeros((4, 3)))
    with pytest.raises(
        IndexError, match=r"cross_entropy: target labels must be in \[0, 3\).*found 3"
    ):
        F.cross_entropy(x, np.array([0, 1, 3, 2]))
    with pytest.raises(IndexError, match="found -1"):
        F.nll_loss(x, np.array([0, -1, 1, 2]))
    with pytest.raises(TypeError, match=r"integers, got dtype float64 .*y.astype\(np.int64\)"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"batch size mismatch: input has 4 rows .* target has 3"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.array([0, 1, 2, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 1]), weight=np.ones(4))
    with pytest.raises(TypeError, match="floating point"):
        F.cross_entropy(tg.Tensor(np.zeros((2, 3), dtype=np.int64)), np.array([0, 1]))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.array([0, 1, 2, 1]), label_smoothing=1.5)


def test_cross_entropy_accepts_tensor_and_list_targets():
    x = tg.Tensor(RNG.normal(size=(3, 4)))
    ref = F.cross_entropy(x, np.array([1, 2, 3])).item()
    assert F.cross_entropy(x, tg.Tensor(np.array([1, 2, 3]))).item() == ref
    assert F.cross_entropy(x, [1, 2, 3]).item() == ref


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
)
def test_cross_entropy_label_dtypes_give_the_same_loss_and_grad(dtype):
    x = RNG.normal(size=(5, 4))
    t = np.array([0, 3, 1, 2, 3])
    ref = _ce_ref(x, t)
    xt = tg.Tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, t.astype(dtype))
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-12)
    loss.backward()
    p = np.exp(_logsoftmax(x))
    np.testing.assert_allclose(xt.grad.numpy(), (p - np.eye(4)[t]) / 5, rtol=1e-12, atol=1e-15)
    bad = t.astype(dtype)
    bad[2] = 4  # one past the last class
    with pytest.raises(IndexError, match=r"\[0, 4\).*found 4 at flat position 2"):
        F.cross_entropy(xt, bad)
    if np.dtype(dtype).kind == "i":
        bad[2] = -1  # negative labels must not wrap around (checked as unsigned)
        with pytest.raises(IndexError, match="found -1 at flat position 2"):
            F.cross_entropy(xt, bad)


def test_cross_entropy_non_contiguous_and_byte_swapped_labels():
    x = RNG.normal(size=(4, 3))
    t = np.array([2, 0, 1, 1, 0, 2, 2, 1])
    ref = _ce_ref(x, t[::2])
    np.testing.assert_allclose(F.cross_entropy(tg.Tensor(x), t[::2]).item(), ref, rtol=1e-12)
    swapped = t[::2].astype(">i8")
    np.testing.assert_allclose(F.cross_entropy(tg.Tensor(x), swapped).item(), ref, rtol=1e-12)
    with pytest.raises(IndexError, match="found -2"):
        F.cross_entropy(tg.Tensor(x), np.array([0, -2, 1, 1], dtype=">i8"))
    huge = np.array([0, 2**63 + 5, 1, 1], dtype=np.uint64)  # past int64: must not wrap
    with pytest.raises(IndexError, match="at flat position 1"):
        F.cross_entropy(tg.Tensor(x), huge)


# --------------------------------------------------------------------------- other losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    x, y = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    ref = (x - y) ** 2
    ref = ref.mean() if reduction == "mean" else ref.sum() if reduction == "sum" else ref
    np.testing.assert_allclose(F.mse_loss(tg.Tensor(x), y, reduction).numpy(), ref, rtol=1e-12)
    assert tg.gradcheck(
        lambda a, b: F.mse_loss(a, b, reduction),
        [tg.Tensor(x, requires_grad=True), tg.Tensor(y, requires_grad=True)],
    )
    with pytest.raises(
        ValueError, match=r"target shape \(3, 1\) differs from input shape \(3, 4\)"
    ):
        F.mse_loss(tg.Tensor(x), np.zeros((3, 1)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight_shape", [None, (4,), (3, 1), (3, 4)])
def test_binary_cross_entropy(reduction, weight_shape):
    p = RNG.uniform(0.05, 0.95, size=(3, 4))
    y = RNG.uniform(0, 1, size=(3, 4))
    w = None if weight_shape is None else RNG.uniform(0.5, 2, size=weight_shape)
    ref = -(y * np.log(p) + (1 - y) * np.log(1 - p)) * (1 if w is None else w)
    ref = ref.mean() if reduction == "mean" else ref.sum() if reduction == "sum" else ref
    got = F.binary_cross_entropy(tg.Tensor(p), y, weight=w, reduction=reduction)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    f = lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction=reduction)  # noqa: E731
    ins = [tg.Tensor(p, requires_grad=True), tg.Tensor(y, requires_grad=True)]
    assert tg.gradcheck(f, ins)
    assert tg.gradgradcheck(f, ins)


def test_binary_cross_entropy_clamps_logs_at_minus_100():
    p = tg.Tensor(np.array([0.0, 1.0, 0.5]), requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, np.log(2)])
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*with_logits"):
        F.binary_cross_entropy(tg.Tensor(np.array([1.5])), np.array([1.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits(reduction, pos_weight, weighted):
    x = RNG.normal(scale=3, size=(3, 4))
    y = RNG.uniform(0, 1, size=(3, 4))
    pw = RNG.uniform(0.5, 3, size=4) if pos_weight else None
    w = RNG.uniform(0.5, 2, size=(3, 1)) if weighted else None
    s = 1 / (1 + np.exp(-x))
    ref = -((1 if pw is None else pw) * y * np.log(s) + (1 - y) * np.log(1 - s))
    ref = ref * (1 if w is None else w)
    ref = ref.mean() if reduction == "mean" else ref.sum() if reduction == "sum" else ref
    got = F.binary_cross_entropy_with_logits(tg.Tensor(x), y, w, reduction, pw)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)
    ins = [tg.Tensor(x, requires_grad=True), tg.Tensor(y, requires_grad=True)]
    if pw is not None:
        ins.append(tg.Tensor(pw, requires_grad=True))
    f = lambda *a: F.binary_cross_entropy_with_logits(a[0], a[1], w, reduction, *a[2:])  # noqa: E731
    assert tg.gradcheck(f, ins)
    assert tg.gradgradcheck(f, ins)


def test_bce_with_logits_is_stable_and_exact_at_zero():
    x = tg.Tensor(np.array([1e4, -1e4, 0.0, 0.0], dtype=np.float32), requires_grad=True)
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1e4, 1e4, np.log(2), np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, -0.5, 0.5], rtol=1e-6)
    assert loss.dtype == np.float32
    # the Tensor path used by double backward is exact at 0 as well
    z = tg.Tensor(np.array([0.0]), requires_grad=True)
    (g,) = tg.grad(F.binary_cross_entropy_with_logits(z, np.array([1.0])), z, create_graph=True)
    g.backward()
    np.testing.assert_allclose([g.item(), z.grad.item()], [-0.5, 0.25])


# --------------------------------------------------------------------------- helpers
def test_softmax_family_wrappers():
    x = tg.Tensor(RNG.normal(size=(2, 3)))
    np.testing.assert_allclose(F.softmax(x, axis=1).numpy().sum(1), 1)
    np.testing.assert_allclose(np.exp(F.log_softmax(x, axis=1).numpy()), F.softmax(x, 1).numpy())
    np.testing.assert_allclose(F.relu(x).numpy(), np.maximum(x.numpy(), 0))
    np.testing.assert_allclose(F.sigmoid(x).numpy(), 1 / (1 + np.exp(-x.numpy())))
    np.testing.assert_allclose(F.tanh(x).numpy(), np.tanh(x.numpy()))


def test_one_hot():
    oh = F.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert oh.shape == (2, 2, 3) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh.numpy()[0], [[1, 0, 0], [0, 0, 1]])
    assert F.one_hot(np.array([3])).shape == (1, 4)
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        F.one_hot(np.array([3]), 3)
    with pytest.raises(TypeError, match="integers"):
        F.one_hot(np.array([1.0]))


def test_accuracy():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert F.accuracy(logits, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert F.accuracy(tg.Tensor(logits), np.eye(2)[[1, 0, 1]]) == 1.0
    with pytest.raises(ValueError, match="does not match"):
        F.accuracy(logits, np.array([1, 0]))


@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_bce_weight_of_another_dtype_keeps_the_input_dtype(fn):
    """A float64 weight on float32 probabilities gives a float32 loss (PyTorch casts the weight
    too), equal to the loss with the weight converted first."""
    p = tg.Tensor(np.array([[0.2, 0.7], [0.9, 0.4]], np.float32), requires_grad=True)
    y = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    w64 = np.array([1.0, 2.5])
    loss = fn(p, y, weight=w64)
    assert loss.dtype == np.float32
    np.testing.assert_array_equal(loss.data, fn(p, y, weight=w64.astype(np.float32)).data)
    loss.backward()
    assert p.grad.dtype == np.float32
