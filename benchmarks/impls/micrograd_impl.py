"""micrograd (Karpathy's scalar engine, PyPI ``micrograd``): one Python object per number,
so it joins only where that is feasible: the chain at 1 element, ``scaling`` up to 10^5 ops,
and ``mlp_step`` at batch 1. The PyPI release has ``+ * ** relu`` only: ``tanh``, ``sigmoid``,
``exp`` and ``log`` are added here in micrograd's own style (one ``Value`` with a closure
``_backward``), as its later ``tanh`` is. Its ``backward`` recurses once per graph level, so the
recursion limit is raised around each call."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

NAME = "micrograd"
PACKAGES = ("micrograd",)
MAX_CHAIN = 100_000


@contextlib.contextmanager
def _deep(n: int) -> Iterator[None]:
    """Allow ``backward``'s recursion ``n`` levels deep, then restore the limit."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 3 * n + 1000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def version() -> str:
    from importlib.metadata import version as v

    return v("micrograd")


def supports(workload: str, size: int) -> bool:
    if workload == "overhead":
        return size == 1
    if workload == "scaling":
        return size <= MAX_CHAIN
    return workload == "mlp_step" and size == 1


def _unary(x: Any, value: float, local: float, op: str) -> Any:
    from micrograd.engine import Value

    out = Value(value, (x,), op)

    def _backward() -> None:
        x.grad += local * out.grad

    out._backward = _backward
    return out


def tanh(x: Any) -> Any:
    t = math.tanh(x.data)
    return _unary(x, t, 1.0 - t * t, "tanh")


def sigmoid(x: Any) -> Any:
    s = 0.5 * (math.tanh(0.5 * x.data) + 1.0)  # stable for any x
    return _unary(x, s, s * (1.0 - s), "sigmoid")


def exp(x: Any) -> Any:
    e = math.exp(x.data)
    return _unary(x, e, e, "exp")


def log(x: Any) -> Any:
    return _unary(x, math.log(x.data), 1.0 / x.data, "log")


# --------------------------------------------------------------------------- chain
def _forward(x0: np.ndarray, n_ops: int) -> tuple[Any, Any]:
    from micrograd.engine import Value

    assert x0.size == 1, "micrograd is scalar: the chain runs at 1 element only"
    x = Value(float(x0.reshape(-1)[0]))
    y = x
    for _ in range(n_ops // 5):
        y = sigmoid(tanh(y * 2 + (-1)) * 2)
    return x, y


def chain(x0: np.ndarray, n_ops: int) -> tuple[float, np.ndarray]:
    x, loss = _forward(x0, n_ops)
    with _deep(n_ops):
        loss.backward()
    return loss.data, np.array([x.grad], dtype=x0.dtype).reshape(x0.shape)


def build_chain(x0: np.ndarray, n_ops: int) -> Callable[[], np.ndarray]:
    x, loss = _forward(x0, n_ops)

    def backward() -> np.ndarray:
        with _deep(n_ops):
            loss.backward()
        return np.array([x.grad], dtype=x0.dtype).reshape(x0.shape)

    return backward


# --------------------------------------------------------------------------- MLP
class Mlp:
    """The MLP with one ``Value`` per weight; batch 1 only; momentum SGD in Python."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        from micrograd.engine import Value

        self.shapes = [p.shape for p in params]
        self.values = [[Value(float(v)) for v in p.reshape(-1)] for p in params]
        w1, w2 = self.values[0], self.values[2]
        n_hid, n_out = self.shapes[0][1], self.shapes[2][1]
        # column j of a row-major (in, out) matrix: the weights into unit j
        self.cols1 = [w1[j::n_hid] for j in range(n_hid)]
        self.cols2 = [w2[k::n_out] for k in range(n_out)]
        self.flat = [v for vs in self.values for v in vs]
        self.bufs: list[float] | None = None
        self.lr, self.momentum = lr, momentum

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        assert len(x) == 1, "micrograd MLP runs at batch 1 only"
        for p in self.flat:  # zero_grad
            p.grad = 0.0
        xs = x[0].tolist()
        _, b1, _, b2 = self.values
        h = [sigmoid(sum((w * xi for w, xi in zip(col, xs)), b)) for col, b in zip(self.cols1, b1)]
        z = [sum((w * hj for w, hj in zip(col, h)), b) for col, b in zip(self.cols2, b2)]
        m = max(v.data for v in z)  # shift: a constant, the gradient does not depend on it
        lse = log(sum(exp(v - m) for v in z))
        loss = lse - (z[int(y[0])] - m)
        with _deep(len(xs) + len(h) + len(z)):  # the depth of the graph: the sums' chains
            loss.backward()
        m_, lr = self.momentum, self.lr
        if self.bufs is None:
            self.bufs = [p.grad for p in self.flat]
        else:
            self.bufs = [m_ * b + p.grad for b, p in zip(self.bufs, self.flat)]
        for p, b in zip(self.flat, self.bufs):
            p.data -= lr * b
        return float(loss.data)

    def _arrays(self, attr: str) -> list[np.ndarray]:
        return [
            np.array([getattr(v, attr) for v in vs], dtype=np.float64).reshape(s)
            for vs, s in zip(self.values, self.shapes)
        ]

    def grads(self) -> list[np.ndarray]:
        return self._arrays("grad")

    def weights(self) -> list[np.ndarray]:
        return self._arrays("data")
