"""The activation modules (nn/activations.py) and their nn.functional wrappers: each module
and function gives exactly what the Tensor method it wraps gives, in value and gradient;
PyTorch's names, defaults, reprs and argument errors; a model using them trains and draws.
The cross-checks against torch.nn (values and input gradients, float64 and float32) are
marked `torch`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import nn
from tinygrad_bp.nn import functional as F

RNG = np.random.default_rng(3)
# away from the kinks (0, +-1, 6, -3, 3) by construction, plus the kinks in their own test
X = RNG.uniform(-7.5, 7.5, (4, 5))
KINKS = np.array([-3.0, -1.0, 0.0, 1.0, 3.0, 6.0, -2.0, 2.0])

# (module, functional, the Tensor method it wraps, the torch.nn module it mirrors)
CASES: dict[str, tuple[Any, Callable[..., Any], Callable[..., Any], Callable[..., Any]]] = {
    "GELU": (nn.GELU(), F.gelu, lambda x: x.gelu(), lambda t: t.GELU()),
    "GELU tanh": (
        nn.GELU("tanh"),
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: x.gelu("tanh"),
        lambda t: t.GELU(approximate="tanh"),
    ),
    "SiLU": (nn.SiLU(), F.silu, lambda x: x.silu(), lambda t: t.SiLU()),
    "ELU": (nn.ELU(), F.elu, lambda x: x.elu(), lambda t: t.ELU()),
    "ELU 0.5": (
        nn.ELU(0.5),
        lambda x: F.elu(x, alpha=0.5),
        lambda x: x.elu(0.5),
        lambda t: t.ELU(0.5),
    ),
    "LeakyReLU": (nn.LeakyReLU(), F.leaky_relu, lambda x: x.leaky_relu(), lambda t: t.LeakyReLU()),
    "LeakyReLU 0.2": (
        nn.LeakyReLU(0.2),
        lambda x: F.leaky_relu(x, negative_slope=0.2),
        lambda x: x.leaky_relu(0.2),
        lambda t: t.LeakyReLU(0.2),
    ),
    "Softplus": (nn.Softplus(), F.softplus, lambda x: x.softplus(), lambda t: t.Softplus()),
    "Softplus 2 3": (
        nn.Softplus(beta=2.0, threshold=3.0),
        lambda x: F.softplus(x, beta=2.0, threshold=3.0),
        lambda x: x.softplus(2.0, 3.0),
        lambda t: t.Softplus(beta=2.0, threshold=3.0),
    ),
    "Mish": (nn.Mish(), F.mish, lambda x: x.mish(), lambda t: t.Mish()),
    "Hardswish": (nn.Hardswish(), F.hardswish, lambda x: x.hardswish(), lambda t: t.Hardswish()),
    "Hardtanh": (nn.Hardtanh(), F.hardtanh, lambda x: x.hardtanh(), lambda t: t.Hardtanh()),
    "Hardtanh -2 2.5": (
        nn.Hardtanh(-2.0, 2.5),
        lambda x: F.hardtanh(x, min_val=-2.0, max_val=2.5),
        lambda x: x.hardtanh(-2.0, 2.5),
        lambda t: t.Hardtanh(-2.0, 2.5),
    ),
    "ReLU6": (nn.ReLU6(), F.relu6, lambda x: x.relu6(), lambda t: t.ReLU6()),
}


def _value_and_grad(fn: Callable[..., Any], a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = tg.Tensor(a.copy(), requires_grad=True)
    out = fn(x)
    out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(a.dtype))
    assert x.grad is not None
    return out.numpy(), x.grad.numpy()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("a", [X, KINKS], ids=["random", "kinks"])
def test_activation_module_and_function_equal_the_method(name, a):
    module, function, method, _ = CASES[name]
    want_value, want_grad = _value_and_grad(method, a)
    for fn in (module, function):
        value, grad = _value_and_grad(fn, a)
        np.testing.assert_array_equal(value, want_value)
        np.testing.assert_array_equal(grad, want_grad)


@pytest.mark.parametrize("name", CASES)
def test_activation_accepts_arrays_and_lists_and_keeps_float32(name):
    module, function, method, _ = CASES[name]
    a = X.astype(np.float32)
    want = method(tg.Tensor(a)).numpy()
    for fn in (module, function):
        out = fn(a)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.numpy(), want)
        np.testing.assert_array_equal(fn(a.tolist()).numpy(), want)  # lists become float32


def test_activation_reprs_as_pytorch_prints_them():
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    for m in ("SiLU", "Mish", "Hardswish", "ReLU6"):
        assert repr(getattr(nn, m)()) == f"{m}()"


def test_activation_bad_arguments_fail_when_built():
    with pytest.raises(ValueError, match=r"GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="Softplus: beta must be positive, got -1"):
        nn.Softplus(beta=-1.0)
    with pytest.raises(ValueError, match="Softplus: beta must be positive, got 0"):
        nn.Softplus(beta=0)
    with pytest.raises(ValueError, match=r"Hardtanh: min_val \(2.0\) must not be greater"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match="gelu: approximate must be"):
        F.gelu(X, approximate="erf")
    with pytest.raises(ValueError, match="softplus: beta must be positive"):
        F.softplus(X, beta=-1.0)
    with pytest.raises(TypeError, match="gelu: input must be a Tensor or array-like"):
        F.gelu(object())


def test_activation_modules_have_no_parameters_and_a_docstring():
    for name in ("GELU", "SiLU", "ELU", "LeakyReLU", "Softplus", "Mish", "Hardswish"):
        cls = getattr(nn, name)
        assert cls.__doc__ and list(cls().parameters()) == []
    for name in ("gelu", "silu", "elu", "leaky_relu", "softplus", "mish", "hardswish"):
        assert getattr(F, name).__doc__


def test_model_with_new_activations_trains_and_draws():
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Linear(4, 16, rng=0, dtype=np.float64),
        nn.GELU(),
        nn.Linear(16, 16, rng=1, dtype=np.float64),
        nn.SiLU(),
        nn.Linear(16, 3, rng=2, dtype=np.float64),
    )
    x = rng.standard_normal((32, 4))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    loss_fn = nn.CrossEntropyLoss()
    opt = tg.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    source = tg.draw_graph(loss_fn(model(x), y), params=model).source
    for label in ("GELU(approximate='none')", "SiLU()", "CrossEntropyLoss()", "Erf", "Sigmoid"):
        assert label in source


# --------------------------------------------------------------------------- PyTorch


@pytest.mark.torch
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("a", [X, KINKS], ids=["random", "kinks"])
def test_activation_module_matches_torch(name, dtype, a):
    import torch

    module, _, _, torch_module = CASES[name]
    theirs = torch_module(torch.nn)
    a = a.astype(dtype)
    value, grad = _value_and_grad(module, a)
    t = torch.tensor(a, requires_grad=True)
    out = theirs(t)
    out.backward(torch.from_numpy(np.random.default_rng(1).standard_normal(a.shape).astype(dtype)))
    assert t.grad is not None
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(value, out.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=tol, atol=tol)
    assert value.dtype == dtype and grad.dtype == dtype
