"""What anomaly mode costs: the 1,000-op overhead chain (100 elements) with
``tg.detect_anomaly()`` off and on, us per op, medians of interleaved samples.

    python benchmarks/anomaly.py [--samples 15]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"  # before numpy loads

import argparse  # noqa: E402
import contextlib  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tinygrad_bp as tg  # noqa: E402


def chain(x0: np.ndarray) -> None:
    x = tg.Tensor(x0.copy(), requires_grad=True)
    y = x
    for _ in range(200):
        y = ((y * 2 + (-1)).tanh() * 2).sigmoid()
    y.sum().backward()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=15)
    args = ap.parse_args()
    x0 = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    times: dict[str, list[float]] = {"off": [], "on": []}
    chain(x0)
    for _ in range(args.samples):
        for mode in ("off", "on"):
            cm = tg.detect_anomaly() if mode == "on" else contextlib.nullcontext()
            t0 = time.perf_counter()
            with cm:
                chain(x0)
            times[mode].append((time.perf_counter() - t0) / 1000 * 1e6)
    for mode, ts in times.items():
        print(f"anomaly {mode}: {np.median(ts):.2f} us/op (min {min(ts):.2f}, max {max(ts):.2f})")


if __name__ == "__main__":
    main()
