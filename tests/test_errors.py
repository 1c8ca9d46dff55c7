"""Errors that teach: each bad input raises the documented exception type with a message
that names the op, the shapes or dtypes involved, and what to do."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Tensor


def _backward_twice():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _inplace_after_save():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0])
    y = (x * w).sum()
    w[0] = 10.0
    y.backward()


def _backward_non_scalar():
    (Tensor(np.ones((2, 3)), requires_grad=True) * 2).backward()


CASES = [
    # (id, call, exception type, patterns the message must contain)
    (
        "matmul shapes",
        lambda: tg.ones(3, 4) @ tg.ones(5, 6),
        ValueError,
        ["MatMul", r"\(3, 4\)", r"\(5, 6\)", "transpose"],
    ),
    (
        "batched matmul",
        lambda: tg.ones(2, 3, 4) @ tg.ones(3, 4, 5),
        ValueError,
        ["MatMul", r"\(2, 3, 4\)", r"\(3, 4, 5\)", "batch"],
    ),
    (
        "broadcast",
        lambda: tg.ones(2, 3) + tg.ones(4),
        ValueError,
        ["Add", r"\(2, 3\)", r"\(4,\)", "broadcast", "reshape or expand_dims"],
    ),
    (
        "broadcast mul",
        lambda: tg.ones(2, 3) * tg.ones(3, 2),
        ValueError,
        ["Mul", r"\(2, 3\)", r"\(3, 2\)"],
    ),
    (
        "reshape size",
        lambda: tg.ones(2, 3).reshape(4, 2),
        ValueError,
        ["Reshape", r"\(2, 3\)", r"\(4, 2\)", "as many elements"],
    ),
    (
        "axis out of range",
        lambda: tg.ones(2, 3).sum(axis=3),
        ValueError,
        ["Sum", r"\(2, 3\)", "axis"],
    ),
    (
        "repeated axis",
        lambda: tg.ones(2, 3).mean(axis=(0, 0)),
        ValueError,
        ["Mean", "repeated axis"],
    ),
    (
        "softmax axis",
        lambda: tg.ones(2, 3).softmax(axis=2),
        ValueError,
        ["Softmax", r"\(2, 3\)", "axis"],
    ),
    (
        "index out of range",
        lambda: tg.ones(2, 3)[:, 7],
        IndexError,
        ["GetItem", r"\(2, 3\)", "index"],
    ),
    (
        "transpose perm",
        lambda: tg.ones(2, 3).transpose(0, 0),
        ValueError,
        ["Transpose", r"\(2, 3\)", "permutation"],
    ),
    (
        "concatenate shapes",
        lambda: tg.concatenate([tg.ones(2, 3), tg.ones(3, 2)], axis=0),
        ValueError,
        ["Concatenate", r"\(2, 3\)", r"\(3, 2\)"],
    ),
    (
        "int requires grad",
        lambda: Tensor(np.arange(3), requires_grad=True),
        TypeError,
        ["floating-point", "int64", "dtype="],
    ),
    ("string data", lambda: Tensor(["a", "b"]), TypeError, ["not numeric"]),
    ("clip bounds", lambda: tg.ones(3).clip(2.0, 1.0), ValueError, ["clip", "greater than max"]),
    (
        "where condition",
        lambda: tg.where(np.array([1, 0]), tg.ones(2), tg.zeros(2)),
        TypeError,
        ["where", "boolean", "int64"],
    ),
    (
        "non-scalar backward",
        _backward_non_scalar,
        RuntimeError,
        ["backward", r"\(2, 3\)", "grad=", r"sum\(\)"],
    ),
    ("backward twice", _backward_twice, RuntimeError, ["Sum", "second time", "retain_graph=True"]),
    (
        "in-place after save",
        _inplace_after_save,
        RuntimeError,
        ["Mul", "modified in place", r"\(2,\)", "copy"],
    ),
    (
        "grad of wrong shape",
        lambda: (tg.ones(2, requires_grad=True) * 2).backward(np.ones(3)),
        ValueError,
        ["backward", r"\(3,\)", r"\(2,\)"],
    ),
    (
        "no graph",
        lambda: tg.ones(2).sum().backward(),
        RuntimeError,
        ["does not require grad", "requires_grad=True"],
    ),
    ("combine with str", lambda: tg.ones(2) + "x", TypeError, ["Tensor", "str"]),
    (
        "mean of nothing",
        lambda: tg.ones(0, 3).mean(axis=0),
        ValueError,
        ["Mean", r"\(0, 3\)", "empty"],
    ),
    ("max of nothing", lambda: tg.ones(0).max(), ValueError, ["Max", r"\(0,\)", "empty"]),
    (
        "var dof",
        lambda: tg.ones(1).var(ddof=1),
        ValueError,
        ["var", "ddof=1", "degrees of freedom"],
    ),
    ("item of many", lambda: tg.ones(3).item(), ValueError, ["item", r"\(3,\)"]),
]


@pytest.mark.parametrize("call, exc, patterns", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_names_op_shapes_and_fix(call, exc, patterns):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, msg), f"{pattern!r} not in: {msg}"
