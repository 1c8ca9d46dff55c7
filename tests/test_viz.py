"""Graph drawings (DOT source parsed, and rendered with the real ``dot``), gradient capture,
collapse of long chains, the missing-``dot`` error, and the gradient-flow plot."""

from __future__ import annotations

import itertools
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any, NamedTuple

import graphviz
import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import viz
from tinygrad_bp.engine import grad_mode
from tinygrad_bp.viz import style
from tinygrad_bp.viz.stats import summarize

TIMES = style.TIMES  # the multiplication sign in summary labels

NODE = re.compile(r'^\s*(\w+) \[(?:label=<(<TABLE.*?</TABLE>)>|label="((?:[^"\\]|\\.)*)")?(.*)\]$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+)")


def parse(dot: Any) -> tuple[dict[str, dict[str, str]], list[tuple[str, str]]]:
    """Nodes (name -> {'label', 'class', 'fillcolor', ...}) and edges of a DOT source."""
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str]] = []
    for line in dot.source.splitlines():
        if m := EDGE.match(line):
            edges.append((m[1], m[2]))
        elif (m := NODE.match(line)) and m[1] not in ("graph", "node", "edge"):
            attrs = dict(re.findall(r'(\w+)=("[^"]*"|[^\s"]+)', m[4]))
            attrs = {k: v.strip('"') for k, v in attrs.items()}
            attrs["label"] = m[2] or m[3] or ""
            nodes[m[1]] = attrs
    return nodes, edges


def ops_of(nodes: dict[str, dict[str, str]]) -> dict[str, str]:
    """Op node name -> op class name."""
    return {
        n: a["class"].split()[1] for n, a in nodes.items() if a.get("class", "").startswith("op")
    }


def by_label(nodes: dict[str, dict[str, str]], text: str) -> str:
    hits = [n for n, a in nodes.items() if text in a["label"]]
    assert len(hits) == 1, (text, hits)
    return hits[0]


def leaf(value: Any, name: str) -> tg.Tensor:
    return tg.Tensor(np.asarray(value, dtype=np.float64), requires_grad=True, name=name)


# --------------------------------------------------------------------------- a stand-in nn
class Module:
    """What draw_graph needs of an nn.Module: scope while called, named_modules/parameters."""

    def __call__(self, *args: Any) -> Any:
        prev = grad_mode._state.scope
        grad_mode._state.scope = self
        try:
            return self.forward(*args)  # type: ignore[attr-defined]
        finally:
            grad_mode._state.scope = prev

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for k, v in vars(self).items():
            for i, m in enumerate(v if isinstance(v, list) else [v]):
                if isinstance(m, Module):
                    sub = f"{k}.{i}" if isinstance(v, list) else k
                    yield from m.named_modules(f"{prefix}.{sub}" if prefix else sub)

    def named_parameters(self) -> Iterator[tuple[str, tg.Tensor]]:
        for name, m in self.named_modules():
            for k, v in vars(m).items():
                if isinstance(v, tg.Tensor):
                    yield (f"{name}.{k}" if name else k), v


class Linear(Module):
    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator) -> None:
        self.in_features, self.out_features = n_in, n_out
        self.weight = leaf(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in), "")
        self.bias = leaf(np.zeros(n_out), "")

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return x @ self.weight + self.bias


class Activation(Module):
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return getattr(x, self.kind)()  # type: ignore[no-any-return]


class MLP(Module):
    def __init__(self, sizes: list[int], act: str = "sigmoid", seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.layers: list[Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            self.layers.append(Linear(a, b, rng))
            if i < len(sizes) - 2:
                self.layers.append(Activation(act))

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def mlp_loss(model: Any, n_in: int, seed: int = 1) -> tg.Tensor:
    dtype = model.layers[0].weight.dtype  # a batch in the model's dtype
    x = tg.Tensor(np.random.default_rng(seed).standard_normal((4, n_in)).astype(dtype))
    return (model(x) ** 2).mean()


# --------------------------------------------------------------------------- structure
def test_draw_graph_one_op_node_per_recorded_op_and_data_flow_edges() -> None:
    a, b = leaf([1.0, 2.0], "a"), leaf([3.0, 4.0], "b")
    c = a * b
    d = (c + a).sum(axis=0)
    nodes, edges = parse(viz.draw_graph(d))
    ops = ops_of(nodes)
    assert sorted(ops.values()) == ["Add", "Mul", "Sum"]
    na, nb = by_label(nodes, "<B>a</B>"), by_label(nodes, "<B>b</B>")
    mul, add, sm = (next(n for n, o in ops.items() if o == k) for k in ("Mul", "Add", "Sum"))
    assert sorted(edges) == sorted([(na, mul), (nb, mul), (mul, add), (na, add), (add, sm)])
    assert "axis=0" in nodes[sm]["label"]
    assert "root" in nodes[sm]["class"] and nodes[sm].get("peripheries") == "2"
    assert "(2,) float64" in nodes[mul]["label"]  # op nodes show the output shape and dtype


def test_draw_graph_fan_out_draws_one_edge_per_use() -> None:
    a = leaf(3.0, "a")
    b = a * a  # a used twice by one op
    c = b + b + a  # b used twice, a a third time
    nodes, edges = parse(viz.draw_graph(c))
    na = by_label(nodes, "<B>a</B>")
    mul = next(n for n, o in ops_of(nodes).items() if o == "Mul")
    assert edges.count((na, mul)) == 2
    assert sum(1 for s, _ in edges if s == mul) == 2
    assert sum(1 for s, _ in edges if s == na) == 3


def test_draw_graph_labels_constants_and_operand_order() -> None:
    x = leaf([1.0, 2.0], "x")
    y = leaf([3.0, 4.0], "y")
    nodes, _ = parse(viz.draw_graph((1 - x) / y * 3))
    ops = {o: n for n, o in ops_of(nodes).items()}
    assert "Mul</B>(•, 3)" in nodes[ops["Mul"]]["label"]  # saved constants by value
    assert "Sub</B>(const, •)" in nodes[ops["Sub"]]["label"]  # others by position
    dot = viz.draw_graph((1 - x) / y).source
    assert re.search(r"-> \w+ \[[^\]]*headlabel=1", dot)  # Div's inputs are numbered


def test_draw_graph_names_params_from_mapping_and_module() -> None:
    w, b = leaf(np.ones((3, 2)), ""), leaf(np.zeros(2), "")
    x = tg.Tensor(np.ones((1, 3)))
    out = (x @ w + b).sum()
    nodes, _ = parse(viz.draw_graph(out, params={"fc.weight": w, "fc.bias": b}))
    assert "param" in nodes[by_label(nodes, "fc.weight")]["class"]
    assert "param" in nodes[by_label(nodes, "fc.bias")]["class"]
    model = MLP([3, 4, 2])
    nodes, _ = parse(viz.draw_graph(mlp_loss(model, 3), params=model))
    for name in ("layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"):
        by_label(nodes, f"<B>{name}</B>")


def clusters(dot: Any) -> list[tuple[int, str]]:
    """(nesting depth, label) of every module cluster, in source order."""
    out, depth = [], 0
    for line in dot.source.splitlines():
        if line.strip().startswith("subgraph cluster_") and "legend" not in line:
            depth += 1
            out.append([depth, ""])
        elif line.strip().startswith("subgraph"):
            depth += 1
            out.append([depth, "legend"])
        elif line.strip() == "}" and depth:
            depth -= 1
        elif out and not out[-1][1] and (m := re.search(r'label=("[^"]*"|\S+)', line)):
            out[-1][1] = m[1].strip('"')
    return [(d, lab) for d, lab in out if lab != "legend"]


def test_draw_graph_groups_ops_in_nested_module_clusters() -> None:
    model = MLP([5, 4, 3])
    dot = viz.draw_graph(mlp_loss(model, 5), params=model)
    found = clusters(dot)
    assert found[0] == (1, "MLP")
    assert (2, "layers.0: Linear(5 -> 4)") in found
    assert (2, "layers.2: Linear(4 -> 3)") in found
    assert (2, "layers.1: Activation") in found
    # the loss ops (Pow, Mean) are outside the model's cluster
    src = dot.source
    assert src.index('class="op Mean root"') < src.index("subgraph cluster_")
    # without params, the modules that recorded ops still get a cluster each (MLP recorded
    # none itself, so nothing tells their names)
    assert sorted(clusters(viz.draw_graph(mlp_loss(model, 5)))) == [
        (1, "Activation"),
        (1, "Linear(4 -> 3)"),
        (1, "Linear(5 -> 4)"),
    ]


def test_draw_graph_with_the_real_nn_modules() -> None:
    from tinygrad_bp import nn

    seq = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Sigmoid(), nn.Linear(3, 2, rng=1))
    loss = seq(tg.Tensor(np.ones((2, 4), dtype=np.float32))).sum()
    loss.backward()
    dot = viz.draw_graph(loss, params=seq)
    assert sorted(clusters(dot)) == [
        (1, "Sequential"),
        (2, "0: Linear(4 -> 3)"),
        (2, "1: Sigmoid()"),
        (2, "2: Linear(3 -> 2)"),
    ]
    nodes, _ = parse(dot)
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert "param" in nodes[by_label(nodes, f"<B>{name}</B>")]["class"]
    mlp = nn.MLP([5, 4, 3], "relu", rng=0)
    found = clusters(viz.draw_graph(mlp_loss(mlp, 5), params=mlp))
    assert (1, "MLP") in found and (2, "layers: Sequential") in found
    assert (3, "layers.0: Linear(5 -> 4)") in found and (3, "layers.1: ReLU()") in found


def test_draw_graph_renders_valid_svg_png_and_pdf(tmp_path: Any) -> None:
    model = MLP([3, 4, 2])
    loss = mlp_loss(model, 3)
    with viz.capture_grads(loss):
        loss.backward()
    dot = viz.draw_graph(loss, params=model, show_values=True, show_saved=True)
    svg = ET.fromstring(dot.pipe(format="svg"))
    assert svg.tag.endswith("svg")
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert {"n0", "n1"} <= set(titles)
    png = viz.render_graph(dot, tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = viz.render_graph(dot, tmp_path / "g.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    bundle = dot._repr_mimebundle_()
    assert "image/svg+xml" in bundle


def test_missing_dot_error_says_how_to_install(tmp_path: Any, monkeypatch: Any) -> None:
    dot = viz.draw_graph(leaf(1.0, "a") * 2)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(viz.DotNotFoundError) as e:
        dot.pipe(format="svg")
    msg = str(e.value)
    assert isinstance(e.value, graphviz.ExecutableNotFound)  # code catching graphviz's works
    for hint in ("apt-get install graphviz", "conda install graphviz", "brew install graphviz"):
        assert hint in msg
    with pytest.raises(viz.DotNotFoundError):
        dot.render(tmp_path / "g", format="png")
    with pytest.raises(viz.DotNotFoundError, match="saved to"):
        viz.render_graph(dot, tmp_path / "g.svg")
    assert (tmp_path / "g.gv").read_text() == dot.source
    assert "digraph" in dot.source
    bundle = dot._repr_mimebundle_()  # Jupyter shows the source and the hint instead
    assert "apt-get install graphviz" in bundle["text/plain"]


def test_missing_graphviz_package_raises_import_error(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match="pip install graphviz"):
        viz.draw_graph(leaf(1.0, "a"))


def test_draw_graph_after_backward_without_retain_graph() -> None:
    x = leaf([0.5, -1.0], "x")
    y = (x.tanh() * x).sum()
    _, edges_before = parse(viz.draw_graph(y, show_saved=True))
    y.backward()
    assert y._ctx.released
    dot = viz.draw_graph(y, show_saved=True, show_values=True)
    nodes, edges = parse(dot)
    assert sorted(ops_of(nodes).values()) == ["Mul", "Sum", "Tanh"]
    assert len(edges) == len(edges_before) == 4
    assert "released by backward()" in dot.source
    assert "saved (2,)" in viz.draw_graph(leaf([1.0, 2.0], "z").exp(), show_saved=True).source
    ET.fromstring(dot.pipe(format="svg"))


def test_draw_graph_of_a_bare_leaf() -> None:
    for t in (tg.Tensor([1.0, 2.0]), leaf([1.0, 2.0], "w")):
        dot = tg.draw_graph(t)
        nodes, edges = parse(dot)
        assert len(nodes) == 1 and not edges
        (attrs,) = nodes.values()
        assert "leaf" in attrs["class"] and "root" in attrs["class"]
        ET.fromstring(dot.pipe(format="svg"))
    w = leaf([1.0, 2.0], "w")
    w.grad = tg.Tensor([3.0, 4.0])
    assert "‖g‖ 5" in tg.draw_graph(w).source


def test_draw_graph_accepts_a_list_of_roots() -> None:
    a = leaf(2.0, "a")
    b = a.exp()
    nodes, _ = parse(viz.draw_graph([b * 2, b + 1]))
    assert sorted(ops_of(nodes).values()) == ["Add", "Exp", "Mul"]
    assert sum("root" in a["class"] for a in nodes.values()) == 2


def test_nan_and_inf_gradients_are_drawn_red() -> None:
    x = leaf([1.0, 2.0, 3.0], "x")
    y = x * 2
    with viz.capture_grads(y):
        y.backward(grad=np.array([np.nan, 1.0, np.inf]))
    nodes, _ = parse(viz.draw_graph(y))
    for n in (by_label(nodes, "<B>x</B>"), next(iter(ops_of(nodes)))):
        assert nodes[n]["fillcolor"] == style.NAN_FILL
        assert "NaN/Inf: 2 of 3" in nodes[n]["label"]


def test_gradient_colour_follows_a_log_scale_with_a_legend() -> None:
    model = MLP([4, 8, 8, 8, 8, 8, 2], act="sigmoid")
    loss = mlp_loss(model, 4)
    cap = viz.capture_grads(loss)
    loss.backward()
    cap.remove()
    assert len(cap) > 0 and loss._ctx.hooks == []
    dot = viz.draw_graph(loss, params=model)
    nodes, _ = parse(dot)
    assert "mean |grad|" in nodes["legend"]["label"] and "NaN / Inf" in nodes["legend"]["label"]

    def lum(name: str) -> float:
        c = nodes[by_label(nodes, f"<B>{name}</B>")]["fillcolor"]
        r, g, b = (int(c[i : i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    # vanishing gradients: the first layer's weight is darker than the last one's
    assert lum("layers.0.weight") < lum("layers.10.weight")
    # a fixed range (to compare drawings) sets the legend's ends
    fixed = viz.draw_graph(loss, params=model, grad_range=(1e-9, 1.0)).source
    assert ">1e-10<" in fixed and ">1e-4<" in fixed and ">1e0<" in fixed
    assert sum(1 for a in ops_of(nodes) if nodes[a]["fillcolor"] != style.NO_GRAD_FILL) > 10


def test_ops_without_captured_grads_get_a_hint() -> None:
    loss = (leaf([1.0, 2.0], "w") ** 2).sum()
    loss.backward()
    assert "capture_grads" in viz.draw_graph(loss).source
    assert "capture_grads" not in viz.draw_graph(loss, show_grads=False).source


def test_collapse_folds_a_10000_op_chain(tmp_path: Any) -> None:
    x = leaf([0.5, 0.25], "x")
    y = x
    for _ in range(10_000):
        y = y.tanh()
    y = y.sum()
    with viz.capture_grads(y):
        y.backward()
    dot = viz.draw_graph(y)
    nodes, edges = parse(dot)
    assert len(dot.source) < 6000
    assert len(nodes) <= 5 and len(edges) == 2
    assert f"Tanh {TIMES} 10,000" in dot.source and "10,001 ops" in dot.source
    run = next(a for a in nodes.values() if a["class"] == "run")
    assert ":" in run["fillcolor"]  # a gradient from the input end to the output end
    svg = ET.fromstring(dot.pipe(format="svg"))
    assert svg.tag.endswith("svg")


def test_collapse_finds_repeated_blocks_with_side_leaves() -> None:
    y = leaf([0.5], "x")
    for _ in range(50):
        y = (y * tg.Tensor([1.01], requires_grad=True) + 0.1).tanh()
    dot = viz.draw_graph(y.sum())
    assert f"(Mul → Add → Tanh) {TIMES} 50" in dot.source and "49 leaves inside" in dot.source
    nodes, _ = parse(viz.draw_graph(y.sum(), collapse=False))
    assert len(ops_of(nodes)) == 151


def test_named_modules_collapse_only_when_over_max_nodes() -> None:
    model = MLP([3] + [3] * 40 + [1], act="tanh")
    loss = mlp_loss(model, 3)
    full = viz.draw_graph(loss, params=model)
    assert len(ops_of(parse(full)[0])) == 41 * 2 + 40 + 2  # nothing hidden by default
    small = viz.draw_graph(loss, params=model, max_nodes=60)
    nodes, _ = parse(small)
    assert len(nodes) <= 61 + 1  # + legend-less graph: the nodes and the summary
    run = next(a for a in nodes.values() if a["class"] == "run")
    assert re.search(r"layers\.\d+ … layers\.\d+", run["label"])
    assert f"{TIMES} " in run["label"] and "leaves inside" in run["label"]


def test_max_nodes_keeps_the_nodes_next_to_the_output_and_says_so() -> None:
    y = leaf([0.5], "x")
    for i in range(100):
        y = y * tg.Tensor([1.0 + i / 100], requires_grad=True)
    dot = viz.draw_graph(y, max_nodes=30, collapse=False)
    nodes, edges = parse(dot)
    assert len(nodes) == 31 and "more" in nodes
    assert "nodes not drawn (max_nodes=30)" in dot.source
    assert 1 <= sum(1 for s, _ in edges if s == "more") <= 2  # one frontier: a Mul, its w
    root = next(n for n, a in nodes.items() if "root" in a.get("class", ""))
    assert root == "n0"
    ET.fromstring(dot.pipe(format="svg"))


def test_show_values_shows_micrograd_style_data_and_grad() -> None:
    a, b = leaf(2.0, "a"), leaf(-3.0, "b")
    out = a * b + 10
    out.name = "L"
    out.backward(retain_graph=True)
    src = viz.draw_graph(out, show_values=True).source
    assert "value 2" in src and "grad -3" in src and "value 4" in src
    assert "<B>L</B> = <B>Add</B>(•, const)" in src


class Spec(NamedTuple):
    """A non-tensor argument of an op that numpy cannot turn into an array."""

    rows: np.ndarray
    label: str


class Scale(tg.Function):
    """z = x * factor (with an odd positional argument, kept by save_inputs)"""

    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, spec: Spec, factor: float = 1.0, **kw: Any) -> Any:
        ctx.factor = factor
        ctx.rows = spec.rows
        return x * factor

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * ctx.factor, None


def test_draw_graph_copes_with_any_op_arguments() -> None:
    x = leaf([1.0, 2.0, 3.0], "x")
    weird = {"tag": object(), "names": ["a", "b"], "mask": np.array([True, False, True])}
    y = Scale.apply(x, Spec(np.arange(3), "rows"), factor=2.0, **weird).sum()
    for before in (True, False):  # before, and after backward released the saved values
        dot = viz.draw_graph(y, show_values=True, show_saved=True)
        nodes, _ = parse(dot)
        label = nodes[next(n for n, o in ops_of(nodes).items() if o == "Scale")]["label"]
        assert ("Scale</B>(•, Spec)" if before else "Scale</B>(•, const)") in label
        assert "factor=2.0" in label and "mask=bool(3,)" in label
        ET.fromstring(dot.pipe(format="svg"))
        if before:
            y.backward()


def test_draw_graph_rejects_bad_arguments() -> None:
    a = leaf(1.0, "a")
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(a, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes"):
        viz.draw_graph(a, max_nodes=0)
    with pytest.raises(ValueError, match="grad_range"):
        viz.draw_graph(a, grad_range=(1.0, 1e-3))
    with pytest.raises(TypeError, match="Tensor"):
        viz.draw_graph([a, 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single Tensor"):
        viz.draw_graph(a, params=a)


def test_rankdir_tb_renders() -> None:
    y = leaf([1.0], "x")
    for _ in range(20):
        y = y.sigmoid()
    dot = viz.draw_graph(y, rankdir="TB")
    assert "rankdir=TB" in dot.source and "gradientangle=270" in dot.source
    assert dot.pipe(format="png")[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- grad flow
def test_plot_grad_flow_bars_in_parameter_order(tmp_path: Any) -> None:
    import matplotlib.pyplot as plt

    model = MLP([4, 6, 6, 2])
    mlp_loss(model, 4).backward()
    model.layers[0].bias.grad = tg.Tensor(np.array([np.nan, 1, 1, 1, 1, 1]))  # type: ignore[attr-defined]
    model.layers[4].bias.grad = None  # type: ignore[attr-defined]
    open_before = plt.get_fignums()
    fig = viz.plot_grad_flow(model, title="sigmoid")
    assert plt.get_fignums() == open_before  # built without pyplot
    ax = fig.axes[0]
    names = [n for n, _ in model.named_parameters()]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_yscale() == "log"
    assert ax.get_xticklabels()[1].get_color() == "#d62728"
    labels = ax.get_legend_handles_labels()[1]
    assert {"max |grad|", "mean |grad|", "NaN/Inf", "no grad"} <= set(labels)
    fig.savefig(tmp_path / "flow.png")
    assert (tmp_path / "flow.png").read_bytes()[:4] == b"\x89PNG"
    assert fig._repr_png_()[:4] == b"\x89PNG"  # Jupyter shows it inline without pyplot
    fixed = viz.plot_grad_flow(dict(model.named_parameters()), ylim=(1e-9, 10.0))
    assert fixed.axes[0].get_ylim() == pytest.approx((1e-9, 10.0))
    stats = viz.grad_stats(model)
    assert stats["layers.4.bias"] is None and not stats["layers.0.bias"].finite  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no parameters"):
        viz.plot_grad_flow({})


def test_grad_stats_are_overflow_safe() -> None:
    s = summarize(np.array([3e200, 4e200]))
    assert isinstance(s, viz.GradStats) and np.isclose(s.norm, 5e200)
    assert np.isclose(s.mean_abs, 3.5e200) and s.finite and s.value is None
    z = summarize(np.zeros(3, dtype=np.float32))
    assert z.norm == 0 and z.mean_abs == 0
    bad = summarize(np.array([np.nan, np.inf]))
    assert bad.nonfinite == 2 and np.isnan(bad.mean_abs)


@pytest.fixture(autouse=True)
def _dot_on_path() -> None:
    assert shutil.which("dot"), "Graphviz's dot must be installed (apt-get install graphviz)"
