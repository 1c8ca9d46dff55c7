"""BLAS threads for ``train`` and ``evaluate``: chosen from the matmul sizes, applied with
threadpoolctl for the duration of the command, and reported in one line.

OpenBLAS starts one busy-waiting thread per core by default. The CLI's networks multiply
small matrices (a 64 x 784 batch by a 784 x 100 weight is 5M multiply-adds), where a second
thread saves little and, when the cores are busy with anything else, costs a lot: on a
shared 2-core machine one 784-100-10 Fashion-MNIST epoch took 0.34-0.76 s (median 0.35 s)
with one thread and 0.40-10.5 s (median 3.9 s) with two. Only matmuls of
``PARALLEL_MIN_MACS`` multiply-adds and more get every core (784-1024-10 at batch 256, 205M:
1.25 s with two threads against 1.98 s with one on an idle machine; on a busy one two threads
ranged from 1.2 to 8.5 s, so ``--threads 1`` stays the safe choice there).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from tinygrad_bp.cli.common import CLIError

__all__ = ["PARALLEL_MIN_MACS", "BlasThreads", "auto_threads", "blas_threads", "usable_cores"]

PARALLEL_MIN_MACS = 100_000_000
ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
INSTALL = "pip install threadpoolctl (or the train extra: pip install 'tinygrad-bp[train]')"


@dataclass(frozen=True)
class BlasThreads:
    """The thread count in force during a command (None: unknown) and why."""

    threads: int | None
    reason: str

    def describe(self) -> str:
        """One line for the user, e.g. ``BLAS threads: 1 (...)``."""
        n = "library default" if self.threads is None else str(self.threads)
        return f"BLAS threads: {n} ({self.reason})"


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def largest_matmul(sizes: Sequence[int], batch: int) -> int:
    """Multiply-adds of the largest ``batch x a @ a x b`` product of an MLP of ``sizes``."""
    return batch * max(a * b for a, b in itertools.pairwise(sizes))


def auto_threads(macs: int, cores: int) -> int:
    """One thread below ``PARALLEL_MIN_MACS`` multiply-adds per matmul, else every core."""
    return 1 if macs < PARALLEL_MIN_MACS else max(1, cores)


@contextmanager
def blas_threads(requested: int | None, macs: int) -> Iterator[BlasThreads]:
    """Limit the BLAS thread pool for the ``with`` block: ``requested`` threads, else the
    count an ``*_NUM_THREADS`` environment variable set, else ``auto_threads``."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        if requested is not None:
            raise CLIError(f"--threads needs threadpoolctl: {INSTALL}") from None
        yield BlasThreads(
            None, f"threadpoolctl is not installed, so the CLI cannot choose: {INSTALL}"
        )
        return
    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    if not pools:
        yield BlasThreads(None, "numpy's BLAS has no thread pool threadpoolctl can see")
        return
    lib = pools[0]["internal_api"]
    env = next((v for v in ENV_VARS if os.environ.get(v)), None)
    cores = usable_cores()
    if requested is not None:
        n, why = requested, f"{lib}, --threads {requested}"
    elif env is not None:
        yield BlasThreads(pools[0]["num_threads"], f"{lib}, from {env}; --threads N to change")
        return
    else:
        n = auto_threads(macs, cores)
        size = "small" if n == 1 else "large"
        why = (
            f"{lib}, chosen for {size} matmuls ({macs:,} multiply-adds) on "
            f"{cores} core{'s' if cores > 1 else ''}; --threads N to change"
        )
    with threadpool_limits(limits=n, user_api="blas"):
        yield BlasThreads(n, why)
