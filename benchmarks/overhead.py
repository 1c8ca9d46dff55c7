"""Per-op overhead of issue 2, now a workload of the suite: forward + backward of a 1,000-op
elementwise chain (``*2``, ``+(-1)``, ``tanh``, ``*2``, ``sigmoid``, then ``sum()`` and
``backward()``) at 1 / 100 / 10,000 elements, us per op, hand-written numpy vs tinygrad_bp vs
PyTorch, one thread, interleaved, medians (min-max). The same as::

    python -m benchmarks --workloads overhead --impls numpy tinygrad_bp torch

Other suite options (``--samples``, ``--quick``, ``--impls``, ``--threads``) are passed on.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run import DEFAULT_OUT, main

if __name__ == "__main__":
    suite = ["--workloads", "overhead", "--impls", "numpy", "tinygrad_bp", "torch"]
    main([*suite, "--out", str(DEFAULT_OUT / "overhead"), *sys.argv[1:]])
