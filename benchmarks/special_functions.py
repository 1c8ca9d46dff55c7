"""Time Tensor.erf() and exact gelu, forward + backward, on 10^5 float32 and float64 elements:
medians of 15 samples, one thread. ``--root DIR`` times another checkout's tinygrad_bp (for a
before/after: ``git worktree add /some/dir main`` and pass that directory).

    python benchmarks/special_functions.py [--root DIR] [--size N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # before numpy loads


def main() -> None:
    """Print one line per (op, dtype): the median time of forward + backward."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=15)
    args = ap.parse_args()
    sys.path.insert(0, args.root)
    import numpy as np

    import tinygrad_bp as tg

    print(f"tinygrad_bp from {Path(tg.__file__).parent}, {args.size:,} elements, 1 thread")
    x = np.random.default_rng(0).standard_normal(args.size)
    for name, fn in (("erf", lambda t: t.erf()), ("gelu", lambda t: t.gelu())):
        for dtype in ("float32", "float64"):
            a = x.astype(dtype)

            def step(a: np.ndarray = a, fn=fn) -> None:  # type: ignore[no-untyped-def]
                t = tg.Tensor(a, requires_grad=True)
                fn(t).sum().backward()

            step()
            times = []
            for _ in range(args.samples):
                t0 = time.perf_counter()
                step()
                times.append(time.perf_counter() - t0)
            print(
                f"{name:5s} {dtype}: {np.median(times) * 1e3:7.2f} ms (min {min(times) * 1e3:.2f})"
            )


if __name__ == "__main__":
    main()
