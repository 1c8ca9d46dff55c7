"""The interactive page of a backward trace: one self-contained HTML file (the graph as
inline SVG laid out by ``dot``, the steps as inline JSON, plain JS; nothing loaded from the
network). Next/previous buttons (or the arrow keys) walk the steps: the current node is
outlined, nodes whose gradient is complete turn green, nodes still summing a fan-out turn
yellow. A click on a node shows its value and gradient.

For scripted checks the page also runs actions from its URL hash on load, e.g.
``page.html#do=next,next,click:n2``; its state is mirrored in ``data-*`` attributes of
``<body>``.
"""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np

from tinygrad_bp.viz import internals as I
from tinygrad_bp.viz.text import fmt_array

__all__ = ["trace_html"]


def _full(a: Any) -> str:
    """An array written out (elided in the middle past 60 elements), for the click panel."""
    if a is None:
        return "unknown (not kept by the graph, cannot be recomputed)"
    arr = np.asarray(a)
    if arr.size <= 1:
        return fmt_array(arr) if arr.size else "empty"
    body = np.array2string(arr, precision=4, threshold=60, edgeitems=3, suppress_small=True)
    return f"{fmt_array(arr)}\n{body}"


def trace_html(trace: Any, title: str = "Backward, step by step", rankdir: str = "LR") -> str:
    """The page for ``trace`` (a ``BackwardTrace``) as a string."""
    from tinygrad_bp.viz.graph import _Drawing

    d = _Drawing(trace.roots, trace.params, None, False, True, False, rankdir)
    d.use_trace(trace, None)
    svg = d.build(100_000, False, None).pipe(format="svg").decode("utf-8")
    svg = svg[svg.index("<svg") :]
    unit = d.unit
    nodes: dict[str, dict[str, Any]] = {}
    for n in trace.order:
        u = unit.get(id(n))
        if u is None:
            continue
        nodes[u] = {
            "label": trace.label(n),
            "kind": "leaf" if I.is_leaf(n) else I.op_name(n),
            "rule": "" if I.is_leaf(n) else I.rule(n),
            "value": _full(trace.values.get(id(n))),
            "grad": _full(trace.grads.get(id(n))) if id(n) in trace.grads else "no gradient",
            "first": None,
            "last": None,
            "partial": [],
        }
    for r in trace.roots:
        u = unit.get(id(I.key_of(r)))
        if u in nodes:
            nodes[u]["first"] = nodes[u]["last"] = 0
    steps = []
    for s in trace.steps:
        contribs = []
        for c in s.contributions:
            u = unit.get(id(c.target))
            if u in nodes:
                e = nodes[u]
                e["first"] = s.index if e["first"] is None else e["first"]
                e["last"] = s.index
                e["partial"].append([s.index, fmt_array(c.total)])
            contribs.append(
                {
                    "to": u,
                    "label": trace.label(c.target),
                    "input": c.input,
                    "grad": fmt_array(c.grad),
                    "acc": ""
                    if c.before is None
                    else f"{fmt_array(c.before)} + this = {fmt_array(c.total)}",
                }
            )
        steps.append(
            {
                "node": unit.get(id(s.node)),
                "label": s.label,
                "rule": s.rule,
                "value": fmt_array(s.value) if s.value is not None else "?",
                "upstream": fmt_array(s.upstream),
                "contribs": contribs,
            }
        )
    data = json.dumps({"nodes": nodes, "steps": steps}).replace("</", "<\\/")
    return (
        _PAGE.replace("{{title}}", html.escape(title))
        .replace("{{svg}}", svg)
        .replace("{{data}}", data)
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body{font:14px Helvetica,Arial,sans-serif;margin:0;color:#1f2933;
  display:flex;flex-direction:column;height:100vh}
header{padding:8px 12px;border-bottom:1px solid #d0d5dd;display:flex;gap:10px;
  align-items:center}
button{font-size:14px;padding:4px 12px}
main{display:flex;flex:1;min-height:0}
#graph{flex:2;overflow:auto;padding:8px}
#graph svg{max-width:100%;height:auto}
#graph .node{cursor:pointer}
aside{flex:1;min-width:300px;border-left:1px solid #d0d5dd;padding:8px 12px;overflow:auto}
pre{white-space:pre-wrap;background:#f6f7fb;padding:6px;margin:4px 0}
table{border-collapse:collapse}
td,th{border-bottom:1px solid #e4e7eb;padding:2px 6px;text-align:left;vertical-align:top}
.key span{display:inline-block;width:12px;height:12px;margin:0 3px 0 10px;
  vertical-align:middle;border:1px solid #7b8794}
</style></head>
<body data-step="0">
<header><button id="prev">&#9664; previous</button><button id="next">next &#9654;</button>
<b id="counter"></b><span class="key"><span style="background:#b7e4c7"></span>gradient complete
<span style="background:#ffe8a3"></span>still summing (fan-out +=)
<span style="border:3px solid #e8590c"></span>current node</span></header>
<main><div id="graph">{{svg}}</div>
<aside><div id="step"></div><hr>
<div id="info"><i>Click a node to see its value and gradient.</i></div></aside></main>
<script>
const DATA = {{data}};
const N = DATA.steps.length;
let step = 0;
const shapes = {};
const $ = id => document.getElementById(id);
document.querySelectorAll('#graph g.node').forEach(g => {
  const name = g.querySelector('title').textContent;
  const s = g.querySelector('polygon, path, ellipse');
  if (s) {
    shapes[name] = [s, s.getAttribute('fill'), s.getAttribute('stroke'),
                    s.getAttribute('stroke-width')];
  }
  g.addEventListener('click', () => show(name));
});
function esc(t) {
  return String(t).replace(/[&<>]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;'})[c]);
}
function render() {
  document.body.dataset.step = step;
  $('counter').textContent = 'step ' + step + ' of ' + N;
  $('prev').disabled = step === 0;
  $('next').disabled = step === N;
  const cur = step > 0 ? DATA.steps[step - 1].node : null;
  for (const [name, [s, fill, stroke, width]] of Object.entries(shapes)) {
    const n = DATA.nodes[name];
    let f = fill;
    if (n && n.first !== null && n.first <= step) f = n.last <= step ? '#b7e4c7' : '#ffe8a3';
    s.setAttribute('fill', f);
    s.setAttribute('stroke', name === cur ? '#e8590c' : stroke);
    s.setAttribute('stroke-width', name === cur ? '4' : (width || '1'));
  }
  const el = $('step');
  if (step === 0) {
    el.innerHTML = '<h3>Start</h3><p>The output gradient is 1 (dL/dL). Press <b>next</b> '
      + 'to apply the chain rule node by node.</p>';
    return;
  }
  const s = DATA.steps[step - 1];
  let h = '<h3>Step ' + step + ': ' + esc(s.label) + '</h3>'
    + '<p><b>local rule</b> ' + esc(s.rule) + '</p>'
    + '<p><b>value</b> ' + esc(s.value) + '<br><b>upstream grad</b> ' + esc(s.upstream)
    + '</p><table><tr><th>to input</th><th>upstream &times; local</th>'
    + '<th>fan-out +=</th></tr>';
  for (const c of s.contribs) {
    h += '<tr><td>' + c.input + ': ' + esc(c.label) + '</td><td>' + esc(c.grad)
      + '</td><td>' + esc(c.acc) + '</td></tr>';
  }
  el.innerHTML = h + '</table>';
}
function show(name) {
  const n = DATA.nodes[name];
  const el = $('info');
  document.body.dataset.shown = name;
  if (!n) {
    el.innerHTML = '<h3>constant input</h3><p>Not part of the gradient graph.</p>';
    return;
  }
  let g = 'not reached yet at this step';
  if (n.first !== null && n.first <= step) {
    const sofar = n.partial.filter(p => p[0] <= step).map(p => p[1]).pop();
    g = n.last <= step ? n.grad : 'so far ' + sofar;
  }
  el.innerHTML = '<h3>' + esc(n.label) + '</h3><p>' + esc(n.kind) + ' ' + esc(n.rule)
    + '</p><b>value</b><pre>' + esc(n.value) + '</pre><b>gradient</b><pre id="grad">'
    + esc(g) + '</pre>';
}
$('prev').addEventListener('click', () => { if (step > 0) { step--; render(); } });
$('next').addEventListener('click', () => { if (step < N) { step++; render(); } });
document.addEventListener('keydown', e => {
  if (e.key === 'ArrowRight') $('next').click();
  if (e.key === 'ArrowLeft') $('prev').click();
});
render();
const m = location.hash.match(/do=([^&]*)/);
if (m) {
  for (const a of decodeURIComponent(m[1]).split(',')) {
    if (a === 'next' || a === 'prev') $(a).click();
    else if (a.startsWith('click:')) {
      const g = [...document.querySelectorAll('#graph g.node')]
        .find(g => g.querySelector('title').textContent === a.slice(6));
      if (g) g.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    }
  }
  document.body.dataset.done = '1';
}
</script></body></html>
"""
