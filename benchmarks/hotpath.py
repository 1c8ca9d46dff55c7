"""Profile tinygrad_bp's hot paths with cProfile, through the suite's own adapter (the code
that is timed): the overhead chain at 100 elements, ``mlp_step`` at batch 1 and 1024, and a
Fashion-MNIST epoch. Prints the top functions by own time for each::

    python benchmarks/hotpath.py [overhead mlp1 mlp1024 epoch] [--top 15] [--sort tottime]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

if not __package__:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run import set_threads

set_threads(1)  # before numpy loads

from benchmarks.impls import tinygrad_bp as tgi  # noqa: E402
from benchmarks.workloads import Config, batch, epoch_data, init_params  # noqa: E402

SIZES = (784, 100, 10)


def _overhead() -> tuple[Callable[[], object], int, str]:
    import numpy as np

    x0 = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    return lambda: tgi.chain(x0, 1000), 200, "200 chains of 1,000 ops, 100 elements"


def _mlp(n: int) -> tuple[Callable[[], object], int, str]:
    model = tgi.Mlp(init_params(SIZES), 0.1, 0.9)
    x, y = batch(SIZES, n, seed=100)
    reps = 3000 if n == 1 else 100
    return lambda: model.step(x, y), reps, f"{reps} steps at B={n}"


def _epoch() -> tuple[Callable[[], object], int, str]:
    x, y, source = epoch_data(Config())
    model = tgi.Mlp(init_params(SIZES), 0.1, 0.9)
    return lambda: tgi.epoch(model, x, y, 64, 0), 1, f"one epoch, {source}"


CASES = {
    "overhead": _overhead,
    "mlp1": lambda: _mlp(1),
    "mlp1024": lambda: _mlp(1024),
    "epoch": _epoch,
}


def profile(name: str, top: int, sort: str) -> str:
    """Warm up, time ``reps`` calls plainly, then profile them; the report as text."""
    fn, reps, what = CASES[name]()
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    plain = (time.perf_counter() - t0) / reps
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(reps):
        fn()
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    head = f"## {name}: {what}; {plain * 1e3:.3f} ms per call unprofiled\n"
    return head + buf.getvalue()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="*", help=f"any of {', '.join(CASES)} (default: all)")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    args = p.parse_args()
    unknown = set(args.cases) - CASES.keys()
    if unknown:
        p.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")
    for name in args.cases or list(CASES):
        print(profile(name, args.top, args.sort))


if __name__ == "__main__":
    main()
