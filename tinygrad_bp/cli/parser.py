"""The argparse parser: plain-text help that lists the three commands, every option with a
help line that shows its default."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from tinygrad_bp.cli.commands import ACTIVATIONS, evaluate, graph
from tinygrad_bp.cli.train import DEFAULT_LR, DEFAULTS, MOMENTUM, OPTIMIZERS, train

__all__ = ["build_parser"]

DESCRIPTION = "Train, evaluate and draw small MLPs with tinygrad_bp."

EPILOG = """\
examples:
  tinygrad-bp train
  tinygrad-bp train --dataset fashion-mnist --hidden 100 --epochs 10
  tinygrad-bp evaluate --checkpoint runs/digits/checkpoint.npz
  tinygrad-bp graph --model 784-100-10 --out graph.svg

`tinygrad-bp COMMAND --help` lists a command's options (python -m tinygrad_bp works too).
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks; appends ``(default: X)`` to every option's
    help unless the help already says its default (options whose default depends on
    others spell it out)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if isinstance(action, argparse._StoreTrueAction):
            return f"{text} (default: off)"
        if action.default is None:
            return text
        value = action.default
        if isinstance(value, list):
            value = " ".join(map(str, value))
        return f"{text} (default: {value})"


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {n}")
    return n


def _subparser(sub: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=textwrap.fill(description, 88), formatter_class=_Formatter
    )
    return p


def _threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="BLAS threads (default: chosen from the matmul sizes, usually 1, or taken from "
        "OPENBLAS_NUM_THREADS/OMP_NUM_THREADS/MKL_NUM_THREADS when set; needs threadpoolctl)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of all subcommands."""
    p = argparse.ArgumentParser(
        prog="tinygrad-bp", description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter
    )
    sub = p.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    datasets = sorted(DEFAULTS)

    t = _subparser(
        sub,
        "train",
        "train an MLP (default: the article's 64-100-10 sigmoid network on the embedded "
        "digits); writes checkpoint.npz, metrics.json, training.png, grad_flow.png, graph.svg",
        "Train an MLP with cross-entropy and write checkpoint.npz, metrics.json (every "
        "hyperparameter, loss, accuracy and gradient statistics per epoch), training.png, "
        "grad_flow.png and graph.svg into --out.",
    )
    t.add_argument("--dataset", choices=datasets, default="digits", help="training data")
    t.add_argument(
        "--model",
        choices=["mlp", "cnn"],
        default="mlp",
        help="mlp: Linear layers of --hidden sizes with --activation; cnn: a LeNet-style net "
        "(conv 5x5, 32 channels -> ReLU -> max-pool 2x2 -> conv 5x5, 64 -> ReLU -> max-pool 2x2 "
        "-> dense 256 -> ReLU -> dropout 0.5 -> dense; --hidden and --activation do not apply)",
    )
    t.add_argument(
        "--hidden", type=_positive_int, nargs="+", default=[100], metavar="N", help="hidden sizes"
    )
    t.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid", help="hidden activation")
    t.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help="sgd: plain SGD; momentum / nesterov: SGD with --momentum; adam: Adam; rmsprop: "
        "RMSprop (alpha 0.99); adagrad: Adagrad (default: momentum; adam for --model cnn)",
    )
    adaptive = ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_LR.items())
    t.add_argument(
        "--lr",
        type=float,
        help=f"learning rate (default: 0.1 for SGD, 0.02 for SGD with --model cnn; {adaptive})",
    )
    t.add_argument(
        "--momentum",
        type=float,
        help=f"momentum factor of --optimizer momentum and nesterov (default: {MOMENTUM})",
    )
    t.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty added to the grads")
    t.add_argument(
        "--schedule",
        choices=["none", "cosine", "step"],
        help="learning-rate schedule: cosine annealing to 0, or x0.1 every third of the epochs "
        "(default: none; cosine for --model cnn)",
    )
    t.add_argument(
        "--batch-size",
        type=_positive_int,
        help="samples per step (default: 16 for digits, else 64)",
    )
    t.add_argument(
        "--epochs",
        type=_positive_int,
        help="passes over the data (default: 50 for digits, 5 for --model cnn, else 10)",
    )
    t.add_argument(
        "--label-smoothing",
        type=float,
        help="cross-entropy label smoothing (default: 0.1 for digits, else 0)",
    )
    t.add_argument("--seed", type=int, default=0, help="seed of the initial weights and shuffles")
    t.add_argument(
        "--out", metavar="DIR", help="output directory (default: runs/DATASET, e.g. runs/digits)"
    )
    t.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory of the IDX .gz files (default: Debian's dataset-fashion-mnist "
        "for fashion-mnist, ~/.cache/tinygrad_bp/mnist for mnist; digits are built in)",
    )
    t.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from this checkpoint.npz (or run directory) up to --epochs (default: "
        "start afresh)",
    )
    _threads_option(t)
    t.add_argument(
        "--quiet",
        action="store_true",
        help="print only the final line (progress bars show only on a terminal anyway)",
    )
    t.set_defaults(func=train)

    e = _subparser(
        sub,
        "evaluate",
        "test accuracy and confusion matrix of a checkpoint (from train, or a file written "
        "by Module.save / nn.MLP.save)",
        "Print the test accuracy, loss and confusion matrix of a checkpoint written by train, "
        "or of a file written by Module.save / nn.MLP.save holding an MLP's parameters.",
    )
    e.add_argument(
        "--checkpoint",
        required=True,
        metavar="FILE",
        help="checkpoint.npz from train (or its run directory), or a Module.save file "
        "(required, no default)",
    )
    e.add_argument(
        "--dataset",
        choices=datasets,
        help="test data (default: the one the checkpoint was trained on; digits for 64 inputs)",
    )
    e.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        help="hidden activation (default: the one the file records; needed for Module.save "
        "files without it)",
    )
    e.add_argument(
        "--data-dir", metavar="DIR", help="directory of the IDX .gz files (default: as train)"
    )
    _threads_option(e)
    e.set_defaults(func=evaluate)

    g = _subparser(
        sub,
        "graph",
        "draw the gradient graph of one forward/backward pass of an MLP (svg, png, pdf)",
        "Draw the graph of one forward/backward pass of a freshly initialised MLP on random "
        "inputs, ops and parameters coloured by their mean |gradient|.",
    )
    g.add_argument("--model", default="784-100-10", help="layer sizes joined by dashes")
    g.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid", help="hidden activation")
    g.add_argument("--batch", type=_positive_int, default=4, help="samples in the random batch")
    g.add_argument("--seed", type=int, default=0, help="seed of the weights, inputs and labels")
    g.add_argument("--out", default="graph.svg", metavar="FILE", help="output file")
    g.add_argument(
        "--format",
        help="svg, png, pdf or another format of Graphviz's dot -T (default: from --out's suffix)",
    )
    g.set_defaults(func=graph)
    return p
