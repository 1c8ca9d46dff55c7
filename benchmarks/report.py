"""The suite's output: one markdown table per workload, the targets, and the JSON payload."""

from __future__ import annotations

import dataclasses
from typing import Any

from benchmarks import targets
from benchmarks.harness import Result, cell, describe
from benchmarks.workloads import Outcome

UNITS = {
    "overhead": "us per op",
    "mlp_step": "ms per step",
    "epoch": "s per epoch",
    "scaling": "us per op",
    "draw": "ms",
    "cnn_step": "ms per step",
}


def _medians(rs: list[Result]) -> dict[str, float]:
    return {r.impl: r.median for r in rs}


def _title(w: str, cfg: Any) -> str:
    a, b, c = cfg.mlp_sizes
    net = f"{a}-{b}-{c} sigmoid MLP"
    return {
        "overhead": f"{cfg.chain_ops:,}-op elementwise chain (*2, +(-1), tanh, *2, sigmoid), "
        "sum, backward, from a fresh leaf",
        "mlp_step": f"{net}, softmax cross-entropy, zero_grad + forward + backward + SGD "
        "momentum step",
        "epoch": f"one epoch, {net}, SGD momentum 0.9, lr 0.1",
        "scaling": "backward alone of an n-op chain at 1 element (graph built untimed)",
        "draw": f"draw_graph of {cfg.draw_blocks} residual blocks, every node (Digraph built, "
        "no dot)",
        "cnn_step": f"CNN on {cfg.cnn_image}x{cfg.cnn_image} images (conv5x5 "
        f"{cfg.cnn_channels[0]}-relu-maxpool2, conv5x5 {cfg.cnn_channels[1]}-relu-maxpool2, "
        f"dense {cfg.cnn_hidden}-relu, dense 10), cross-entropy, zero_grad + forward + backward "
        "+ SGD momentum step",
    }[w]


def table(w: str, o: Outcome, order: list[str], cfg: Any) -> tuple[str, list[dict[str, Any]]]:
    """The workload's markdown table and its target verdicts."""
    rows = list(dict.fromkeys(r.row for r in o.results))
    impls = [i for i in order if any(r.impl == i for r in o.results)]
    extra_cols = list(dict.fromkeys(k for d in o.extra.values() for k in d))
    n = max((len(r.samples) for r in o.results), default=0)
    head = [w, *impls, *extra_cols, "tinygrad_bp / fastest other autograd", "target", "met"]
    lines = [
        f"### {w}: {_title(w, cfg)}",
        f"{UNITS[w]}, median (min-max) of {n} samples"
        + (" (fewer for the long chains)" if w == "scaling" else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    verdicts = []
    per_op: dict[str, dict[int, float]] = {}
    for row in rows:
        rs = [r for r in o.results if r.row == row]
        by = {r.impl: r for r in rs}
        med = _medians(rs)
        fo = targets.fastest_other(med)
        ratio = "-" if fo is None else f"{fo[1]:.2f}x {fo[0]}"
        text, met, detail = targets.verdict(w, row, med) if targets.TG in med else ("", None, "")
        mark = "" if not text else ("n/a" if met is None else ("yes" if met else "**no**"))
        if text:
            verdicts.append(
                {"workload": w, "row": row, "target": text, "met": met, "measured": detail}
            )
        cells = [cell(by.get(i)) for i in impls]
        extras = [o.extra.get(row, {}).get(c, "") for c in extra_cols]
        lines.append("| " + " | ".join([row, *cells, *extras, ratio, text, mark]) + " |")
        if w == "scaling":
            n_ops = int(row.split()[0].replace(",", ""))
            for i, v in med.items():
                per_op.setdefault(i, {})[n_ops] = v
    if w == "scaling" and per_op:
        lin = {i: targets.linearity(p) for i, p in per_op.items() if len(p) > 1}
        cells = [
            f"{lin[i][1]} ({'linear' if lin[i][0] else '**not linear**'})" if i in lin else "-"
            for i in impls
        ]
        head_row = "largest / best per-op time"
        lines.append("| " + " | ".join([head_row, *cells, "", "<= 1.5x", ""]) + " |")
        if targets.TG in lin:
            ok, r = lin[targets.TG]
            verdicts.append(
                {
                    "workload": w,
                    "row": "linear",
                    "target": "linear (<= 1.5x)",
                    "met": ok,
                    "measured": r,
                }
            )
    return "\n".join(lines), verdicts


def markdown(
    outcomes: dict[str, Outcome],
    order: list[str],
    cfg: Any,
    info: dict[str, Any],
    skipped: list[str],
) -> str:
    """Every workload's table, the failed checks, and the target summary."""
    parts = [f"Machine: {describe(info)}"]
    parts += skipped
    all_verdicts = []
    for w, o in outcomes.items():
        text, vs = table(w, o, order, cfg)
        all_verdicts += vs
        bad = [c for c in o.checks if not c["ok"]]
        notes = [f"- {n}" for n in o.notes if "NOT TIMED" not in n]
        notes += [
            f"- **mismatch, not timed**: {c['impl']} at {c['row']}: {c['error']}" for c in bad
        ]
        parts.append(text + ("\n\n" + "\n".join(notes) if notes else ""))
    if all_verdicts:
        lines = [
            "### targets (tinygrad_bp, ratios within this run)",
            "",
            "| workload | row | target | measured | met |",
            "|---|---|---|---|---|",
        ]
        for v in all_verdicts:
            met = "n/a" if v["met"] is None else ("yes" if v["met"] else "**no**")
            lines.append(
                f"| {v['workload']} | {v['row']} | {v['target']} | {v['measured']} | {met} |"
            )
        parts.append("\n".join(lines))
    load = info.get("load_average_end")
    if load:
        parts.append(f"Load average at the end: {load[0]:.2f}; total {info['seconds']} s")
    return "\n\n".join(parts)


def payload(
    outcomes: dict[str, Outcome],
    cfg: Any,
    info: dict[str, Any],
    skipped: list[str],
    impls: list[str],
    workloads: list[str],
) -> dict[str, Any]:
    """Everything as JSON-able data: machine, configuration, checks, samples, verdicts."""
    verdicts = []
    order = list(dict.fromkeys(r.impl for o in outcomes.values() for r in o.results))
    for w, o in outcomes.items():
        verdicts += table(w, o, order, cfg)[1]
    return {
        "machine": info,
        "config": dataclasses.asdict(cfg),
        "impls": impls,
        "workloads": workloads,
        "skipped": skipped,
        "checks": [c for o in outcomes.values() for c in o.checks],
        "extra": {w: o.extra for w, o in outcomes.items() if o.extra},
        "notes": [n for o in outcomes.values() for n in o.notes],
        "results": [r.as_dict() for o in outcomes.values() for r in o.results],
        "targets": verdicts,
    }
