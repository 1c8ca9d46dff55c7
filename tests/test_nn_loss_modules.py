"""The loss modules (nn/loss_modules.py) and the new regression losses (l1_loss,
smooth_l1_loss, huber_loss): each module gives what its function gives; the new losses pass
gradcheck and gradgradcheck (input and target) in float64; shapes that differ raise instead of
broadcasting; bad arguments fail with the function's name; class weights are buffers that
round-trip through state_dict. The cross-checks against torch.nn (values and input gradients,
float64 and float32, every reduction, weights, ignore_index, label_smoothing) are marked
`torch`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import nn
from tinygrad_bp.nn import functional as F

RNG = np.random.default_rng(7)
N, C = 6, 4
LOGITS = RNG.standard_normal((N, C)) * 2
LABELS = np.array([0, 3, 1, 2, 3, 1])
LABELS_IGNORED = np.array([0, 3, -100, 2, 1, -100])
PROBS = RNG.uniform(0.05, 0.95, (N, C))
BINARY = (RNG.uniform(size=(N, C)) > 0.5).astype(np.float64)
PRED = RNG.standard_normal((N, C)) * 2
TARGET = RNG.standard_normal((N, C)) * 2
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])

# name -> (our module, its functional form, torch.nn module builder, input, target)
CASES: dict[str, tuple[Any, Callable[..., Any], Callable[[Any], Any], np.ndarray, np.ndarray]] = {}


def _case(name, module, function, theirs, x, t):
    CASES[name] = (module, function, theirs, x, t)


for red in ("mean", "sum", "none"):
    _case(
        f"CrossEntropyLoss {red}",
        nn.CrossEntropyLoss(reduction=red),
        lambda x, t, r=red: F.cross_entropy(x, t, reduction=r),
        lambda m, r=red: m.CrossEntropyLoss(reduction=r),
        LOGITS,
        LABELS,
    )
    _case(
        f"CrossEntropyLoss weight ignore smoothing {red}",
        nn.CrossEntropyLoss(CLASS_WEIGHT, ignore_index=-100, reduction=red, label_smoothing=0.2),
        lambda x, t, r=red: F.cross_entropy(
            x, t, CLASS_WEIGHT, -100, reduction=r, label_smoothing=0.2
        ),
        lambda m, r=red: m.CrossEntropyLoss(
            weight=_torch(CLASS_WEIGHT), reduction=r, label_smoothing=0.2
        ),
        LOGITS,
        LABELS_IGNORED,
    )
    _case(
        f"NLLLoss weight ignore_index {red}",
        nn.NLLLoss(CLASS_WEIGHT, ignore_index=2, reduction=red),
        lambda x, t, r=red: F.nll_loss(x, t, CLASS_WEIGHT, ignore_index=2, reduction=r),
        lambda m, r=red: m.NLLLoss(weight=_torch(CLASS_WEIGHT), ignore_index=2, reduction=r),
        np.log(PROBS / PROBS.sum(axis=1, keepdims=True)),
        LABELS,
    )
    _case(
        f"MSELoss {red}",
        nn.MSELoss(reduction=red),
        lambda x, t, r=red: F.mse_loss(x, t, reduction=r),
        lambda m, r=red: m.MSELoss(reduction=r),
        PRED,
        TARGET,
    )
    _case(
        f"L1Loss {red}",
        nn.L1Loss(reduction=red),
        lambda x, t, r=red: F.l1_loss(x, t, reduction=r),
        lambda m, r=red: m.L1Loss(reduction=r),
        PRED,
        TARGET,
    )
    for beta in (1.0, 0.5, 0.0):
        _case(
            f"SmoothL1Loss beta={beta} {red}",
            nn.SmoothL1Loss(reduction=red, beta=beta),
            lambda x, t, r=red, b=beta: F.smooth_l1_loss(x, t, reduction=r, beta=b),
            lambda m, r=red, b=beta: m.SmoothL1Loss(reduction=r, beta=b),
            PRED,
            TARGET,
        )
    for delta in (1.0, 2.5):
        _case(
            f"HuberLoss delta={delta} {red}",
            nn.HuberLoss(red, delta),
            lambda x, t, r=red, d=delta: F.huber_loss(x, t, reduction=r, delta=d),
            lambda m, r=red, d=delta: m.HuberLoss(reduction=r, delta=d),
            PRED,
            TARGET,
        )
    _case(
        f"BCELoss weight {red}",
        nn.BCELoss(CLASS_WEIGHT, reduction=red),
        lambda x, t, r=red: F.binary_cross_entropy(x, t, CLASS_WEIGHT, reduction=r),
        lambda m, r=red: m.BCELoss(weight=_torch(CLASS_WEIGHT), reduction=r),
        PROBS,
        BINARY,
    )
    _case(
        f"BCEWithLogitsLoss weight pos_weight {red}",
        nn.BCEWithLogitsLoss(CLASS_WEIGHT, reduction=red, pos_weight=CLASS_WEIGHT[::-1]),
        lambda x, t, r=red: F.binary_cross_entropy_with_logits(
            x, t, CLASS_WEIGHT, reduction=r, pos_weight=CLASS_WEIGHT[::-1]
        ),
        lambda m, r=red: m.BCEWithLogitsLoss(
            weight=_torch(CLASS_WEIGHT), reduction=r, pos_weight=_torch(CLASS_WEIGHT[::-1])
        ),
        LOGITS,
        BINARY,
    )


def _torch(a: np.ndarray) -> Any:
    import torch

    return torch.tensor(a.copy())


def _value_and_grad(fn: Callable[..., Any], x: np.ndarray, t: np.ndarray) -> Any:
    xt = tg.Tensor(x.copy(), requires_grad=True)
    out = fn(xt, t)
    out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype))
    assert xt.grad is not None
    return out.numpy(), xt.grad.numpy()


@pytest.mark.parametrize("name", CASES)
def test_loss_module_equals_its_function(name):
    module, function, _, x, t = CASES[name]
    value, grad = _value_and_grad(module, x, t)
    want_value, want_grad = _value_and_grad(function, x, t)
    np.testing.assert_array_equal(value, want_value)
    np.testing.assert_array_equal(grad, want_grad)


NEW_LOSSES = {
    "l1_loss": F.l1_loss,
    "smooth_l1_loss": lambda x, t, **kw: F.smooth_l1_loss(x, t, beta=0.7, **kw),
    "smooth_l1_loss beta=0": lambda x, t, **kw: F.smooth_l1_loss(x, t, beta=0.0, **kw),
    "huber_loss": lambda x, t, **kw: F.huber_loss(x, t, delta=1.3, **kw),
}


@pytest.mark.parametrize("name", NEW_LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_new_loss_gradcheck_input_and_target(name, reduction):
    loss = NEW_LOSSES[name]
    # |x - t| kept away from 0 and from beta/delta (the kinks), where differences are one-sided
    d = RNG.choice([-1, 1], (3, 4)) * RNG.uniform(0.05, 3.0, (3, 4))
    d[np.abs(np.abs(d) - 0.7) < 0.05] += 0.2
    d[np.abs(np.abs(d) - 1.3) < 0.05] += 0.2
    t = RNG.standard_normal((3, 4))
    x = tg.Tensor(t + d, requires_grad=True)
    y = tg.Tensor(t, requires_grad=True)
    assert tg.gradcheck(lambda a, b: loss(a, b, reduction=reduction), [x, y])
    assert tg.gradgradcheck(lambda a, b: loss(a, b, reduction=reduction), [x, y])


def test_new_losses_values_by_hand():
    x, t = np.array([0.0, 0.5, -2.0, 3.0]), np.array([0.0, 0.0, 0.0, 1.0])  # d = 0, .5, -2, 2
    np.testing.assert_allclose(F.l1_loss(x, t, reduction="none").numpy(), [0, 0.5, 2, 2])
    np.testing.assert_allclose(
        F.smooth_l1_loss(x, t, reduction="none").numpy(), [0, 0.125, 1.5, 1.5]
    )
    np.testing.assert_allclose(  # beta 4: all quadratic, 0.5 d^2 / 4
        F.smooth_l1_loss(x, t, reduction="none", beta=4.0).numpy(), [0, 0.03125, 0.5, 0.5]
    )
    np.testing.assert_allclose(  # delta 0.25: 0.25 (|d| - 0.125)
        F.huber_loss(x, t, reduction="none", delta=0.25).numpy(),
        [0, 0.09375, 0.46875, 0.46875],
    )
    np.testing.assert_allclose(F.huber_loss(x, t, reduction="sum").numpy(), 0.125 + 1.5 + 1.5)
    # the gradient at d = 0 is 0 (|d|'s subgradient, PyTorch's too)
    xt = tg.Tensor(x, requires_grad=True)
    F.l1_loss(xt, t, reduction="sum").backward()
    assert xt.grad is not None
    np.testing.assert_array_equal(xt.grad.numpy(), [0, 1, -1, 1])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_loss_float32_stays_float32(name):
    x = tg.Tensor(PRED.astype(np.float32), requires_grad=True)
    out = getattr(F, name)(x, TARGET.astype(np.float32))
    out.backward()
    assert out.dtype == np.float32 and x.grad is not None and x.grad.dtype == np.float32
    out = getattr(F, name)(x, TARGET.tolist())  # a list target follows the input
    assert out.dtype == np.float32


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_loss_mismatched_shapes_raise_instead_of_broadcasting(name):
    # PyTorch warns and broadcasts (3, 4) against (4,) to a (3, 4) loss; that is usually a
    # bug (a (N, 1) prediction against (N,) targets becomes an (N, N) loss), so we raise
    with pytest.raises(ValueError, match=rf"{name}: target shape \(4,\) differs from input "):
        getattr(F, name)(PRED[:3], TARGET[0])
    with pytest.raises(ValueError, match=r"target shape \(3,\) differs from input shape \(3, 1\)"):
        getattr(F, name)(PRED[:3, :1], TARGET[:3, 0])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_loss_bad_reduction_and_input_dtype(name):
    with pytest.raises(ValueError, match=rf"{name}: reduction must be 'mean', 'sum' or 'none'"):
        getattr(F, name)(PRED, TARGET, reduction="avg")
    with pytest.raises(TypeError, match=rf"{name}: input must be floating point"):
        getattr(F, name)(np.arange(4), np.arange(4.0))


def test_beta_and_delta_checked():
    with pytest.raises(ValueError, match=r"smooth_l1_loss: beta must be 0 or more, got -0\.5"):
        F.smooth_l1_loss(PRED, TARGET, beta=-0.5)
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got 0"):
        F.huber_loss(PRED, TARGET, delta=0.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got nan"):
        F.huber_loss(PRED, TARGET, delta=float("nan"))
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be 0 or more, got -1"):
        nn.SmoothL1Loss(beta=-1.0)
    with pytest.raises(ValueError, match="HuberLoss: delta must be positive, got -1"):
        nn.HuberLoss(delta=-1.0)


@pytest.mark.parametrize(
    "cls", [nn.CrossEntropyLoss, nn.NLLLoss, nn.MSELoss, nn.L1Loss, nn.BCELoss, nn.HuberLoss]
)
def test_loss_module_unknown_reduction_fails_when_built(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: reduction must be 'mean', 'sum'"):
        cls(reduction="avg")


def test_cross_entropy_loss_label_smoothing_checked_when_built():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing must be in \[0, 1\]"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


def test_loss_module_weight_must_be_numbers():
    with pytest.raises(TypeError, match="CrossEntropyLoss: weight must be numbers"):
        nn.CrossEntropyLoss(weight=["a", "b"])


def test_loss_module_reprs_are_empty_as_pytorch_prints_them():
    assert repr(nn.CrossEntropyLoss(CLASS_WEIGHT, label_smoothing=0.1)) == "CrossEntropyLoss()"
    assert repr(nn.HuberLoss(delta=2.0)) == "HuberLoss()"


def test_loss_weight_is_a_private_buffer_that_round_trips_through_state_dict():
    w = CLASS_WEIGHT.copy()
    loss_fn = nn.CrossEntropyLoss(w)
    w[:] = 100.0  # the caller's array changing later does not reach the module
    assert loss_fn.weight is not None
    np.testing.assert_array_equal(loss_fn.weight.numpy(), CLASS_WEIGHT)
    assert list(loss_fn.parameters()) == []  # a buffer, not a parameter
    state = loss_fn.state_dict()
    assert list(state) == ["weight"] and state["weight"].dtype == np.float64
    other = nn.CrossEntropyLoss(np.ones(C))
    want = loss_fn(LOGITS, LABELS).item()
    assert other(LOGITS, LABELS).item() != want
    other.load_state_dict(state)
    assert other(LOGITS, LABELS).item() == want
    assert nn.CrossEntropyLoss().state_dict() == {}  # no weight, no entry
    with pytest.raises(ValueError, match="unexpected keys: weight"):
        nn.CrossEntropyLoss().load_state_dict(state)


def test_bce_with_logits_loss_buffers_and_astype():
    loss_fn = nn.BCEWithLogitsLoss([1.0, 2.0, 3.0, 4.0], pos_weight=[2, 2, 2, 2])
    state = loss_fn.state_dict()
    assert sorted(state) == ["pos_weight", "weight"]
    assert state["weight"].dtype == np.float32 and state["pos_weight"].dtype == np.float32
    loss_fn.double()
    assert loss_fn.weight is not None and loss_fn.weight.dtype == np.float64
    assert loss_fn.pos_weight is not None and loss_fn.pos_weight.dtype == np.float64


# --------------------------------------------------------------------------- PyTorch


@pytest.mark.torch
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_module_matches_torch(name, dtype):
    import torch

    module, _, theirs, x, t = CASES[name]
    x = x.astype(dtype)
    t = t if t.dtype.kind == "i" else t.astype(dtype)
    tm = theirs(torch.nn)
    if dtype == np.float32:  # the modules convert their weight buffers, as PyTorch's do
        module, tm = copy.deepcopy(module).float(), tm.float()
    value, grad = _value_and_grad(module, x, t)
    tx = torch.tensor(x, requires_grad=True)
    out = tm(tx, torch.tensor(t))
    up = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(torch.from_numpy(up))
    assert tx.grad is not None
    tol = 1e-12 if dtype == np.float64 else 3e-6
    np.testing.assert_allclose(value, out.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=tol, atol=tol)
    assert value.dtype == dtype and grad.dtype == dtype
