"""Drawing gradient graphs and gradient flow.

- ``draw_graph(root, ...)`` (also ``Tensor.draw``): the graph ``backward()`` walks as a
  ``graphviz.Digraph``, one node per op (op and output merged, see ``viz.graph``), leaves as
  square boxes, parameters by dotted name, ops grouped in one cluster per module, nodes
  coloured by mean |grad| on a log scale (NaN/Inf red), long repeated runs collapsed.
- ``capture_grads(root)``: hooks to register before ``backward()`` so intermediate results
  are coloured too (the graph keeps nodes, not intermediate tensors or their grads).
- ``render_graph(dot, "graph.svg")``: write SVG/PNG/PDF; a missing ``dot`` raises
  ``DotNotFoundError`` with install instructions.
- ``trace_backward(loss)``: the chain rule step by step on the user's graph (a table, graph
  frames with the current node highlighted, one interactive HTML page), computed on the side.
- ``plot_grad_flow(model)``: a matplotlib Figure of mean and max |grad| per parameter.

graphviz and matplotlib are imported only when used (the ``viz`` extra).
"""

from tinygrad_bp.viz.gradflow import plot_grad_flow
from tinygrad_bp.viz.graph import draw_graph
from tinygrad_bp.viz.render import DotNotFoundError, render_graph
from tinygrad_bp.viz.stats import GradCapture, GradStats, capture_grads, grad_stats
from tinygrad_bp.viz.trace import BackwardTrace, trace_backward

__all__ = [
    "BackwardTrace",
    "DotNotFoundError",
    "GradCapture",
    "GradStats",
    "capture_grads",
    "draw_graph",
    "grad_stats",
    "plot_grad_flow",
    "render_graph",
    "trace_backward",
]
