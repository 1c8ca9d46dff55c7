"""The drawn nodes of ``draw_graph``: labels and attributes for leaves, ops, collapsed runs,
inputs that are not in the graph (the batch, the labels) and the pieces of fused ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.viz import internals as I
from tinygrad_bp.viz import style as S
from tinygrad_bp.viz import text as T
from tinygrad_bp.viz.collapse import Run, kwargs_key
from tinygrad_bp.viz.parts import Part
from tinygrad_bp.viz.stats import GradStats, summarize

CURRENT = "#e8590c"  # the node a trace frame is at, and the edges its gradient goes back on


def is_input(a: Any, named: bool) -> bool:
    """Whether a constant argument is drawn as its own node: arrays (not single numbers),
    the targets of a class loss, and anything the user named."""
    if named:
        return True
    if isinstance(a, np.ndarray):
        return a.size > 1
    return hasattr(a, "reduction") and hasattr(a, "matrix")  # a class loss's Targets


class NodesMixin:
    """Builds node attributes; the drawing supplies names, values, grads and modules."""

    names: dict[int, str]
    arr_names: dict[int, str]
    params: set[int]
    value: dict[int, Any]
    stats: dict[int, GradStats]
    garr: dict[int, np.ndarray]
    show_grads: bool
    show_values: bool
    show_saved: bool
    colour: bool
    scale: S.GradScale
    rankdir: str
    root_ids: set[int]
    current: int | None
    mods: Any

    def _fill(self, st: GradStats | None, default: str) -> tuple[str, str]:
        if not (self.show_grads and self.colour):
            return default, S.INK
        c = self.scale.colour(st)
        return c if c is not None else (S.NO_GRAD_FILL, S.INK)

    def _rows(self, k: int, shape: Any, dtype: Any, value: Any = None) -> list[str]:
        rows = [f"{T.fmt_shape(shape)} {T.fmt_dtype(dtype)}"]
        v = self.value.get(k) if value is None else value
        if self.show_values and v is not None:
            rows.append("value " + S.esc(T.fmt_array(v)))
        if self.show_grads:
            if k in self.garr:
                rows.append("grad " + S.esc(T.fmt_array(self.garr[k])))
            elif (st := self.stats.get(k)) is not None:
                rows.append(S.esc(T.fmt_grad(st)))
        return rows

    def _leaf_node(self, t: Tensor) -> tuple[dict[str, str], int | None]:
        k = id(t)
        name = self.names.get(k) or f"tensor #{k & 0xFFFF:04x}"
        is_param = k in self.params
        default = S.PARAM_FILL if is_param else S.LEAF_FILL if t.requires_grad else S.DATA_FILL
        fill, ink = self._fill(self.stats.get(k), default)
        attrs = {
            "label": S.table(f"<B>{S.esc(name)}</B>", self._rows(k, t.shape, t.dtype), ink),
            "shape": "box",
            "style": "filled" if t.requires_grad else "filled,dashed",
            "fillcolor": fill,
            "color": S.INK,
            "penwidth": "1.6" if is_param else "1",
            "tooltip": f"{name} {T.fmt_shape(t.shape)} {t.dtype}",
            "class": "leaf param" if is_param else "leaf",
        }
        self._mark(attrs, k)
        where = None
        if is_param:
            where = self.mods.by_name.get(self.names[k].rpartition(".")[0])
        return attrs, where

    def _op_node(
        self, n: Any, args: list[Any], drawn: list[int]
    ) -> tuple[dict[str, str], int | None]:
        k = id(n)
        fill, ink = self._fill(self.stats.get(k), S.OP_FILL)
        head = T.op_header(n, [None if a is I.UNKNOWN else a for a in args], drawn)
        if k in self.names:
            head = f"<B>{S.esc(self.names[k])}</B> = {head}"
        rows = self._rows(k, n.out_shape, n.out_dtype)
        if self.show_saved:
            rows.append(S.esc(T.saved_text(n)))
        op = type(n).__name__
        where = id(n.scope) if n.scope is not None and id(n.scope) in self.mods.obj else None
        shape, dtype = T.fmt_shape(n.out_shape), T.fmt_dtype(n.out_dtype)
        tip = f"{op} {kwargs_key(n.kwargs)} -> {shape} {dtype}"
        if where is not None:
            tip += f" in {self.mods.label(where)}"
        attrs = _op_box(S.table(head, rows, ink), fill, tip, f"op {op}")
        self._mark(attrs, k)
        return attrs, where

    def _part_node(self, n: Any, part: Part, last: bool) -> dict[str, str]:
        """A piece of a fused op (``fused=False``); the last one stands for the node."""
        k = id(n)
        st = summarize(part.grad) if part.grad is not None else None
        fill, ink = self._fill(st, S.OP_FILL)
        head = f"<B>{S.esc(part.op)}</B>"
        if last and k in self.names:
            head = f"<B>{S.esc(self.names[k])}</B> = {head}"
        rows = [f"{T.fmt_shape(part.shape)}"]
        if self.show_values and part.value is not None:
            rows.append("value " + S.esc(T.fmt_array(part.value)))
        if self.show_grads and part.grad is not None:
            rows.append("grad " + S.esc(T.fmt_array(part.grad)))
        tip = f"{part.op} (part of {I.op_name(n)}): {part.rule}"
        attrs = _op_box(S.table(head, rows, ink), fill, tip, f"op {part.op} part")
        if last:
            self._mark(attrs, k)
        return attrs

    def _input_node(self, a: Any, name: str | None) -> dict[str, str]:
        """A constant argument drawn as a node: the batch, the labels, a named array."""
        if hasattr(a, "reduction") and hasattr(a, "matrix"):  # a class loss's Targets
            t = a.target if a.target is not None else a.dense
            title, rows = name or "targets", [f"{T.fmt_shape(t.shape)} {t.dtype}"]
            if self.show_values:
                rows.append("value " + S.esc(T.fmt_array(t)))
            rows.append(f"reduction {S.esc(a.reduction)}")
        elif isinstance(a, np.ndarray):
            title, rows = name or "input", [f"{T.fmt_shape(a.shape)} {a.dtype}"]
            if self.show_values:
                rows.append("value " + S.esc(T.fmt_array(a)))
        else:
            title, rows = name or "const", [S.esc(T.fmt_const(a))]
        return {
            "label": S.table(f"<B>{S.esc(title)}</B>", rows, S.INK),
            "shape": "box",
            "style": "filled,dashed",
            "fillcolor": S.DATA_FILL,
            "color": S.MUTED,
            "tooltip": f"{title}: a constant input (no gradient)",
            "class": "input",
        }

    def _run_node(self, r: Run) -> tuple[dict[str, str], int | None]:
        first, last = r.members[0], r.members[-1]
        ops = [type(n).__name__ for n in r.members[: r.period]]
        if r.period == 1:
            kw = T.kwargs_text(first.kwargs)
            pattern = ops[0] + (f" {kw}" if kw else "")
        else:
            pattern = "(" + " → ".join(ops) + ")"
        head = f"<B>{S.esc(pattern)} {S.TIMES} {r.reps:,}</B>"
        rows = [f"→ {T.fmt_shape(last.out_shape)} {T.fmt_dtype(last.out_dtype)}"]
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
        if any(id(m) == self.current for m in r.members):
            self._highlight(attrs)
        return attrs, where

    def _mark(self, attrs: dict[str, str], k: int) -> None:
        if k in self.root_ids:
            attrs["peripheries"] = "2"
            attrs["class"] += " root"
        if k == self.current:
            self._highlight(attrs)

    @staticmethod
    def _highlight(attrs: dict[str, str]) -> None:
        attrs["color"] = CURRENT
        attrs["penwidth"] = "3.5"
        attrs["class"] += " current"


def _op_box(label: str, fill: str, tooltip: str, css_class: str) -> dict[str, str]:
    """The attributes of an op's node (a whole op or one part of a fused one)."""
    return {
        "label": label,
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": fill,
        "color": "#7b8794",
        "tooltip": tooltip,
        "class": css_class,
    }
