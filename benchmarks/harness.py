"""Timing and reporting: interleaved samples with gc controlled, the machine's description
(BLAS, versions, threads, single-thread sgemm rate), markdown tables, JSON and a PNG chart."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import THREAD_VARS


@dataclass
class Case:
    """One implementation on one row of a workload.

    ``make()`` runs untimed before every sample and returns the thunk to time (for most
    workloads it returns the same prepared closure; ``scaling`` builds a fresh graph in it).
    ``scale`` converts seconds per call into the row's unit (e.g. 1e6 / n_ops for us/op).
    """

    impl: str
    make: Callable[[], Callable[[], Any]]
    scale: float
    repeat_ok: bool = True  # the thunk may run several times per sample


@dataclass
class Result:
    """The samples of one implementation on one row, in the row's unit."""

    workload: str
    row: str
    impl: str
    unit: str
    samples: list[float] = field(default_factory=list)
    calls_per_sample: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(median=self.median, min=min(self.samples), max=max(self.samples))
        return d


def interleave(
    workload: str,
    row: str,
    unit: str,
    cases: list[Case],
    samples: int,
    warmup: int = 1,
    min_sample_s: float = 0.02,
) -> list[Result]:
    """Time ``cases`` round by round (the order rotates each round): ``warmup`` untimed calls
    each, then ``samples`` samples each; a sample is one or more calls (enough to last
    ``min_sample_s``) with ``gc.collect()`` before and the collector off during."""
    calls: list[int] = []
    for c in cases:
        dt = 0.0
        for _ in range(max(1, warmup)):
            fn = c.make()
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            fn = None
        n = 1 if not c.repeat_ok else int(min(1000, max(1, np.ceil(min_sample_s / max(dt, 1e-9)))))
        calls.append(n)
    results = [
        Result(workload, row, c.impl, unit, calls_per_sample=n) for c, n in zip(cases, calls)
    ]
    k = len(cases)
    for r in range(samples):
        for j in range(k):
            i = (j + r) % k
            c, n = cases[i], calls[i]
            fn = c.make()
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                dt = time.perf_counter() - t0
            finally:
                gc.enable()
            fn = None  # free this graph before the next case builds its own
            results[i].samples.append(dt / n * c.scale)
    return results


# --------------------------------------------------------------------------- machine
def sgemm_gflops(n: int = 1024, reps: int = 7) -> float:
    """The measured float32 matmul rate (median of ``reps`` n x n x n products), GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.dot(a, b, out=out)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.dot(a, b, out=out)
        ts.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(ts) / 1e9


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads: int, versions: dict[str, str]) -> dict[str, Any]:
    """What the numbers depend on: CPU, versions, BLAS and its threads, load, sgemm rate."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "implementations": versions,
        "threads": threads,
        "thread_env": {v: os.environ.get(v) for v in THREAD_VARS},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    if "PyTorch" in versions:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    info["sgemm_gflops_1024"] = round(sgemm_gflops(), 1)
    return info


def describe(info: dict[str, Any]) -> str:
    """The machine as two or three lines of text."""
    blas = info["blas"]
    if isinstance(blas, list):
        blas = ", ".join(
            f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} threads)"
            for b in blas
        )
    vers = ", ".join(f"{k} {v}" for k, v in info["implementations"].items())
    load = info.get("load_average")
    load_s = "" if load is None else f"; load average {load[0]:.2f}"
    return (
        f"{info['cpu']} ({info['cpus']} CPUs), Python {info['python']}, numpy {info['numpy']}; "
        f"BLAS: {blas}; threads: {info['threads']}"
        + (f" (torch {info['torch_threads']})" if "torch_threads" in info else "")
        + f"; sgemm {info['sgemm_gflops_1024']} GFLOP/s (1024^3, float32){load_s}\n"
        f"Versions: {vers}"
    )


# --------------------------------------------------------------------------- output
def cell(r: Result | None, digits: int = 3) -> str:
    """``median (min-max)`` with ``digits`` significant figures, or a dash."""
    if r is None:
        return "-"
    return (
        f"{_fmt(r.median, digits)} ({_fmt(min(r.samples), digits)}-{_fmt(max(r.samples), digits)})"
    )


def _fmt(v: float, digits: int) -> str:
    if v == 0 or not np.isfinite(v):
        return f"{v:g}"
    mag = int(np.floor(np.log10(abs(v))))
    return f"{v:.{max(0, digits - 1 - mag)}f}"


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")


def write_chart(path: Path, results: list[Result], impl_order: list[str]) -> None:
    """One panel per workload: grouped bars (median, min-max whiskers) per row, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(dict.fromkeys(r.workload for r in results))
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 4.2), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, w in zip(axes[0], workloads):
        rs = [r for r in results if r.workload == w]
        rows = list(dict.fromkeys(r.row for r in rs))
        impls = [i for i in impl_order if any(r.impl == i for r in rs)]
        width = 0.8 / max(1, len(impls))
        for k, impl in enumerate(impls):
            xs, ys, lo, hi = [], [], [], []
            for j, row in enumerate(rows):
                match = [r for r in rs if r.impl == impl and r.row == row]
                if match:
                    r = match[0]
                    xs.append(j + (k - (len(impls) - 1) / 2) * width)
                    ys.append(r.median)
                    lo.append(r.median - min(r.samples))
                    hi.append(max(r.samples) - r.median)
            color = colors(impl_order.index(impl) % 10)
            ax.bar(xs, ys, width, yerr=[lo, hi], label=impl, color=color, capsize=2)
        values = [r.median for r in rs]
        if max(values) / min(values) > 20:  # log scale, bars from a third of the smallest
            ax.set_yscale("log")
            ax.set_ylim(bottom=min(min(r.samples) for r in rs) / 3)
        ax.set_xticks(range(len(rows)), rows, rotation=20, fontsize=8)
        ax.set_title(f"{w} ({rs[0].unit})", fontsize=10)
        ax.grid(axis="y", alpha=0.3, which="both")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors(i % 10)) for i in range(len(impl_order))]
    fig.legend(handles, impl_order, loc="upper center", ncol=len(impl_order), fontsize=8)
    fig.suptitle("median (min-max whiskers), lower is better", fontsize=9, y=0.02)
    fig.tight_layout(rect=(0, 0.04, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
