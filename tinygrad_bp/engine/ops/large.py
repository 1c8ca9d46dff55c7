"""A speed trick, kept out of the formulas: on large arrays, sigmoid and the derivatives of
sigmoid and tanh are computed in one temporary (numpy's ``out=``) instead of one new array
per arithmetic step. The values are the same formulas, in the same order.

Why: a fresh 40 KB array costs ~1 us at 10,000 elements (allocation and the cache misses of
new memory), more than the arithmetic. ``python benchmarks/ab_trees.py --base <tree without
it> --what chain`` measured the 10,000-element chain (5 ops per step, tanh and sigmoid among
them) at 0.94x (0.97x as a ratio to hand-written numpy in the same process; 5 rounds, with
the test suite running beside it). Below ``LARGE`` elements ``out=`` costs more than it saves
(~0.2 us per call at 100 elements), so small arrays take the plain formulas.
"""

from __future__ import annotations

import numpy as np

LARGE = 4096  # elements


def sigmoid(x: np.ndarray, one: np.ndarray, low: np.ndarray) -> np.ndarray:
    """``one / (one + exp(-max(x, low)))`` in one temporary."""
    t = np.maximum(x, low)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.add(t, one, out=t)
    return np.divide(one, t, out=t)


def sigmoid_grad(g: np.ndarray, out: np.ndarray, one: np.ndarray) -> np.ndarray:
    """``g * out * (one - out)`` in one temporary."""
    t = one - out
    np.multiply(t, out, out=t)
    return np.multiply(t, g, out=t)


def tanh_grad(g: np.ndarray, out: np.ndarray, one: np.ndarray) -> np.ndarray:
    """``g * (one - out * out)`` in one temporary."""
    t = out * out
    np.subtract(one, t, out=t)
    return np.multiply(t, g, out=t)
