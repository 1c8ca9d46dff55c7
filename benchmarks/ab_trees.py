"""A/B timing of two source trees of tinygrad_bp (a git revision against the working tree),
interleaved in fresh one-thread subprocesses, for changes whose cost is small next to the
machine's drift.

    python benchmarks/ab_trees.py --base HEAD~2 --rounds 15
    python benchmarks/ab_trees.py --base main --rounds 15 --what reductions
    python benchmarks/ab_trees.py --base main --rounds 9 --what chain   # or epoch

Each round starts one worker process per tree (the order alternates every round). A worker
imports tinygrad_bp from its tree and times either the 784-100-10 training step (``step``:
zero_grad + forward + backward + SGD momentum, as ``python -m benchmarks --workloads
mlp_step``) next to the hand-written numpy step in the same process, or micro-costs of the
reductions (``reductions``). Reported: per tree the median over rounds of each figure (and of
tinygrad_bp / numpy for the step), and the median of the per-round ratios new / base.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _timeit(*fns: Any, min_s: float = 0.02, samples: int = 7) -> list[float]:
    """Per function, the median over ``samples`` of the mean time of one call (s); each sample
    lasts >= ``min_s``, and the functions' samples are interleaved."""
    import gc

    reps = []
    for fn in fns:
        fn()
        n = 1
        while True:  # size a sample
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            if time.perf_counter() - t0 >= min_s:
                break
            n *= 2
        reps.append(n)
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(samples):
        for k, (fn, n) in enumerate(zip(fns, reps)):
            gc.collect()
            gc.disable()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out[k].append((time.perf_counter() - t0) / n)
            gc.enable()
    return [statistics.median(o) for o in out]


def _step_worker(batches: list[int]) -> dict[str, float]:
    import itertools

    from benchmarks import workloads as w
    from benchmarks.impls import numpy_hand, tinygrad_bp

    sizes = (784, 100, 10)
    res = {}
    for n in batches:
        data = [w.batch(sizes, n, seed=100 + k) for k in range(8)]
        params = w.init_params(sizes)
        steps = []
        for mod in (tinygrad_bp, numpy_hand):
            model, it = mod.Mlp(params, w.LR, w.MOMENTUM), itertools.cycle(data)
            steps.append(lambda model=model, it=it: model.step(*next(it)))
        t_tg, t_np = _timeit(*steps)
        res[f"step B={n} tinygrad_bp ms"] = t_tg * 1e3
        res[f"step B={n} numpy ms"] = t_np * 1e3
    return res


def _chain_worker() -> dict[str, float]:
    """The ``overhead`` workload's 1,000-op chain (forward + backward), us per op."""
    import numpy as np

    from benchmarks.impls import numpy_hand, tinygrad_bp

    res = {}
    for size in (1, 100, 10_000):
        x0 = np.random.default_rng(size).standard_normal(size).astype(np.float32)
        t_tg, t_np = _timeit(
            lambda x0=x0: tinygrad_bp.chain(x0, 1000), lambda x0=x0: numpy_hand.chain(x0, 1000)
        )
        res[f"chain {size} el tinygrad_bp us/op"] = t_tg * 1e3
        res[f"chain {size} el numpy us/op"] = t_np * 1e3
    return res


def _epoch_worker() -> dict[str, float]:
    """The ``epoch`` workload (784-100-10, batch 64, Fashion-MNIST when installed), s."""
    from benchmarks import workloads as w
    from benchmarks.impls import numpy_hand, tinygrad_bp

    cfg = w.Config()
    x, y, _ = w.epoch_data(cfg)
    params = w.init_params(cfg.mlp_sizes)
    fns = []
    for mod in (tinygrad_bp, numpy_hand):
        model = mod.Mlp(params, w.LR, w.MOMENTUM)
        fns.append(lambda mod=mod, model=model: mod.epoch(model, x, y, 64, 0))
    t_tg, t_np = _timeit(*fns, min_s=0.0, samples=3)
    return {"epoch tinygrad_bp s": t_tg, "epoch numpy s": t_np}


def _reductions_worker() -> dict[str, float]:
    import numpy as np

    import tinygrad_bp as tg
    from tinygrad_bp.nn import functional as F

    rng = np.random.default_rng(0)
    res = {}
    for shape in ((64, 10), (64, 100), (1024, 100), (1000, 1000)):
        x = tg.Tensor(rng.normal(size=shape).astype(np.float32))
        key = "x".join(map(str, shape))
        for op in ("sum", "mean", "var"):
            res[f"{op}(axis=0) {key} us"] = (
                _timeit(lambda op=op, x=x: getattr(x, op)(axis=0))[0] * 1e6
            )
        res[f"sum() {key} us"] = _timeit(lambda x=x: x.sum())[0] * 1e6
    for shape in ((64, 10), (1024, 10)):
        x = tg.Tensor(rng.normal(size=shape).astype(np.float32))
        key = "x".join(map(str, shape))
        res[f"log_softmax {key} us"] = _timeit(lambda x=x: x.log_softmax())[0] * 1e6
        res[f"softmax {key} us"] = _timeit(lambda x=x: x.softmax())[0] * 1e6
        res[f"logsumexp(axis=1) {key} us"] = _timeit(lambda x=x: x.logsumexp(axis=1))[0] * 1e6
    for n in (32, 64, 1024):  # the fused Linear's forward + backward, bias gradient included
        x = tg.Tensor(rng.random((n, 784), dtype=np.float32))
        wt = tg.Tensor(rng.normal(size=(784, 100)).astype(np.float32), requires_grad=True)
        b = tg.Tensor(np.zeros(100, np.float32), requires_grad=True)

        def lin(x: Any = x, wt: Any = wt, b: Any = b) -> None:
            F.linear(x, wt, b).sum().backward()
            wt.grad = b.grad = None

        res[f"linear fwd+bwd B={n} us"] = _timeit(lin)[0] * 1e6
    return res


def _worker(tree: str, what: str, batches: list[int]) -> None:
    sys.path.insert(0, tree)  # tinygrad_bp from the tree under test
    sys.path.insert(1, str(ROOT))  # benchmarks from this checkout
    import tinygrad_bp

    assert Path(tinygrad_bp.__file__).resolve().is_relative_to(Path(tree).resolve())
    workers = {"chain": _chain_worker, "epoch": _epoch_worker, "reductions": _reductions_worker}
    res = _step_worker(batches) if what == "step" else workers[what]()
    print(json.dumps(res))


def _export(rev: str, dest: Path) -> None:
    """The ``tinygrad_bp`` package at git revision ``rev``, unpacked into ``dest``."""
    tar = subprocess.run(
        ["git", "archive", "--format=tar", rev, "tinygrad_bp"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as t:
        t.extractall(dest, filter="data")


def _run(tree: Path, what: str, batches: list[int]) -> dict[str, float]:
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    cmd = [sys.executable, __file__, "--worker", str(tree), "--what", what]
    cmd += ["--batches", *map(str, batches)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="HEAD~1", help="git revision of the base tree")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--what", choices=("step", "chain", "epoch", "reductions"), default="step")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32, 64, 1024])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        _worker(a.worker, a.what, a.batches)
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        _export(a.base, base)
        trees = {"base": base, "new": ROOT}
        runs: dict[str, list[dict[str, float]]] = {"base": [], "new": []}
        for r in range(a.rounds):
            for name in ("base", "new") if r % 2 == 0 else ("new", "base"):
                runs[name].append(_run(trees[name], a.what, a.batches))
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    print(f"base = {a.base}, new = working tree; {a.rounds} rounds, one thread, medians\n")
    print(f"| {'figure':34} | {'base':>9} | {'new':>9} | {'new/base':>8} |")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 11}|{'-' * 10}|")
    for key in runs["base"][0]:
        b = statistics.median(x[key] for x in runs["base"])
        n = statistics.median(x[key] for x in runs["new"])
        paired = statistics.median(y[key] / x[key] for x, y in zip(runs["base"], runs["new"]))
        print(f"| {key:34} | {b:9.3f} | {n:9.3f} | {paired:8.3f} |")
    pairs = [k for k in runs["base"][0] if "tinygrad_bp" in k]
    if pairs:
        print("\ntinygrad_bp / numpy (hand-written reference, same process):")
    for k_tg in pairs:
        k_np = k_tg.replace("tinygrad_bp", "numpy")
        row = [statistics.median(x[k_tg] / x[k_np] for x in runs[name]) for name in runs]
        label = k_tg.replace(" tinygrad_bp", "")
        print(f"  {label:28} base {row[0]:.3f}  new {row[1]:.3f}  new/base {row[1] / row[0]:.3f}")


if __name__ == "__main__":
    main()
