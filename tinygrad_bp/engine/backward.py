"""``backward`` and ``grad``, the walk's entry points: check what the caller asked for, make
the root gradients (copies the walk may keep), run ``run_backward``, hand back the results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.grad_mode import set_grad_enabled
from tinygrad_bp.engine.ops import Clone
from tinygrad_bp.engine.tensor import Tensor, _make
from tinygrad_bp.engine.walk import run_backward

__all__ = ["backward", "grad"]


def backward(
    t: Tensor, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
) -> None:
    """Accumulate d(t)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    _check_root(t, 0, "backward")
    g = _root_grad(t, grad, create_graph, "backward")
    run_backward((t,), (g,), retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple; ``.grad``
    attributes are left alone.

    Args:
        outputs: a Tensor or sequence of Tensors to differentiate.
        inputs: the Tensors (leaves or intermediates) to differentiate with respect to.
        grad_outputs: upstream gradients, one per output (None for one-element outputs).
        retain_graph: keep saved values for another walk; defaults to ``create_graph``.
        create_graph: record the backward pass so the results can be differentiated again.
        allow_unused: return None for an input the outputs do not depend on instead of raising.
    """
    outs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    ins = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if grad_outputs is None or isinstance(
        grad_outputs, (Tensor, np.ndarray, np.generic, int, float)
    ):
        gos = (grad_outputs,) * len(outs) if grad_outputs is None else (grad_outputs,)
    else:
        gos = tuple(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"grad: got {len(gos)} grad_outputs for {len(outs)} outputs")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad; nothing to differentiate")
    for i, t in enumerate(outs):
        _check_root(t, i, "grad")
    root_grads = [_root_grad(t, g, create_graph, "grad") for t, g in zip(outs, gos)]
    if retain_graph is None:
        retain_graph = create_graph
    captured = run_backward(outs, root_grads, retain_graph, create_graph, inputs=ins)
    assert captured is not None
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = captured.get(id(t._ctx or t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
        elif isinstance(g, Tensor):  # its own memory: results never alias each other
            if g.requires_grad:
                with set_grad_enabled(True):
                    result.append(Clone.apply(g))
            else:
                result.append(_make(g.data.copy(), False))
        else:
            result.append(_make(np.array(g, dtype=t.data.dtype), False))
    return tuple(result)


def _root_grad(t: Tensor, g: Any, create_graph: bool, where: str) -> Any:
    """The gradient the walk starts from: ones for a one-element output, or a copy of the
    caller's (the walk may keep it as a ``.grad``; the caller's array must stay theirs)."""
    if g is None:
        d = t.data
        if d.size != 1:
            raise RuntimeError(
                f"{where}: the output has shape {t.shape}; a gradient can be created implicitly "
                "only for a one-element output. Pass grad= (an array of the output's shape), "
                "or reduce the output first (e.g. loss.sum() or loss.mean())."
            )
        arr = np.array(1, dtype=d.dtype).reshape(d.shape)  # (np.ones costs two Python calls)
        return _make(arr, False) if create_graph else arr
    if isinstance(g, Tensor):
        gt = g
    else:
        gt = _make(np.array(g, dtype=t.data.dtype), False)
    if gt.shape != t.shape:
        raise ValueError(
            f"{where}: grad has shape {gt.shape} but the output has shape {t.shape}; "
            "pass a gradient of the output's shape"
        )
    if create_graph:
        return gt
    return np.array(gt.data, dtype=t.data.dtype)


def _check_root(t: Tensor, i: int, where: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: output {i} is a {type(t).__name__}, expected a Tensor")
    if not t.requires_grad:
        raise RuntimeError(
            f"{where}: output {i} (shape {t.shape}) does not require grad and has no grad_fn: "
            "no input of the computation has requires_grad=True, or it ran under no_grad()"
        )
