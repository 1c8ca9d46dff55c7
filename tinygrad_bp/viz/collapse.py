"""Finding what ``collapse=True`` folds into one summary node: runs of a repeated op pattern
along a chain (``Tanh x 999``, ``(MatMul -> Add -> Tanh) x 333``).

A chain link is a node whose only graph input is one other node consumed by nothing else; its
other inputs are constants or leaves that feed only this node (they are hidden in the summary
and counted). Along each maximal chain, the node signatures (op, kwargs, input pattern, output
shape and dtype, module type) are scanned for the longest periodic stretch (period <= 8, at
least 3 repetitions): vectorised with numpy, so a 100,000-op chain takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor

MAX_PERIOD = 8
MIN_REPS = 3
MIN_OPS = 8


@dataclass
class Run:
    """A collapsed stretch of a chain: ``members`` (input end first) repeat every ``period``."""

    members: list[Any]
    period: int
    hidden: list[Tensor] = field(default_factory=list)  # side leaves of members[1:]
    easy: bool = True  # one module, nothing named hidden: collapse whatever the graph size

    @property
    def reps(self) -> int:
        """How many times the pattern repeats."""
        return len(self.members) // self.period

    @property
    def saving(self) -> int:
        """How many fewer drawn nodes the summary means."""
        return len(self.members) + len(self.hidden) - 1


def kwargs_key(kw: dict[str, Any] | None) -> str:
    """A hashable, short description of an op's keyword arguments (arrays by dtype/shape)."""
    if not kw:
        return ""
    parts = []
    for k, v in kw.items():
        if isinstance(v, np.ndarray):
            parts.append(f"{k}={v.dtype}{v.shape}")
        elif isinstance(v, np.dtype):
            parts.append(f"{k}={v}")
        elif isinstance(v, tuple) and any(isinstance(x, np.ndarray) for x in v):
            parts.append(f"{k}=" + ",".join(f"{type(x).__name__}" for x in v))
        else:
            parts.append(f"{k}={v!r}")
    return ";".join(parts)


def _pattern(n: Any) -> str:
    return "".join("c" if p is None else ("l" if isinstance(p, Tensor) else "n") for p in n.parents)


def _signature(n: Any, pattern: str) -> tuple[Any, ...]:
    scope = type(n.scope).__name__ if n.scope is not None else ""
    return (type(n), kwargs_key(n.kwargs), pattern, n.out_shape, n.out_dtype, scope)


def _chains(order: Sequence[Any], consumers: dict[int, int], roots: set[int]) -> list[list[Any]]:
    succ: dict[int, Any] = {}
    linked: set[int] = set()
    for n in order:
        if isinstance(n, Tensor):
            continue
        main = None
        ok = True
        for p in n.parents:
            if p is None:
                continue
            if isinstance(p, Tensor):
                ok = consumers[id(p)] == 1
            elif main is None:
                main = p
            else:
                ok = False
            if not ok:
                break
        if ok and main is not None and consumers[id(main)] == 1 and id(main) not in roots:
            succ[id(main)] = n
            linked.add(id(n))
    chains = []
    for n in reversed(order):  # inputs first, so chains come out in data-flow order
        k = id(n)
        if k in succ and k not in linked:
            seq = [n]
            while id(seq[-1]) in succ:
                seq.append(succ[id(seq[-1])])
            if id(seq[-1]) in roots:  # the output stays its own node
                seq.pop()
            if len(seq) >= MIN_OPS:
                chains.append(seq)
    return chains


def _segments(sigs: np.ndarray, leafy: np.ndarray) -> list[tuple[int, int, int]]:
    """Greedy (start, length, period) stretches where ``sigs`` repeats with a short period.

    Of the rotations of a pattern that keep its repetitions, prefer one that starts with an
    op taking a leaf and ends with one that does not (``MatMul -> Add -> Tanh``, where a
    layer's weight enters), so the summary names the block the way its code reads.
    """
    m = len(sigs)
    span = np.zeros(m, dtype=np.int64)  # longest periodic stretch from i, for the best p
    cover = np.zeros(m, dtype=np.int64)
    best_p = np.ones(m, dtype=np.int64)
    pos_all = np.arange(m)
    for p in range(1, MAX_PERIOD + 1):
        k = m - p
        if k < 1:
            break
        eq = sigs[p:] == sigs[:k]
        nxt = np.minimum.accumulate(np.where(eq, k, pos_all[:k])[::-1])[::-1]  # next mismatch
        sp = nxt - pos_all[:k] + p
        cov = np.where(sp // p >= MIN_REPS, (sp // p) * p, 0)
        better = cov > cover[:k]  # strict: the smallest period wins ties
        cover[:k][better] = cov[better]
        span[:k][better] = sp[better]
        best_p[:k][better] = p
    out = []
    end = 0
    for i in np.flatnonzero(cover >= MIN_OPS).tolist():
        if i < end:
            continue
        p, n = int(best_p[i]), int(span[i])
        reps = n // p
        shift = 0
        for s in range(p):
            if (n - s) // p < reps - 1 or (n - s) // p < MIN_REPS:
                break
            if leafy[i + s] and not leafy[i + s + p - 1]:
                shift = s
                break
        length = (n - shift) // p * p
        out.append((i + shift, length, p))
        end = i + shift + length
    return out


def find_runs(
    order: Sequence[Any],
    consumers: dict[int, int],
    roots: set[int],
    named: set[int],
) -> list[Run]:
    """All collapsible runs of the graph in ``order`` (see the module docstring)."""
    runs = []
    ids: dict[tuple[Any, ...], int] = {}
    for seq in _chains(order, consumers, roots):
        pats = [_pattern(n) for n in seq]
        sigs = [ids.setdefault(_signature(n, pat), len(ids)) for n, pat in zip(seq, pats)]
        # the chain's head takes its input from outside: read one of its leaves as the chain
        # input when that makes it look like a later link (x -> Tanh -> Tanh ...)
        ahead = set(sigs[1 : MAX_PERIOD + 1])
        for j, c in enumerate(pats[0]):
            alt = _signature(seq[0], pats[0][:j] + "n" + pats[0][j + 1 :])
            if c == "l" and ids.get(alt) in ahead:
                sigs[0] = ids[alt]
                break
        leafy = np.array(["l" in pat for pat in pats] + [False])
        for start, length, period in _segments(np.array(sigs, dtype=np.int64), leafy):
            members = seq[start : start + length]
            hidden = [p for n in members[1:] for p in n.parents if isinstance(p, Tensor)]
            scope = members[0].scope
            easy = all(n.scope is scope for n in members) and not any(
                id(t) in named for t in hidden
            )
            runs.append(Run(members, period, hidden, easy))
    return runs


@dataclass
class Plan:
    """What gets drawn: leaves, nodes and runs (``drawn``), and what ``max_nodes`` cut."""

    drawn: list[Any]
    runs: list[Run]
    cut_ops: int = 0
    cut_leaves: int = 0


def _depths(keys: Sequence[Any]) -> dict[int, int]:
    """Shortest distance (in edges) from an output to every node and leaf."""
    depth = {id(k): 0 for k in keys}
    frontier = list(keys)
    d = 0
    while frontier:
        d += 1
        nxt = []
        for n in frontier:
            for p in () if isinstance(n, Tensor) else n.parents:
                if p is not None and id(p) not in depth:
                    depth[id(p)] = d
                    nxt.append(p)
        frontier = nxt
    return depth


def make_plan(
    order: Sequence[Any],
    keys: Sequence[Any],
    consumers: dict[int, int],
    named: set[int],
    max_nodes: int,
    collapse: bool,
) -> Plan:
    """Collapse the easy runs, then the others largest first while the drawing is larger
    than ``max_nodes``; if it still is, keep the ``max_nodes`` nodes closest to an output."""
    runs: list[Run] = []
    if collapse:
        found = find_runs(order, consumers, {id(k) for k in keys}, named)
        runs = [r for r in found if r.easy]
        total = len(order) - sum(r.saving for r in runs)
        for big in sorted((r for r in found if not r.easy), key=lambda r: -r.saving):
            if total <= max_nodes:
                break
            runs.append(big)
            total -= big.saving
    run_of = {id(n): r for r in runs for n in r.members}
    hidden = {id(t) for r in runs for t in r.hidden}
    units: list[Any] = []
    for item in order:
        r = run_of.get(id(item))
        if r is None:
            if id(item) not in hidden:
                units.append(item)
        elif r.members[-1] is item:  # drawn once, at its output end
            units.append(r)
    if len(units) <= max_nodes:
        return Plan(units, runs)
    depth = _depths(keys)
    end = [u.members[-1] if isinstance(u, Run) else u for u in units]
    ranked = sorted(range(len(units)), key=lambda i: (depth[id(end[i])], i))
    keep = set(ranked[:max_nodes])
    cut = [units[i] for i in ranked[max_nodes:]]
    return Plan(
        [u for i, u in enumerate(units) if i in keep],
        runs,
        sum(len(u.members) if isinstance(u, Run) else not isinstance(u, Tensor) for u in cut),
        sum(len(u.hidden) if isinstance(u, Run) else isinstance(u, Tensor) for u in cut),
    )
