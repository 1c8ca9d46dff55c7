"""Anomaly mode: the first NaN/Inf in a forward result or a backward gradient is reported
with the op's name and the user's line that created it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Function, Tensor
from tinygrad_bp.engine.anomaly import AnomalyError


def test_forward_nan_names_the_op_and_the_users_line():
    x = Tensor(np.array([-1.0, 4.0]), requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(AnomalyError) as info, np.errstate(invalid="ignore"):
        x.sqrt()  # the line that must be named
    msg = str(info.value)
    assert "Sqrt forward produced 1 NaN" in msg
    assert "test_anomaly.py" in msg and "x.sqrt()" in msg


def test_backward_inf_names_the_op_created_in_user_code():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with tg.detect_anomaly():
        y = x.sqrt()  # sqrt'(0) = inf
        with pytest.raises(AnomalyError) as info, np.errstate(divide="ignore"):
            y.sum().backward()
    msg = str(info.value)
    assert "Sqrt backward returned" in msg and "Inf" in msg and "y = x.sqrt()" in msg


def test_custom_function_nan_gradient_is_caught():
    class BadGrad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * np.nan

    x = Tensor([1.0], requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(AnomalyError, match="BadGrad backward"):
        BadGrad.apply(x).sum().backward()


def test_anomaly_mode_off_lets_nan_through_and_is_restored():
    x = Tensor(np.array([np.nan]), requires_grad=True)
    assert np.isnan((x * 2).data).all()
    with tg.detect_anomaly():
        pass
    assert np.isnan((x * 2).data).all()


def test_set_detect_anomaly_and_thread_locality():
    x = Tensor(np.array([np.inf]))
    tg.set_detect_anomaly(True)
    try:
        seen = []

        def other():
            seen.append(float((x * 1).data[0]))  # no anomaly mode in this thread

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert seen == [np.inf]
        with pytest.raises(AnomalyError):
            x * 1
    finally:
        tg.set_detect_anomaly(False)


def test_anomaly_mode_passes_clean_training_steps():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    with tg.detect_anomaly():
        for _ in range(3):
            loss = (Tensor(rng.standard_normal((4, 3))) @ w).sigmoid().log().mean()
            loss.backward()
    assert np.isfinite(w.grad.data).all()
