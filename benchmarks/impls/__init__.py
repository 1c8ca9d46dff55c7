"""One adapter module per implementation, all with the same small interface.

Every adapter defines ``NAME`` (the column title), ``PACKAGES`` (the imports it needs; a missing
one skips the adapter with a message), ``version()``, ``supports(workload, size)``, and for
each workload it supports:

- ``chain(x0, n_ops) -> (loss, grad)``: forward + backward of the elementwise chain
  (``overhead``); ``build_chain(x0, n_ops) -> thunk`` builds the same graph and returns the
  backward pass as a thunk that returns the gradient (``scaling``).
- ``Mlp(params, lr, momentum)`` with ``step(x, y) -> loss``, ``grads()`` and ``weights()``
  (``mlp_step``), and ``epoch(model, x, y, batch, seed) -> mean loss`` (``epoch``).

Weights are passed as ``[w1 (784, 100), b1, w2 (100, 10), b2]`` float32 arrays (``y = x @ w + b``)
and returned in the same layout, so every implementation starts from, and is compared on, the
same numbers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import numpy as np

# --impls key -> adapter module (names that do not shadow the real packages)
ADAPTERS = {
    "numpy": "numpy_hand",
    "tinygrad_bp": "tinygrad_bp",
    "torch": "torch_eager",
    "mygrad": "mygrad_impl",
    "autograd": "hips_autograd",
    "micrograd": "micrograd_impl",
}
REFERENCE = "numpy"  # every implementation is checked against this one


def epoch_of_steps(
    step: Callable[[np.ndarray, np.ndarray], float],
    x: np.ndarray,
    y: np.ndarray,
    batch: int,
    seed: int,
) -> float:
    """Mean loss of one epoch of ``step`` over numpy mini-batches in the order every adapter
    shares (``default_rng([seed, 0]).permutation``)."""
    order = np.random.default_rng([seed, 0]).permutation(len(x))
    total, steps = 0.0, 0
    for i in range(0, len(x), batch):
        idx = order[i : i + batch]
        total += step(x[idx], y[idx])
        steps += 1
    return total / steps


def load(keys: list[str], threads: int) -> tuple[dict[str, ModuleType], list[str]]:
    """Import the adapters for ``keys``; returns {key: module} and skip messages."""
    loaded: dict[str, ModuleType] = {}
    skipped: list[str] = []
    for key in keys:
        if key not in ADAPTERS:
            raise SystemExit(f"unknown implementation {key!r}; choose from {', '.join(ADAPTERS)}")
        mod = importlib.import_module(f"benchmarks.impls.{ADAPTERS[key]}")
        missing = []
        for pkg in mod.PACKAGES:
            try:
                importlib.import_module(pkg)
            except ImportError:
                missing.append(pkg)
        if missing:
            skipped.append(
                f"{mod.NAME}: skipped, {', '.join(missing)} not installed "
                f"(pip install -e '.[bench]')"
            )
            continue
        setup = getattr(mod, "setup", None)
        if setup is not None:
            setup(threads)
        loaded[key] = mod
    return loaded, skipped
