"""HIPS autograd (``autograd``), functional: ``value_and_grad`` of a loss written with
``autograd.numpy``. It has no sigmoid, so the adapter declares one primitive with its VJP
(the documented extension point, one op like the others'); SGD momentum is numpy in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.impls import epoch_of_steps

NAME = "HIPS autograd"
MAX_CHAIN = 100_000
PACKAGES = ("autograd",)


def version() -> str:
    from importlib.metadata import version as v

    return v("autograd")


def supports(workload: str, size: int) -> bool:
    if workload == "scaling":  # 10^6 ops would take minutes and GBs: tinygrad_bp's check only
        return size <= MAX_CHAIN
    return workload != "draw"


_sigmoid: Any = None


def _sig() -> Any:
    global _sigmoid
    if _sigmoid is None:
        import autograd.numpy as anp
        from autograd.extend import defvjp, primitive

        @primitive
        def sigmoid(x: Any) -> Any:
            return 0.5 * (anp.tanh(0.5 * x) + 1.0)  # stable for any x

        defvjp(sigmoid, lambda ans, x: lambda g: g * ans * (1.0 - ans))
        _sigmoid = sigmoid
    return _sigmoid


# --------------------------------------------------------------------------- chain
def _loss(n_ops: int) -> Callable[[Any], Any]:
    import autograd.numpy as anp

    sigmoid = _sig()

    def f(x: Any) -> Any:
        y = x
        for _ in range(n_ops // 5):
            y = sigmoid(anp.tanh(y * 2 + (-1)) * 2)
        return anp.sum(y)

    return f


def chain(x0: np.ndarray, n_ops: int) -> tuple[float, np.ndarray]:
    from autograd import value_and_grad

    loss, g = value_and_grad(_loss(n_ops))(x0.copy())
    return float(loss), g


def build_chain(x0: np.ndarray, n_ops: int) -> Callable[[], np.ndarray]:
    from autograd.core import make_vjp

    vjp, ans = make_vjp(_loss(n_ops), x0.copy())  # the forward pass records the graph
    one = np.ones_like(ans)
    return lambda: vjp(one)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- MLP
class Mlp:
    """``value_and_grad`` of the loss in the parameters; momentum SGD in place."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        import autograd.numpy as anp
        from autograd import value_and_grad

        sigmoid = _sig()

        def loss_fn(ps: list[Any], x: np.ndarray, y: np.ndarray) -> Any:
            w1, b1, w2, b2 = ps
            z = anp.dot(sigmoid(anp.dot(x, w1) + b1), w2) + b2
            z = z - anp.max(z, axis=1, keepdims=True)  # shift: exp never overflows
            lse = anp.log(anp.sum(anp.exp(z), axis=1))
            return anp.mean(lse - z[np.arange(len(y)), y])

        self.vg = value_and_grad(loss_fn)
        self.params = [p.copy() for p in params]
        self.bufs: list[np.ndarray | None] = [None] * len(params)
        self.lr, self.momentum = lr, momentum
        self.last: list[np.ndarray] = []

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss, self.last = self.vg(self.params, x, y)
        m, lr = self.momentum, self.lr
        for k, (p, g) in enumerate(zip(self.params, self.last)):
            buf = self.bufs[k]
            if buf is None:
                buf = self.bufs[k] = np.array(g, copy=True)
            else:
                buf *= m
                buf += g
            p -= lr * buf
        return float(loss)

    def grads(self) -> list[np.ndarray]:
        return self.last

    def weights(self) -> list[np.ndarray]:
        return self.params


def epoch(model: Mlp, x: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    return epoch_of_steps(model.step, x, y, batch, seed)


# --------------------------------------------------------------------------- CNN
def _conv_same5(x: Any, w: Any, b: Any) -> Any:
    """5x5 convolution with padding 2 in ``autograd.numpy``: it has no convolution without
    scipy (``autograd.scipy.signal.convolve``), so one ``tensordot`` per kernel offset."""
    import autograd.numpy as anp

    n, _, h, wd = x.shape
    xp = anp.concatenate(
        [anp.zeros((n, x.shape[1], 2, wd)), x, anp.zeros((n, x.shape[1], 2, wd))], 2
    )
    z = anp.zeros((n, x.shape[1], h + 4, 2))
    xp = anp.concatenate([z, xp, z], 3).astype(x.dtype)
    out = 0.0
    for i in range(5):
        for j in range(5):
            out = out + anp.einsum("nchw,oc->nohw", xp[:, :, i : i + h, j : j + wd], w[:, :, i, j])
    return out + anp.reshape(b, (1, -1, 1, 1))


def _pool2(x: Any) -> Any:
    import autograd.numpy as anp

    n, c, h, w = x.shape
    return anp.max(anp.reshape(x, (n, c, h // 2, 2, w // 2, 2)), axis=(3, 5))


class Cnn:
    """``value_and_grad`` of the CNN's loss in the parameters; momentum SGD in place."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        import autograd.numpy as anp
        from autograd import value_and_grad

        def loss_fn(ps: list[Any], x: np.ndarray, y: np.ndarray) -> Any:
            w1, b1, w2, b2, w3, b3, w4, b4 = ps
            h = _pool2(anp.maximum(_conv_same5(x, w1, b1), 0.0))
            h = _pool2(anp.maximum(_conv_same5(h, w2, b2), 0.0))
            h = anp.maximum(anp.dot(anp.reshape(h, (len(x), -1)), w3) + b3, 0.0)
            z = anp.dot(h, w4) + b4
            z = z - anp.max(z, axis=1, keepdims=True)
            lse = anp.log(anp.sum(anp.exp(z), axis=1))
            return anp.mean(lse - z[np.arange(len(y)), y])

        self.vg = value_and_grad(loss_fn)
        self.params = [p.copy() for p in params]
        self.bufs: list[np.ndarray | None] = [None] * len(params)
        self.lr, self.momentum = lr, momentum
        self.last: list[np.ndarray] = []

    step = Mlp.step
    grads = Mlp.grads
    weights = Mlp.weights
