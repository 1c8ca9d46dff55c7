"""Memory: graphs free themselves (no cycles), saved arrays are released by backward,
intermediate tensors do not outlive a step, and very deep or wide graphs work."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np

import tinygrad_bp as tg
from tinygrad_bp import Tensor


def _mlp_params(rng):
    return [
        Tensor(rng.standard_normal((64, 32)).astype(np.float32) * 0.1, requires_grad=True),
        Tensor(np.zeros(32, np.float32), requires_grad=True),
        Tensor(rng.standard_normal((32, 10)).astype(np.float32) * 0.1, requires_grad=True),
    ]


def _step(params, x, y, probes=None):
    w1, b1, w2 = params
    h = (x @ w1 + b1).sigmoid()
    logits = h @ w2
    loss = -logits.log_softmax(axis=1)[np.arange(len(y)), y].mean()
    if probes is not None:
        probes += [weakref.ref(h), weakref.ref(logits), weakref.ref(loss)]
    for p in params:
        p.grad = None
    loss.backward()
    with tg.no_grad():
        for p in params:
            p.data -= 0.1 * p.grad.data
    return loss.item()


def test_no_intermediate_tensor_survives_a_step_without_gc():
    rng = np.random.default_rng(0)
    params = _mlp_params(rng)
    x = Tensor(rng.standard_normal((16, 64)).astype(np.float32))
    y = rng.integers(0, 10, 16)
    gc.disable()
    try:
        probes: list[weakref.ref] = []
        _step(params, x, y, probes)
        assert all(p() is None for p in probes)  # freed by reference counting alone
    finally:
        gc.enable()


def test_graph_nodes_are_freed_without_gc_when_the_root_goes():
    x = Tensor(np.ones(3), requires_grad=True)
    gc.disable()
    try:
        y = ((x * 2).exp() + x).sum()
        node = weakref.ref(y.grad_fn)
        inner = weakref.ref(y.grad_fn.parents[0])
        del y
        assert node() is None and inner() is None
    finally:
        gc.enable()


def test_backward_releases_saved_arrays():
    x = Tensor(np.ones((100, 100)), requires_grad=True)
    y = x.tanh()
    saved = weakref.ref(y.grad_fn.out)
    node = y.grad_fn
    loss = y.sum()
    del y
    loss.backward()
    assert node.out is None and saved() is None


def test_peak_memory_stays_flat_over_many_steps():
    rng = np.random.default_rng(1)
    params = _mlp_params(rng)
    x = Tensor(rng.standard_normal((32, 64)).astype(np.float32))
    y = rng.integers(0, 10, 32)
    tracemalloc.start()
    try:
        for _ in range(2500):  # fills Python's tuple free lists (2000 each), counted as in use
            _step(params, x, y)
        tracemalloc.reset_peak()
        for _ in range(300):
            _step(params, x, y)
        _, peak_early = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(700):
            _step(params, x, y)
        _, peak_late = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one step allocates ~40 KB of arrays; a leak of even one small array per step would
    # add far more than the slack over 700 steps
    assert peak_late <= peak_early + 16_384


def test_million_op_chain_backward():
    x = Tensor(np.array([1.0], np.float32), requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.data.tolist() == [1.0]
    del y  # freeing a million-node chain must not overflow the C stack either


def test_node_with_a_hundred_thousand_consumers():
    x = Tensor(np.array([2.0]), requires_grad=True)
    total = x * 0.0
    for i in range(100_000):
        total = total + x * float(i % 3)
    total.sum().backward()
    assert x.grad.data.tolist() == [float(sum(i % 3 for i in range(100_000)))]


def test_training_784_100_10_for_1000_steps_keeps_peak_memory_flat():
    from tinygrad_bp import nn, optim
    from tinygrad_bp.nn import functional as F

    rng = np.random.default_rng(2)
    model = nn.Sequential(nn.Linear(784, 100, rng=rng), nn.Sigmoid(), nn.Linear(100, 10, rng=rng))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = Tensor(rng.random((16, 784), dtype=np.float32))
    y = rng.integers(0, 10, 16)
    probes: list[weakref.ref] = []

    def step(probe=False):
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        if probe:
            probes.extend([weakref.ref(logits), weakref.ref(loss)])
        loss.backward()
        opt.step()

    for _ in range(2000):  # warm-up: Python's free lists fill (tracemalloc counts them)
        step()
    tracemalloc.start()
    try:
        for _ in range(300):
            step()
        _, peak_early = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(1000):
            step()
        _, peak_late = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_late <= peak_early + 16_384
    gc.disable()
    try:
        step(probe=True)
        assert all(p() is None for p in probes)
    finally:
        gc.enable()
