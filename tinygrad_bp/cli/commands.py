"""The ``evaluate`` and ``graph`` subcommands.

``evaluate`` reads a ``train`` checkpoint, or a file written by ``Module.save`` /
``nn.MLP.save`` whose parameters are an MLP's (``layers.0.weight``, ... or a plain
``Sequential``'s ``0.weight``, ...); what the file does not record (activation, dataset) comes
from options, and a missing one is named in the error.
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_bp import nn, serialization
from tinygrad_bp.cli.common import (
    CLIError,
    checkpoint_path,
    load_dataset,
    log,
    optional_dependency_missing,
    viz_module,
)
from tinygrad_bp.cli.threads import blas_threads, largest_matmul
from tinygrad_bp.cli.train import (
    as_images,
    confusion_matrix,
    evaluate_model,
    format_confusion,
)
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn import functional as F
from tinygrad_bp.nn.layers import ACTIVATIONS as NN_ACTIVATIONS

__all__ = ["ACTIVATIONS", "evaluate", "graph", "mlp_sizes"]

# the hidden activations the CLI offers: nn.ACTIVATIONS but identity (a linear network)
ACTIVATIONS = tuple(name for name in NN_ACTIVATIONS if name != "identity")
EVAL_BATCH = 1000  # evaluate_model's batch size
_KEY = re.compile(r"^(?:layers\.)?(\d+)\.(weight|bias)$")
_NEEDS = (
    "evaluate takes the checkpoint.npz that `tinygrad-bp train` writes, or a file from "
    "Module.save / nn.MLP.save holding an MLP's parameters"
)


def mlp_sizes(state: dict[str, Any]) -> list[int] | None:
    """Layer sizes of an MLP state dict (``layers.0.weight`` ... as ``nn.MLP`` names them,
    or ``0.weight`` ... from a ``Sequential`` of Linear and activation layers); None when
    the parameters are not a chain of Linear layers at indices 0, 2, 4, ..."""
    layers: dict[int, dict[str, Any]] = {}
    prefixes = set()
    for k, v in state.items():
        m = _KEY.match(k)
        if m is None:
            return None
        prefixes.add(k.startswith("layers."))
        layers.setdefault(int(m.group(1)), {})[m.group(2)] = np.asarray(v)
    if not layers or len(prefixes) != 1 or sorted(layers) != list(range(0, 2 * len(layers), 2)):
        return None
    if any("weight" not in layers[i] or layers[i]["weight"].ndim != 2 for i in layers):
        return None
    ws = [layers[i]["weight"] for i in sorted(layers)]
    if any(a.shape[1] != b.shape[0] for a, b in itertools.pairwise(ws)):
        return None
    for i, w in zip(sorted(layers), ws):
        b = layers[i].get("bias")
        if b is None or b.shape != (w.shape[1],):  # nn.MLP's layers all have a bias
            return None
    return [int(ws[0].shape[0])] + [int(w.shape[1]) for w in ws]


def _read(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model state and the metadata of a checkpoint or a Module.save file."""
    blob = serialization.load(path)
    if not isinstance(blob, dict) or not isinstance(blob.get("model"), dict):
        raise CLIError(f"evaluate: {path} holds no model parameters; {_NEEDS}")
    meta = blob.get("meta")
    return blob["model"], dict(meta) if isinstance(meta, dict) else {}


def _pick_dataset(args: argparse.Namespace, meta: dict[str, Any], n_in: int) -> str:
    if args.dataset:
        return str(args.dataset)
    if meta.get("dataset"):
        return str(meta["dataset"])
    if n_in == 64:
        return "digits"
    raise CLIError(
        f"evaluate: the file does not say which dataset its {n_in}-input network was trained "
        "on; pass --dataset fashion-mnist or --dataset mnist"
    )


def evaluate(args: argparse.Namespace) -> int:
    """The ``evaluate`` subcommand: test accuracy and confusion matrix of a checkpoint."""
    path = checkpoint_path(args.checkpoint, "evaluate --checkpoint")
    state, meta = _read(path)
    if meta.get("model") == "cnn":
        return _evaluate_cnn(args, path, state, meta)
    sizes = mlp_sizes(state)
    if sizes is None:
        names = ", ".join(list(state)[:4]) + (", ..." if len(state) > 4 else "")
        raise CLIError(
            f"evaluate: {path} holds parameters ({names}) that are not an MLP's chain of Linear "
            f"layers; {_NEEDS}. Evaluate other models in Python with model.load(path)"
        )
    activation = args.activation or meta.get("activation")
    if activation not in ACTIVATIONS:
        raise CLIError(
            f"evaluate: {path} does not record its activation; pass --activation "
            f"{'|'.join(ACTIVATIONS)} (model.save(path, activation=...) records it)"
        )
    name = _pick_dataset(args, meta, sizes[0])
    trained_on = meta.get("dataset")
    data_dir = args.data_dir or (meta.get("args") or {}).get("data_dir")
    ds = load_dataset(name, data_dir if name == trained_on else args.data_dir)
    arch = "-".join(map(str, sizes))
    if (sizes[0], sizes[-1]) != (ds.num_features, ds.num_classes):
        origin = f", trained on {trained_on}" if trained_on else ""
        fix = f"evaluate it with --dataset {trained_on}" if trained_on else "pass --dataset"
        raise CLIError(
            f"evaluate: {path} is a {arch} network ({sizes[0]} inputs, {sizes[-1]} classes"
            f"{origin}); {ds.name} has {ds.num_features} inputs and {ds.num_classes} classes: "
            f"{fix}"
        )
    model = nn.MLP(sizes, activation)
    model.load_state_dict(
        {k if k.startswith("layers.") else f"layers.{k}": v for k, v in state.items()}
    )
    with blas_threads(args.threads, largest_matmul(sizes, EVAL_BATCH)) as threads:
        log(threads.describe())
        loss, acc, pred = evaluate_model(model, ds.x_test, ds.y_test, EVAL_BATCH)
    cm = confusion_matrix(ds.y_test, pred, ds.num_classes)
    epoch = f", epoch {meta['epoch']}" if "epoch" in meta else ""
    print(f"{args.checkpoint}: {arch} {activation}{epoch}")
    print(f"test accuracy {acc:.4f}  test loss {loss:.4f}  ({len(ds.y_test)} {ds.name} images)")
    print(format_confusion(cm, ds.classes))
    return 0


def _evaluate_cnn(
    args: argparse.Namespace, path: Path, state: dict[str, Any], meta: dict[str, Any]
) -> int:
    """``evaluate`` of a ``train --model cnn`` checkpoint: the LeNet its metadata describes."""
    name = args.dataset or meta["dataset"]
    data_dir = args.data_dir or (meta.get("args") or {}).get("data_dir")
    ds = as_images(load_dataset(name, data_dir if name == meta["dataset"] else args.data_dir))
    model = nn.LeNet(**meta["lenet"])
    try:
        model.load_state_dict(state)
    except ValueError as e:
        raise CLIError(f"evaluate: {path} does not fit {name}: {e}") from None
    with blas_threads(args.threads, 0) as threads:
        log(threads.describe())
        loss, acc, pred = evaluate_model(model, ds.x_test, ds.y_test, EVAL_BATCH)
    cm = confusion_matrix(ds.y_test, pred, ds.num_classes)
    print(f"{args.checkpoint}: {model.architecture}, epoch {meta.get('epoch')}")
    print(f"test accuracy {acc:.4f}  test loss {loss:.4f}  ({len(ds.y_test)} {ds.name} images)")
    print(format_confusion(cm, ds.classes))
    return 0


def _graph_format(out: Path, fmt: str | None) -> str:
    """The graphviz output format from --format or --out's suffix, checked up front."""
    name = (fmt or out.suffix.lstrip(".") or "svg").lower()
    try:
        from graphviz import FORMATS
    except ImportError:
        return name  # render_graph explains how to install graphviz
    if name not in FORMATS:
        where = f"--format {fmt}" if fmt else f"--out {str(out)!r} ends in .{name}"
        raise CLIError(
            f"graph: {where}, which Graphviz cannot write; use an --out ending in .svg, .png "
            "or .pdf (or --format with one of dot -T's formats, e.g. jpg, ps, dot)"
        )
    return name


def graph(args: argparse.Namespace) -> int:
    """The ``graph`` subcommand: draw the gradient graph of one forward/backward, ops
    coloured by their gradients."""
    viz = viz_module()
    if viz is None:
        log("graph: tinygrad_bp.viz is not available in this installation; cannot draw")
        return 1
    try:
        sizes = [int(s) for s in args.model.split("-")]
    except ValueError:
        log(f"graph: --model must look like 784-100-10, got {args.model!r}")
        return 2
    if len(sizes) < 2 or min(sizes) < 1:
        log(f"graph: --model needs two or more positive sizes like 784-100-10, got {args.model!r}")
        return 2
    out = Path(args.out)
    fmt = _graph_format(out, args.format)
    model = nn.MLP(sizes, args.activation, rng=args.seed)
    rng = np.random.default_rng(args.seed)
    x = Tensor(rng.random((args.batch, sizes[0]), dtype=np.float32), name="x")
    loss = F.cross_entropy(model(x), rng.integers(0, sizes[-1], args.batch))
    with viz.capture_grads(loss):  # so the ops are coloured, not only the parameters
        loss.backward()
    try:
        viz.render_graph(viz.draw_graph(loss, params=model), out, format=fmt)
    except Exception as e:
        if not optional_dependency_missing(e):
            raise
        log(f"graph: {e}")
        return 1
    print(f"wrote {out}")
    return 0
