"""``plot_grad_flow``: mean and max |grad| per parameter as a matplotlib Figure (log scale),
the quickest way to see gradients vanish (or explode) from the output back to the input."""

from __future__ import annotations

import functools
import io
import math
from typing import Any

from tinygrad_bp.viz.stats import named_tensors, summarize

__all__ = ["plot_grad_flow"]

MEAN_COLOUR = "#31688e"
MAX_COLOUR = "#b5de2b"
BAD_COLOUR = "#d62728"


@functools.cache
def _figure_class() -> Any:
    """A matplotlib Figure that Jupyter shows inline without pyplot (as a PNG)."""
    from matplotlib.figure import Figure

    class GradFlowFigure(Figure):  # type: ignore[misc]
        """A Figure with ``_repr_png_``: displayed inline by Jupyter, no pyplot needed."""

        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=100)
            return buf.getvalue()

    return GradFlowFigure


def plot_grad_flow(
    model_or_named_params: Any,
    *,
    ax: Any = None,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
) -> Any:
    """Bar chart of mean and max |grad| for each parameter, in order (log y axis).

    Args:
        model_or_named_params: a Module (``named_parameters()``), a ``{name: Tensor}``
            mapping or (name, Tensor) pairs; parameters without ``requires_grad`` are skipped.
        ax: draw into these matplotlib Axes (e.g. to compare two models side by side);
            default: a new Figure.
        title: the axes title.
        ylim: the y range, to compare plots (default: fitted to the data).

    Returns:
        the matplotlib Figure (built without pyplot: no GUI backend, nothing to close;
        Jupyter shows it inline).
        Parameters whose ``.grad`` is None are marked "no grad"; NaN/Inf grads in red;
        all-zero grads are marked "0" at the bottom.
    """
    try:
        figure_class = _figure_class()
    except ImportError as e:
        raise ImportError(
            "plot_grad_flow needs matplotlib: `pip install matplotlib` "
            "(or `pip install 'tinygrad-bp[viz]'`)"
        ) from e
    named = [(n, t) for n, t in named_tensors(model_or_named_params) if t.requires_grad]
    if not named:
        raise ValueError("plot_grad_flow: no parameters that require grad were given")
    stats = [None if t.grad is None else summarize(t.grad) for _, t in named]
    if ax is None:
        fig = figure_class(figsize=(min(max(4.0, 0.45 * len(named) + 1.5), 16.0), 3.8))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    xs = list(range(len(named)))
    means = [s.mean_abs if s is not None and s.mean_abs > 0 else math.nan for s in stats]
    maxes = [s.max_abs if s is not None and s.max_abs > 0 else math.nan for s in stats]
    ax.bar(xs, maxes, width=0.8, color=MAX_COLOUR, label="max |grad|", zorder=2)
    ax.bar(xs, means, width=0.5, color=MEAN_COLOUR, label="mean |grad|", zorder=3)
    ax.set_yscale("log")
    finite = [v for v in means + maxes if v == v]
    lo = min(finite) / 4 if finite else 1e-8
    hi = max(finite) * 4 if finite else 1.0
    if ylim is not None:
        lo, hi = ylim
    ax.set_ylim(lo, hi)
    marks: dict[str, list[int]] = {"no grad": [], "NaN/Inf": [], "0": []}
    for x, s in zip(xs, stats):
        if s is None:
            marks["no grad"].append(x)
        elif not s.finite:
            marks["NaN/Inf"].append(x)
        elif s.max_abs == 0:
            marks["0"].append(x)
    for key, marker, colour in (("no grad", "x", "#52606d"), ("NaN/Inf", "^", BAD_COLOUR)):
        if marks[key]:
            ax.scatter(
                marks[key],
                [lo * 1.5] * len(marks[key]),
                marker=marker,
                s=40,
                color=colour,
                label=key,
                zorder=4,
            )
    if marks["0"]:
        ax.scatter(
            marks["0"],
            [lo * 1.5] * len(marks["0"]),
            marker="o",
            s=30,
            facecolors="none",
            edgecolors="#52606d",
            label="all zero",
            zorder=4,
        )
    ax.set_xticks(xs)
    ax.set_xticklabels([n for n, _ in named], rotation=45, ha="right", fontsize=8)
    for label, s in zip(ax.get_xticklabels(), stats):
        if s is not None and not s.finite:
            label.set_color(BAD_COLOUR)
    ax.set_ylabel("|grad| (log scale)")
    ax.set_xlim(-0.6, len(named) - 0.4)
    ax.grid(axis="y", which="major", alpha=0.3, zorder=0)
    ax.legend(fontsize=8, loc="best", frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    fig.set_layout_engine("constrained")
    return fig
