"""Drawing speed: building the Digraph (``draw_graph``, no ``dot``) and rendering with ``dot``.

Cases, each timed as the median (min-max) of ``--repeats`` runs after one warm-up:

- 1,000-op graph, every node drawn: 200 residual blocks ``h = (h @ W + b).tanh() + h * 0.5``
  with named parameters, grads captured, ``max_nodes`` large enough to draw all 1,401 nodes
  (target: build < 0.5 s). Also with the defaults (``max_nodes=500``), and through ``dot``.
- 100,000-op chain of ``tanh`` with ``collapse=True``: build and render to SVG through
  ``dot`` (target: < 10 s in total).

    python benchmarks/draw.py [--repeats 5] [--chain 100000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_bp as tg
from tinygrad_bp import viz


def residual_net(n_blocks: int) -> tuple[tg.Tensor, dict[str, tg.Tensor]]:
    """A 5 * n_blocks-op graph with fan-out everywhere (nothing collapses), after backward."""
    rng = np.random.default_rng(0)
    params: dict[str, tg.Tensor] = {}
    h = tg.Tensor(rng.standard_normal((8, 16)))
    for i in range(n_blocks):
        w = tg.Tensor(rng.standard_normal((16, 16)) * 0.25, requires_grad=True)
        b = tg.Tensor(np.zeros(16), requires_grad=True)
        params[f"blocks.{i}.weight"], params[f"blocks.{i}.bias"] = w, b
        h = (h @ w + b).tanh() + h * 0.5
    loss = h.sum()
    with viz.capture_grads(loss):
        loss.backward(retain_graph=True)
    return loss, params


def chain(n_ops: int) -> tg.Tensor:
    x = tg.Tensor(np.full(4, 0.5), requires_grad=True)
    y = x
    for _ in range(n_ops - 1):
        y = y.tanh()
    loss = y.sum()
    with viz.capture_grads(loss):
        loss.backward()
    return loss


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chain", type=int, default=100_000, help="ops in the long chain")
    args = ap.parse_args()

    loss, params = residual_net(200)
    big = chain(args.chain)
    n_ops = sum(1 for n in tg.engine.toposort([loss._ctx]) if not isinstance(n, tg.Tensor))
    rows = []

    def case(name: str, fn: Callable[[], Any], target: float | None) -> None:
        ts = timed(fn, args.repeats)
        med = statistics.median(ts)
        verdict = "" if target is None else ("ok" if med < target else "**over**")
        goal = "" if target is None else f"< {target:g} s"
        rows.append(f"| {name} | {med:.3f} ({min(ts):.3f}-{max(ts):.3f}) | {goal} | {verdict} |")

    full = {"params": params, "max_nodes": 10_000}
    case(f"build, {n_ops:,}-op graph, all nodes", lambda: viz.draw_graph(loss, **full), 0.5)
    case(f"build, {n_ops:,}-op graph, defaults", lambda: viz.draw_graph(loss, params=params), 0.5)
    case(
        f"build + dot SVG, {n_ops:,}-op graph, all nodes",
        lambda: viz.draw_graph(loss, **full).pipe(format="svg"),
        None,
    )
    case(f"build, {args.chain:,}-op chain, collapse", lambda: viz.draw_graph(big), None)
    case(
        f"build + dot SVG, {args.chain:,}-op chain, collapse",
        lambda: viz.draw_graph(big).pipe(format="svg"),
        10.0,
    )
    print(f"draw_graph timings, seconds: median (min-max) of {args.repeats} runs\n")
    print("| case | time (s) | target | |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
