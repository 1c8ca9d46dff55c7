"""Ownership by construction: every op that declares ``grads_are_new`` keeps the promise.

The engine keeps such an op's gradients as ``.grad`` without a copy, and the user may write
into a ``.grad`` (``w.grad *= 0.5``), so each one must be a new, writable array that shares memory
with nothing the op was given or kept: not the upstream gradient, not an input, not a saved
value, not another of its gradients. Every row of the op table runs through ``backward`` with
the op's class wrapped to check exactly that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from op_table import OP_TABLE, OpSpec

import tinygrad_bp as tg
from tinygrad_bp.engine import Function, ops
from tinygrad_bp.nn import functional as F

ROWS = [s for s in OP_TABLE if s.differentiable]


def _declaring() -> list[type[Function]]:
    """Every Function subclass in the package that declares new gradients."""
    found, todo = [], list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("tinygrad_bp") and cls.__dict__.get("grads_are_new"):
            found.append(cls)
    return found


def _arrays_of(ctx: Any) -> list[np.ndarray]:
    """The arrays a node holds: saved inputs and output, saved_tensors, op attributes."""
    held = [a for a in (ctx.inputs or ()) if isinstance(a, np.ndarray)]
    held += [a for a in (ctx.saved_tensors or ()) if isinstance(a, np.ndarray)]
    if isinstance(ctx.out, np.ndarray):
        held.append(ctx.out)
    held += [v for v in vars(ctx).values() if isinstance(v, np.ndarray)]
    return held


def _check_new(cls: type[Function], ctx: Any, g: np.ndarray, grads: Any) -> None:
    gs = [x for x in (grads if isinstance(grads, tuple) else (grads,)) if x is not None]
    others = [g, *_arrays_of(ctx)]
    gs = [a for a in gs if not isinstance(a, np.generic)]  # 0-d results: immutable scalars
    for i, a in enumerate(gs):
        assert isinstance(a, np.ndarray), f"{cls.__name__}: gradient {i} is a {type(a)}"
        assert a.flags.writeable, f"{cls.__name__}: gradient {i} is read-only"
        for o in others:
            assert not np.shares_memory(a, o), f"{cls.__name__}: gradient {i} aliases {o.shape}"
        for j, b in enumerate(gs[:i]):
            assert not np.shares_memory(a, b), f"{cls.__name__}: gradients {j}, {i} alias"


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wrap backward of every declaring op; returns the names of the ops that ran."""
    ran: list[str] = []
    for cls in _declaring():
        plain = cls.__dict__.get("backward")
        if plain is None:
            continue
        fn = plain.__func__ if isinstance(plain, staticmethod) else plain

        def backward(ctx: Any, g: Any, cls: type[Function] = cls, fn: Any = fn) -> Any:
            grads = fn(ctx, g)
            if isinstance(g, np.ndarray):
                _check_new(cls, ctx, g, grads)
                ran.append(cls.__name__)
            return grads

        monkeypatch.setattr(cls, "backward", staticmethod(backward))
    return ran


@pytest.mark.parametrize("spec", ROWS, ids=lambda s: s.name)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # (patches are the same)
@given(data=st.data())
def test_ops_declaring_new_gradients_return_new_arrays(
    spec: OpSpec, data: st.DataObject, checked: list[str]
) -> None:
    case = data.draw(spec.inputs(np.float64), label="case")
    xs = [tg.Tensor(a, requires_grad=True) for a in case.arrays]
    out = spec.fn(*xs, **case.kwargs)
    up = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(up)


def test_the_fused_training_ops_return_new_arrays(checked: list[str]) -> None:
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    layer = tg.nn.Linear(4, 3, rng=0).astype(np.float64)
    F.cross_entropy(layer(x), np.array([0, 1, 2, 1, 0])).backward()
    F.nll_loss(layer(x).log_softmax(axis=1), np.array([0, 1, 2, 1, 0])).backward()
    assert {"Affine", "CrossEntropy", "NLLLoss"} <= set(checked)


def test_every_declaring_op_ran_in_the_sweep(checked: list[str]) -> None:
    """The sweep above reaches every op that makes the claim (so none goes unchecked)."""
    declaring = {c.__name__ for c in _declaring()}
    reached = set()
    for spec in ROWS:
        reached |= {c.split(".", 1)[1] for c in spec.covers if c.startswith("ops.")}
        reached |= {
            c.rsplit(".", 1)[1] for c in spec.covers if c.startswith(("nn.conv.", "nn.pooling."))
        }
    missing = declaring - reached - {"Affine", "CrossEntropy", "NLLLoss"}
    assert not missing, f"no op-table row exercises {sorted(missing)}"
    others = declaring - {"Affine", "CrossEntropy", "NLLLoss"}
    assert all(
        hasattr(ops, n) or hasattr(tg.nn.conv, n) or hasattr(tg.nn.pooling, n) for n in others
    )
