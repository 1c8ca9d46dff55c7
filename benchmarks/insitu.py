"""Time tinygrad_bp's training step where it really runs: inside an epoch, between BLAS calls
that evict Python code from the caches (a loop over one step keeps it cached and shows a
third of the cost). The hand-written numpy step runs alternately with it on the same batches
as the yardstick; the result is each phase's median and the ratio of the step medians::

    python benchmarks/insitu.py [--batch 64] [--epochs 3] [--processes 1]

With ``--processes N`` it runs N fresh interpreters one after another and reports each, then
the median ratio: memory layout differs between processes and moves the ratio by ~1%.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from pathlib import Path

if not __package__:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run import set_threads

SIZES = (784, 100, 10)


def measure(batch: int, epochs: int, samples: int = 60_000) -> dict[str, float]:
    """Medians in us: tinygrad_bp's forward+loss, backward and optimizer step, its whole step,
    and the hand-written step; plus their ratio. Random data of MNIST's shape."""
    import numpy as np

    import tinygrad_bp as tg
    from benchmarks.impls import numpy_hand, tinygrad_bp
    from benchmarks.workloads import init_params
    from tinygrad_bp.nn import functional as F

    rng = np.random.default_rng(0)
    x = rng.random((samples, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[2], samples)
    params = init_params(SIZES)
    ours, hand = tinygrad_bp.Mlp(params, 0.1, 0.9), numpy_hand.Mlp(params, 0.1, 0.9)
    times: dict[str, list[float]] = {k: [] for k in ("forward", "backward", "optim", "step")}
    times["hand"] = []
    clock = time.perf_counter
    gc.disable()
    try:
        for epoch in range(epochs):
            order = np.random.default_rng(epoch).permutation(len(x))
            for i in range(0, len(x) - batch + 1, batch):
                idx = order[i : i + batch]
                t0 = clock()
                hand.step(x[idx], y[idx])
                t1 = clock()
                xb, yb = tg.Tensor(x[idx]), y[idx]
                ours.opt.zero_grad()
                loss = F.cross_entropy(ours.model(xb), yb)
                t2 = clock()
                loss.backward()
                t3 = clock()
                ours.opt.step()
                loss.item()
                t4 = clock()
                times["hand"].append(t1 - t0)
                times["forward"].append(t2 - t1)
                times["backward"].append(t3 - t2)
                times["optim"].append(t4 - t3)
                times["step"].append(t4 - t1)
    finally:
        gc.enable()
    out = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    out["ratio"] = out["step"] / out["hand"]
    return out


def _line(r: dict[str, float]) -> str:
    return (
        f"forward+loss {r['forward']:.1f}  backward {r['backward']:.1f}  optim {r['optim']:.1f}"
        f"  step {r['step']:.1f} us  |  numpy by hand {r['hand']:.1f} us  |  "
        f"ratio {r['ratio']:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--processes", type=int, default=1)
    args = ap.parse_args(argv)
    if args.batch <= 0 or args.epochs <= 0 or args.processes <= 0:
        ap.error("--batch, --epochs and --processes must be positive")
    if args.processes == 1:
        set_threads(1)  # one BLAS thread, as the suite; before numpy loads
        r = measure(args.batch, args.epochs)
        print(_line(r), flush=True)
        return 0
    ratios = []
    for k in range(args.processes):
        cmd = [sys.executable, __file__, f"--batch={args.batch}", f"--epochs={args.epochs}"]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
        print(f"process {k + 1}: {line}", flush=True)
        ratios.append(float(line.rsplit(" ", 1)[1]))  # (the line ends with the ratio)
    print(
        f"median ratio over {len(ratios)} processes: {statistics.median(ratios):.3f} "
        f"(range {min(ratios):.3f}-{max(ratios):.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
