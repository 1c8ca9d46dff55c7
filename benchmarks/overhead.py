"""Per-op overhead: forward + backward of a 1,000-op elementwise chain, in microseconds per op.

The chain cycles ``*2``, ``+(-1)``, ``tanh``, ``*2``, ``sigmoid`` from a fresh leaf, then
``sum()`` and ``backward()``. Compared in one run, one thread, implementations interleaved
round by round, medians (min-max) over the samples:

    python benchmarks/overhead.py [--samples 25] [--ops 1000] [--sizes 1 100 10000]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"  # before numpy loads

import argparse  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402


def chain_tinygrad_bp(x0: np.ndarray, n_ops: int) -> np.ndarray:
    import tinygrad_bp as tg

    x = tg.Tensor(x0.copy(), requires_grad=True)
    y = x
    for _ in range(n_ops // 5):
        y = ((y * 2 + (-1)).tanh() * 2).sigmoid()
    y.sum().backward()
    assert x.grad is not None
    return x.grad.data


def chain_numpy(x0: np.ndarray, n_ops: int) -> np.ndarray:
    """The same chain with its backward written by hand (the practical floor)."""
    y = x0.copy()
    saved = []
    for _ in range(n_ops // 5):
        t = np.tanh(y * 2 + (-1))
        s = 1 / (1 + np.exp(-(t * 2)))
        saved.append((t, s))
        y = s
    g = np.ones_like(y)
    for t, s in reversed(saved):
        g = g * s * (1 - s)
        g = g * 2
        g = g * (1 - t * t)
        g = g * 2
    return g


def chain_torch(x0: np.ndarray, n_ops: int) -> np.ndarray:
    import torch

    x = torch.tensor(x0, requires_grad=True)
    y = x
    for _ in range(n_ops // 5):
        y = torch.sigmoid(torch.tanh(y * 2 + (-1)) * 2)
    y.sum().backward()
    assert x.grad is not None
    return x.grad.numpy()


def available() -> dict[str, Callable[[np.ndarray, int], np.ndarray]]:
    impls: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
        "numpy (by hand)": chain_numpy,
        "tinygrad_bp": chain_tinygrad_bp,
    }
    try:
        import torch

        torch.set_num_threads(1)
        impls["PyTorch eager"] = chain_torch
    except ImportError:
        print("PyTorch not installed: skipped (pip install torch==2.13.0)")
    return impls


def measure(sizes: list[int], n_ops: int, samples: int) -> dict[tuple[str, int], list[float]]:
    impls = available()
    times: dict[tuple[str, int], list[float]] = {}
    for size in sizes:
        x0 = np.random.default_rng(0).standard_normal(size).astype(np.float32)
        ref = chain_numpy(x0, n_ops)
        for name, fn in impls.items():  # same gradients before timing
            np.testing.assert_allclose(fn(x0, n_ops), ref, rtol=1e-4, atol=1e-6, err_msg=name)
            fn(x0, n_ops)  # warm-up
        for _ in range(samples):
            for name, fn in impls.items():
                gc.collect()
                gc.disable()
                t0 = time.perf_counter()
                fn(x0, n_ops)
                dt = time.perf_counter() - t0
                gc.enable()
                times.setdefault((name, size), []).append(dt / n_ops * 1e6)
    return times


def environment() -> str:
    lines = [f"numpy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            lines.append(
                f"{info.get('internal_api')} {info.get('version')} "
                f"threads={info.get('num_threads')} arch={info.get('architecture')}"
            )
    except ImportError:
        pass
    try:
        import torch

        lines.append(f"torch {torch.__version__} threads={torch.get_num_threads()}")
    except ImportError:
        pass
    lines.append(f"OMP/OPENBLAS threads env: {os.environ['OMP_NUM_THREADS']}")
    return "; ".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--ops", type=int, default=1000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 10000])
    args = ap.parse_args()
    times = measure(args.sizes, args.ops, args.samples)
    names = list(dict.fromkeys(name for name, _ in times))
    print(f"\n{environment()}\n")
    print("| elements | " + " | ".join(f"{n} us/op" for n in names) + " | tinygrad_bp / PyTorch |")
    print("|---" * (len(names) + 2) + "|")
    for size in args.sizes:
        cells = []
        med = {}
        for n in names:
            ts = times[n, size]
            med[n] = float(np.median(ts))
            cells.append(f"{med[n]:.2f} ({min(ts):.2f}-{max(ts):.2f})")
        ratio = (
            f"{med['tinygrad_bp'] / med['PyTorch eager']:.2f}x" if "PyTorch eager" in med else "n/a"
        )
        print(f"| {size} | " + " | ".join(cells) + f" | {ratio} |")


if __name__ == "__main__":
    main()
