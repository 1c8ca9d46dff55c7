"""Run the benchmark suite: ``python -m benchmarks`` or ``python benchmarks/run.py``.

    python -m benchmarks [--impls numpy tinygrad_bp torch mygrad autograd micrograd]
                         [--workloads overhead mlp_step epoch scaling draw cnn_step]
                         [--threads 1] [--quick] [--samples N] [--out DIR]

Prints markdown tables (median (min-max) per implementation, the targets and whether they are
met) and writes ``results.json`` and ``chart.png`` to ``--out`` (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import THREAD_VARS  # stdlib only: numpy is not loaded yet

IMPLS = ["numpy", "tinygrad_bp", "torch", "mygrad", "autograd", "micrograd"]
WORKLOADS = ["overhead", "mlp_step", "epoch", "scaling", "draw", "cnn_step"]
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="tinygrad_bp against hand-written numpy, PyTorch, MyGrad, HIPS autograd "
        "and micrograd: correctness checks, then interleaved timings.",
    )
    p.add_argument(
        "--impls",
        nargs="+",
        default=IMPLS,
        choices=IMPLS,
        metavar="IMPL",
        help=f"implementations (default: all): {' '.join(IMPLS)}",
    )
    p.add_argument(
        "--workloads",
        nargs="+",
        default=WORKLOADS,
        choices=WORKLOADS,
        metavar="W",
        help=f"workloads (default: all): {' '.join(WORKLOADS)}",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP and torch threads (default 1)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="5 samples, a 6,400-sample epoch, chains up to 10^5 ops",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        help="timed samples per implementation and row (default 20, quick 5)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="directory for results.json and chart.png (default benchmarks/results)",
    )
    p.add_argument("--no-save", action="store_true", help="print the tables only")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error("--threads must be >= 1")
    return args


def set_threads(n: int) -> None:
    """Set every BLAS/OpenMP thread variable; effective when numpy is not loaded yet."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    numpy_was_loaded = "numpy" in sys.modules
    set_threads(args.threads)
    from benchmarks.workloads import Config

    cfg = Config.quick() if args.quick else Config.full()
    if args.samples is not None:
        cfg.samples = args.samples
    try:  # also limit the pools at run time, in case numpy was imported first
        from threadpoolctl import threadpool_limits

        limiter: Any = threadpool_limits(limits=args.threads)
    except ImportError:
        limiter = None
        if numpy_was_loaded:
            print("warning: numpy was loaded before --threads took effect", file=sys.stderr)
    try:
        return run_suite(
            cfg, args.impls, args.workloads, args.threads, None if args.no_save else args.out
        )
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


def run_suite(
    cfg: Any, impl_keys: list[str], workload_names: list[str], threads: int, out: Path | None
) -> dict[str, Any]:
    """Check and time ``impl_keys`` on ``workload_names``; print the tables; write JSON and
    the chart to ``out`` (unless None). Returns the JSON payload."""
    from benchmarks import harness, impls, report, workloads

    t_start = time.perf_counter()
    mods, skipped = impls.load(impl_keys, threads)
    for msg in skipped:
        print(msg, file=sys.stderr)
    versions = {m.NAME: m.version() for m in mods.values()}
    info = harness.machine(threads, versions)
    cfg.gflops = info["sgemm_gflops_1024"]
    load = info.get("load_average")
    if load and load[0] > 1.5:
        print(f"warning: load average {load[0]:.2f}: timings will be noisy", file=sys.stderr)
    outcomes = {}
    gc.collect()
    gc.freeze()  # the modules' objects: the gc.collect() before each sample skips them
    try:
        for w in workload_names:
            print(f"[{time.perf_counter() - t_start:6.1f} s] {w} ...", file=sys.stderr, flush=True)
            outcomes[w] = workloads.RUNNERS[w](mods, cfg)
            for note in outcomes[w].notes:
                print(f"  {note}", file=sys.stderr)
    finally:
        gc.unfreeze()
    info["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    info["seconds"] = round(time.perf_counter() - t_start, 1)
    order = [m.NAME for m in mods.values()]
    text = report.markdown(outcomes, order, cfg, info, skipped)
    print(text)
    payload = report.payload(outcomes, cfg, info, skipped, impl_keys, workload_names)
    if out is not None:
        harness.write_json(out / "results.json", payload)
        (out / "results.md").write_text(text + "\n")
        results = [r for o in outcomes.values() for r in o.results]
        if results:
            harness.write_chart(out / "chart.png", results, order)
        print(f"\nwrote {out / 'results.json'}, {out / 'results.md'}, {out / 'chart.png'}")
    return payload


if __name__ == "__main__":
    main()
