"""The benchmark suite can't rot: every workload's correctness check and one tiny timing round
for every implementation installed, through the same code as ``python -m benchmarks``; a wrong
implementation is reported and not timed; the CLI starts without loading numpy first."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import impls, run, targets, workloads  # noqa: E402

TINY = dict(
    samples=1,
    warmup=1,
    min_sample_s=0.0,
    chain_ops=20,
    overhead_sizes=(1, 7),
    mlp_sizes=(12, 6, 3),
    batches=(1, 5),
    epoch_samples=200,
    epoch_batch=16,
    epoch_check_samples=64,
    scaling_ops=(50, 100),
    draw_blocks=4,
    fashion=False,
    cnn_image=8,
    cnn_channels=(2, 3),
    cnn_hidden=4,
    cnn_batches=(3,),
)


@pytest.fixture
def restore_process_state():
    """Adapters may change torch's thread count; the rest of the test session must not see it."""
    limit = sys.getrecursionlimit()
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    yield
    sys.setrecursionlimit(limit)
    torch = sys.modules.get("torch")
    if torch is not None and threads is not None:
        torch.set_num_threads(threads)


def test_benchmarks_suite_checks_and_times_every_workload(tmp_path, capsys, restore_process_state):
    cfg = workloads.Config(**TINY)
    payload = run.run_suite(cfg, run.IMPLS, run.WORKLOADS, threads=1, out=tmp_path)
    loaded, _ = impls.load(run.IMPLS, 1)
    assert {"numpy", "tinygrad_bp"} <= loaded.keys()
    failed = [c for c in payload["checks"] if not c["ok"]]
    assert not failed, failed
    timed = {(r["workload"], r["impl"]) for r in payload["results"]}
    for m in loaded.values():
        for w in run.WORKLOADS:
            if any(m.supports(w, s) for s in (1, 7, 5, 50, 100, 200, 4)):
                assert (w, m.NAME) in timed, f"{m.NAME} not timed on {w}"
    assert all(r["median"] > 0 and len(r["samples"]) == 1 for r in payload["results"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["machine"]["sgemm_gflops_1024"] > 0
    assert (tmp_path / "chart.png").stat().st_size > 1000
    text = capsys.readouterr().out
    for w in run.WORKLOADS:
        assert f"### {w}:" in text
    assert "| B=5 |" in text and "BLAS ideal" in text


def test_benchmarks_mismatch_is_reported_not_timed():
    bad = types.ModuleType("bad")
    bad.NAME = "bad"
    bad.supports = lambda workload, size: True
    bad.chain = lambda x0, n: (0.0, np.zeros_like(x0))  # wrong loss and gradient
    good = impls.load(["numpy"], 1)[0]
    cfg = workloads.Config(**TINY)
    out = workloads.overhead({"bad": bad, **good}, cfg)
    assert {c["impl"] for c in out.checks if not c["ok"]} == {"bad"}
    assert {r.impl for r in out.results} == {"numpy (by hand)"}
    assert any("NOT TIMED" in n and "bad" in n for n in out.notes)


def test_benchmarks_compare_catches_float32_sized_errors():
    ref = np.linspace(-1, 1, 50, dtype=np.float32)
    workloads.compare("ok", ref * (1 + 1e-6), ref)
    with pytest.raises(workloads.Mismatch, match="max abs error"):
        workloads.compare("off", ref + 1e-3, ref)
    with pytest.raises(workloads.Mismatch, match="shape"):
        workloads.compare("shape", ref[:-1], ref)


def test_benchmarks_targets_verdicts():
    med = {"tinygrad_bp": 3.0, "PyTorch": 6.0, "numpy (by hand)": 1.4}
    assert targets.verdict("overhead", "100 elements", med)[1] is True
    assert targets.verdict("overhead", "100 elements", {**med, "tinygrad_bp": 4.5})[1] is False
    assert targets.verdict("mlp_step", "B=1024", {**med, "tinygrad_bp": 1.5})[1] is True
    assert targets.verdict("mlp_step", "B=128", med)[1] is None  # no target for this row
    epoch = {"tinygrad_bp": 0.40, "numpy (by hand)": 0.34, "MyGrad": 0.39}
    assert targets.verdict("epoch", "60,000 samples, B=64", epoch)[1] is False  # not fastest
    assert targets.linearity({1000: 3.0, 10**4: 2.0, 10**5: 2.2})[0] is True
    assert targets.linearity({1000: 3.0, 10**4: 2.0, 10**5: 4.0})[0] is False


@pytest.mark.parametrize("cmd", [["-m", "benchmarks"], ["benchmarks/run.py"]])
def test_benchmarks_cli_starts_without_numpy(cmd):
    code = (
        "import runpy, sys; sys.argv = ['x', '--help']\n"
        f"target = {cmd[-1]!r}\n"
        "try:\n"
        "    runpy.run_module(target, run_name='__main__') if target == 'benchmarks' "
        "else runpy.run_path(target, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'numpy' not in sys.modules, 'numpy loaded before the thread settings'\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "--threads" in r.stdout and "--workloads" in r.stdout


def test_benchmarks_threads_set_before_numpy():
    code = (
        "import sys; from benchmarks import run\n"
        "run.set_threads(3)\n"
        "import os; assert os.environ['OPENBLAS_NUM_THREADS'] == '3'\n"
        "assert 'numpy' not in sys.modules\n"
        "args = run.parse_args(['--quick', '--impls', 'numpy', '--workloads', 'draw'])\n"
        "assert args.quick and args.impls == ['numpy'] and args.threads == 1\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr


def test_benchmarks_insitu_step_timing_reports_every_phase():
    from benchmarks import insitu

    r = insitu.measure(batch=16, epochs=1, samples=160)
    assert set(r) == {"forward", "backward", "optim", "step", "hand", "ratio"}
    assert all(v > 0 for v in r.values())
    assert r["step"] >= r["forward"] and r["ratio"] == r["step"] / r["hand"]


def test_apply_cost_compares_like_with_like(monkeypatch):
    """benchmarks/apply_cost.py's written-out applies record the same nodes as Function.apply
    (so its figures compare like with like), and the check notices when they do not."""
    from benchmarks import apply_cost

    apply_cost.check_same_nodes()
    real = apply_cost.apply_one

    def forgets_the_output(cls, x):
        t = real(cls, x)
        t.grad_fn.out = None
        return t

    monkeypatch.setattr(apply_cost, "apply_one", forgets_the_output)
    with pytest.raises(AssertionError):
        apply_cost.check_same_nodes()


@pytest.mark.parametrize("mode", [[], ["--chain"]])
def test_apply_cost_runs(mode):
    r = subprocess.run(
        [sys.executable, "benchmarks/apply_cost.py", "--samples", "1", *mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == (4 if mode else 5)  # a header and the rows
