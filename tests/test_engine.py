"""The autograd engine: graph walk, accumulation, grad modes, retain/create graph, tg.grad,
hooks, custom Functions. Toy graphs with hand-computed answers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Function, Tensor
from tinygrad_bp.engine import toposort


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def test_engine_fan_out_sums_gradients():
    a = leaf([1.0, 2.0])
    b = a + a
    c = b * b  # c = 4a^2, dc/da = 8a
    c.sum().backward()
    np.testing.assert_allclose(a.grad.data, 8 * a.data)


def test_engine_diamond_runs_each_node_once_after_all_consumers():
    calls = []

    class Count(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            calls.append(g.copy())
            return g

    a = leaf([3.0])
    b = Count.apply(a)
    c = b * 2 + b * 5  # two consumers of b
    c.backward()
    assert len(calls) == 1  # b's backward ran once, with the summed gradient
    np.testing.assert_allclose(calls[0], [7.0])
    np.testing.assert_allclose(a.grad.data, [7.0])


def test_engine_diamond_second_derivative():
    x = leaf(1.5)
    y = x * x
    z = y * x + y  # x^3 + x^2
    (g,) = tg.grad(z, x, create_graph=True)
    (h,) = tg.grad(g, x)
    assert g.item() == pytest.approx(3 * 1.5**2 + 2 * 1.5)
    assert h.item() == pytest.approx(6 * 1.5 + 2)


def test_engine_deep_chain_has_no_recursion_limit():
    x = leaf([0.5], np.float32)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0])


def test_engine_accumulates_over_two_backward_calls():
    x = leaf([1.0, -2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 + 2 * x.data)


def test_engine_first_gradient_is_not_shared_between_leaves():
    a, b = leaf([1.0]), leaf([2.0])
    (a + b).backward()  # Add returns the same array for both inputs
    a.grad.data += 10  # in-place change of one must not reach the other
    np.testing.assert_allclose(b.grad.data, [1.0])


def test_engine_does_not_compute_grads_nobody_needs():
    seen = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return (g if ctx.needs_input_grad[0] else None), (
                g if ctx.needs_input_grad[1] else None
            )

    a = leaf([1.0])
    b = Tensor(np.array([2.0]))
    Spy.apply(a, b).backward()
    assert seen == [(True, False)]
    assert b.grad is None


def test_no_grad_records_nothing_and_is_thread_local():
    x = leaf([1.0])
    with tg.no_grad():
        y = x * 2
        assert not tg.is_grad_enabled()
        other = []
        t = threading.Thread(target=lambda: other.append(tg.is_grad_enabled()))
        t.start()
        t.join()
    assert other == [True]
    assert not y.requires_grad and y.grad_fn is None
    assert tg.is_grad_enabled()


def test_no_grad_as_decorator_and_enable_grad_inside():
    x = leaf([1.0])

    @tg.no_grad()
    def f():
        with tg.enable_grad():
            inner = x * 2
        return x * 2, inner

    out, inner = f()
    assert not out.requires_grad and inner.requires_grad
    assert tg.is_grad_enabled()


def test_set_grad_enabled_call_and_context():
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = leaf([2.0])
    y = (x * x).detach() * x  # d/dx = x^2 (the detached part is a constant)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0])


def test_backward_twice_without_retain_graph_says_what_to_do():
    x = leaf([2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_walk():
    x = leaf([2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [8.0])


def test_saved_arrays_are_released_after_backward():
    x = leaf([2.0, 3.0])
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert node.out is None and node.released
    assert y.grad_fn.parents[0] is x  # structure stays, for drawings


class _SavesItsOwn(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2.0 + 0.0 * x


def test_every_kind_of_saved_value_is_released_after_backward():
    """Inputs (Mul), the output (Exp), an op's named array (Mod's quotient) and
    save_for_backward (a user op) are all dropped by a backward without retain_graph."""
    x, y = leaf([2.0, 3.0]), leaf([1.5, 2.5])
    outs = [x * y, x.exp(), x % y, _SavesItsOwn.apply(x)]
    nodes = [o.grad_fn for o in outs]
    assert nodes[0].inputs is not None and nodes[1].out is not None
    assert nodes[2].quotient is not None and nodes[3].saved_tensors
    total = outs[0].sum()
    for o in outs[1:]:
        total = total + o.sum()
    total.backward()
    for n in nodes:
        name = type(n).__name__
        assert n.released, name
        assert n.inputs is None and n.input_tensors is None, name
        assert n.out is None and n.out_counter is None, name
        assert not n.saved_tensors, name
    assert nodes[2].quotient is None


def test_create_graph_gives_second_derivative_of_cube():
    x = leaf([0.5, -2.0, 3.0])
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    (h,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)


def test_hessian_vector_product_of_an_mlp_loss():
    rng = np.random.default_rng(0)
    w1 = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w2 = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    x = Tensor(rng.standard_normal((5, 3)))
    v1, v2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

    def loss(w1, w2):
        return ((x @ w1).tanh() @ w2).sigmoid().sum()

    g1, g2 = tg.grad(loss(w1, w2), [w1, w2], create_graph=True)
    hv1, hv2 = tg.grad((g1 * v1).sum() + (g2 * v2).sum(), [w1, w2])

    def flat_grad(theta):  # finite differences of the gradient along v
        a = Tensor(theta[:12].reshape(3, 4), requires_grad=True)
        b = Tensor(theta[12:].reshape(4, 2), requires_grad=True)
        ga, gb = tg.grad(loss(a, b), [a, b])
        return np.concatenate([ga.data.ravel(), gb.data.ravel()])

    theta = np.concatenate([w1.data.ravel(), w2.data.ravel()])
    v = np.concatenate([v1.ravel(), v2.ravel()])
    eps = 1e-6
    fd = (flat_grad(theta + eps * v) - flat_grad(theta - eps * v)) / (2 * eps)
    np.testing.assert_allclose(
        np.concatenate([hv1.data.ravel(), hv2.data.ravel()]), fd, rtol=1e-5, atol=1e-7
    )


def test_grad_functional_form_leaves_dot_grad_alone():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    (g,) = tg.grad(y, x)
    np.testing.assert_allclose(g.data, 2 * x.data)
    assert x.grad is None


def test_grad_with_respect_to_an_intermediate_and_unused_inputs():
    x = leaf([1.0, 2.0])
    unused = leaf([5.0])
    h = x * 3
    y = (h * h).sum()
    gh, gu = tg.grad(y, [h, unused], retain_graph=True, allow_unused=True)
    np.testing.assert_allclose(gh.data, 2 * h.data)
    assert gu is None
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.grad(y, [unused])


def test_grad_with_grad_outputs_for_a_vector_output():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = tg.grad(x * x, x, grad_outputs=np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(g.data, [2.0, 0.0, 12.0])


def test_non_scalar_backward_needs_grad():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*grad="):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, 20.0])


def test_backward_grad_of_wrong_shape_is_rejected():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"grad has shape \(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_a_tensor_without_graph_is_explained():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_retain_grad_keeps_intermediate_gradients():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    assert (x * 1).grad is None


def test_hooks_see_and_replace_gradients_and_can_be_removed():
    x = leaf([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.data.copy()))
    h = x * 2
    h.register_hook(lambda g: g * 0.5)  # halves what flows back through h
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad.data, [1.0, 1.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert len(seen) == 1


def test_hook_returning_wrong_shape_is_rejected():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="register_hook"):
        (x * 2).sum().backward()


def test_custom_function_with_save_for_backward_is_twice_differentiable():
    class Cube(Function):
        """z = x^3; dz/dx = 3 x^2 (written with operations Tensors share)"""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    x = leaf([1.0, -2.0])
    assert tg.gradcheck(Cube.apply, [x])
    assert tg.gradgradcheck(Cube.apply, [x])


def test_custom_function_using_numpy_is_once_differentiable():
    class NpSin(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sin(x)

        @staticmethod
        @tg.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * np.cos(x)

    x = leaf([0.3, 1.0])
    assert tg.gradcheck(NpSin.apply, [x])
    (g,) = tg.grad(NpSin.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, np.cos(x.data))
    with pytest.raises(RuntimeError, match="once differentiable"):
        tg.grad(g.sum(), x)


def test_numpy_backward_under_create_graph_fails_loudly_with_a_hint():
    class NpSin(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sin(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * np.cos(x)

    x = leaf([0.3, 1.0])
    with pytest.raises(TypeError, match="once_differentiable"):
        tg.grad(NpSin.apply(x).sum(), x, create_graph=True)


def test_wrong_backward_is_caught_by_gradcheck():
    class BadSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # missing the factor 2

    with pytest.raises(tg.GradcheckError, match=r"BadSquare|numerical .* vs analytical"):
        tg.gradcheck(BadSquare.apply, [leaf([1.0, 2.0])])


def test_backward_returning_the_wrong_number_of_grads_is_named():
    class Two(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match=r"Two\.backward returned 1 gradient for 2 inputs"):
        Two.apply(leaf([1.0]), leaf([2.0])).backward()


def test_inplace_change_of_a_saved_input_is_detected():
    x = leaf([1.0, 2.0])
    w = Tensor(np.array([3.0, 4.0]))
    y = (x * w).sum()  # Mul saved w for x's gradient
    w.mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_inplace_change_of_an_unsaved_input_is_fine():
    x = leaf([1.0, 2.0])
    w = Tensor(np.array([3.0, 4.0]))
    y = (x + w).sum()  # Add saves nothing
    w.mul_(2)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 1.0])


def test_inplace_on_a_leaf_requiring_grad_needs_no_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        x.add_(1)
    with tg.no_grad():
        x.add_(1)
    np.testing.assert_allclose(x.data, [2.0])


def test_toposort_puts_each_node_before_its_inputs():
    a = leaf([1.0])
    b = a * 2
    c = b + a
    d = c * b
    order = toposort([d.grad_fn])
    pos = {id(n): i for i, n in enumerate(order)}
    for n in order:
        for p in getattr(n, "parents", ()):
            if p is not None:
                assert pos[id(n)] < pos[id(p)]
    assert order[-1] is a


def test_two_threads_train_independently():
    def run(seed, out):
        rng = np.random.default_rng(seed)
        w = Tensor(rng.standard_normal((4, 1)), requires_grad=True)
        x = Tensor(rng.standard_normal((32, 4)))
        y = Tensor(rng.standard_normal((32, 1)))
        for _ in range(50):
            loss = ((x @ w - y) ** 2).mean()
            w.grad = None
            loss.backward()
            with tg.no_grad():
                w.add_(w.grad, alpha=-0.1)
        out.append(w.data.copy())

    sequential = []
    run(1, sequential)
    run(2, sequential)
    a, b = [], []
    threads = [threading.Thread(target=run, args=(1, a)), threading.Thread(target=run, args=(2, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(a[0], sequential[0])
    np.testing.assert_array_equal(b[0], sequential[1])


def test_float32_stays_float32_through_backward():
    x = leaf(np.ones((2, 3)), np.float32)
    w = leaf(np.ones((3, 2)), np.float32)
    loss = ((x @ w).sigmoid() * 2.5 - 1).log_softmax(axis=1).sum()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_leaf_grad_accumulates_out_of_place_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    first = x.grad
    seen = first.data.copy()
    (x * x).sum().backward()
    # a gradient the user has seen never changes: the sum is a new array in a new Tensor
    assert x.grad is not first and not np.shares_memory(x.grad.data, first.data)
    np.testing.assert_array_equal(first.data, seen)
    np.testing.assert_allclose(x.grad.data, 3 + 2 * x.data)
    assert x.grad.data.flags.writeable


def test_a_user_ops_gradient_is_copied_and_a_declared_new_one_is_kept():
    returned = []

    class Twice(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            r = g * 2
            returned.append(r)  # the op keeps what it returns
            return r

    y = leaf([1.0, 2.0])
    Twice.apply(y).sum().backward()
    kept = returned[-1]
    assert not np.shares_memory(y.grad.data, kept)  # not declared new: copied
    Twice.apply(y).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [4.0, 4.0])
    np.testing.assert_array_equal(kept, [2.0, 2.0])  # the op's array is left alone

    class NewTwice(Twice):
        grads_are_new = True  # the op promises: a new array nobody else holds

        @staticmethod
        def backward(ctx, g):
            r = g * 2
            returned.append(id(r))
            return r

    x = leaf([1.0, 2.0])
    NewTwice.apply(x).sum().backward()
    assert id(x.grad.data) == returned[-1]  # kept without a copy


def test_a_leaf_hook_that_keeps_its_gradient_never_sees_it_change():
    kept = []
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: kept.append(g) or g)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    np.testing.assert_array_equal(kept[0].data, [3.0, 3.0])  # x.grad was a copy of it


def test_one_array_given_to_two_leaves_is_copied_for_the_second():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()  # Add hands the same array to both
    assert a.grad.data is not b.grad.data
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_inplace_change_before_the_forward_is_not_reported():
    x = leaf([1.0, 2.0])
    w = Tensor(np.array([3.0, 4.0]))
    w.mul_(2)  # changed before the op saved it: fine
    y = (x * w).sum()
    Tensor(np.zeros(1)).add_(1)  # some unrelated in-place change later
    y.backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 8.0])


# --------------------------------------------------------------------------- ownership
# The walk never writes into a gradient array (every sum is out of place), so what a hook,
# retain_grad, tg.grad or the caller holds never changes.
BIG = 5000


def test_walk_never_changes_what_retain_grad_hooks_or_tg_grad_hold():
    x = leaf(np.ones(BIG))
    u = x * 2
    u.retain_grad()
    seen = []
    u.register_hook(lambda g: seen.append(g))
    (u * 3).sum().backward(retain_graph=True)
    (u * 3).sum().backward()
    np.testing.assert_array_equal(seen[0].data, 3.0)
    np.testing.assert_array_equal(u.grad.data, 6.0)
    np.testing.assert_array_equal(x.grad.data, 12.0)
    x3 = leaf(np.ones(BIG))
    u3 = x3 * 2
    gu, gx = tg.grad((u3 * 3).sum(), [u3, x3])
    np.testing.assert_array_equal(gu.data, 3.0)
    np.testing.assert_array_equal(gx.data, 6.0)


def test_walk_never_changes_the_callers_gradient():
    x = leaf(np.ones(BIG))
    y = x * 2
    g = np.full(BIG, 0.5)
    y.backward(g)
    np.testing.assert_array_equal(g, 0.5)
    np.testing.assert_array_equal(x.grad.data, 1.0)


@pytest.mark.parametrize("order", ["consumer first", "producer first"])
def test_several_roots_one_feeding_another_are_walked_in_order(order):
    x = leaf([1.0, 2.0])
    a = (x * 2).sum()
    b = a * 3  # one root feeds the other: a must wait for b's gradient
    outs = [b, a] if order == "consumer first" else [a, b]
    (gx,) = tg.grad(outs, [x])
    np.testing.assert_array_equal(gx.data, [8.0, 8.0])  # d(a + b)/dx = 2 + 6
    z = x * 5
    outs = [(z * z).sum(), z.sum(), (z * 2).sum()]
    (gx,) = tg.grad(outs, [x])
    np.testing.assert_allclose(gx.data, 50 * x.data + 5 + 10)


def test_create_graph_stores_the_gradient_and_its_graph():
    x = leaf(np.array([1.0, 2.0, 3.0]))
    (x * x * x).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_plain_backward_adds_to_a_grad_that_is_a_graph_and_keeps_the_graph():
    x = leaf(np.array([1.0, 2.0]))
    (x * x).sum().backward(create_graph=True)  # .grad = 2x, a graph
    (x * x).sum().backward()  # adds 2x as a constant
    np.testing.assert_allclose(x.grad.data, 4 * x.data)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()  # only the first 2x is a graph: its derivative is 2
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])
