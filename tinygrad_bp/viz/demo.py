"""``python -m tinygrad_bp.viz.demo OUT``: the pictures of backprop that ``make demo`` writes.

- ``neuron.png``: micrograd's neuron with every value and gradient;
- ``mlp_unfused.svg``: a small MLP step with Affine and cross-entropy drawn as their parts;
- ``trace.txt``, ``trace_frames/frame_NNN.png`` and ``trace.html``: the walk, step by step.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_bp as tg
from tinygrad_bp import viz


def neuron() -> dict[str, Any]:
    """micrograd's neuron o = tanh(x1 w1 + x2 w2 + b), with named tensors."""
    x1 = tg.Tensor(2.0, requires_grad=True)
    x2 = tg.Tensor(0.0, requires_grad=True)
    w1 = tg.Tensor(-3.0, requires_grad=True)
    w2 = tg.Tensor(1.0, requires_grad=True)
    b = tg.Tensor(6.8813735870195432, requires_grad=True)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.tanh()
    return locals()


def main(out: str | Path) -> list[Path]:
    """Write the demo pictures into ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    v = neuron()
    tr = viz.trace_backward(v["o"], names=v)
    files = [viz.render_graph(tr.draw(), out / "neuron.png")]
    (out / "trace.txt").write_text(tr.table() + "\n", encoding="utf-8")
    files += [out / "trace.txt", *tr.save_frames(out / "trace_frames")]
    files.append(tr.save_html(out / "trace.html"))

    rng = np.random.default_rng(0)
    model = tg.nn.Sequential(tg.nn.Linear(4, 3), tg.nn.ReLU(), tg.nn.Linear(3, 2))
    xb, yb = rng.standard_normal((5, 4)).astype(np.float32), np.array([0, 1, 1, 0, 1])
    loss = tg.nn.functional.cross_entropy(model(tg.Tensor(xb)), yb)
    dot = viz.draw_graph(
        loss, params=model, names={"xb": xb, "yb": yb}, show_values=True, trace=True, fused=False
    )
    files.append(viz.render_graph(dot, out / "mlp_unfused.svg"))

    return files


if __name__ == "__main__":
    for f in main(sys.argv[1] if len(sys.argv) > 1 else "runs/demo"):
        print(f)
