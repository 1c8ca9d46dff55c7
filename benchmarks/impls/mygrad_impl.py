"""MyGrad (``mygrad``): its Tensor ops, ``nnet.activations.sigmoid`` and
``nnet.losses.softmax_crossentropy``; it has no optimizers, so SGD momentum is numpy in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.impls import epoch_of_steps

NAME = "MyGrad"
MAX_CHAIN = 100_000
PACKAGES = ("mygrad",)


def version() -> str:
    import mygrad

    return str(mygrad.__version__)


def supports(workload: str, size: int) -> bool:
    if workload == "scaling":  # 10^6 ops would take minutes and GBs: tinygrad_bp's check only
        return size <= MAX_CHAIN
    return workload != "draw"


# --------------------------------------------------------------------------- chain
def _forward(x0: np.ndarray, n_ops: int) -> tuple[Any, Any]:
    import mygrad as mg
    from mygrad.nnet.activations import sigmoid

    x = mg.tensor(x0.copy())
    y = x
    for _ in range(n_ops // 5):
        y = sigmoid(mg.tanh(y * 2 + (-1)) * 2)
    return x, y.sum()


def chain(x0: np.ndarray, n_ops: int) -> tuple[float, np.ndarray]:
    x, loss = _forward(x0, n_ops)
    loss.backward()
    return loss.item(), x.grad


def build_chain(x0: np.ndarray, n_ops: int) -> Callable[[], np.ndarray]:
    x, loss = _forward(x0, n_ops)

    def backward() -> np.ndarray:
        loss.backward()
        return x.grad  # type: ignore[no-any-return]

    return backward


# --------------------------------------------------------------------------- MLP
class Mlp:
    """Tensor parameters, ``softmax_crossentropy``, momentum SGD on the arrays in place."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        import mygrad as mg
        from mygrad.nnet.activations import sigmoid
        from mygrad.nnet.losses import softmax_crossentropy

        self.mg, self.sigmoid, self.xent = mg, sigmoid, softmax_crossentropy
        self.params = [mg.tensor(p.copy()) for p in params]
        self.bufs: list[np.ndarray | None] = [None] * len(params)
        self.lr, self.momentum = lr, momentum

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        mg = self.mg
        w1, b1, w2, b2 = self.params
        h = self.sigmoid(mg.matmul(x, w1) + b1)
        loss = self.xent(mg.matmul(h, w2) + b2, y)
        loss.backward()
        m, lr = self.momentum, self.lr
        for k, p in enumerate(self.params):
            buf = self.bufs[k]
            if buf is None:
                buf = self.bufs[k] = p.grad.copy()
            else:
                buf *= m
                buf += p.grad
            p.data -= lr * buf
        return loss.item()  # type: ignore[no-any-return]

    def grads(self) -> list[np.ndarray]:
        return [p.grad for p in self.params]

    def weights(self) -> list[np.ndarray]:
        return [p.data for p in self.params]


def epoch(model: Mlp, x: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    return epoch_of_steps(model.step, x, y, batch, seed)


# --------------------------------------------------------------------------- CNN
class Cnn:
    """``nnet.layers.conv_nd`` and ``max_pool``, ``nnet.activations.relu``,
    ``softmax_crossentropy``; momentum SGD on the arrays in place."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        import mygrad as mg
        from mygrad.nnet.activations import relu
        from mygrad.nnet.layers import conv_nd, max_pool
        from mygrad.nnet.losses import softmax_crossentropy

        self.mg, self.relu, self.conv, self.pool = mg, relu, conv_nd, max_pool
        self.xent = softmax_crossentropy
        self.params = [mg.tensor(p.copy()) for p in params]
        self.bufs: list[np.ndarray | None] = [None] * len(params)
        self.lr, self.momentum = lr, momentum

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        mg, relu, conv, pool = self.mg, self.relu, self.conv, self.pool
        w1, b1, w2, b2, w3, b3, w4, b4 = self.params
        h = pool(relu(conv(x, w1, stride=1, padding=2) + b1.reshape(-1, 1, 1)), (2, 2), 2)
        h = pool(relu(conv(h, w2, stride=1, padding=2) + b2.reshape(-1, 1, 1)), (2, 2), 2)
        h = relu(mg.matmul(h.reshape(len(x), -1), w3) + b3)
        loss = self.xent(mg.matmul(h, w4) + b4, y)
        loss.backward()
        m, lr = self.momentum, self.lr
        for k, p in enumerate(self.params):
            buf = self.bufs[k]
            if buf is None:
                buf = self.bufs[k] = p.grad.copy()
            else:
                buf *= m
                buf += p.grad
            p.data -= lr * buf
        return loss.item()  # type: ignore[no-any-return]

    def grads(self) -> list[np.ndarray]:
        return [p.grad for p in self.params]

    def weights(self) -> list[np.ndarray]:
        return [p.data for p in self.params]
