"""optim: SGD/Adam/AdamW/RMSprop/Adagrad update rules against hand-computed values, parameter
groups, validation, in-place float32 updates, state dicts and resuming, learning-rate schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import optim
from tinygrad_bp.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from tinygrad_bp.optim import lr_scheduler as sched


def _param(values, dtype=np.float64):
    return tg.Tensor(np.array(values, dtype=dtype), requires_grad=True)


def _set_grad(p, g):
    p.grad = tg.Tensor(np.array(g, dtype=p.dtype))


def test_sgd_momentum_dampening_weight_decay_three_steps_by_hand():
    p = _param([1.0, -2.0])
    opt = SGD([p], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)
    grads = [[0.5, 1.0], [-1.0, 0.25], [2.0, 0.0]]
    x, buf = np.array([1.0, -2.0]), None
    for g in grads:
        _set_grad(p, g)
        opt.step()
        d = np.array(g) + 0.01 * x
        buf = d.copy() if buf is None else 0.9 * buf + 0.5 * d  # the first buffer is undamped
        x = x - 0.1 * buf
        np.testing.assert_allclose(p.numpy(), x, rtol=1e-15)
    # literal values of the first step: d = [0.51, 0.98], p = [1 - 0.051, -2 - 0.098]
    q = _param([1.0, -2.0])
    o = SGD([q], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)
    _set_grad(q, grads[0])
    o.step()
    np.testing.assert_allclose(q.numpy(), [0.949, -2.098], rtol=1e-15)


def test_sgd_nesterov_three_steps_by_hand():
    p = _param([0.5])
    opt = SGD([p], lr=0.2, momentum=0.5, nesterov=True)
    expected = []
    x, buf = 0.5, None
    for g in (1.0, 2.0, -1.0):
        buf = g if buf is None else 0.5 * buf + g
        x -= 0.2 * (g + 0.5 * buf)
        expected.append(x)
    got = []
    for g in (1.0, 2.0, -1.0):
        _set_grad(p, [g])
        opt.step()
        got.append(p.item())
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    np.testing.assert_allclose(
        expected, [0.5 - 0.3, 0.2 - 0.2 * (2 + 1.25), -0.45 - 0.2 * (-1 + 0.125)]
    )


def test_sgd_plain_and_maximize():
    p = _param([1.0])
    opt = SGD([p], lr=0.5)
    _set_grad(p, [2.0])
    opt.step()
    assert p.item() == 0.0
    q = _param([1.0])
    o = SGD([q], lr=0.5, maximize=True)
    _set_grad(q, [2.0])
    o.step()
    assert q.item() == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -0.1}, "learning rate"),
        ({"lr": 0.1, "momentum": -0.9}, "momentum"),
        ({"lr": 0.1, "dampening": -1}, "dampening"),
        ({"lr": 0.1, "weight_decay": -1e-4}, "weight_decay"),
        ({"lr": 0.1, "nesterov": True}, "Nesterov"),
        ({"lr": 0.1, "nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov"),
    ],
)
def test_sgd_rejects_invalid_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD([_param([1.0])], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -1.0}, "learning rate"),
        ({"betas": (1.0, 0.999)}, "beta parameter at index 0"),
        ({"betas": (0.9, -0.1)}, "beta parameter at index 1"),
        ({"eps": -1e-8}, "epsilon"),
        ({"weight_decay": -0.1}, "weight_decay"),
    ],
)
def test_adam_rejects_invalid_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Adam([_param([1.0])], **kwargs)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda ps: RMSprop(ps, lr=-0.1), "learning rate"),
        (lambda ps: RMSprop(ps, alpha=-0.5), "alpha"),
        (lambda ps: RMSprop(ps, eps=-1e-8), "eps"),
        (lambda ps: RMSprop(ps, weight_decay=-0.1), "weight_decay"),
        (lambda ps: RMSprop(ps, momentum=-0.9), "momentum"),
        (lambda ps: Adagrad(ps, lr=-0.1), "learning rate"),
        (lambda ps: Adagrad(ps, lr_decay=-0.1), "lr_decay"),
        (lambda ps: Adagrad(ps, weight_decay=-0.1), "weight_decay"),
        (lambda ps: Adagrad(ps, initial_accumulator_value=-1), "initial_accumulator_value"),
        (lambda ps: Adagrad(ps, eps=-1e-10), "eps"),
    ],
)
def test_rmsprop_and_adagrad_reject_invalid_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make([_param([1.0])])


def test_rmsprop_two_steps_by_hand():
    p = _param([1.0])
    opt = RMSprop([p], lr=0.1, alpha=0.5, eps=0.0)
    _set_grad(p, [2.0])
    opt.step()  # v = 0.5 * 0 + 0.5 * 2^2 = 2
    assert p.item() == pytest.approx(1 - 0.1 * 2 / math.sqrt(2), rel=1e-15)
    _set_grad(p, [1.0])
    opt.step()  # v = 0.5 * 2 + 0.5 * 1^2 = 1.5
    assert p.item() == pytest.approx(1 - 0.1 * math.sqrt(2) - 0.1 / math.sqrt(1.5), rel=1e-15)
    assert opt.state[p]["step"] == 2 and opt.state[p]["square_avg"][0] == 1.5


def test_rmsprop_centered_with_momentum_and_maximize_two_steps_by_hand():
    p = _param([1.0])
    opt = RMSprop([p], lr=0.1, alpha=0.5, eps=0.0, momentum=0.5, centered=True)
    _set_grad(p, [2.0])
    opt.step()  # v = 2, g_avg = 1, v - g_avg^2 = 1, buf = 2 / 1 = 2
    assert p.item() == pytest.approx(0.8, rel=1e-15)
    _set_grad(p, [1.0])
    opt.step()  # v = 1.5, g_avg = 1, v - g_avg^2 = 0.5, buf = 0.5 * 2 + 1 / sqrt(0.5)
    assert p.item() == pytest.approx(0.8 - 0.1 * (1 + math.sqrt(2)), rel=1e-14)
    q = _param([1.0])
    up = RMSprop([q], lr=0.1, alpha=0.5, eps=0.0, maximize=True)
    _set_grad(q, [2.0])
    up.step()  # the same step uphill
    assert q.item() == pytest.approx(1 + 0.1 * math.sqrt(2), rel=1e-15)


def test_adagrad_two_steps_by_hand():
    p = _param([1.0])
    opt = Adagrad([p], lr=0.5, lr_decay=0.5, weight_decay=0.1, initial_accumulator_value=1.0)
    _set_grad(p, [1.9])
    opt.step()  # g = 1.9 + 0.1 * 1 = 2, sum = 1 + 4 = 5, lr_1 = 0.5
    p1 = 1 - 0.5 * 2 / (math.sqrt(5) + 1e-10)
    assert p.item() == pytest.approx(p1, rel=1e-15)
    _set_grad(p, [1.0])
    opt.step()  # g = 1 + 0.1 * p1, sum = 5 + g^2, lr_2 = 0.5 / (1 + 0.5)
    g = 1 + 0.1 * p1
    assert p.item() == pytest.approx(p1 - 0.5 / 1.5 * g / (math.sqrt(5 + g * g) + 1e-10), rel=1e-15)
    assert opt.state[p]["step"] == 2 and opt.state[p]["sum"][0] == pytest.approx(5 + g * g)


def test_adagrad_steps_shrink_with_the_accumulated_squares():
    p = _param([0.0])
    opt = Adagrad([p], lr=1.0, eps=0.0)
    moves = []
    for _ in range(4):
        before = p.item()
        _set_grad(p, [1.0])
        opt.step()
        moves.append(before - p.item())
    np.testing.assert_allclose(moves, [1 / math.sqrt(k) for k in (1, 2, 3, 4)], rtol=1e-15)


def test_optimizer_rejects_bad_params():
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(_param([1.0]), lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="leaf Tensor with requires_grad"):
        SGD([tg.ones(2)], lr=0.1)
    p = _param([1.0])
    with pytest.raises(ValueError, match="more than one place"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="unknown option"):
        SGD([{"params": [p], "lrr": 0.1}], lr=0.1)


def test_adam_first_steps_by_hand():
    p = _param([1.0, -1.0])
    opt = Adam([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    x = np.array([1.0, -1.0])
    m = v = np.zeros(2)
    for t, g in enumerate([[0.5, -2.0], [1.0, 1.0], [-0.3, 0.2]], start=1):
        g = np.array(g)
        _set_grad(p, g)
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.99 * v + 0.01 * g * g
        x = x - 0.1 / (1 - 0.9**t) * m / (np.sqrt(v) / math.sqrt(1 - 0.99**t) + 1e-8)
        np.testing.assert_allclose(p.numpy(), x, rtol=1e-13)
    assert opt.state[p]["step"] == 3


def test_adamw_decays_weights_decoupled_and_adam_couples_them():
    p, q = _param([2.0]), _param([2.0])
    a = AdamW([p], lr=0.1, weight_decay=0.5)
    b = Adam([q], lr=0.1, weight_decay=0.5)
    _set_grad(p, [1.0])
    _set_grad(q, [1.0])
    a.step()
    b.step()
    assert p.item() == pytest.approx(2.0 * (1 - 0.05) - 0.1, rel=1e-7)  # decay, then a unit step
    assert q.item() == pytest.approx(2.0 - 0.1, rel=1e-7)  # L2 folded into g: still a unit step
    assert AdamW([_param([1.0])]).defaults["weight_decay"] == 0.01


def test_adam_amsgrad_keeps_the_max_second_moment():
    p = _param([0.0])
    opt = Adam([p], lr=0.1, amsgrad=True)
    for g in (10.0, 0.1):
        _set_grad(p, [g])
        opt.step()
    st = opt.state[p]
    assert st["max_exp_avg_sq"][0] == pytest.approx(0.001 * 100)
    assert st["max_exp_avg_sq"][0] > st["exp_avg_sq"][0]


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: Adam(ps),
        lambda ps: RMSprop(ps, momentum=0.9, centered=True, weight_decay=0.1),
        lambda ps: Adagrad(ps, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
    ],
    ids=["sgd", "adam", "rmsprop", "adagrad"],
)
def test_updates_are_in_place_float32_and_bump_versions(make):
    p = _param(np.ones((3, 2)), dtype=np.float32)
    arr, v = p.data, p._version
    opt = make([p])
    for _ in range(2):
        _set_grad(p, np.full((3, 2), 0.5))
        opt.step()
    assert p.data is arr and p.dtype == np.float32 and p._version > v
    for value in opt.state[p].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


def test_step_invalidates_graphs_that_saved_the_parameter():
    p = _param([1.0, 2.0])
    y = (p * p).sum()
    opt = SGD([p], lr=0.1)
    _set_grad(p, [1.0, 1.0])
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_step_skips_params_without_grad_and_runs_closure():
    p, q = _param([1.0]), _param([1.0])
    opt = SGD([p, q], lr=1.0)
    _set_grad(p, [1.0])

    def closure():
        return 42.0

    assert opt.step(closure) == 42.0
    assert p.item() == 0.0 and q.item() == 1.0


def test_param_groups_have_their_own_options():
    a, b = _param([1.0]), _param([1.0])
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    _set_grad(a, [1.0])
    _set_grad(b, [1.0])
    opt.step()
    assert (a.item(), b.item()) == pytest.approx((0.9, 0.5))
    c = _param([1.0])
    opt.add_param_group({"params": c, "momentum": 0.9})
    assert opt.param_groups[2]["momentum"] == 0.9 and opt.param_groups[2]["lr"] == 0.1
    assert "Parameter Group 2" in repr(opt)


def test_zero_grad_to_none_or_zeros():
    p = _param([1.0, 2.0])
    _set_grad(p, [3.0, 4.0])
    opt = SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and not p.grad.numpy().any()
    opt.zero_grad()
    assert p.grad is None


def _trajectory(opt_factory, steps, state=None, start=0):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(steps, 4))
    p = _param(np.arange(4.0) if state is None else state[0])
    opt = opt_factory([p])
    if state is not None:
        opt.load_state_dict(state[1])
    for g in grads[start:]:
        _set_grad(p, g)
        opt.step()
    return p, opt


@pytest.mark.parametrize(
    "factory",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda ps: Adam(ps, lr=0.01, amsgrad=True),
        lambda ps: AdamW(ps, lr=0.01),
        lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
        lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"],
)
def test_state_dict_resume_gives_the_same_trajectory(factory, tmp_path):
    from tinygrad_bp import serialization

    full, _ = _trajectory(factory, 6)
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(6, 4))
    p = _param(np.arange(4.0))
    opt = factory([p])
    for g in grads[:3]:
        _set_grad(p, g)
        opt.step()
    serialization.save(tmp_path / "o.npz", {"p": p.data, "opt": opt.state_dict()})
    saved = serialization.load(tmp_path / "o.npz")
    resumed, _ = _trajectory(factory, 6, state=(saved["p"], saved["opt"]), start=3)
    np.testing.assert_array_equal(resumed.numpy(), full.numpy())


def test_state_dict_is_pytorch_shaped_and_load_validates():
    p, q = _param([1.0, 2.0]), _param([3.0])
    opt = SGD([{"params": [p]}, {"params": [q], "lr": 0.2}], lr=0.1, momentum=0.9)
    _set_grad(p, [1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"]) == [0] and [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    sd["state"][0]["momentum_buffer"][0] = 99  # a copy
    assert opt.state[p]["momentum_buffer"][0] == 1.0
    other = SGD([_param([0.0, 0.0])], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="2 parameter groups saved, 1 in this optimizer"):
        other.load_state_dict(opt.state_dict())
    wrong = SGD([{"params": [_param([0.0, 0.0, 0.0])]}, {"params": [_param([0.0])]}], lr=0.1)
    with pytest.raises(ValueError, match="has shape"):
        wrong.load_state_dict(opt.state_dict())
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="learning rate"):
        opt.load_state_dict(bad)


# --------------------------------------------------------------------------- schedules
def test_step_lr():
    opt = SGD([_param([1.0])], lr=1.0)
    s = sched.StepLR(opt, step_size=2, gamma=0.5)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(5):
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert s.get_last_lr() == [0.25]
    with pytest.raises(ValueError, match="step_size"):
        sched.StepLR(opt, step_size=0)


def test_cosine_annealing_lr_and_state_dict():
    opt = SGD([_param([1.0])], lr=0.1)
    s = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(4):
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)
    opt2 = SGD([_param([1.0])], lr=0.1)
    s2 = sched.CosineAnnealingLR(opt2, T_max=4, eta_min=0.01)
    s2.load_state_dict(s.state_dict())
    opt2.load_state_dict(opt.state_dict())
    s.step()
    s2.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    with pytest.raises(TypeError, match="Optimizer"):
        sched.StepLR(object(), 1)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(SGD([_param([1.0])], lr=0.1), 1, last_epoch=3)


def test_step_runs_without_grad_mode_and_restores_it_even_on_an_error():
    seen = []

    class Probe(SGD):
        def _update_group(self, group):
            seen.append(tg.is_grad_enabled())
            p = group["params"][0]
            assert not (p * 2).requires_grad  # Tensor ops here record no graph
            if len(seen) == 2:
                raise ValueError("boom")
            super()._update_group(group)

    p = tg.Tensor(np.ones(3), requires_grad=True)
    opt = Probe([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    with pytest.raises(ValueError, match="boom"):
        opt.step()
    assert seen == [False, False] and tg.is_grad_enabled()
    np.testing.assert_allclose(p.data, 0.8)  # the first step only
