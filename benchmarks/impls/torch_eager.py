"""PyTorch CPU eager (``torch==2.13.0``), idiomatic: ``torch.nn`` layers, ``F.cross_entropy``,
``torch.optim.SGD``; ``torch.set_num_threads(--threads)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

NAME = "PyTorch"
MAX_CHAIN = 100_000
PACKAGES = ("torch",)


def setup(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # only allowed before the first parallel work
        pass


def version() -> str:
    import torch

    return str(torch.__version__)


def supports(workload: str, size: int) -> bool:
    if workload == "scaling":  # 10^6 ops would take minutes and GBs: tinygrad_bp's check only
        return size <= MAX_CHAIN
    return workload != "draw"


# --------------------------------------------------------------------------- chain
def _forward(x0: np.ndarray, n_ops: int) -> tuple[Any, Any]:
    import torch

    x = torch.tensor(x0, requires_grad=True)
    y = x
    for _ in range(n_ops // 5):
        y = torch.sigmoid(torch.tanh(y * 2 + (-1)) * 2)
    return x, y.sum()


def chain(x0: np.ndarray, n_ops: int) -> tuple[float, np.ndarray]:
    x, loss = _forward(x0, n_ops)
    loss.backward()
    return loss.item(), x.grad.numpy()


def build_chain(x0: np.ndarray, n_ops: int) -> Callable[[], np.ndarray]:
    x, loss = _forward(x0, n_ops)

    def backward() -> np.ndarray:
        loss.backward()
        return x.grad.numpy()

    return backward


# --------------------------------------------------------------------------- MLP
class Mlp:
    """``nn.Sequential(Linear, Sigmoid, Linear)``, cross_entropy, SGD momentum."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        import torch

        w1, b1, w2, b2 = params
        self.model = torch.nn.Sequential(
            torch.nn.Linear(*w1.shape), torch.nn.Sigmoid(), torch.nn.Linear(*w2.shape)
        )
        with torch.no_grad():  # torch stores (out, in) weights
            for p, a in zip(self.model.parameters(), (w1.T, b1, w2.T, b2)):
                p.copy_(torch.from_numpy(np.ascontiguousarray(a)))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)
        self.loss_fn = torch.nn.functional.cross_entropy

    def train_step(self, xb: Any, yb: Any) -> float:
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        return loss.item()

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        import torch

        return self.train_step(torch.from_numpy(x), torch.from_numpy(y))

    def grads(self) -> list[np.ndarray]:
        return _layout([p.grad for p in self.model.parameters()])

    def weights(self) -> list[np.ndarray]:
        return _layout(list(self.model.parameters()))


def _layout(ts: list[Any]) -> list[np.ndarray]:
    w1, b1, w2, b2 = (t.detach().numpy() for t in ts)
    return [w1.T, b1, w2.T, b2]


def epoch(model: Mlp, x: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    import torch

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    order = torch.from_numpy(np.random.default_rng([seed, 0]).permutation(len(x)))
    total, steps = 0.0, 0
    for i in range(0, len(x), batch):
        idx = order[i : i + batch]
        total += model.train_step(xt[idx], yt[idx])
        steps += 1
    return total / steps


# --------------------------------------------------------------------------- CNN
class Cnn:
    """``nn.Sequential(Conv2d, ReLU, MaxPool2d, ..., Linear)``, cross_entropy, SGD momentum."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        import torch

        w1, _, w2, _, w3, _, w4, _ = params
        nn = torch.nn
        self.model = nn.Sequential(
            nn.Conv2d(1, w1.shape[0], 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w1.shape[0], w2.shape[0], 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(*w3.shape),
            nn.ReLU(),
            nn.Linear(*w4.shape),
        )
        with torch.no_grad():  # torch stores (out, in) dense weights
            for p, a in zip(self.model.parameters(), params):
                p.copy_(torch.from_numpy(np.ascontiguousarray(a.T if a.ndim == 2 else a)))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        import torch

        self.opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            self.model(torch.from_numpy(x)), torch.from_numpy(y)
        )
        loss.backward()
        self.opt.step()
        return loss.item()

    def _layout(self, ts: list[Any]) -> list[np.ndarray]:
        arrays = [t.detach().numpy() for t in ts]
        return [a.T if a.ndim == 2 else a for a in arrays]

    def grads(self) -> list[np.ndarray]:
        return self._layout([p.grad for p in self.model.parameters()])

    def weights(self) -> list[np.ndarray]:
        return self._layout(list(self.model.parameters()))
