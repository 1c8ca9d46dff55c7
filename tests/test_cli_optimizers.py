"""`train --optimizer rmsprop | adagrad`: each trains the digits MLP (the loss goes down epoch
after epoch), records its defaults (learning rate from DEFAULT_LR, the optimizer's own other
settings) in metrics.json and says them in --help (resuming RMSprop on the exact loss curve:
tests/test_serialization.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_bp import cli, nn, optim
from tinygrad_bp.cli import train as cli_train

NEW = {"rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}


@pytest.mark.parametrize("name", NEW)
def test_train_with_new_optimizer_lowers_the_loss(name, tmp_path):
    argv = ["train", "--optimizer", name, "--epochs", "3", "--hidden", "16", "--quiet"]
    assert cli.main([*argv, "--threads", "1", "--out", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    losses = [h["train_loss"] for h in m["history"]]
    assert losses[0] > losses[1] > losses[2], losses
    assert m["history"][-1]["test_accuracy"] > 0.8  # 10 classes: chance is 0.1
    hp = m["hyperparameters"]
    assert m["optimizer"] == name and hp["lr"] == cli_train.DEFAULT_LR[name]
    assert hp["momentum"] is None  # --momentum belongs to the SGD variants
    settings = NEW[name]([nn.Parameter(np.zeros(1))], lr=hp["lr"]).defaults
    assert hp["optimizer_settings"] == settings


@pytest.mark.parametrize("name", NEW)
def test_make_optimizer_builds_the_new_optimizers(name):
    p = nn.Parameter(np.zeros(3))
    opt = cli_train.make_optimizer(name, [p], 0.05, 1e-4)
    assert type(opt) is NEW[name]
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["weight_decay"] == 1e-4


def test_new_optimizers_and_their_learning_rates_in_help(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{sgd,momentum,nesterov,adam,rmsprop,adagrad}" in text
    assert "rmsprop: RMSprop" in text and "adagrad: Adagrad" in text
    assert "0.003 for rmsprop, 0.1 for adagrad" in text


def test_momentum_is_refused_for_the_new_optimizers(tmp_path, capsys):
    argv = ["train", "--optimizer", "rmsprop", "--momentum", "0.5", "--out", str(tmp_path)]
    assert cli.main(argv) == 1
    assert "--momentum applies to --optimizer momentum or nesterov" in capsys.readouterr().err
