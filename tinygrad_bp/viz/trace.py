"""``trace_backward(loss)``: the chain rule, step by step, on the user's own graph.

The walk is recomputed here, not recorded inside the engine: the nodes in the order
``backward()`` finishes them (``toposort``), and for each one its own ``backward`` called on
the values it saved, with the upstream gradient, as ``backward(retain_graph=True)`` would.
Nothing in the graph or in any ``.grad`` changes. Each step keeps the node, its value, the
upstream gradient, the local rule (the op's docstring), the gradient it sends to each input
(upstream x local), and the ``+=`` where an input fans out to several consumers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.viz import internals as I
from tinygrad_bp.viz.stats import named_tensors
from tinygrad_bp.viz.text import fmt_array
from tinygrad_bp.viz.values import name_map, named_tensors_of, node_values

__all__ = ["BackwardTrace", "Contribution", "Step", "trace_backward"]


@dataclass(frozen=True)
class Contribution:
    """What one step sends to one input: ``grad`` (upstream x local, in the input's shape);
    ``before`` is the input's gradient so far when it fans out (then ``total = before +
    grad``), None for its first gradient."""

    input: int
    target: Any
    grad: np.ndarray
    before: np.ndarray | None
    total: np.ndarray


@dataclass(frozen=True)
class Step:
    """One node of the walk: its value, the upstream gradient and what it sent on."""

    index: int
    node: Any
    label: str
    rule: str
    value: np.ndarray | None
    upstream: np.ndarray
    contributions: list[Contribution] = field(default_factory=list)


class BackwardTrace:
    """The recorded walk of one backward pass (see ``trace_backward``).

    ``steps`` (one per op node, in walk order), ``values`` and ``grads`` (final, every node
    and leaf, by ``id``), ``label(x)``; render with ``table()``, ``draw(step)``,
    ``save_frames(folder)`` and ``save_html(path)``.
    """

    def __init__(
        self,
        roots: list[Tensor],
        order: list[Any],
        steps: list[Step],
        values: dict[int, np.ndarray],
        grads: dict[int, np.ndarray],
        labels: dict[int, str],
        names: dict[int, str],
        params: Any,
        start: dict[int, np.ndarray],
        args: dict[int, list[Any]],
    ) -> None:
        self.roots, self.order, self.steps = roots, order, steps
        self.values, self.grads, self.labels, self.names = values, grads, labels, names
        self.params, self.start, self.args = params, start, args

    def label(self, x: Any) -> str:
        """The display name of a node, leaf or Tensor (its name, else op and number)."""
        k = id(I.key_of(x)) if isinstance(x, Tensor) and x._ctx is not None else id(x)
        return self.labels.get(k, "?")

    def grad_of(self, x: Any) -> np.ndarray | None:
        """The full gradient the walk computed for a Tensor, node or leaf."""
        return self.grads.get(id(I.key_of(x)) if isinstance(x, Tensor) else id(x))

    def value_of(self, x: Any) -> np.ndarray | None:
        """The value of a Tensor, node or leaf (None when it could not be recovered)."""
        return self.values.get(id(I.key_of(x)) if isinstance(x, Tensor) else id(x))

    def done_after(self, step: int) -> dict[int, np.ndarray]:
        """The gradients known after ``step`` steps (0: only the root's): partial sums."""
        known = dict(self.start)
        for s in self.steps[:step]:
            for c in s.contributions:
                known[id(c.target)] = c.total
        return known

    def table(self) -> str:
        """The walk as a printed table: one row per gradient sent, then the leaves."""
        rows = [("step", "node = op", "value", "upstream grad", "→ input", "grad sent", "+=")]
        for s in self.steps:
            head = (
                str(s.index),
                s.label,
                fmt_array(s.value) if s.value is not None else "?",
                fmt_array(s.upstream),
            )
            if not s.contributions:
                rows.append((*head, "", "(no input needs a gradient)", ""))
            for j, c in enumerate(s.contributions):
                acc = (
                    "" if c.before is None else f"{fmt_array(c.before)} + … = {fmt_array(c.total)}"
                )
                first = head if j == 0 else ("", "", "", "")
                rows.append((*first, f"{c.input}: {self.label(c.target)}", fmt_array(c.grad), acc))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        widths = [min(w, 44) for w in widths]
        lines = []
        rule_of = {s.index: s.rule for s in self.steps}
        for r in rows:
            cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(r, widths)]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
            if r[0].isdigit():
                lines.append(" " * (widths[0] + 2) + "rule: " + rule_of[int(r[0])])
        lines.insert(1, "-" * min(len(lines[0]), 160))
        leaves = [n for n in self.order if I.is_leaf(n) and id(n) in self.grads]
        if leaves:
            lines.append("")
            lines.append("leaf gradients (what .grad would get):")
            for n in leaves:
                lines.append(f"  {self.label(n)}: {fmt_array(self.grads[id(n)])}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __len__(self) -> int:
        return len(self.steps)

    def draw(self, step: int | None = None, **kwargs: Any) -> Any:
        """The graph with every node's value and gradient; with ``step`` (1-based), the
        frame of that step: its node highlighted, only the gradients known by then shown."""
        from tinygrad_bp.viz.graph import draw_graph

        kwargs.setdefault("show_values", True)
        return draw_graph(self.roots, params=self.params, trace=self, step=step, **kwargs)

    def save_frames(self, folder: str | Path, format: str = "png", **kwargs: Any) -> list[Path]:
        """Render one picture per step (``frame_001.png`` ...) into ``folder``."""
        from tinygrad_bp.viz.render import render_graph

        folder = Path(folder)
        return [
            render_graph(self.draw(k, **kwargs), folder / f"frame_{k:03d}.{format}")
            for k in range(1, len(self.steps) + 1)
        ]

    def save_html(self, path: str | Path, **kwargs: Any) -> Path:
        """One self-contained interactive HTML page (inline SVG and JS, no network)."""
        from tinygrad_bp.viz.html import trace_html

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(trace_html(self, **kwargs), encoding="utf-8")
        return path


def trace_backward(
    root: Tensor | Sequence[Tensor],
    grad: Any = None,
    *,
    names: Mapping[str, Any] | None = None,
    params: Any = None,
) -> BackwardTrace:
    """Record the backward walk from ``root`` without running ``backward()``.

    Call it before ``backward()`` (or after ``backward(retain_graph=True)``): it needs the
    values the graph saved. No ``.grad`` changes.

    Args:
        root: the output (usually the loss), or a list of outputs.
        grad: the upstream gradient of ``root`` (default ones, as ``backward()``).
        names: ``locals()`` or ``{name: Tensor or array}``: labels for nodes and inputs.
        params: a Module or ``{name: Tensor}``: parameters by dotted name.
    """
    roots = [root] if isinstance(root, Tensor) else list(root)
    if not roots or not all(isinstance(t, Tensor) and t.requires_grad for t in roots):
        raise ValueError("trace_backward: root must be a Tensor that requires grad (or a list)")
    keys = [I.key_of(t) for t in roots]
    order = I.graph_order(keys)
    names_by_id = name_map(names)
    for n, t in named_tensors(params):
        names_by_id[id(t)] = n
    labels = _labels(order, names_by_id)
    values = node_values(order, roots, named_tensors_of(names))
    grads: dict[int, np.ndarray] = {}
    seeds = grad if isinstance(grad, (list, tuple)) else [grad] * len(roots)
    for t, k, g0 in zip(roots, keys, seeds):
        g = (
            np.ones_like(t.data)
            if g0 is None
            else np.array(g0.data if isinstance(g0, Tensor) else g0)
        )
        if g.shape != t.shape:
            raise ValueError(f"trace_backward: grad has shape {g.shape}, root has {t.shape}")
        grads[id(k)] = grads[id(k)] + g if id(k) in grads else g
    start = dict(grads)
    steps: list[Step] = []
    for n in order:
        if I.is_leaf(n) or id(n) not in grads:
            continue
        g = grads[id(n)]
        sent = I.local_backward(n, g.copy())
        contribs = []
        for i, (p, gp) in enumerate(zip(I.parents(n), sent)):
            if p is None or gp is None:
                continue
            gp = np.array(gp)  # the trace owns what it records
            before = grads.get(id(p))
            total = gp if before is None else before + gp
            grads[id(p)] = total
            contribs.append(Contribution(i, p, gp, before, total))
        steps.append(
            Step(len(steps) + 1, n, labels[id(n)], I.rule(n), values.get(id(n)), g, contribs)
        )
    args = {id(n): I.saved_args(n) for n in order if not I.is_leaf(n)}
    return BackwardTrace(
        roots, order, steps, values, grads, labels, names_by_id, params, start, args
    )


def _labels(order: list[Any], names: dict[int, str]) -> dict[int, str]:
    """A display name for every node: its name, else op and a number counted in creation
    order (``Mul2``); leaves ``leaf1``..."""
    labels: dict[int, str] = {}
    counts: dict[str, int] = {}
    for n in reversed(order):
        name = names.get(id(n)) or (n.name if I.is_leaf(n) else I.retained_name(n))
        op = I.op_name(n)
        counts[op] = counts.get(op, 0) + 1
        base = f"{op}{counts[op]}"
        labels[id(n)] = base if not name else name if I.is_leaf(n) else f"{name} = {op}"
    return labels
