"""Cross-checks against PyTorch (marked `torch`): optimizer trajectories over 20 steps of a
small MLP in float64, losses and their gradients, schedules and gradient clipping."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch  # the `torch` extra (CI installs torch==2.13.0); never skipped

import tinygrad_bp as tg
from tinygrad_bp import nn, optim
from tinygrad_bp.nn import functional as F
from tinygrad_bp.nn.utils import clip_grad_norm_

TF = torch.nn.functional
pytestmark = pytest.mark.torch

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 16, 5))  # 20 steps of batch 16
Y = RNG.integers(0, 3, size=(20, 16))


def _torch_mlp(model: nn.MLP):
    """The same network in PyTorch (its Linear stores the transposed weight)."""
    layers = []
    for m in model.layers:
        if isinstance(m, nn.Linear):
            lin = torch.nn.Linear(m.in_features, m.out_features, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(m.weight.numpy().T.copy()))
                lin.bias.copy_(torch.from_numpy(m.bias.numpy().copy()))
            layers.append(lin)
        else:
            layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


CONFIGS = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 1e-3}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "maximize": True}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.01}),
    ("adam", {"lr": 0.01, "amsgrad": True}),
    ("adamw", {"lr": 0.01}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    *(
        ("rmsprop", {"lr": 0.01, "alpha": alpha, "momentum": m, "centered": c, "weight_decay": wd})
        for alpha, m, c, wd in itertools.product((0.99, 0.8), (0.0, 0.9), (False, True), (0, 0.01))
    ),
    ("rmsprop", {"lr": 0.005, "eps": 1e-3, "momentum": 0.5, "maximize": True}),
    *(
        ("adagrad", {"lr": 0.1, "lr_decay": d, "weight_decay": wd, "initial_accumulator_value": a})
        for d, wd, a in itertools.product((0.0, 0.05), (0.0, 0.01), (0.0, 0.1))
    ),
    ("adagrad", {"lr": 0.05, "eps": 1e-3, "maximize": True}),
]


@pytest.mark.parametrize(("kind", "kwargs"), CONFIGS, ids=lambda v: str(v))
def test_optimizer_trajectories_equal_pytorch(kind, kwargs):
    ours = nn.MLP([5, 7, 3], "sigmoid", rng=1, dtype=np.float64)
    theirs = _torch_mlp(ours)
    make = {
        "sgd": (optim.SGD, torch.optim.SGD),
        "adam": (optim.Adam, torch.optim.Adam),
        "adamw": (optim.AdamW, torch.optim.AdamW),
        "rmsprop": (optim.RMSprop, torch.optim.RMSprop),
        "adagrad": (optim.Adagrad, torch.optim.Adagrad),
    }[kind]
    opt = make[0](ours.parameters(), **kwargs)
    topt = make[1](theirs.parameters(), **kwargs, foreach=False)
    for step in range(20):
        loss = F.cross_entropy(ours(tg.Tensor(X[step])), Y[step])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = TF.cross_entropy(theirs(torch.from_numpy(X[step])), torch.from_numpy(Y[step]))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-12, abs=1e-14)
        for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
            want = tp.detach().numpy()
            got = p.numpy().T if p.ndim == 2 else p.numpy()
            np.testing.assert_allclose(
                got, want, rtol=1e-11, atol=1e-13, err_msg=f"{name} step {step}"
            )


def _both(x, requires_grad=True):
    return tg.Tensor(x.copy(), requires_grad=requires_grad), torch.tensor(
        x, requires_grad=requires_grad
    )


def _check(ours, theirs, pairs):
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    (ours.sum() if ours.ndim else ours).backward()
    (theirs.sum() if theirs.ndim else theirs).backward()
    for a, b in pairs:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"weight": True},
        {"ignore_index": 1},
        {"label_smoothing": 0.15},
        {"weight": True, "ignore_index": 2, "label_smoothing": 0.2},
    ],
    ids=str,
)
def test_cross_entropy_and_nll_equal_pytorch(reduction, opts):
    x = RNG.normal(scale=3, size=(7, 4))
    t = np.array([0, 1, 2, 3, 1, 2, 0])
    kw = {k: v for k, v in opts.items() if k != "weight"}
    w = np.array([0.3, 1.0, 2.0, 0.7]) if opts.get("weight") else None
    a, b = _both(x)
    tw = None if w is None else torch.from_numpy(w)
    ours = F.cross_entropy(a, t, weight=w, reduction=reduction, **kw)
    theirs = TF.cross_entropy(b, torch.from_numpy(t), weight=tw, reduction=reduction, **kw)
    _check(ours, theirs, [(a, b)])
    if "label_smoothing" not in kw:
        a, b = _both(x)
        ours = F.nll_loss(F.log_softmax(a, 1), t, weight=w, reduction=reduction, **kw)
        theirs = TF.nll_loss(
            TF.log_softmax(b, 1), torch.from_numpy(t), weight=tw, reduction=reduction, **kw
        )
        _check(ours, theirs, [(a, b)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probability_and_nd_targets_equal_pytorch(reduction):
    x = RNG.normal(size=(3, 4, 2, 5))
    p = RNG.dirichlet(np.ones(4), size=(3, 2, 5)).transpose(0, 3, 1, 2).copy()
    w = np.array([1.0, 0.5, 2.0, 1.5])
    a, b = _both(x)
    ours = F.cross_entropy(a, p, weight=w, reduction=reduction, label_smoothing=0.1)
    theirs = TF.cross_entropy(
        b, torch.from_numpy(p), weight=torch.from_numpy(w), reduction=reduction, label_smoothing=0.1
    )
    _check(ours, theirs, [(a, b)])
    t = RNG.integers(0, 4, size=(3, 2, 5))
    a, b = _both(x)
    _check(
        F.cross_entropy(a, t, reduction=reduction),
        TF.cross_entropy(b, torch.from_numpy(t), reduction=reduction),
        [(a, b)],
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_losses_and_mse_equal_pytorch(reduction):
    p = RNG.uniform(0.01, 0.99, size=(4, 3))
    y = RNG.uniform(0, 1, size=(4, 3))
    w = RNG.uniform(0.5, 2, size=(3,))
    (a, b), (ya, yb) = _both(p), _both(y)
    _check(
        F.binary_cross_entropy(a, ya, weight=w, reduction=reduction),
        TF.binary_cross_entropy(b, yb, weight=torch.from_numpy(w), reduction=reduction),
        [(a, b), (ya, yb)],
    )
    x = RNG.normal(scale=4, size=(4, 3))
    pw = RNG.uniform(0.5, 3, size=(3,))
    (a, b), (ya, yb) = _both(x), _both(y)  # torch does not differentiate pos_weight
    _check(
        F.binary_cross_entropy_with_logits(a, ya, w, reduction, pw),
        TF.binary_cross_entropy_with_logits(
            b, yb, torch.from_numpy(w), reduction=reduction, pos_weight=torch.from_numpy(pw)
        ),
        [(a, b), (ya, yb)],
    )
    (a, b), (ya, yb) = _both(x), _both(y)
    _check(
        F.mse_loss(a, ya, reduction), TF.mse_loss(b, yb, reduction=reduction), [(a, b), (ya, yb)]
    )


def test_binary_cross_entropy_at_0_and_1_equals_pytorch():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.3])
    a, b = _both(p)
    _check(
        F.binary_cross_entropy(a, y, reduction="none"),
        TF.binary_cross_entropy(b, torch.from_numpy(y), reduction="none"),
        [(a, b)],
    )


def test_schedules_equal_pytorch():
    for ours_cls, theirs_cls, kw in (
        (
            optim.lr_scheduler.StepLR,
            torch.optim.lr_scheduler.StepLR,
            {"step_size": 3, "gamma": 0.3},
        ),
        (
            optim.lr_scheduler.CosineAnnealingLR,
            torch.optim.lr_scheduler.CosineAnnealingLR,
            {"T_max": 7, "eta_min": 0.001},
        ),
    ):
        o = optim.SGD([tg.Tensor(np.zeros(1), requires_grad=True)], lr=0.1)
        t = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        s, ts = ours_cls(o, **kw), theirs_cls(t, **kw)
        for _ in range(12):
            assert o.param_groups[0]["lr"] == pytest.approx(t.param_groups[0]["lr"], rel=1e-12)
            t.step()
            s.step()
            ts.step()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_equals_pytorch(norm_type):
    gs = [RNG.normal(size=(3, 4)), RNG.normal(size=5)]
    ours = [tg.Tensor(np.zeros_like(g), requires_grad=True) for g in gs]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for o, t, g in zip(ours, theirs, gs):
        o.grad = tg.Tensor(g.copy())
        t.grad = torch.from_numpy(g.copy())
    total = clip_grad_norm_(ours, 0.5, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type)
    assert total == pytest.approx(ttotal.item(), rel=1e-12)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)
