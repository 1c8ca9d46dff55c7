"""Time one epoch of Fashion-MNIST training: tinygrad_bp vs hand-written numpy vs PyTorch.

The article's network, 784-100-10 sigmoid/softmax with cross-entropy, SGD momentum 0.9,
lr 0.1, batch 64, 60,000 shuffled samples, single-threaded, the three implementations
interleaved, median of several repetitions. Prints a markdown table.

    python benchmarks/epoch.py [--reps 5]

Each workload is a plain function ``epoch_<name>(x, y, seed) -> (seconds, mean loss)`` so a
benchmark suite can import and reuse it.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: BLAS reads them once

import argparse  # noqa: E402  (the thread settings above must come first)
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

LR, MOMENTUM, BATCH, HIDDEN = 0.1, 0.9, 64, 100


def load() -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST training images as float32 (60000, 784) in [0, 1] and int64 labels."""
    from tinygrad_bp.data import load_fashion_mnist

    ds = load_fashion_mnist()
    return ds.x_train, ds.y_train


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, (fan_in, fan_out)).astype(np.float32)


def epoch_tinygrad(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """One epoch with tinygrad_bp: MLP, cross_entropy, SGD, DataLoader."""
    from tinygrad_bp import data, nn, optim
    from tinygrad_bp.nn import functional as F

    model = nn.MLP([x.shape[1], HIDDEN, 10], "sigmoid", rng=seed)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loader = data.DataLoader(x, y, batch_size=BATCH, shuffle=True, seed=seed)
    total = 0.0
    t0 = time.perf_counter()
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    return time.perf_counter() - t0, total / len(loader)


def epoch_numpy(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """One epoch with gradients derived by hand, in place where it pays."""
    rng = np.random.default_rng(seed)
    w1, b1 = _glorot(rng, x.shape[1], HIDDEN), np.zeros(HIDDEN, np.float32)
    w2, b2 = _glorot(rng, HIDDEN, 10), np.zeros(10, np.float32)
    params = [w1, b1, w2, b2]
    bufs: list[np.ndarray | None] = [None] * 4
    order = np.random.default_rng([seed, 0]).permutation(len(x))
    total, steps = 0.0, 0
    t0 = time.perf_counter()
    for i in range(0, len(x), BATCH):
        idx = order[i : i + BATCH]
        xb, yb = x[idx], y[idx]
        n = len(idx)
        rows = np.arange(n)
        h = xb @ w1
        h += b1
        np.negative(h, out=h)  # sigmoid, in place
        np.exp(h, out=h)
        h += 1.0
        np.reciprocal(h, out=h)
        z = h @ w2
        z += b2
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        total += float(np.log(s).sum() - z[rows, yb].sum()) / n
        e /= s  # softmax; dL/dz = (p - onehot) / n
        e[rows, yb] -= 1.0
        e *= 1.0 / n
        grads = [None, None, h.T @ e, e.sum(axis=0)]
        dh = e @ w2.T
        dh *= h * (1.0 - h)  # sigmoid' = h (1 - h)
        grads[0], grads[1] = xb.T @ dh, dh.sum(axis=0)
        for k, (p, g) in enumerate(zip(params, grads)):
            buf = bufs[k]
            if buf is None:
                buf = bufs[k] = g.copy()
            else:
                buf *= MOMENTUM
                buf += g
            p -= LR * buf
        steps += 1
    return time.perf_counter() - t0, total / steps


def epoch_torch(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """One epoch with PyTorch CPU eager, single-threaded."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.Sigmoid(), torch.nn.Linear(HIDDEN, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    order = torch.from_numpy(np.random.default_rng([seed, 0]).permutation(len(x)))
    total, steps = 0.0, 0
    t0 = time.perf_counter()
    for i in range(0, len(x), BATCH):
        idx = order[i : i + BATCH]
        loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        steps += 1
    return time.perf_counter() - t0, total / steps


WORKLOADS: dict[str, Callable[[np.ndarray, np.ndarray, int], tuple[float, float]]] = {
    "tinygrad_bp": epoch_tinygrad,
    "numpy (by hand)": epoch_numpy,
    "PyTorch CPU eager": epoch_torch,
}


def run(reps: int = 5) -> dict[str, list[float]]:
    """Time every workload ``reps`` times, interleaved (after one untimed warm-up each)."""
    x, y = load()
    for fn in WORKLOADS.values():
        fn(x[:6400], y[:6400], 0)
    times: dict[str, list[float]] = {k: [] for k in WORKLOADS}
    for r in range(reps):
        for name, fn in WORKLOADS.items():
            seconds, _ = fn(x, y, r)
            times[name].append(seconds)
    return times


def table(times: dict[str, list[float]]) -> str:
    """A markdown table: median and min seconds per epoch, and the ratio to numpy."""
    base = statistics.median(times["numpy (by hand)"])
    lines = [
        "| implementation | median s/epoch | min s/epoch | vs numpy |",
        "|---|---:|---:|---:|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        lines.append(f"| {name} | {med:.3f} | {min(ts):.3f} | {med / base:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    times = run(args.reps)
    print(
        f"Fashion-MNIST, 784-{HIDDEN}-10 sigmoid/softmax, SGD momentum {MOMENTUM} lr {LR}, "
        f"batch {BATCH}, 60,000 samples, 1 thread, median of {args.reps}\n"
    )
    print(table(times))


if __name__ == "__main__":
    main()
