"""``draw_graph``: the graph that ``backward()`` walks, as a ``graphviz.Digraph``.

One drawn node per Function (op and output merged): the engine keeps exactly one output per
node and does not keep intermediate tensors, so a separate tensor node would only repeat
``node.oshape``. Merging halves the node count (dot's layout time grows faster than linearly)
and puts the gradient colour on the op that produced the value. Leaves are separate nodes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tinygrad_bp.autograd import toposort
from tinygrad_bp.tensor import Tensor
from tinygrad_bp.viz import style as S
from tinygrad_bp.viz import text as T
from tinygrad_bp.viz.collapse import Run, kwargs_key, make_plan
from tinygrad_bp.viz.modules import Modules
from tinygrad_bp.viz.render import digraph_class, import_graphviz
from tinygrad_bp.viz.stats import GradStats, captured, named_tensors, summarize

__all__ = ["draw_graph"]

COMMUTATIVE = {"Add", "Mul", "Maximum", "Minimum"}


def draw_graph(
    root: Tensor | Sequence[Tensor],
    *,
    params: Any = None,
    show_grads: bool = True,
    show_values: bool = False,
    show_saved: bool = False,
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
        show_grads: show gradient norm and mean |g|, and colour nodes by mean |g| (log
            scale, NaN/Inf red). Leaves use ``.grad``; ops need ``capture_grads`` first.
        show_values: show values (leaves always; ops when the graph still holds them).
        show_saved: list what each op saved for backward (or that it was released).
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
    drawing = _Drawing(roots, params, show_grads, show_values, show_saved, rankdir)
    return drawing.build(max_nodes, collapse, grad_range)


class _Drawing:
    """One drawing: the graph walked once, names, values, grads and modules looked up."""

    def __init__(
        self,
        roots: list[Tensor],
        params: Any,
        show_grads: bool,
        show_values: bool,
        show_saved: bool,
        rankdir: str,
    ) -> None:
        self.roots, self.rankdir = roots, rankdir
        self.show_grads, self.show_values, self.show_saved = show_grads, show_values, show_saved
        self.keys = keys = [t if t._ctx is None else t._ctx for t in roots]
        self.root_ids = {id(k) for k in keys}
        self.order = toposort(keys)
        self.consumers: Counter[int] = Counter(
            id(p)
            for n in self.order
            if not isinstance(n, Tensor)
            for p in n.parents
            if p is not None
        )
        self.names = {id(t): n for n, t in named_tensors(params)}
        self.params = set(self.names)
        self.value: dict[int, Any] = {}
        for n in self.order:
            if isinstance(n, Tensor):
                if n.name and id(n) not in self.names:
                    self.names[id(n)] = n.name
                continue
            rt = n.retained() if n.retained is not None else None
            if rt is not None and rt.name:
                self.names.setdefault(id(n), rt.name)
            if show_values:
                if rt is not None:
                    self.value[id(n)] = rt.data
                if n.out is not None:
                    self.value.setdefault(id(n), n.out)
                for p, a in zip(n.parents, n.inputs or ()):
                    if p is not None and a is not None and not isinstance(p, Tensor):
                        self.value.setdefault(id(p), a)
        for t, k in zip(roots, keys):
            if t.name:
                self.names.setdefault(id(k), t.name)
            self.value[id(k)] = t.data
        scopes = {id(n.scope): n.scope for n in self.order if not isinstance(n, Tensor)}
        scopes.pop(id(None), None)
        self.mods = Modules(params, list(scopes.values()))
        self.stats: dict[int, GradStats] = {}
        if show_grads:
            self._collect_grads(keys)

    def _collect_grads(self, keys: list[Any]) -> None:
        for n in self.order:
            st = None
            if isinstance(n, Tensor):
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
        for name, item in zip([f"n{i}" for i in range(len(drawn))], drawn):
            if isinstance(item, Run):
                attrs, where = self._run_node(item)
            elif isinstance(item, Tensor):
                attrs, where = self._leaf_node(item)
            else:
                attrs, where = self._op_node(item)
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
        n_ops = sum(1 for n in self.order if not isinstance(n, Tensor))
        summary = f"{n_ops:,} ops · {len(self.order) - n_ops:,} leaves"
        if runs:
            summary += f" · {len(runs)} repeated run{'s' if len(runs) > 1 else ''} collapsed"
        if more:
            summary += f" · {more:,} nodes not drawn (max_nodes={max_nodes})"
        if (
            self.show_grads
            and self.stats
            and not any(id(n) in self.stats for n in self.order if not isinstance(n, Tensor))
        ):
            summary += " · ops uncoloured: call viz.capture_grads(root) before backward()"
        g.attr(label=summary, labelloc="t", labeljust="l", fontsize="10", fontcolor=S.MUTED)
        return g

    # ------------------------------------------------------------------ nodes
    def _fill(self, st: GradStats | None, default: str) -> tuple[str, str]:
        if not (self.show_grads and self.colour):
            return default, S.INK
        c = self.scale.colour(st)
        return c if c is not None else (S.NO_GRAD_FILL, S.INK)

    def _leaf_node(self, t: Tensor) -> tuple[dict[str, str], int | None]:
        k = id(t)
        name = self.names.get(k) or f"tensor #{k & 0xFFFF:04x}"
        is_param = k in self.params
        default = S.PARAM_FILL if is_param else S.LEAF_FILL if t.requires_grad else S.DATA_FILL
        st = self.stats.get(k)
        fill, ink = self._fill(st, default)
        rows = [f"{T.fmt_shape(t.shape)} {t.dtype}"]
        if self.show_values:
            rows.append("value " + S.esc(T.fmt_value(t.data)))
        if self.show_grads and st is not None:
            rows.append(S.esc(T.fmt_grad(st)))
        style = "filled" if t.requires_grad else "filled,dashed"
        attrs = {
            "label": S.table(f"<B>{S.esc(name)}</B>", rows, ink),
            "shape": "box",
            "style": style,
            "fillcolor": fill,
            "color": S.INK,
            "penwidth": "1.6" if is_param else "1",
            "tooltip": f"{name} {T.fmt_shape(t.shape)} {t.dtype}",
            "class": "leaf param" if is_param else "leaf",
        }
        self._mark_root(attrs, k)
        where = None
        if is_param:
            where = self.mods.by_name.get(self.names[k].rpartition(".")[0])
        return attrs, where

    def _op_node(self, n: Any) -> tuple[dict[str, str], int | None]:
        k = id(n)
        st = self.stats.get(k)
        fill, ink = self._fill(st, S.OP_FILL)
        head = T.op_header(n)
        if k in self.names:
            head = f"<B>{S.esc(self.names[k])}</B> = {head}"
        rows = [f"{T.fmt_shape(n.oshape)} {T.fmt_dtype(n.odtype)}"]
        if self.show_values and k in self.value:
            rows.append("value " + S.esc(T.fmt_value(self.value[k])))
        if self.show_grads and st is not None:
            rows.append(S.esc(T.fmt_grad(st)))
        if self.show_saved:
            rows.append(S.esc(T.saved_text(n)))
        op = type(n).__name__
        where = id(n.scope) if n.scope is not None and id(n.scope) in self.mods.obj else None
        tip = f"{op} {kwargs_key(n.kwargs)} -> {T.fmt_shape(n.oshape)} {T.fmt_dtype(n.odtype)}"
        if where is not None:
            tip += f" in {self.mods.label(where)}"
        attrs = {
            "label": S.table(head, rows, ink),
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": fill,
            "color": "#7b8794",
            "tooltip": tip,
            "class": f"op {op}",
        }
        self._mark_root(attrs, k)
        return attrs, where

    def _run_node(self, r: Run) -> tuple[dict[str, str], int | None]:
        first, last = r.members[0], r.members[-1]
        ops = [type(n).__name__ for n in r.members[: r.period]]
        if r.period == 1:
            kw = T.kwargs_text(first.kwargs)
            pattern = ops[0] + (f" {kw}" if kw else "")
        else:
            pattern = "(" + " → ".join(ops) + ")"
        head = f"<B>{S.esc(pattern)} {S.TIMES} {r.reps:,}</B>"
        rows = [f"→ {T.fmt_shape(last.oshape)} {T.fmt_dtype(last.odtype)}"]
        if r.hidden:
            rows.append(f"{len(r.hidden):,} leaves inside")
        ks = [id(n.scope) if id(n.scope) in self.mods.obj else None for n in r.members]
        where = self.mods.common(ks)
        names = [self.mods.name[k] for k in dict.fromkeys(ks) if k is not None and k != where]
        if names:
            rows.insert(0, S.esc(f"{names[0]} … {names[-1]}" if len(names) > 1 else names[0]))
        a, b = self.stats.get(id(first)), self.stats.get(id(last))
        bad = [s for n in r.members if (s := self.stats.get(id(n))) is not None and not s.finite]
        fill, ink = self._fill(bad[0] if bad else a or b, S.OP_FILL)
        if self.show_grads and a is not None and b is not None and not bad:
            rows.append(f"mean|g| {T.fmt(a.mean_abs)} … {T.fmt(b.mean_abs)}")
            fb = self._fill(b, S.OP_FILL)[0]
            if self.colour:
                fill = f"{fill}:{fb}"
        elif bad:
            rows.append(S.esc(T.fmt_grad(bad[0])))
        attrs = {
            "label": S.table(head, rows, ink),
            "shape": "box",
            "style": "rounded,filled,dashed",
            "fillcolor": fill,
            "gradientangle": "0" if self.rankdir in ("LR", "RL") else "270",
            "color": S.INK,
            "penwidth": "1.4",
            "tooltip": f"{len(r.members):,} ops collapsed: {pattern} {S.TIMES} {r.reps:,}",
            "class": "run",
        }
        if self.rankdir in ("RL", "BT"):
            attrs["gradientangle"] = "180" if self.rankdir == "RL" else "90"
        return attrs, where

    def _mark_root(self, attrs: dict[str, str], k: int) -> None:
        if k in self.root_ids:
            attrs["peripheries"] = "2"
            attrs["class"] += " root"

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
        for item in drawn:
            if isinstance(item, Tensor):
                continue
            n = item.members[0] if isinstance(item, Run) else item
            dst = self.unit[id(item.members[-1] if isinstance(item, Run) else item)]
            ordered = type(n).__name__ not in COMMUTATIVE
            ordered = ordered and sum(p is not None for p in n.parents) > 1
            for i, p in enumerate(n.parents):
                if p is None:
                    continue
                src = self.unit.get(id(p))
                if src is None:
                    if dst in seen_more:
                        continue
                    seen_more.add(dst)
                    g.edge("more", dst, style="dashed")
                elif ordered:
                    g.edge(
                        src,
                        dst,
                        headlabel=str(i),
                        labeldistance="1.8",
                        labelfontsize="8",
                        labelfontcolor=S.MUTED,
                    )
                else:
                    g.edge(src, dst)
