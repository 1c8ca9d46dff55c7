"""The targets of issue 7 (ratios within one run, one thread) and the per-row verdicts."""

from __future__ import annotations

from collections.abc import Callable

TG, NP, TORCH = "tinygrad_bp", "numpy (by hand)", "PyTorch"
AUTOGRADS = (TG, TORCH, "MyGrad", "HIPS autograd", "micrograd")

Medians = dict[str, float]


def _overhead_small(med: Medians) -> tuple[bool, str]:
    t = med[TG]
    if TORCH not in med:
        return t <= 4.0, f"{t:.2f} us/op (PyTorch not run)"
    r = t / med[TORCH]
    return t <= 4.0 and r <= 0.7, f"{t:.2f} us/op, {r:.2f}x PyTorch"


def _vs_numpy(limit: float) -> Callable[[Medians], tuple[bool, str]]:
    def verdict(med: Medians) -> tuple[bool, str]:
        r = med[TG] / med[NP]
        return r <= limit, f"{r:.2f}x numpy"

    return verdict


def _epoch(med: Medians) -> tuple[bool, str]:
    r = med[TG] / med[NP]
    others = [v for k, v in med.items() if k in AUTOGRADS and k != TG]
    fastest = all(med[TG] < v for v in others)
    return r <= 1.25 and fastest, f"{r:.2f}x numpy" + ("" if fastest else ", not the fastest")


def _cnn(med: Medians) -> tuple[bool, str]:
    if TORCH not in med:
        return False, "PyTorch not run"
    r = med[TG] / med[TORCH]
    others = [v for k, v in med.items() if k in AUTOGRADS and k not in (TG, TORCH)]
    ahead = all(med[TG] < v for v in others)
    return r <= 2.0 and ahead, f"{r:.2f}x PyTorch" + ("" if ahead else ", behind another")


# (workload, row prefix) -> (target text, verdict); rows not listed have no target
TARGETS: dict[tuple[str, str], tuple[str, Callable[[Medians], tuple[bool, str]]]] = {
    ("overhead", "1 element"): ("<= 4.0 us and <= 0.7x PyTorch", _overhead_small),
    ("overhead", "100 elements"): ("<= 4.0 us and <= 0.7x PyTorch", _overhead_small),
    ("overhead", "10,000 elements"): ("<= 1.3x numpy", _vs_numpy(1.3)),
    ("mlp_step", "B=1"): ("<= 0.30 ms", lambda med: (med[TG] <= 0.30, f"{med[TG]:.3f} ms")),
    ("mlp_step", "B=32"): ("<= 1.5x numpy", _vs_numpy(1.5)),
    ("mlp_step", "B=1024"): ("<= 1.1x numpy", _vs_numpy(1.1)),
    ("epoch", ""): ("<= 1.25x numpy, fastest autograd", _epoch),
    ("draw", ""): ("< 500 ms", lambda med: (med[TG] < 500, f"{med[TG]:.0f} ms")),
    ("cnn_step", ""): ("<= 2.0x PyTorch, ahead of MyGrad and HIPS autograd", _cnn),
}


def target_for(workload: str, row: str) -> tuple[str, Callable[[Medians], tuple[bool, str]]] | None:
    """The target of a row (a key's row prefix '' matches every row of the workload)."""
    for (w, prefix), t in TARGETS.items():
        if w == workload and prefix in ("", row):
            return t
    return None


def verdict(workload: str, row: str, med: Medians) -> tuple[str, bool | None, str]:
    """(target text, met or None when not measurable, detail) for one row."""
    t = target_for(workload, row)
    if t is None:
        return "", None, ""
    text, fn = t
    need = {TG} | ({NP} if "numpy" in text else set())
    if not need <= med.keys():
        return text, None, "not measured (" + ", ".join(sorted(need - med.keys())) + " missing)"
    met, detail = fn(med)
    return text, met, detail


def fastest_other(med: Medians) -> tuple[str, float] | None:
    """The fastest autograd other than tinygrad_bp in this row, and tinygrad_bp's ratio to it."""
    others = {k: v for k, v in med.items() if k in AUTOGRADS and k != TG}
    if TG not in med or not others:
        return None
    k = min(others, key=others.__getitem__)
    return k, med[TG] / others[k]


def linearity(per_op: dict[int, float]) -> tuple[bool, str]:
    """Backward time per op across chain lengths: linear when the largest chain's per-op time
    is within 1.5x of the smallest per-op time measured from 10^4 ops up."""
    sizes = sorted(per_op)
    base = [per_op[n] for n in sizes if n >= 10**4] or [per_op[sizes[0]]]
    r = per_op[sizes[-1]] / min(base)
    return r <= 1.5, f"{r:.2f}x"
