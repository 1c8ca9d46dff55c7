"""End to end: the default `train` command on the embedded digits (>= 97% test accuracy,
well under 20 s, all artifacts), `evaluate`, `graph`, and a short Fashion-MNIST run."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tinygrad_bp import cli, data, nn, optim
from tinygrad_bp.nn import functional as F


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    t0 = time.perf_counter()
    status = cli.main(["train", "--out", str(out)])
    return out, status, time.perf_counter() - t0


def test_default_train_reaches_97_percent_on_digits_quickly(default_run):
    out, status, seconds = default_run
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "digits" and metrics["architecture"] == "64-100-10"
    assert metrics["activation"] == "sigmoid" and metrics["optimizer"] == "momentum"
    assert metrics["test_accuracy"] >= 0.97
    assert seconds < 20
    hist = metrics["history"]
    assert len(hist) == metrics["epochs"] and hist[-1]["train_loss"] < hist[0]["train_loss"]
    stats = hist[-1]["grad_stats"]
    assert set(stats) == {"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"}
    assert all(0 < s["mean_abs"] <= s["max_abs"] for s in stats.values())
    cm = np.array(metrics["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 360
    assert np.trace(cm) / 360 == pytest.approx(metrics["test_accuracy"])


def test_default_train_writes_all_artifacts(default_run):
    out, _, _ = default_run
    names = {p.name for p in out.iterdir()}
    assert {"checkpoint.npz", "metrics.json", "training.png", "graph.svg", "grad_flow.png"} <= names
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "grad_flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "graph.svg").read_bytes()


def test_default_train_prints_progress(default_run, capsys, tmp_path):
    assert cli.main(["train", "--epochs", "2", "--hidden", "8", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "epoch   1/2  train loss" in printed and "test accuracy" in printed


def test_evaluate_prints_accuracy_and_confusion_matrix(default_run, capsys):
    out, _, _ = default_run
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(out / "checkpoint.npz")]) == 0
    text = capsys.readouterr().out
    acc = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    assert f"test accuracy {acc:.4f}" in text
    assert "true \\ pred" in text and len(text.strip().splitlines()) >= 13


def test_evaluate_rejects_a_broken_checkpoint(tmp_path, capsys):
    bad = tmp_path / "c.npz"
    bad.write_bytes(b"junk")
    assert cli.main(["evaluate", "--checkpoint", str(bad)]) == 1
    assert "error:" in capsys.readouterr().err


def test_graph_subcommand_writes_a_drawing(tmp_path):
    out = tmp_path / "g.svg"
    assert cli.main(["graph", "--model", "20-8-3", "--activation", "relu", "--out", str(out)]) == 0
    svg = out.read_text()
    assert "<svg" in svg and "Linear" in svg
    assert cli.main(["graph", "--model", "20-x", "--out", str(out)]) == 2


def test_graph_and_train_without_the_dot_program_explain_and_keep_the_source(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "g.svg"
    assert cli.main(["graph", "--model", "6-4-2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and not out.exists()
    assert "digraph" in (tmp_path / "g.gv").read_text()
    run = tmp_path / "run"
    assert cli.main(["train", "--epochs", "1", "--quiet", "--out", str(run)]) == 0
    assert "skipping graph.svg" in capsys.readouterr().err
    assert (run / "checkpoint.npz").exists() and not (run / "graph.svg").exists()


def test_train_options_adam_relu_schedule_two_hidden_layers(tmp_path):
    args = [
        "train",
        "--quiet",
        "--epochs",
        "3",
        "--hidden",
        "32",
        "16",
        "--activation",
        "relu",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--schedule",
        "step",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(args) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["architecture"] == "64-32-16-10" and m["history"][-1]["test_accuracy"] > 0.8
    assert [h["lr"] for h in m["history"]] == pytest.approx([1e-2, 1e-3, 1e-4])


def test_train_on_missing_fashion_dir_is_a_clear_error(tmp_path, capsys):
    args = [
        "train",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(tmp_path),
        "--out",
        str(tmp_path),
    ]
    assert cli.main(args) == 1
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_short_fashion_mnist_run_learns():
    """One epoch on 12,000 images: a sanity check (the 10-epoch runs are in the report)."""
    ds = data.load_fashion_mnist()
    model = nn.MLP([784, 100, 10], "sigmoid", rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for xb, yb in data.DataLoader(ds.x_train[:12000], ds.y_train[:12000], 64, shuffle=True, seed=0):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, acc, _ = cli.evaluate_model(model, ds.x_test[:2000], ds.y_test[:2000])
    assert acc > 0.75
