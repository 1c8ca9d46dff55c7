"""Backprop made visible: values and gradients on every node, names, inputs and labels as
nodes, fused=False, the exact-zero colour, and ``trace_backward`` (table, frames, grads)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_viz import by_label, ops_of, parse

import tinygrad_bp as tg
from tinygrad_bp import viz
from tinygrad_bp.viz import style


def neuron() -> dict[str, Any]:
    """micrograd's neuron, plus a fan-out: n feeds both tanh and n * 0.5."""
    x1, x2 = tg.Tensor(2.0, requires_grad=True), tg.Tensor(0.0, requires_grad=True)
    w1, w2 = tg.Tensor(-3.0, requires_grad=True), tg.Tensor(1.0, requires_grad=True)
    b = tg.Tensor(6.8813735870195432, requires_grad=True)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    n = x1w1 + x2w2 + b
    o = n.tanh() + n * 0.5
    return locals()


def small_mlp() -> tuple[Any, tg.Tensor, np.ndarray, tg.Tensor]:
    rng = np.random.default_rng(0)
    model = tg.nn.Sequential(tg.nn.Linear(4, 3), tg.nn.ReLU(), tg.nn.Linear(3, 2))
    xb = tg.Tensor(rng.standard_normal((5, 4)).astype(np.float32))  # (a copy of the array)
    yb = np.array([0, 1, 1, 0, 1])
    return model, xb, yb, tg.nn.functional.cross_entropy(model(xb), yb)


def test_trace_gradients_match_backward_and_leave_grad_alone() -> None:
    v = neuron()
    tr = viz.trace_backward(v["o"], names=v)
    assert all(v[k].grad is None for k in ("x1", "w1", "b"))  # nothing written
    assert len(tr) == sum(1 for n in tr.order if not isinstance(n, tg.Tensor))
    v["o"].backward()
    for k in ("x1", "x2", "w1", "w2", "b"):
        np.testing.assert_allclose(tr.grad_of(v[k]), v[k].grad.numpy(), rtol=1e-6)
    # by hand: do/dn = 1 - tanh(n)^2 + 0.5, do/dw1 = do/dn * x1
    dn = 1 - np.tanh(0.8813735870195432) ** 2 + 0.5
    np.testing.assert_allclose(tr.grad_of(v["w1"]), dn * 2.0, rtol=1e-5)


def test_trace_table_shows_rule_upstream_product_and_fan_out() -> None:
    v = neuron()
    tr = viz.trace_backward(v["o"], names=v)
    text = tr.table()
    assert "rule: z = tanh x; dz/dx = 1 - z^2" in text
    fan = [c for s in tr.steps for c in s.contributions if c.before is not None]
    assert len(fan) == 1 and tr.label(fan[0].target) == "n = Add"  # n gets two gradients
    np.testing.assert_allclose(fan[0].total, fan[0].before + fan[0].grad)
    assert " + … = " in text and "leaf gradients" in text and "w1: 2" in text
    first = tr.steps[0]
    assert first.label.endswith("Add") and float(first.upstream) == 1.0


def test_trace_needs_the_saved_values() -> None:
    v = neuron()
    v["o"].backward()
    with pytest.raises(RuntimeError, match="released by backward"):
        viz.trace_backward(v["o"])


def test_draw_every_node_has_its_value_and_gradient() -> None:
    v = neuron()
    dot = viz.draw_graph(v["o"], names=v, show_values=True, trace=True, collapse=False)
    nodes, _ = parse(dot)
    ops = ops_of(nodes)
    assert len(ops) == 7
    for name in ops:
        assert "value " in nodes[name]["label"] and "grad " in nodes[name]["label"]
    # the Add that feeds nothing saved (x1w1 + x2w2) got its value recomputed: -6
    six = [ops[k] for k, a in nodes.items() if "value -6</FONT>" in a["label"]]
    assert sorted(six) == ["Add", "Mul"]  # x1w1, and x1w1 + x2w2 (nothing saved it)
    assert "x1w1</B> = <B>Mul" in nodes[by_label(nodes, "x1w1")]["label"]
    dot.pipe(format="svg")


def test_draw_values_without_a_trace_are_recomputed_after_backward() -> None:
    v = neuron()
    v["o"].backward()
    nodes, _ = parse(viz.draw_graph(v["o"], show_values=True))
    labels = " ".join(a["label"] for a in nodes.values())
    assert "value -6" in labels and "value 0.8814" in labels  # x1w1 + x2w2, and n


def test_draw_inputs_and_labels_are_nodes_with_names() -> None:
    model, xb, yb, loss = small_mlp()
    nodes, edges = parse(viz.draw_graph(loss, params=model, names={"xb": xb, "yb": yb}))
    inputs = {n: a for n, a in nodes.items() if a.get("class") == "input"}
    assert len(inputs) == 2
    x = by_label(inputs, "xb")
    y = by_label(inputs, "yb")
    assert "(5, 4) float32" in inputs[x]["label"] and "reduction mean" in inputs[y]["label"]
    assert any(s == x for s, _ in edges) and any(s == y for s, _ in edges)
    unnamed, _ = parse(viz.draw_graph(loss))
    titles = {a["label"].split("</B>")[0].split("<B>")[-1] for a in unnamed.values()}
    assert {"input", "targets"} <= titles


def test_draw_unfused_shows_matmul_add_and_the_cross_entropy_parts() -> None:
    model, _, _, loss = small_mlp()
    fused = set(ops_of(parse(viz.draw_graph(loss, params=model))[0]).values())
    assert {"Affine", "CrossEntropy"} <= fused
    dot = viz.draw_graph(loss, params=model, fused=False, trace=True, show_values=True)
    nodes, edges = parse(dot)
    kinds = sorted(ops_of(nodes).values())
    assert kinds == sorted(["MatMul", "Add", "Relu", "MatMul", "Add", "LogSoftmax", "NLL", "Mean"])
    nll = by_label(nodes, "<B>NLL")
    assert "grad [0.2, 0.2, 0.2, 0.2, 0.2]" in nodes[nll]["label"]  # d mean / d loss_i = 1/5
    mean = by_label(nodes, "<B>Mean")
    assert (nll, mean) in edges
    dot.pipe(format="svg")


def test_exact_zero_gradient_has_its_own_colour_and_legend_row() -> None:
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    dead = tg.Tensor(np.array([-1.0, -2.0]), requires_grad=True, name="dead")
    loss = (w * w).sum() + dead.relu().sum()
    loss.backward()
    nodes, _ = parse(viz.draw_graph(loss))
    assert nodes[by_label(nodes, "<B>dead")]["fillcolor"] == style.ZERO_FILL
    assert nodes[by_label(nodes, "<B>w</B>")]["fillcolor"] != style.ZERO_FILL
    legend = nodes["legend"]["label"]
    assert "exactly 0" in legend and "•" in legend and "const" in legend and "argument" in legend


def test_trace_frames_highlight_the_current_node(tmp_path: Any) -> None:
    v = neuron()
    tr = viz.trace_backward(v["o"], names=v)
    for k in (1, len(tr)):
        nodes, _ = parse(tr.draw(k))
        current = [n for n, a in nodes.items() if "current" in a.get("class", "")]
        assert len(current) == 1
        assert tr.steps[k - 1].label.split(" = ")[0] in nodes[current[0]]["label"]
    first, _ = parse(tr.draw(1))
    assert "grad" not in first[by_label(first, "<B>x1</B>")]["label"]  # not reached yet
    files = tr.save_frames(tmp_path)
    assert len(files) == len(tr) and all(f.read_bytes()[:4] == b"\x89PNG" for f in files)
    with pytest.raises(ValueError, match="step"):
        viz.draw_graph(v["o"], step=1)
