"""tinygrad_bp through its public API, as a user writes it: Tensor ops for the chain;
``nn.Sequential(nn.Linear, nn.Sigmoid, nn.Linear)``, ``nn.functional.cross_entropy``,
``optim.SGD`` and ``data.DataLoader`` for the network. Nothing here is special-cased."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_bp as tg
from tinygrad_bp import data, nn, optim
from tinygrad_bp.nn import functional as F

NAME = "tinygrad_bp"
PACKAGES = ("tinygrad_bp",)


def version() -> str:
    return getattr(tg, "__version__", "dev")


def supports(workload: str, size: int) -> bool:
    return True


_share = getattr(tg, "from_numpy", tg.Tensor)


# --------------------------------------------------------------------------- chain
def _forward(x0: np.ndarray, n_ops: int) -> tuple[tg.Tensor, tg.Tensor]:
    x = tg.Tensor(x0, requires_grad=True)  # a copy (older trees: x0 is never written)
    y = x
    for _ in range(n_ops // 5):
        y = ((y * 2 + (-1)).tanh() * 2).sigmoid()
    return x, y.sum()


def chain(x0: np.ndarray, n_ops: int) -> tuple[float, np.ndarray]:
    x, loss = _forward(x0, n_ops)
    loss.backward()
    assert x.grad is not None
    return loss.item(), x.grad.data


def build_chain(x0: np.ndarray, n_ops: int) -> Callable[[], np.ndarray]:
    x, loss = _forward(x0, n_ops)

    def backward() -> np.ndarray:
        loss.backward()
        assert x.grad is not None
        return x.grad.data

    return backward


# --------------------------------------------------------------------------- MLP
class Mlp:
    """784-100-10 sigmoid with cross-entropy and SGD momentum, from the public API."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        (w1, b1, w2, b2) = params
        self.model = nn.Sequential(nn.Linear(*w1.shape), nn.Sigmoid(), nn.Linear(*w2.shape))
        self.model.load_state_dict({"0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2})
        self.params = [self.model[0].weight, self.model[0].bias]
        self.params += [self.model[2].weight, self.model[2].bias]
        self.opt = optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)

    def train_step(self, xb: Any, yb: np.ndarray) -> float:
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        return loss.item()

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        # the batch shared, not copied, as the torch adapter's torch.from_numpy (trees before
        # from_numpy existed shared it through Tensor(x))
        return self.train_step(_share(x), y)

    def grads(self) -> list[np.ndarray]:
        return [p.grad.data for p in self.params]  # type: ignore[union-attr]

    def weights(self) -> list[np.ndarray]:
        return [p.data for p in self.params]


def epoch(model: Mlp, x: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    loader = data.DataLoader(x, y, batch_size=batch, shuffle=True, seed=seed)
    total = 0.0
    for xb, yb in loader:
        total += model.train_step(xb, yb)
    return total / len(loader)


# --------------------------------------------------------------------------- draw
def residual_net(n_blocks: int) -> tuple[tg.Tensor, dict[str, tg.Tensor]]:
    """A 5 * n_blocks-op graph with fan-out everywhere, after a backward with grads captured."""
    from benchmarks.draw import residual_net as net

    return net(n_blocks)


def draw(loss: tg.Tensor, params: dict[str, tg.Tensor]) -> Any:
    """Build the graphviz Digraph of every node (no ``dot`` run)."""
    return tg.viz.draw_graph(loss, params=params, max_nodes=10_000)


# --------------------------------------------------------------------------- CNN
class Cnn:
    """The LeNet-style CNN from ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.Linear``, cross_entropy
    and SGD momentum."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        w1, _, w2, _, w3, _, w4, _ = params
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
        keys = ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias"]
        self.model.load_state_dict(dict(zip([*keys, "9.weight", "9.bias"], params)))
        self.params = [
            dict(self.model.named_parameters())[k] for k in [*keys, "9.weight", "9.bias"]
        ]
        self.opt = optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(_share(x)), y)
        loss.backward()
        self.opt.step()
        return loss.item()

    def grads(self) -> list[np.ndarray]:
        return [p.grad.data for p in self.params]  # type: ignore[union-attr]

    def weights(self) -> list[np.ndarray]:
        return [p.data for p in self.params]
