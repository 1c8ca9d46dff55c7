"""The pictures ``train`` writes: training.png (loss and accuracy per epoch), grad_flow.png
(gradients of the probe batch) and graph.svg (the probe batch's graph, ops coloured by their
captured gradients). matplotlib and graphviz are optional: a missing one skips its file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tinygrad_bp import nn
from tinygrad_bp.cli.common import log, optional_dependency_missing, viz_module
from tinygrad_bp.engine.tensor import Tensor

__all__ = ["grad_flow_title", "history_figure", "plot_history", "save_figure", "write_artifacts"]


def history_figure(history: list[dict[str, Any]], title: str) -> Any:
    """Loss and accuracy per epoch (train and test) as a matplotlib Figure (no pyplot),
    with ticks on whole epochs only."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    ep = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    for key, ax in (("loss", ax1), ("accuracy", ax2)):
        ax.plot(ep, [h[f"train_{key}"] for h in history], "o-", label="train")
        ax.plot(ep, [h[f"test_{key}"] for h in history], "s-", label="test")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig


def save_figure(fig: Any, path: Path, title: str) -> None:
    """Write ``fig`` as a PNG whose metadata carries ``title`` too."""
    fig.savefig(path, dpi=100, metadata={"Title": title})
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


def plot_history(history: list[dict[str, Any]], path: Path, title: str) -> None:
    """``history_figure`` written to ``path``."""
    save_figure(history_figure(history, title), path, title)


def grad_flow_title(epoch: int, probe_size: int) -> str:
    """What grad_flow.png shows: which batch, after which epoch."""
    return (
        f"|grad| per parameter on the fixed probe batch ({probe_size} training images, "
        f"the same every epoch) after epoch {epoch}"
    )


def write_artifacts(
    out: Path,
    history: list[dict[str, Any]],
    model: nn.Module,
    loss: Tensor | None,
    title: str,
    probe_size: int,
) -> None:
    """training.png, and graph.svg + grad_flow.png when tinygrad_bp.viz exists."""
    try:
        plot_history(history, out / "training.png", title)
    except ImportError as e:
        log(f"skipping training.png: matplotlib is not installed ({e})")
    viz = viz_module()
    if viz is None:
        return
    try:
        if loss is not None:
            viz.render_graph(viz.draw_graph(loss, params=model), out / "graph.svg")
        gf_title = grad_flow_title(history[-1]["epoch"], probe_size)
        save_figure(viz.plot_grad_flow(model, title=gf_title), out / "grad_flow.png", gf_title)
    except Exception as e:
        if not optional_dependency_missing(e):
            raise
        log(f"skipping graph.svg/grad_flow.png: {e}")
