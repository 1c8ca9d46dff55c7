"""gradcheck / gradgradcheck: they pass right gradients, and catch and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Function, Tensor


def leaf(a):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


class ScaledSquare(Function):
    """z = x^2 with a configurable (possibly wrong) derivative factor."""

    factor = 2.0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ScaledSquare.factor * x


def test_gradcheck_passes_a_right_gradient_and_works_on_copies():
    x = Tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    assert tg.gradcheck(lambda x: (x * x).sum(), [x])
    assert x.dtype == np.float32 and x.grad is None  # the input itself is untouched


def test_gradcheck_message_names_function_output_input_and_values():
    def f(x, y):
        return ScaledSquare.apply(x) * y

    ScaledSquare.factor = 2.2
    try:
        with pytest.raises(tg.GradcheckError) as info:
            tg.gradcheck(f, [leaf([1.0, 3.0]), leaf([1.0, 1.0])])
    finally:
        ScaledSquare.factor = 2.0
    msg = str(info.value)
    assert "gradcheck(" in msg and "f" in msg
    assert "output 0" in msg and "input 0" in msg
    assert "worst at input element (1,)" in msg
    assert "numerical 6" in msg and "analytical 6.6" in msg
    assert "max abs error" in msg and "max rel error" in msg


def test_gradcheck_can_return_false_instead_of_raising():
    ScaledSquare.factor = 3.0
    try:
        assert tg.gradcheck(ScaledSquare.apply, [leaf([1.0])], raise_exception=False) is False
    finally:
        ScaledSquare.factor = 2.0


def test_gradcheck_names_the_failing_output_of_a_tuple():
    def f(x):
        return x * 2, ScaledSquare.apply(x)

    ScaledSquare.factor = 1.0
    try:
        with pytest.raises(tg.GradcheckError, match="output 1"):
            tg.gradcheck(f, [leaf([1.0, 2.0])])
    finally:
        ScaledSquare.factor = 2.0


def test_gradcheck_catches_a_gradient_that_ignores_upstream_grad():
    class IgnoresG(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return np.full(g.shape, 3.0)  # right only for g == 1

    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(IgnoresG.apply, [leaf([1.0, 2.0])])


def test_gradcheck_catches_a_nondeterministic_backward():
    rng = np.random.default_rng(0)

    class Noisy(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g * (1 + 1e-9 * rng.standard_normal())

    with pytest.raises(tg.GradcheckError, match="two backward passes"):
        tg.gradcheck(Noisy.apply, [leaf([1.0])])


def test_gradcheck_needs_float64_outputs_and_a_differentiable_input():
    w32 = Tensor(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="float64"):
        tg.gradcheck(lambda x: (x * w32).astype("float32"), [leaf([1.0, 2.0])])
    with pytest.raises(ValueError, match="requires_grad"):
        tg.gradcheck(lambda x: x * 2, [Tensor([1.0])])


def test_gradcheck_samples_elements_of_large_inputs():
    x = leaf(np.linspace(-1, 1, 400))
    calls = []

    def f(x):
        calls.append(1)
        return (x.tanh() * x).sum()

    assert tg.gradcheck(f, [x], max_elements=10)
    assert len(calls) <= 1 + 2 * 10 + 1


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class CubeWrong2nd(Function):
        """z = x^3, whose backward is right once but its derivative is not: 3 x^2 written as
        3 * x * stop_gradient(x) has second derivative 3x instead of 6x."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            xd = x.detach() if isinstance(x, Tensor) else x
            return g * 3 * x * xd

    x = leaf([0.5, 1.5])
    assert tg.gradcheck(CubeWrong2nd.apply, [x])
    with pytest.raises(tg.GradcheckError, match="grad of"):
        tg.gradgradcheck(CubeWrong2nd.apply, [x])


def test_gradgradcheck_passes_built_in_compositions():
    rng = np.random.default_rng(1)
    x, w = leaf(rng.standard_normal((2, 3))), leaf(rng.standard_normal((3, 2)))
    assert tg.gradgradcheck(lambda x, w: (x @ w).softmax(axis=1), [x, w])
