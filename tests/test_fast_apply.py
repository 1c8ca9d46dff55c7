"""engine/fast_apply.py is ``Function.apply`` written out for one and two inputs: for every op
``Tensor`` sends through it, both ways must record the same node (parents, flags, saved
values, version counters, the Module scope, anomaly mode's trace), give the same gradients and
raise the same errors. The ops are read from tensor.py's source, so a method newly routed
through the fast path is checked without editing this file."""

from __future__ import annotations

import importlib
import inspect
import itertools
import re

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import nn
from tinygrad_bp.engine import ops
from tinygrad_bp.engine.arrays import _const
from tinygrad_bp.engine.fast_apply import apply_one, apply_two
from tinygrad_bp.engine.grad_mode import _state
from tinygrad_bp.engine.tensor import _make

_SOURCE = inspect.getsource(importlib.import_module("tinygrad_bp.engine.tensor"))
ONE = sorted(set(re.findall(r"apply_one\(ops\.(\w+),", _SOURCE)))
TWO = sorted(set(re.findall(r"apply_two\(ops\.(\w+),", _SOURCE)))

_POSITIVE = {"Log", "Sqrt", "Pow", "Div"}  # inputs kept away from 0 and negatives


def test_the_routed_ops_are_found():
    assert {"Exp", "Tanh", "Sigmoid", "Neg"} <= set(ONE)
    assert {"Add", "Mul", "Sub", "Div", "MatMul"} <= set(TWO)


def _array(name, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape) if name in _POSITIVE else rng.uniform(-2.0, 2.0, shape)
    return a.astype(dtype)


def _node_record(t):
    """What apply decided about a result: everything but the creation number's value."""
    rec = {"requires_grad": t.requires_grad, "dtype": t.data.dtype, "shape": t.data.shape}
    rec["has_counter"] = t._version_counter is not None
    n = t._ctx
    if n is None:
        return rec
    fields = dict(vars(n))
    fields.pop("seq")
    for k, v in fields.items():
        if k == "out":
            rec[k] = v is t.data
        elif k == "out_counter":
            rec[k] = v is t._version_counter
        elif k == "creation_trace":
            rec[k] = v is not None
        elif isinstance(v, tuple):  # inputs by identity, the output as "out"
            rec[k] = tuple("out" if e is t.data else None if e is None else id(e) for e in v)
        else:
            rec[k] = v if not isinstance(v, np.ndarray) else id(v)
    rec["type"] = type(n)
    rec["seq_after_parents"] = all(
        p is None or type(p) is tg.Tensor or p.seq < n.seq for p in n.parents
    )
    return rec


def _same(a, b):
    ra, rb = _node_record(a), _node_record(b)
    assert ra == rb
    np.testing.assert_array_equal(a.data, b.data)
    assert a.data is not b.data


def _grads_agree(a, b, leaves):
    """The same backward through either result gives the same leaf gradients."""
    if not a.requires_grad:
        return
    w = np.random.default_rng(7).standard_normal(a.shape).astype(a.dtype)
    got = []
    for t in (a, b):
        for leaf in leaves:
            leaf.grad = None
        (t * tg.Tensor(w)).sum().backward(retain_graph=True)  # a and b share inputs
        got.append([None if leaf.grad is None else leaf.grad.data.copy() for leaf in leaves])
    for ga, gb in zip(*got):
        assert (ga is None) == (gb is None)
        if ga is not None:
            np.testing.assert_array_equal(ga, gb)


def _contexts():
    """Plain, no_grad, inside a Module (drawings' scope), anomaly mode."""
    yield "plain", None
    yield "no_grad", tg.no_grad()
    yield "anomaly", tg.detect_anomaly()


@pytest.mark.parametrize("name", ONE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("how", ["leaf", "not_required", "intermediate"])
def test_one_input_ops_record_the_same_node(name, dtype, how):
    op = getattr(ops, name)
    data = _array(name, (3, 4), dtype, seed=1)
    for label, ctx in _contexts():
        leaf = tg.Tensor(data, requires_grad=how != "not_required")
        x = leaf * 1.0 if how == "intermediate" else leaf
        if ctx is None:
            a, b = op.apply(x), apply_one(op, x)
        else:
            with ctx:
                a, b = op.apply(x), apply_one(op, x)
        _same(a, b)
        if label == "plain":
            _grads_agree(a, b, [leaf])


class _Scope(nn.Module):
    def forward(self, fn):
        return fn()


def test_both_ways_record_the_running_module():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    scope = _Scope()
    a = scope(lambda: ops.Tanh.apply(x))
    b = scope(lambda: apply_one(ops.Tanh, x))
    c = scope(lambda: apply_two(ops.Mul, x, x))
    assert a.grad_fn.scope is scope and b.grad_fn.scope is scope and c.grad_fn.scope is scope
    _same(a, b)
    assert _state.scope is None


def _two_inputs(name, dtype, seed):
    if name == "MatMul":
        return _array(name, (3, 4), dtype, seed), _array(name, (4, 2), dtype, seed + 1)
    return _array(name, (3, 4), dtype, seed), _array(name, (4,), dtype, seed + 1)  # broadcast


@pytest.mark.parametrize("name", TWO)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "kinds", list(itertools.product(["grad", "intermediate", "tensor", "const"], repeat=2))
)
def test_two_input_ops_record_the_same_node(name, dtype, kinds):
    if kinds == ("const", "const"):
        return  # not an op call a Tensor makes
    op = getattr(ops, name)
    xd, yd = _two_inputs(name, dtype, seed=3)
    leaves = []

    def make(kind, d):
        if kind == "const":
            return d
        t = tg.Tensor(d, requires_grad=kind in ("grad", "intermediate"))
        leaves.append(t)
        return t * 1.0 if kind == "intermediate" else t  # a node's output as the input

    x, y = make(kinds[0], xd), make(kinds[1], yd)
    for label, ctx in _contexts():
        if ctx is None:
            a, b = op.apply(x, y), apply_two(op, x, y)
        else:
            with ctx:
                a, b = op.apply(x, y), apply_two(op, x, y)
        _same(a, b)
        if label == "plain":
            _grads_agree(a, b, leaves)


@pytest.mark.parametrize("name", TWO)
def test_two_input_ops_with_a_python_number_as_tensor_methods_pass_it(name):
    """The methods pass numbers through ``_const`` (a cached 0-d array): both ways agree."""
    op = getattr(ops, name)
    if name == "MatMul":
        return  # a number is not a matrix (both raise: checked below)
    x = tg.Tensor(_array(name, (2, 3), np.float32, 5), requires_grad=True)
    c = _const(2.0, x)
    _same(op.apply(x, c), apply_two(op, x, c))
    _same(op.apply(c, x), apply_two(op, c, x))


@pytest.mark.parametrize("name", TWO)
def test_two_input_ops_raise_the_same_error(name):
    op = getattr(ops, name)
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    y = tg.Tensor(np.ones((4, 5)), requires_grad=True)
    with pytest.raises(Exception) as general:
        op.apply(x, y)
    with pytest.raises(Exception) as fast:
        apply_two(op, x, y)
    assert type(general.value) is type(fast.value)
    assert str(general.value) == str(fast.value)
    assert name.lower()[:3] in str(fast.value).lower() or op.__name__ in str(fast.value)


def test_one_input_ops_raise_the_same_error():
    x = _make(np.array(["a"], dtype=object), False)  # (past Tensor's checks) numpy fails
    for name in ONE:
        op = getattr(ops, name)
        try:
            op.apply(x)
        except Exception as e:  # whatever numpy raises, the fast path must raise too
            with pytest.raises(type(e)) as fast:
                apply_one(op, x)
            assert str(fast.value) == str(e)
        else:
            _same(op.apply(x), apply_one(op, x))


def test_a_failing_forward_raises_the_same_error_both_ways():
    class Fails(tg.Function):
        @staticmethod
        def forward(ctx, *arrays):
            raise ValueError("the inputs do not fit")

    x = tg.Tensor(np.ones(2), requires_grad=True)
    for general, fast in (
        (lambda: Fails.apply(x), lambda: apply_one(Fails, x)),
        (lambda: Fails.apply(x, 2.0), lambda: apply_two(Fails, x, 2.0)),
    ):
        with pytest.raises(ValueError) as a:
            general()
        with pytest.raises(ValueError) as b:
            fast()
        assert str(a.value) == str(b.value) and "Fails" in str(b.value)


def test_views_share_the_version_counter_both_ways():
    """A view op (none of Tensor's routed ops is one) shares its input's counter either way."""

    class Flat(tg.Function):
        view = True

        @staticmethod
        def forward(ctx, x, *rest):
            return x.reshape(-1)

        @staticmethod
        def backward(ctx, g):
            return g.reshape(2, 3), None

    for fast, args in ((apply_one, ()), (apply_two, (2.0,))):
        x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        a, b = Flat.apply(x, *args), fast(Flat, x, *args)
        _same(a, b)
        assert a._version_counter is b._version_counter is x._version_counter is not None


def test_save_for_backward_is_remembered_both_ways():
    """A user op that saves its output with save_for_backward gets the same bookkeeping."""

    class Twice(tg.Function):
        @staticmethod
        def forward(ctx, x):
            out = x * 2.0
            ctx.save_for_backward(x, out)
            return out

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    class Both(tg.Function):
        @staticmethod
        def forward(ctx, x, y):
            out = x * y
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = tg.Tensor(np.full(3, 2.0), requires_grad=True)
    _same(Twice.apply(x), apply_one(Twice, x))
    _same(Both.apply(x, y), apply_two(Both, x, y))
    assert apply_one(Twice, x)._version_counter is not None  # the output is guarded
