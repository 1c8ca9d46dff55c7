"""``train --model cnn``: the LeNet-style CNN on square images, its metrics and checkpoint, and
``evaluate`` of that checkpoint (the Fashion-MNIST figures are in the README; a full run takes
minutes, so the tests use the embedded 8x8 digits)."""

from __future__ import annotations

import json

import pytest

from tinygrad_bp import cli, nn


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn")
    argv = ["train", "--model", "cnn", "--epochs", "2", "--threads", "1", "--quiet"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    return out


def test_train_cnn_records_the_network_and_learns(cnn_run):
    metrics = json.loads((cnn_run / "metrics.json").read_text())
    assert metrics["architecture"] == "lenet-32-64-256"
    assert metrics["activation"] == "relu"
    assert metrics["hyperparameters"]["model"] == "cnn"
    hp = metrics["hyperparameters"]  # the CNN's defaults: Adam at 1e-3, cosine annealing
    assert (hp["optimizer"], hp["lr"], hp["schedule"]) == ("adam", 1e-3, "cosine")
    assert metrics["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    assert (cnn_run / "graph.svg").stat().st_size > 0


def test_evaluate_rebuilds_the_cnn_from_its_checkpoint(cnn_run, capsys):
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(cnn_run)]) == 0
    out = capsys.readouterr().out
    acc = json.loads((cnn_run / "metrics.json").read_text())["test_accuracy"]
    assert "lenet-32-64-256, epoch 2" in out
    assert f"test accuracy {acc:.4f}" in out


def test_lenet_fits_other_square_sizes():
    model = nn.LeNet(num_classes=3, channels=(2, 3), hidden=5, image_size=12, rng=0)
    assert model.layers[7].in_features == 3 * 3 * 3
    assert model.architecture == "lenet-2-3-5"
