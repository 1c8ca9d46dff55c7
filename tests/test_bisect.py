"""``find_bad_gradient``: wrong backwards planted in custom Functions deep inside MLPs and
random graphs are named every time, with the line that created them; correct graphs pass."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp.testing import GRAPH_OPS, find_bad_gradient, graphs


class Square(tg.Function):
    """z = x^2;  dz/dx = 2x (planted bug: + 0.1)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return (2 * x + 0.1) * g


class Scale(tg.Function):
    """z = 2 x y;  dz/dx = 2y, dz/dy = 2x (planted bug: dz/dy uses 3x)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return 2 * x * y

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.saved_tensors
        return 2 * y * g, 3 * x * g


class GoodSquare(Square):
    """z = x^2;  dz/dx = 2x"""

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 2 * x * g


def mlp(rng: np.random.Generator, sizes: list[int]) -> list[tg.nn.Linear]:
    layers = [tg.nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
    for lay in layers:
        lay.weight.data = rng.standard_normal(lay.weight.shape) * 0.5
        lay.bias.data = rng.standard_normal(lay.bias.shape) * 0.1
    return layers


@pytest.mark.parametrize("depth", [1, 3, 5])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_find_bad_gradient_names_a_planted_op_deep_in_an_mlp(depth: int, activation: str) -> None:
    rng = np.random.default_rng(depth)
    layers = mlp(rng, [5, 6, 6, 6, 6, 6, 4])
    x, y = rng.standard_normal((3, 5)), np.array([0, 3, 1])

    def loss(x: tg.Tensor) -> tg.Tensor:
        h = x
        for i, lay in enumerate(layers):
            h = getattr(lay(h), activation)() if i < len(layers) - 1 else lay(h)
            if i == depth:
                h = Square.apply(h)  # PLANTED
        return tg.nn.functional.cross_entropy(h, y)

    assert not tg.gradcheck(loss, [tg.Tensor(x, requires_grad=True)], raise_exception=False)
    bad = find_bad_gradient(loss, [tg.Tensor(x)])
    assert bad is not None and bad.op == "Square" and bad.input == 0
    width = 4 if depth == len(layers) - 1 else 6
    assert bad.input_shapes == ((3, width),) and bad.output_shape == (3, width)
    assert bad.where is not None and "# PLANTED" in bad.where and "test_bisect.py" in bad.where
    report = str(bad)
    assert "Square" in report and "Square.apply(h)" in report and "relative to the larger" in report
    num, ana = bad.numerical, bad.analytical
    assert abs(num - ana) > 1e-3  # the worst element really disagrees


def test_find_bad_gradient_names_the_wrong_input_of_a_two_input_op() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))

    def f(a: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
        return (Scale.apply(a.tanh(), b * b) + a).sum()

    bad = find_bad_gradient(f, [tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)])
    assert bad is not None and (bad.op, bad.input) == ("Scale", 1)
    assert isinstance(bad.element, tuple) and len(bad.element) == 2


def test_find_bad_gradient_passes_correct_graphs() -> None:
    rng = np.random.default_rng(2)
    layers = mlp(rng, [4, 5, 3])
    x, y = rng.standard_normal((6, 4)), np.arange(6) % 3  # float64, as mlp()'s weights

    def loss(x: tg.Tensor) -> tg.Tensor:
        h = GoodSquare.apply(layers[0](x).sigmoid())
        return tg.nn.functional.cross_entropy(layers[1](h), y)

    assert find_bad_gradient(loss, [tg.Tensor(x)]) is None


@given(g=graphs(max_ops=6), data=st.data())
def test_find_bad_gradient_names_a_planted_op_in_random_graphs(g: Any, data: Any) -> None:
    at = data.draw(st.integers(0, len(g.steps)), label="plant after step")

    def f(*xs: tg.Tensor) -> tg.Tensor:
        vals = list(xs)
        if at == 0:
            vals[0] = Square.apply(vals[0])
        for k, s in enumerate(g.steps, 1):
            vals.append(GRAPH_OPS[s.op].apply([vals[i] for i in s.args], s.param))
            if k == at:
                vals[-1] = Square.apply(vals[-1])
        out = vals[g.outputs[0]]
        for i in g.outputs[1:]:
            out = out + vals[i]
        return out.sum() if out.ndim else out

    bad = find_bad_gradient(f, g.inputs)
    assert bad is not None and bad.op == "Square", str(bad)
    # the line of f that made it (Python's line table may name the loop's `if` line instead)
    assert bad.where is not None and "test_bisect.py" in bad.where and ", in f\n" in bad.where
    assert find_bad_gradient(g, g.inputs) is None  # the same graph, nothing planted
