"""Epoch time of issue 3, now a workload of the suite: one epoch of the article's 784-100-10
sigmoid/softmax network (cross-entropy, SGD momentum 0.9, lr 0.1, batch 64, 60,000
Fashion-MNIST samples), hand-written numpy vs tinygrad_bp vs PyTorch vs MyGrad vs HIPS autograd,
one thread, interleaved, medians (min-max). The same as::

    python -m benchmarks --workloads epoch

Other suite options (``--samples``, ``--quick``, ``--impls``, ``--threads``) are passed on.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run import DEFAULT_OUT, main

if __name__ == "__main__":
    main(["--workloads", "epoch", "--out", str(DEFAULT_OUT / "epoch"), *sys.argv[1:]])
