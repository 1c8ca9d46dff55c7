"""Hand-written numpy backprop: the gradients derived by hand, in place where it pays. This is
the practical floor for numpy code, and the reference every other implementation must match."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.impls import epoch_of_steps

NAME = "numpy (by hand)"
PACKAGES = ("numpy",)


def version() -> str:
    return np.__version__


def supports(workload: str, size: int) -> bool:
    return workload not in ("draw", "cnn_step")  # no hand-written CNN


# --------------------------------------------------------------------------- chain
def _forward(x0: np.ndarray, n_ops: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    y = x0.copy()
    saved = []
    for _ in range(n_ops // 5):
        t = np.tanh(y * 2 + (-1))
        s = 1 / (1 + np.exp(-(t * 2)))
        saved.append((t, s))
        y = s
    return y, saved


def _backward(y: np.ndarray, saved: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    g = np.ones_like(y)
    for t, s in reversed(saved):
        g = g * s * (1 - s)  # sigmoid' = s (1 - s)
        g = g * 2
        g = g * (1 - t * t)  # tanh' = 1 - t^2
        g = g * 2
    return g


def chain(x0: np.ndarray, n_ops: int) -> tuple[float, np.ndarray]:
    y, saved = _forward(x0, n_ops)
    return float(y.sum()), _backward(y, saved)


def build_chain(x0: np.ndarray, n_ops: int) -> Callable[[], np.ndarray]:
    y, saved = _forward(x0, n_ops)
    return lambda: _backward(y, saved)


# --------------------------------------------------------------------------- MLP
class Mlp:
    """784-100-10 sigmoid, softmax cross-entropy (mean), SGD with momentum (PyTorch's rule)."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        self.params = [p.copy() for p in params]
        self.bufs: list[np.ndarray | None] = [None] * len(params)
        self.lr, self.momentum = lr, momentum
        self.last: list[np.ndarray] = []

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        w1, b1, w2, b2 = self.params
        n = len(x)
        rows = np.arange(n)
        h = np.dot(x, w1)
        h += b1
        np.negative(h, out=h)  # sigmoid, in place (inputs of 784-100 layers never overflow)
        np.exp(h, out=h)
        h += 1.0
        np.reciprocal(h, out=h)
        z = np.dot(h, w2)
        z += b2
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.log(s).sum() - z[rows, y].sum()) / n
        e /= s  # softmax; dL/dz = (p - onehot) / n
        e[rows, y] -= 1.0
        e *= 1.0 / n
        gw2, gb2 = np.dot(h.T, e), e.sum(axis=0)
        dh = np.dot(e, w2.T)
        dh *= h * (1.0 - h)  # sigmoid' = h (1 - h)
        gw1, gb1 = np.dot(x.T, dh), dh.sum(axis=0)
        self.last = grads = [gw1, gb1, gw2, gb2]
        m, lr = self.momentum, self.lr
        for k, (p, g) in enumerate(zip(self.params, grads)):
            buf = self.bufs[k]
            if buf is None:
                buf = self.bufs[k] = g.copy()
            else:
                buf *= m
                buf += g
            p -= lr * buf
        return loss

    def grads(self) -> list[np.ndarray]:
        return self.last

    def weights(self) -> list[np.ndarray]:
        return self.params


def epoch(model: Mlp, x: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    return epoch_of_steps(model.step, x, y, batch, seed)
