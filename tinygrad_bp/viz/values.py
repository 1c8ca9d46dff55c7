"""Values of every node of a graph, for drawings and traces: what the graph kept (leaves,
saved inputs and outputs, retained tensors, the user's named tensors), and the rest
recomputed by running each op's forward again on its inputs' values, in creation order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.viz import internals as I

__all__ = ["input_values", "name_map", "node_values"]


def node_values(
    order: Sequence[Any], roots: Sequence[Tensor], known: Iterable[Tensor] = ()
) -> dict[int, np.ndarray]:
    """``{id(node or leaf): its value}`` for every item of ``order`` whose value can be found
    or recomputed (a node whose constant input was not kept, e.g. ``x + 1`` after backward,
    may stay unknown)."""
    vals: dict[int, np.ndarray] = {}
    for t in [*roots, *known]:
        vals.setdefault(id(I.key_of(t)), t.data)
    for n in order:
        if I.is_leaf(n):
            vals[id(n)] = n.data
            continue
        out = I.saved_output(n)
        if out is not None:
            vals.setdefault(id(n), out)
        for p, a in zip(I.parents(n), I.saved_args(n)):
            if p is not None and not I.is_leaf(p) and isinstance(a, np.ndarray):
                vals.setdefault(id(p), a)
    for n in reversed(order):  # creation order: inputs before the ops that use them
        if I.is_leaf(n) or id(n) in vals:
            continue
        args = input_values(n, vals)
        if args is None:
            continue
        try:
            vals[id(n)] = I.recompute(n, args)
        except Exception:  # a forward that cannot run again leaves the value unknown
            continue
    return vals


def input_values(n: Any, vals: Mapping[int, np.ndarray]) -> list[Any] | None:
    """The arguments node ``n`` was called with (graph inputs from ``vals``, constants from
    what it kept), or None when one of them is unknown."""
    args = I.saved_args(n)
    for i, p in enumerate(I.parents(n)):
        if p is not None:
            v = vals.get(id(p))
            if v is None:
                return None
            args[i] = v
        elif args[i] is I.UNKNOWN:
            return None
    return args


def name_map(names: Mapping[str, Any] | None) -> dict[int, str]:
    """``{id: name}`` from a ``names=locals()``-style mapping: each Tensor by itself, by its
    node and by its array; each ndarray (an input batch, labels) by itself. Private names
    (``_x``) and non-array values are ignored; the first name of an object wins."""
    out: dict[int, str] = {}
    for name, obj in (names or {}).items():
        if not isinstance(name, str) or name.startswith("_"):
            continue
        if isinstance(obj, Tensor):
            out.setdefault(id(obj), name)
            out.setdefault(id(I.key_of(obj)), name)
            out.setdefault(id(obj.data), name)
        elif isinstance(obj, np.ndarray):
            out.setdefault(id(obj), name)
    return out


def named_tensors_of(names: Mapping[str, Any] | None) -> list[Tensor]:
    """The Tensors among a ``names=`` mapping's values."""
    return [t for t in (names or {}).values() if isinstance(t, Tensor)]
