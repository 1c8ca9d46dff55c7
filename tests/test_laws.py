"""Property tests of the laws every correct reverse-mode engine obeys, on random graphs built by
``tinygrad_bp.testing.graphs``: linearity, the chain rule, additive accumulation, softmax shift
invariance, broadcast-reduction conservation, ``tg.grad`` == ``.backward()``, finite differences
(first and second order) and the symmetry of Hessian-vector products."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp.engine import sum_to
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.testing import (
    Graph,
    arrays,
    assert_gradients_match,
    assert_second_order_match,
    broadcastable_shapes,
    graphs,
    shapes,
)

SMALL = shapes(0, 3, 1, 3)
COEF = st.floats(-3.0, 3.0, allow_subnormal=False)

# Smooth elementwise maps for the outer function of a composition.
OUTER: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": lambda u: u.tanh(),
    "sigmoid": lambda u: u.sigmoid(),
    "square": lambda u: u * u,
    "log1p_sq": lambda u: (u * u + 1.0).log(),
    "exp_tanh": lambda u: u.tanh().exp(),
    "softmax": lambda u: u.softmax(-1) if u.ndim else u,
    "cube": lambda u: u**3,
}


def _fresh(g: Graph) -> list[Tensor]:
    """New leaves with the graph's input values (no accumulated .grad)."""
    return [Tensor(x.data.copy(), requires_grad=True) for x in g.inputs]


def _upstream(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _grads(out: Tensor, xs: list[Tensor], v: np.ndarray) -> list[np.ndarray]:
    gs = tg.grad(out, xs, grad_outputs=v, retain_graph=True, allow_unused=True)
    return [np.zeros(x.shape) if g is None else g.data for g, x in zip(gs, xs)]


@given(graphs(), COEF, COEF)
def test_gradient_is_linear_in_the_function(g: Graph, a: float, b: float) -> None:
    """grad(a f + b h) == a grad(f) + b grad(h)."""
    xs = _fresh(g)
    out = g(*xs)
    f = (out * out).sum()
    h = (out.tanh() * _upstream(out.shape, 0)).sum()
    combined = _grads(f * a + h * b, xs, np.array(1.0))
    gf, gh = _grads(f, xs, np.array(1.0)), _grads(h, xs, np.array(1.0))
    for c, p, q in zip(combined, gf, gh):
        np.testing.assert_allclose(c, a * p + b * q, rtol=1e-9, atol=1e-9)


@given(graphs(), st.sampled_from(sorted(OUTER)), st.integers(0, 2**16))
def test_chain_rule_on_compositions(g: Graph, outer: str, seed: int) -> None:
    """d f(g(x))/dx == J_g(x)^T (df/du at u = g(x)): the vjp of the composition equals the
    inner vjp of the outer vjp computed separately."""
    f = OUTER[outer]
    xs = _fresh(g)
    u = g(*xs)
    y = f(u)
    v = _upstream(y.shape, seed)
    whole = _grads(y, xs, v)
    u_leaf = Tensor(u.data.copy(), requires_grad=True)
    (df_du,) = _grads(f(u_leaf), [u_leaf], v)
    chained = _grads(u, xs, df_du)
    for w, c in zip(whole, chained):
        np.testing.assert_allclose(w, c, rtol=1e-9, atol=1e-9)
    # tg.grad also differentiates with respect to the intermediate u, alongside the leaves
    both = tg.grad(y, [u, *xs], grad_outputs=v, retain_graph=True, allow_unused=True)
    assert both[0] is not None
    np.testing.assert_allclose(both[0].data, df_du, rtol=1e-9, atol=1e-9)
    for got, w, x in zip(both[1:], whole, xs):
        np.testing.assert_allclose(np.zeros(x.shape) if got is None else got.data, w, atol=1e-9)


@given(graphs(), st.integers(0, 2**16))
def test_accumulation_is_additive(g: Graph, seed: int) -> None:
    """Two backward calls leave grad(v1) + grad(v2) in .grad, which equals grad(v1 + v2)."""
    xs = _fresh(g)
    out = g(*xs)
    v1, v2 = _upstream(out.shape, seed), _upstream(out.shape, seed + 1)
    out.backward(v1, retain_graph=True)
    g(*xs).backward(v2)  # a second graph over the same leaves
    both = _grads(g(*xs), xs, np.asarray(v1 + v2))
    for x, want in zip(xs, both):
        got = np.zeros(x.shape) if x.grad is None else x.grad.data
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@given(graphs(), st.floats(-0.5, 0.5, allow_subnormal=False))
def test_gradients_follow_in_place_updates(g: Graph, delta: float) -> None:
    """Update the leaves in place (an optimizer step), then run again: the gradient is the one
    at the new values, as for fresh leaves holding them (no stale saved values, no false
    "modified in place" error)."""
    xs = _fresh(g)
    g(*xs).backward(np.ones(g(*xs).shape))  # a first step's graph, already walked
    with tg.no_grad():
        for x in xs:
            x.add_(delta)
            x.grad = None
    out = g(*xs)
    v = _upstream(out.shape, 5)
    out.backward(v)
    moved = [Tensor(x.data.copy(), requires_grad=True) for x in xs]
    want = _grads(g(*moved), moved, v)
    for x, w in zip(xs, want):
        got = np.zeros(x.shape) if x.grad is None else x.grad.data
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-12)


@given(graphs(), st.integers(0, 2**16))
def test_grad_equals_backward(g: Graph, seed: int) -> None:
    """tg.grad returns what .backward() accumulates, and leaves .grad alone."""
    xs = _fresh(g)
    out = g(*xs)
    v = _upstream(out.shape, seed)
    functional = _grads(out, xs, v)
    assert all(x.grad is None for x in xs)
    out.backward(v)
    for x, want in zip(xs, functional):
        got = np.zeros(x.shape) if x.grad is None else x.grad.data
        np.testing.assert_array_equal(got, want)


def test_grad_accepts_scalar_grad_outputs() -> None:
    x = Tensor(np.array(2.0), requires_grad=True)
    (gx,) = tg.grad(x * x, [x], grad_outputs=np.float64(0.5))
    assert gx is not None and gx.item() == 2.0


@given(graphs(), st.integers(0, 2**16))
def test_accumulation_is_additive_under_create_graph(g: Graph, seed: int) -> None:
    """With create_graph=True, .grad accumulates as a differentiable Tensor: the sum again."""
    xs = _fresh(g)
    v1, v2 = _upstream(g(*xs).shape, seed), _upstream(g(*xs).shape, seed + 1)
    g(*xs).backward(v1, create_graph=True)
    g(*xs).backward(v2, create_graph=True)
    both = _grads(g(*xs), xs, np.asarray(v1 + v2))
    for x, want in zip(xs, both):
        got = np.zeros(x.shape) if x.grad is None else x.grad.data
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@given(graphs(), st.integers(0, 2**16))
def test_gradient_of_several_outputs_is_the_sum(g: Graph, seed: int) -> None:
    """grad([y1, y2, y1], x, [v1, v2, v3]) == grad(y1, v1 + v3) + grad(y2, v2): outputs may
    repeat and share nodes."""
    xs = _fresh(g)
    y1 = g(*xs)
    y2 = y1.tanh() * 0.5
    v1, v2, v3 = (_upstream(y1.shape, seed + k) for k in range(3))
    gs = tg.grad([y1, y2, y1], xs, grad_outputs=[v1, v2, v3], retain_graph=True, allow_unused=True)
    want = [a + b for a, b in zip(_grads(y1, xs, v1 + v3), _grads(y2, xs, v2))]
    for got, w, x in zip(gs, want, xs):
        np.testing.assert_allclose(np.zeros(x.shape) if got is None else got.data, w, atol=1e-9)


@given(graphs(), st.floats(-2.0, 2.0, allow_subnormal=False))
def test_hooks_see_and_replace_the_gradient(g: Graph, scale: float) -> None:
    """A hook on a leaf sees its gradient; the gradient it returns is what accumulates."""
    xs = _fresh(g)
    out = g(*xs)
    v = _upstream(out.shape, 3)
    plain = _grads(out, xs, v)
    seen: list[np.ndarray] = []
    for x in xs:
        x.register_hook(lambda gr: seen.append(gr.data.copy()) or gr * scale)
    g(*xs).backward(v)
    for x, p in zip(xs, plain):
        np.testing.assert_allclose(np.zeros(x.shape) if x.grad is None else x.grad.data, scale * p)
    assert all(any(np.array_equal(s, p) for s in seen) for p in plain if np.any(p))


def test_leaf_grads_are_private_writeable_arrays() -> None:
    """Fan-out hands the same upstream array to several inputs: each leaf must get its own
    writeable copy, or accumulating into one would change the others."""
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    c = Tensor(np.ones((2, 3)), requires_grad=True)
    up = np.arange(3.0)
    for _ in range(2):
        (a + b + a.broadcast_to((2, 3)).sum(axis=0) * 0 + c.sum(axis=0)).backward(up)
    grads = [t.grad.data for t in (a, b, c)]  # type: ignore[union-attr]
    np.testing.assert_array_equal(grads[0], 2 * up)
    np.testing.assert_array_equal(grads[1], 2 * up)
    np.testing.assert_array_equal(grads[2], np.broadcast_to(2 * up, (2, 3)))
    for i, gi in enumerate(grads):
        assert gi.flags.writeable
        assert not np.shares_memory(gi, up)
        for gj in grads[i + 1 :]:
            assert not np.shares_memory(gi, gj)


def test_accumulation_into_a_user_set_read_only_grad() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    start = np.array([10.0, 20.0])
    start.flags.writeable = False
    x.grad = Tensor(start)
    (x * 3.0).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.data, [13.0, 23.0])
    np.testing.assert_array_equal(start, [10.0, 20.0])


@given(graphs())
def test_random_graphs_match_finite_differences(g: Graph) -> None:
    assert_gradients_match(g, *g.inputs)


@given(graphs(max_ops=4))
def test_random_graphs_second_order(g: Graph) -> None:
    assert_second_order_match(g, *g.inputs)


@given(graphs(max_ops=4), st.integers(0, 2**16))
def test_hessian_vector_products_are_symmetric(g: Graph, seed: int) -> None:
    """For s = sum(w * f(x)): u . (H v) == v . (H u), via double backward."""
    xs = _fresh(g)
    out = g(*xs)
    rng = np.random.default_rng(seed)
    s = (out * rng.standard_normal(out.shape)).sum()
    first = tg.grad(s, xs, create_graph=True, allow_unused=True)
    pairs = [(gi, x) for gi, x in zip(first, xs) if gi is not None and gi.requires_grad]
    if not pairs:
        return  # the graph is linear in every input: its Hessian is zero
    us = [rng.standard_normal(x.shape) for _, x in pairs]
    vs = [rng.standard_normal(x.shape) for _, x in pairs]
    ins = [x for _, x in pairs]

    def hvp(vec: list[np.ndarray]) -> list[np.ndarray]:
        dot = sum(((gi * v).sum() for (gi, _), v in zip(pairs, vec)), Tensor(np.array(0.0)))
        hs = tg.grad(dot, ins, retain_graph=True, allow_unused=True)
        return [np.zeros(x.shape) if h is None else h.data for h, x in zip(hs, ins)]

    u_hv = sum(float(np.sum(u * h)) for u, h in zip(us, hvp(vs)))
    v_hu = sum(float(np.sum(v * h)) for v, h in zip(vs, hvp(us)))
    np.testing.assert_allclose(u_hv, v_hu, rtol=1e-8, atol=1e-8)


# --------------------------------------------------------------------------- softmax family
@st.composite
def _logits(draw: st.DrawFn) -> tuple[np.ndarray, int, np.ndarray]:
    """Logits of 1..3 dims, an axis, and a per-slice shift (constant along the axis)."""
    x = draw(arrays(shapes(1, 3, 1, 4)))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    kshape = tuple(1 if i == axis % x.ndim else n for i, n in enumerate(x.shape))
    shift = draw(arrays(kshape, domain=(-50.0, 50.0)))
    return x, axis, shift


@given(_logits(), st.integers(0, 2**16))
def test_softmax_is_shift_invariant_and_its_gradient_sums_to_zero(
    case: tuple[np.ndarray, int, np.ndarray], seed: int
) -> None:
    x, axis, c = case
    xt = Tensor(x, requires_grad=True)
    s = xt.softmax(axis)
    np.testing.assert_allclose(Tensor(x + c).softmax(axis).data, s.data, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        Tensor(x + c).log_softmax(axis).data, xt.log_softmax(axis).data, rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        Tensor(x + c).logsumexp(axis, keepdims=True).data,
        xt.logsumexp(axis, keepdims=True).data + c,
        rtol=1e-9,
        atol=1e-9,
    )
    v = _upstream(x.shape, seed)
    for out in (s, xt.log_softmax(axis)):
        (gx,) = _grads(out, [xt], v)
        np.testing.assert_allclose(gx.sum(axis=axis), 0.0, atol=1e-9)
    (gl,) = _grads(xt.logsumexp(axis), [xt], np.ones(np.sum(x, axis=axis).shape))
    np.testing.assert_allclose(gl, s.data, rtol=1e-9, atol=1e-12)  # d logsumexp = softmax


# --------------------------------------------------------------------------- broadcasting
@st.composite
def _broadcast_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    target = draw(SMALL)
    (small,) = draw(broadcastable_shapes(target, 1, max_side=3))
    return draw(arrays(small)), draw(arrays(np.broadcast_shapes(small, target)))


@given(_broadcast_case())
def test_sum_to_undoes_broadcasting(case: tuple[np.ndarray, np.ndarray]) -> None:
    """autograd.sum_to, the one place broadcasting is undone: numpy's reduction, and the
    identity (the same object) when nothing was broadcast."""
    a, big = case
    out = sum_to(big, a.shape)
    assert out.shape == a.shape
    np.testing.assert_allclose(out, _sum_to(big, a.shape).reshape(a.shape), rtol=1e-12)
    assert sum_to(big, big.shape) is big
    t = sum_to(Tensor(big), a.shape)  # Tensors too (differentiable)
    assert isinstance(t, Tensor)
    np.testing.assert_allclose(t.data, out, rtol=1e-12)


def _sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


@given(_broadcast_case(), st.sampled_from(["broadcast_to", "add", "mul", "where", "expand"]))
def test_broadcast_gradients_sum_the_broadcast_grad(
    case: tuple[np.ndarray, np.ndarray], how: str
) -> None:
    """An input broadcast to a bigger shape receives the upstream grad summed over the
    broadcast axes: nothing is lost or double counted (the totals agree)."""
    a, big = case
    x = Tensor(a, requires_grad=True)
    ones = Tensor(np.ones(big.shape))
    out = {
        "broadcast_to": lambda: x.broadcast_to(big.shape),
        "add": lambda: x + Tensor(np.zeros(big.shape)),
        "mul": lambda: ones * x,
        "where": lambda: tg.where(np.ones(big.shape, dtype=bool), x, 0.0),
        "expand": lambda: x.expand_dims(0).broadcast_to((2, *big.shape)).sum(axis=0) * 0.5,
    }[how]()
    assert out.shape == big.shape
    out.backward(big)
    assert x.grad is not None and x.grad.shape == a.shape
    np.testing.assert_allclose(x.grad.data, _sum_to(big, a.shape).reshape(a.shape), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data.sum(), big.sum(), rtol=1e-9, atol=1e-12)


class _SumAll(tg.Function):
    """A toy sum whose backward returns the 0-d upstream gradient as it is."""

    @staticmethod
    def forward(ctx: object, x: np.ndarray) -> np.ndarray:
        return np.asarray(x.sum())

    @staticmethod
    def backward(ctx: object, g: np.ndarray) -> np.ndarray:
        return g  # wrong: lower rank than the input (the engine must reject it)


@given(arrays(shapes(1, 3, 1, 3)), st.floats(-3.0, 3.0, allow_subnormal=False))
def test_a_lower_rank_gradient_is_rejected_not_spread(a: np.ndarray, v: float) -> None:
    # a backward that returns a scalar for an input of shape a.shape is wrong (the forward
    # did not broadcast that input): spreading it as [s, s, s] would hide the bug
    x = Tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_SumAll\.backward returned a gradient of shape"):
        _SumAll.apply(x).backward(np.array(v))
    assert x.grad is None
    with pytest.raises(RuntimeError, match=r"_SumAll\.backward returned a gradient of shape"):
        tg.grad(_SumAll.apply(x) * 2.0, [x], create_graph=True)
