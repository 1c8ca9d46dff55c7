"""``draw_graph``: the graph that ``backward()`` walks, as a ``graphviz.Digraph``.

One drawn node per Function (op and output merged): the engine keeps exactly one output per
node and does not keep intermediate tensors, so a separate tensor node would only repeat
``node.out_shape``. Merging halves the node count (dot's layout time grows faster than linearly)
and puts the gradient colour on the op that produced the value. Leaves are separate nodes;
so are constant inputs that are arrays (the batch, the labels). Labels live in ``viz.nodes``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.viz import internals as I
from tinygrad_bp.viz import style as S
from tinygrad_bp.viz.collapse import Run, make_plan
from tinygrad_bp.viz.modules import Modules
from tinygrad_bp.viz.nodes import CURRENT, NodesMixin, is_input
from tinygrad_bp.viz.parts import FUSED, expand
from tinygrad_bp.viz.render import digraph_class, import_graphviz
from tinygrad_bp.viz.stats import GradStats, captured, named_tensors, summarize
from tinygrad_bp.viz.values import name_map, named_tensors_of, node_values

__all__ = ["draw_graph"]

COMMUTATIVE = {"Add", "Mul", "Maximum", "Minimum"}


def draw_graph(
    root: Tensor | Sequence[Tensor],
    *,
    params: Any = None,
    names: Mapping[str, Any] | None = None,
    show_grads: bool = True,
    show_values: bool = False,
    show_saved: bool = False,
    fused: bool = True,
    trace: Any = None,
    step: int | None = None,
    rankdir: str = "LR",
    max_nodes: int = 500,
    collapse: bool = True,
    grad_range: tuple[float, float] | None = None,
) -> Any:
    """Draw the graph that produced ``root`` (a Tensor or a list of them) as a Digraph.

    Args:
        root: the output(s); a leaf draws as a single node.
        params: a Module (``named_parameters()``/``named_modules()``) or ``{name: Tensor}``:
            labels parameters by dotted name and groups ops into one cluster per module.
        names: ``locals()`` or ``{name: Tensor or array}``: labels tensors, intermediate
            results and inputs (the batch, the labels) by the user's variable names.
        show_grads: show gradients and colour nodes by mean |g| (log scale, NaN/Inf red,
            exact zero grey). Leaves use ``.grad``; ops need ``capture_grads`` or ``trace``.
        show_values: show every node's value (what the graph kept, the rest recomputed).
        show_saved: list what each op saved for backward (or that it was released).
        fused: False draws fused ops as their equations: ``Affine`` as MatMul + Add, the
            fused cross-entropy as LogSoftmax -> NLL -> Mean.
        trace: True (or a ``trace_backward`` result) to show every node's full gradient
            from a side walk of the chain rule; needs the saved values (draw before
            ``backward()`` or after ``backward(retain_graph=True)``). No ``.grad`` changes.
        step: with ``trace``, draw that step's frame (1-based): its node highlighted, the
            gradients known by then.
        rankdir: "LR" (data flows left to right), "TB", "RL" or "BT".
        max_nodes: draw at most this many nodes; the rest is summarised in one node.
        collapse: fold long runs of a repeated op pattern into one summary node.
        grad_range: (low, high) mean |grad| for the colour scale's ends, to compare
            drawings (e.g. sigmoid vs ReLU); default: the decades this graph spans.

    Returns:
        a ``graphviz.Digraph``: ``.source``, ``.pipe(format="svg")``, ``.render()``, or
        displayed inline by Jupyter. See ``render_graph`` for writing files.
    """
    import_graphviz()
    roots = [root] if isinstance(root, Tensor) else list(root)
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError("draw_graph: root must be a Tensor or a non-empty list of Tensors")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be LR, RL, TB or BT, got {rankdir!r}")
    if max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be >= 1, got {max_nodes}")
    if grad_range is not None and not 0 < grad_range[0] < grad_range[1] < math.inf:
        raise ValueError(
            f"draw_graph: grad_range must be (low, high), 0 < low < high, got {grad_range}"
        )
    if trace is True:
        from tinygrad_bp.viz.trace import trace_backward

        trace = trace_backward(roots, names=names, params=params)
    if step is not None and (trace is None or not 0 <= step <= len(trace.steps)):
        n = "no trace" if trace is None else f"{len(trace.steps)} steps"
        raise ValueError(f"draw_graph: step must be in 0..steps of a trace, got {step} ({n})")
    if step is not None and grad_range is None:  # frames of one trace share one colour scale
        ms = [m for g in trace.grads.values() if (m := summarize(g).mean_abs) > 0 and m < math.inf]
        grad_range = (min(ms), max(ms) * 1.0001) if ms else None
    drawing = _Drawing(roots, params, names, show_grads, show_values, show_saved, rankdir)
    drawing.fused = fused
    if trace is not None:
        drawing.use_trace(trace, step)
    return drawing.build(max_nodes, collapse, grad_range)


class _Drawing(NodesMixin):
    """One drawing: the graph walked once, names, values, grads and modules looked up."""

    def __init__(
        self,
        roots: list[Tensor],
        params: Any,
        names: Mapping[str, Any] | None,
        show_grads: bool,
        show_values: bool,
        show_saved: bool,
        rankdir: str,
    ) -> None:
        self.roots, self.rankdir = roots, rankdir
        self.show_grads, self.show_values, self.show_saved = show_grads, show_values, show_saved
        self.keys = keys = [I.key_of(t) for t in roots]
        self.root_ids = {id(k) for k in keys}
        self.order = I.graph_order(keys)
        self.consumers: Counter[int] = Counter(
            id(p) for n in self.order for p in I.parents(n) if p is not None
        )
        self.names = {id(t): n for n, t in named_tensors(params)}
        self.params = set(self.names)
        self.arr_names = name_map(names)
        for k, v in self.arr_names.items():
            self.names.setdefault(k, v)
        for n in self.order:
            nm = n.name if I.is_leaf(n) else I.retained_name(n)
            if nm:
                self.names.setdefault(id(n), nm)
        for t, k in zip(roots, keys):
            if t.name:
                self.names.setdefault(id(k), t.name)
        self.args = {id(n): I.saved_args(n) for n in self.order if not I.is_leaf(n)}
        self.value: dict[int, Any] = {}
        if show_values:
            self.value = node_values(self.order, roots, named_tensors_of(names))
        self.fused, self.current = True, None
        self.garr: dict[int, np.ndarray] = {}
        scopes = {id(n.scope): n.scope for n in self.order if not I.is_leaf(n)}
        scopes.pop(id(None), None)
        self.mods = Modules(params, list(scopes.values()))
        self.stats: dict[int, GradStats] = {}
        if show_grads:
            self._collect_grads(keys)

    def use_trace(self, trace: Any, step: int | None) -> None:
        """Take values and full gradients from a ``trace_backward`` result."""
        for k, v in trace.values.items():
            self.value.setdefault(k, v)
        self.args.update(trace.args)
        for k, v in trace.names.items():
            self.names.setdefault(k, v)
        self.garr = dict(trace.grads) if step is None else trace.done_after(step)
        if step:
            self.current = id(trace.steps[step - 1].node)
        if self.show_grads:
            self.stats = {k: summarize(g) for k, g in self.garr.items()}

    def _collect_grads(self, keys: list[Any]) -> None:
        for n in self.order:
            if I.is_leaf(n):
                st = summarize(n.grad) if n.grad is not None else captured(n)
            else:
                rt = n.retained() if n.retained is not None else None
                st = summarize(rt.grad) if rt is not None and rt.grad is not None else captured(n)
            if st is not None:
                self.stats[id(n)] = st
        for t, k in zip(self.roots, keys):  # a root that is a leaf, or that retained its grad
            if id(k) not in self.stats and t.grad is not None:
                self.stats[id(k)] = summarize(t.grad)

    # ------------------------------------------------------------------ plan
    def build(self, max_nodes: int, collapse: bool, grad_range: tuple[float, float] | None) -> Any:
        plan = make_plan(
            self.order, self.keys, self.consumers, set(self.names), max_nodes, collapse
        )
        drawn, runs, cut_ops, cut_leaves = plan.drawn, plan.runs, plan.cut_ops, plan.cut_leaves
        self.unit: dict[int, str] = {}
        for i, u in enumerate(drawn):
            for m in u.members if isinstance(u, Run) else (u,):
                self.unit[id(m)] = f"n{i}"

        g = digraph_class()(name="graph", engine="dot")
        g.attr(rankdir=self.rankdir, nodesep="0.25", ranksep="0.35", fontname=S.FONT)
        g.attr("node", fontname=S.FONT, fontsize="11", margin="0.1,0.05", height="0.3")
        g.attr("edge", color=S.EDGE, arrowsize="0.6", penwidth="1")
        shown = [
            st
            for u in drawn
            for m in ((u.members[0], u.members[-1]) if isinstance(u, Run) else (u,))
            if (st := self.stats.get(id(m))) is not None
        ]
        self.scale = S.GradScale([st.mean_abs for st in shown if st.finite], grad_range)
        self.colour = bool(shown)
        clusters: dict[int | None, list[tuple[str, dict[str, str]]]] = {}
        self.edges: list[tuple[str, str, int | None, bool]] = []  # src, dst, arg position, hot
        for name, item in zip([f"n{i}" for i in range(len(drawn))], drawn):
            if isinstance(item, Run):
                attrs, where = self._run_node(item)
            elif isinstance(item, Tensor):
                attrs, where = self._leaf_node(item)
            else:
                self._op_nodes(name, item, clusters)
                continue
            clusters.setdefault(where, []).append((name, attrs))
        self._emit_clusters(g, clusters)
        more = cut_ops + cut_leaves
        if more:
            g.node(
                "more",
                f"… {more:,} more nodes not drawn\\n({cut_ops:,} ops, {cut_leaves:,} leaves; "
                f"max_nodes={max_nodes})",
                shape="note",
                style="filled,dashed",
                fillcolor="#fff8e1",
                fontsize="10",
                **{"class": "more"},
            )
        self._emit_edges(g, drawn)
        if self.colour and self.show_grads:
            with g.subgraph(name="cluster_legend") as c:
                c.attr(label="", style="rounded", color="#d0d5dd", margin="6")
                c.node("legend", self.scale.legend(), shape="plaintext", margin="0")
        n_ops = sum(1 for n in self.order if not I.is_leaf(n))
        summary = f"{n_ops:,} ops · {len(self.order) - n_ops:,} leaves"
        if runs:
            summary += f" · {len(runs)} repeated run{'s' if len(runs) > 1 else ''} collapsed"
        if more:
            summary += f" · {more:,} nodes not drawn (max_nodes={max_nodes})"
        if (
            self.show_grads
            and self.stats
            and not any(id(n) in self.stats for n in self.order if not I.is_leaf(n))
        ):
            summary += " · ops uncoloured: call viz.capture_grads(root) before backward()"
        g.attr(label=summary, labelloc="t", labeljust="l", fontsize="10", fontcolor=S.MUTED)
        return g

    def _op_nodes(self, name: str, n: Any, clusters: dict[int | None, Any]) -> None:
        """An op's node (or its pieces, ``fused=False``), its drawn inputs and its edges."""
        args = self.args.get(id(n)) or [I.UNKNOWN] * len(I.parents(n))
        drawn = [
            i
            for i, (p, a) in enumerate(zip(I.parents(n), args))
            if p is None
            and a is not I.UNKNOWN
            and a is not None
            and is_input(
                a, id(a) in self.arr_names or id(getattr(a, "target", None)) in self.arr_names
            )
        ]
        sources: dict[int, str] = {}
        for i in drawn:
            a = args[i]
            nm = self.arr_names.get(id(a)) or self.arr_names.get(id(getattr(a, "target", None)))
            key = f"{name}i{i}"
            clusters.setdefault(None, []).append((key, self._input_node(a, nm)))
            sources[i] = key
        hot = id(n) == self.current
        parts = None
        if not self.fused and I.op_name(n) in FUSED:
            vals = [
                self.value.get(id(p)) if p is not None else a for p, a in zip(I.parents(n), args)
            ]
            parts = expand(n, vals, self.value.get(id(n)), self.garr.get(id(n)))
        attrs, where = self._op_node(n, args, drawn)
        if not parts:
            clusters.setdefault(where, []).append((name, attrs))
            for i, p in enumerate(I.parents(n)):
                src = sources.get(i) or (self.unit.get(id(p), "more") if p is not None else None)
                if src is not None:
                    self.edges.append((src, name, i, hot))
            return
        keys = [f"{name}p{j}" for j in range(len(parts) - 1)] + [name]
        for j, (key, part) in enumerate(zip(keys, parts)):
            clusters.setdefault(where, []).append(
                (key, self._part_node(n, part, j == len(parts) - 1))
            )
            for kind, i in part.args:
                if kind == "part":
                    self.edges.append((keys[i], key, None, hot))
                    continue
                p = I.parents(n)[i]
                src = sources.get(i) or (self.unit.get(id(p), "more") if p is not None else None)
                if src is not None:
                    self.edges.append((src, key, i if len(part.args) > 1 else None, hot))

    # ------------------------------------------------------------------ emit
    def _emit_clusters(
        self, g: Any, clusters: dict[int | None, list[tuple[str, dict[str, str]]]]
    ) -> None:
        children: dict[int | None, list[int]] = {}
        used: set[int] = set()
        for k in clusters:
            while k is not None and k not in used:
                used.add(k)
                children.setdefault(self.mods.parent.get(k), []).append(k)
                k = self.mods.parent.get(k)

        def emit(container: Any, k: int | None, depth: int) -> None:
            for name, attrs in clusters.get(k, ()):
                container.node(name, **attrs)
            for c in children.get(k, ()):
                with container.subgraph(name=f"cluster_{len(self._cl)}") as sub:
                    self._cl.append(c)
                    shade = ("#f6f7fb", "#eceef6", "#e2e5f0")[min(depth, 2)]
                    sub.attr(
                        label=self.mods.label(c),
                        style="rounded,filled",
                        fillcolor=shade,
                        color="#9aa5b1",
                        fontsize="10",
                        fontcolor=S.MUTED,
                        labeljust="l",
                    )
                    emit(sub, c, depth + 1)

        self._cl: list[int] = []
        emit(g, None, 0)

    def _emit_edges(self, g: Any, drawn: list[Any]) -> None:
        seen_more: set[str] = set()
        ops = {self.unit[id(n)]: n for n in drawn if not isinstance(n, (Tensor, Run))}
        for src, dst, i, hot in self.edges:
            if src == "more":
                if dst in seen_more:
                    continue
                seen_more.add(dst)
                g.edge("more", dst, style="dashed")
                continue
            attrs: dict[str, str] = {}
            n = ops.get(dst)
            ordered = n is None or (
                type(n).__name__ not in COMMUTATIVE and sum(p is not None for p in n.parents) > 1
            )
            if i is not None and ordered:
                attrs.update(
                    headlabel=str(i), labeldistance="1.8", labelfontsize="8", labelfontcolor=S.MUTED
                )
            if hot:
                attrs.update(color=CURRENT, penwidth="2.5", dir="back")
            g.edge(src, dst, **attrs)
        for item in drawn:  # collapsed runs: their first member's inputs
            if not isinstance(item, Run):
                continue
            n, dst = item.members[0], self.unit[id(item.members[-1])]
            for p in n.parents:
                if p is None:
                    continue
                s = self.unit.get(id(p))
                if s is None:
                    if dst not in seen_more:
                        seen_more.add(dst)
                        g.edge("more", dst, style="dashed")
                elif s != dst:
                    g.edge(s, dst)
