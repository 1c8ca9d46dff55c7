"""What every subcommand shares: ``CLIError`` (a one-line message, exit status 1), optional
imports (viz, tqdm), loading a dataset and finding a checkpoint with errors that say what to do."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from tinygrad_bp import data

__all__ = [
    "CLIError",
    "checkpoint_path",
    "load_dataset",
    "log",
    "optional_dependency_missing",
    "progress_bar_class",
    "viz_module",
]


class CLIError(Exception):
    """A problem the user can fix (missing data, mismatched checkpoint); main prints
    ``error: MESSAGE`` on one line and exits with status 1."""


def log(msg: str) -> None:
    """A message for the user on stderr (stdout keeps the results)."""
    print(msg, file=sys.stderr)


def viz_module() -> ModuleType | None:
    """``tinygrad_bp.viz`` if it exists (errors inside it are not hidden)."""
    try:
        from tinygrad_bp import viz
    except ModuleNotFoundError as e:
        if e.name != "tinygrad_bp.viz":
            raise
        return None
    return viz


def optional_dependency_missing(e: BaseException) -> bool:
    """graphviz or matplotlib (or the ``dot`` program) not installed."""
    try:
        from graphviz import ExecutableNotFound  # viz's DotNotFoundError is one too
    except ImportError:
        return isinstance(e, ImportError)
    return isinstance(e, (ImportError, ExecutableNotFound))


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def progress_bar_class(quiet: bool, stdout: Any = None, stderr: Any = None) -> Any:
    """``tqdm`` when progress bars should show: not ``--quiet``, tqdm installed, and both
    stdout and stderr are terminals (a log file or a pipe gets the epoch lines only)."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    if quiet or not (_isatty(stdout) and _isatty(stderr)):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


MNIST_HINT = (
    "if this machine is offline, copy the four MNIST files ("
    + ", ".join(data.MNIST_SHA256)
    + ") into a directory and pass --data-dir DIR"
)


def load_dataset(name: str, root: str | None) -> data.Dataset:
    """``data.load_dataset`` with missing files and failed downloads as ``CLIError``."""
    try:
        if name == "mnist":
            cache = Path(root) if root is not None else data.cache_dir()
            if not all((cache / f).is_file() for f in data.MNIST_SHA256):
                log(f"fetching MNIST into {cache} (--data-dir DIR to use files you have)")
            return data.load_mnist(root, quiet=True)
        return data.load_dataset(name, root)
    except data.DownloadError as e:
        reasons = e.errors or str(e).splitlines()[:1]
        raise CLIError(f"could not download MNIST ({reasons[0]}); {MNIST_HINT}") from None
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None


def checkpoint_path(path: str, option: str) -> Path:
    """The checkpoint file ``path`` names (a run directory means its checkpoint.npz)."""
    p = Path(path)
    if p.is_dir() and (p / "checkpoint.npz").is_file():
        return p / "checkpoint.npz"
    if not p.is_file():
        raise CLIError(
            f"{option}: no checkpoint at {path}; `tinygrad-bp train --out DIR` writes one to "
            "DIR/checkpoint.npz (the default DIR is runs/DATASET)"
        )
    return p
