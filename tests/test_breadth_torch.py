"""Cross-checks of the issue 16 ops against PyTorch (marked `torch`): values and gradients
(under a random upstream gradient) in float64, including the cases the sweep avoids (zeros in
prod and cumprod, kinks where both frameworks pick the same subgradient)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch  # the `torch` extra (CI installs torch==2.13.0); never skipped

import tinygrad_bp as tg

TF = torch.nn.functional
pytestmark = pytest.mark.torch


def _compare(
    ours: Callable[..., Any], theirs: Callable[..., Any], *arrays: np.ndarray, rtol: float = 1e-10
) -> None:
    """Same values and the same gradients (random upstream) for each input."""
    xs = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=1e-12)
    up = np.random.default_rng(5).standard_normal(out.shape)
    out.backward(up)
    tout.backward(torch.from_numpy(up))
    for x, t in zip(xs, ts):
        assert x.grad is not None and t.grad is not None
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-12)


RNG = np.random.default_rng(11)
X = RNG.uniform(-2.5, 2.5, (3, 4))
UNIT = RNG.uniform(-0.95, 0.95, (3, 4))
POS = RNG.uniform(0.2, 3.0, (3, 4))

UNARY = {
    "sin": (lambda x: x.sin(), torch.sin, X),
    "cos": (lambda x: x.cos(), torch.cos, X),
    "tan": (lambda x: x.tan(), torch.tan, UNIT),
    "arcsin": (lambda x: x.arcsin(), torch.asin, UNIT),
    "arccos": (lambda x: x.arccos(), torch.acos, UNIT),
    "arctan": (lambda x: x.arctan(), torch.atan, X),
    "sinh": (lambda x: x.sinh(), torch.sinh, X),
    "cosh": (lambda x: x.cosh(), torch.cosh, X),
    "log1p": (lambda x: x.log1p(), torch.log1p, UNIT),
    "expm1": (lambda x: x.expm1(), torch.expm1, X),
    "log2": (lambda x: x.log2(), torch.log2, POS),
    "log10": (lambda x: x.log10(), torch.log10, POS),
    "erf": (lambda x: x.erf(), torch.erf, X),
    "sign": (lambda x: x.sign(), torch.sign, np.array([-1.5, 0.0, 2.0])),
    "leaky_relu": (lambda x: x.leaky_relu(0.2), lambda t: TF.leaky_relu(t, 0.2), X),
    "leaky_relu at 0": (lambda x: x.leaky_relu(), TF.leaky_relu, np.array([-1.0, 0.0, 1.0])),
    "relu6": (lambda x: x.relu6(), TF.relu6, np.array([-1.0, 0.0, 3.0, 6.0, 7.0])),
    "hardtanh": (
        lambda x: x.hardtanh(-0.5, 2.0),
        lambda t: TF.hardtanh(t, -0.5, 2.0),
        np.array([-1.0, -0.5, 0.0, 2.0, 3.0]),
    ),
    "elu": (lambda x: x.elu(0.7), lambda t: TF.elu(t, 0.7), np.array([-2.0, 0.0, 1.5])),
    "gelu": (lambda x: x.gelu(), TF.gelu, X),
    "gelu tanh": (lambda x: x.gelu("tanh"), lambda t: TF.gelu(t, approximate="tanh"), X),
    "silu": (lambda x: x.silu(), TF.silu, X),
    "softplus": (lambda x: x.softplus(), TF.softplus, X * 20),
    "softplus beta": (
        lambda x: x.softplus(2.0, 1.5),
        lambda t: TF.softplus(t, 2.0, 1.5),
        X,
    ),
    "mish": (lambda x: x.mish(), TF.mish, X),
    "hardswish": (lambda x: x.hardswish(), TF.hardswish, X * 1.5),
    "hardswish at kinks": (lambda x: x.hardswish(), TF.hardswish, np.array([-3.0, 0.0, 3.0])),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_elementwise_ops_equal_pytorch(name: str) -> None:
    ours, theirs, x = UNARY[name]
    _compare(ours, theirs, x)


def test_binary_elementwise_ops_equal_pytorch() -> None:
    y, x = RNG.uniform(-2, 2, (2, 3)), RNG.uniform(-2, 2, (3,))
    _compare(lambda a, b: a.arctan2(b), torch.atan2, y, x)
    _compare(lambda a, b: a.hypot(b), torch.hypot, y, x)
    _compare(lambda a, b: a % b, torch.remainder, y * 3, np.abs(x) + 0.5)


@pytest.mark.parametrize(
    "x",
    [X, np.array([[2.0, 0.0, 3.0, 4.0], [0.0, 1.5, 0.0, 2.0]]), np.array([[0.0, 0.0, 0.0]])],
    ids=["plain", "zeros", "all zeros"],
)
def test_products_and_scans_equal_pytorch(x: np.ndarray) -> None:
    _compare(lambda a: a.prod(axis=1), lambda t: t.prod(dim=1), x)
    _compare(lambda a: a.prod(), lambda t: t.prod(), x)
    _compare(lambda a: a.cumprod(axis=1), lambda t: t.cumprod(dim=1), x)
    _compare(lambda a: a.cumprod(axis=0), lambda t: t.cumprod(dim=0), x)
    _compare(lambda a: a.cumsum(axis=-1), lambda t: t.cumsum(dim=-1), x)


def test_std_equals_pytorch() -> None:
    _compare(lambda a: a.std(axis=0, ddof=1), lambda t: t.std(dim=0, correction=1), X)
    _compare(lambda a: a.std(), lambda t: t.std(correction=0), X)


@pytest.mark.parametrize("ord_", [2, 1, np.inf, -np.inf, 3.0])
def test_vector_norms_equal_pytorch(ord_: float) -> None:
    _compare(
        lambda a: a.norm(ord_, axis=1),
        lambda t: torch.linalg.vector_norm(t, ord_, dim=1),
        X,
    )


def test_norm_at_zero_equals_pytorch() -> None:
    z = np.zeros((2, 3))
    _compare(lambda a: a.norm(axis=1), lambda t: torch.linalg.vector_norm(t, dim=1), z)
    _compare(lambda a: a.norm("fro"), lambda t: torch.linalg.matrix_norm(t, "fro"), z)


@pytest.mark.parametrize("ord_", ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
def test_matrix_norms_equal_pytorch(ord_: Any) -> None:
    m = RNG.standard_normal((2, 3, 4))
    _compare(
        lambda a: a.norm(ord_, axis=(1, 2)),
        lambda t: torch.linalg.matrix_norm(t, ord_, dim=(1, 2)),
        m,
    )


def test_rearranging_ops_equal_pytorch() -> None:
    c = RNG.standard_normal((2, 3, 4))
    _compare(lambda a: a.flip((0, 2)), lambda t: t.flip((0, 2)), c)
    _compare(lambda a: a.roll((1, -2), (0, 2)), lambda t: t.roll((1, -2), (0, 2)), c)
    _compare(lambda a: a.rot90(1, (1, 2)), lambda t: t.rot90(1, (1, 2)), c)
    _compare(lambda a: a.rot90(-1, (0, 2)), lambda t: t.rot90(-1, (0, 2)), c)
    _compare(
        lambda a: a.repeat([1, 0, 2], axis=1),
        lambda t: t.repeat_interleave(torch.tensor([1, 0, 2]), dim=1),
        c,
    )
    _compare(lambda a: a.tile((2, 1, 1, 3)), lambda t: t.tile((2, 1, 1, 3)), c)
    _compare(lambda a: a.triu(1), lambda t: t.triu(1), c)
    _compare(lambda a: a.tril(-1), lambda t: t.tril(-1), c)
    _compare(lambda a: a.diagonal(1, 1, 2), lambda t: t.diagonal(1, 1, 2), c)
    _compare(lambda a: a[0].trace(), lambda t: t[0].trace(), c)
    _compare(lambda a: tg.diag(a[0, 0], 1), lambda t: torch.diag(t[0, 0], 1), c)


@pytest.mark.parametrize(
    ("mode", "torch_mode"),
    [("reflect", "reflect"), ("edge", "replicate"), ("wrap", "circular"), ("constant", "constant")],
)
def test_pad_equals_pytorch(mode: str, torch_mode: str) -> None:
    c = RNG.standard_normal((1, 2, 3, 4))
    width = ((0, 0), (0, 0), (1, 2), (2, 1))
    _compare(lambda a: a.pad(width, mode), lambda t: TF.pad(t, (2, 1, 1, 2), mode=torch_mode), c)


def test_gather_and_scatter_add_equal_pytorch() -> None:
    c = RNG.standard_normal((3, 4))
    index = np.array([[0, 3, 3], [1, 1, 0], [2, 0, 2]])
    _compare(
        lambda a: a.gather(1, index),
        lambda t: t.gather(1, torch.from_numpy(index)),
        c,
    )
    src = RNG.standard_normal((3, 3))
    _compare(
        lambda a, s: a.scatter_add(1, index, s),
        lambda t, s: t.scatter_add(1, torch.from_numpy(index), s),
        c,
        src,
    )


@pytest.mark.parametrize(
    ("subscripts", "shapes"),
    [
        ("ij,jk->ik", [(2, 3), (3, 4)]),
        ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
        ("ii->i", [(3, 3)]),
        ("...ij,...jk->...ik", [(2, 1, 2, 3), (5, 3, 2)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ],
)
def test_einsum_equals_pytorch(subscripts: str, shapes: list[tuple[int, ...]]) -> None:
    arrays = [RNG.standard_normal(s) for s in shapes]
    _compare(
        lambda *xs: tg.einsum(subscripts, *xs),
        lambda *ts: torch.einsum(subscripts, *ts),
        *arrays,
    )


def test_tensordot_outer_linspace_equal_pytorch() -> None:
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((4, 3, 5))
    _compare(
        lambda x, y: tg.tensordot(x, y, ([1, 2], [1, 0])),
        lambda x, y: torch.tensordot(x, y, ([1, 2], [1, 0])),
        a,
        b,
    )
    _compare(lambda x, y: tg.outer(x, y), torch.outer, a[0, 0], b[0, 0])
    np.testing.assert_allclose(
        tg.linspace(-1.0, 2.0, 7).numpy(), torch.linspace(-1.0, 2.0, 7).numpy(), rtol=1e-6
    )
