"""The command line: ``python -m tinygrad_bp`` / ``tinygrad-bp`` with ``train``, ``evaluate``
and ``graph`` (argparse).

- ``common``: ``CLIError`` and the one-line errors for missing data and checkpoints
- ``threads``: the BLAS thread count (threadpoolctl), chosen, applied and reported
- ``train``: the ``train`` subcommand and its building blocks
- ``commands``: ``evaluate`` and ``graph``
- ``plots``: training.png, grad_flow.png, graph.svg
- ``parser``: the argparse parser and its help text

A problem the user can fix ends with one line ``error: ...`` on stderr and exit status 1,
never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from tinygrad_bp import serialization
from tinygrad_bp.cli.common import CLIError
from tinygrad_bp.cli.parser import build_parser
from tinygrad_bp.cli.plots import history_figure, plot_history
from tinygrad_bp.cli.train import (
    confusion_matrix,
    evaluate_model,
    format_confusion,
    gradient_stats,
    make_optimizer,
)

__all__ = [
    "CLIError",
    "build_parser",
    "confusion_matrix",
    "evaluate_model",
    "format_confusion",
    "gradient_stats",
    "history_figure",
    "main",
    "make_optimizer",
    "plot_history",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CLIError, serialization.CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `tinygrad-bp ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # a directory that cannot be written, a full disk, ...
        print(f"error: {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: {args.command}: interrupted", file=sys.stderr)
        return 130
