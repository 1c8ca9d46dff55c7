"""outer, tensordot and einsum, composed from reshape, transpose, broadcast_to, sum, indexing and
matmul: their gradients (and second derivatives) come from those ops, and the contraction runs
as one BLAS matmul.

einsum, step by step (each step an op of the graph):
1. each operand: ``...`` named by placeholder letters; a letter repeated within an operand
   ("ii") becomes one axis by taking the diagonal; letters used nowhere else are summed out;
2. operands are contracted pairwise, left to right: letters in both and still needed are batch
   axes, letters in both and needed no more are summed by the matmul, the rest are kept;
   each pair becomes (batch, left, k) @ (batch, k, right); size-1 axes broadcast first;
3. the result is transposed into the output's order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine.ops.shape import diagonal
from tinygrad_bp.engine.ops.shims import _as_tensor
from tinygrad_bp.engine.tensor import Tensor

__all__ = ["einsum", "outer", "tensordot"]


def outer(x: Tensor, y: Tensor) -> Tensor:
    """``np.outer``: z[i, j] = x[i] * y[j] of the flattened inputs."""
    x, y = _as_tensor(x), _as_tensor(y)
    return x.reshape(-1, 1) * y.reshape(1, -1)


def tensordot(x: Tensor, y: Tensor, axes: Any = 2) -> Tensor:
    """``np.tensordot``: sum the products over ``axes`` (an int n: the last n of x with the
    first n of y; or two sequences of axes), as one matmul."""
    x, y = _as_tensor(x), _as_tensor(y)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(x.ndim, y.ndim):
            raise ValueError(f"tensordot: axes={n} does not fit shapes {x.shape} and {y.shape}")
        ax, ay = list(range(x.ndim - n, x.ndim)), list(range(n))
    else:
        a, b = axes
        ax = [int(a)] if np.ndim(a) == 0 else [int(i) for i in a]
        ay = [int(b)] if np.ndim(b) == 0 else [int(i) for i in b]
        ax, ay = [i % max(x.ndim, 1) for i in ax], [i % max(y.ndim, 1) for i in ay]
    if len(ax) != len(ay) or any(x.shape[i] != y.shape[j] for i, j in zip(ax, ay)):
        raise ValueError(
            f"tensordot: the summed axes {ax} of {x.shape} and {ay} of {y.shape} must pair up "
            "with equal sizes"
        )
    kx = [i for i in range(x.ndim) if i not in ax]
    ky = [j for j in range(y.ndim) if j not in ay]
    k = math.prod(x.shape[i] for i in ax)
    nx, ny = math.prod(x.shape[i] for i in kx), math.prod(y.shape[j] for j in ky)
    left = _reshape(_permute(x, [*kx, *ax]), (nx, k))
    right = _reshape(_permute(y, [*ay, *ky]), (k, ny))
    return _reshape(left @ right, (*(x.shape[i] for i in kx), *(y.shape[j] for j in ky)))


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[str], str]:
    """Operand and output letters, ``...`` replaced by placeholder letters (right-aligned,
    numpy's broadcasting) and the implicit output (letters used once, sorted) made explicit."""
    spec = subscripts.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operands, got {len(shapes)}")
    unused = [c for c in reversed(_LETTERS) if c not in spec]
    n_ell = 0
    for t, s in zip(terms, shapes):
        if "..." in t:
            n_ell = max(n_ell, len(s) - (len(t) - 3))
    ell = "".join(unused[:n_ell][::-1])
    named = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k :] if k > 0 else "")
        if len(t) != len(s) or not t.isalpha():
            raise ValueError(f"einsum: subscripts {t!r} do not fit an operand of shape {s}")
        named.append(t)
    if arrow:
        out = out.replace("...", ell)
    else:
        letters = "".join(named)
        out = ell + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        )
    for c in out:
        if out.count(c) > 1 or not any(c in t for t in named):
            raise ValueError(
                f"einsum: output letter {c!r} of {subscripts!r} is repeated or unknown"
            )
    return named, out


def _take_diagonals(x: Tensor, term: str) -> tuple[Tensor, str]:
    """A letter repeated within one operand ("ii") becomes one axis: its diagonal."""
    while True:
        dup = next((c for c in term if term.count(c) > 1), None)
        if dup is None:
            return x, term
        a = term.index(dup)
        b = term.index(dup, a + 1)
        x = diagonal(x, 0, a, b)  # the diagonal becomes the last axis
        term = "".join(c for i, c in enumerate(term) if i not in (a, b)) + dup


def _sizes(terms: Sequence[str], xs: Sequence[Tensor]) -> dict[str, int]:
    """Each letter's size: equal in every operand, or 1 where it broadcasts (0 is a size)."""
    sizes: dict[str, int] = {}
    for t, x in zip(terms, xs):
        for c, n in zip(t, x.shape):
            m = sizes.setdefault(c, n)
            if m == 1:
                sizes[c] = n
            elif n not in (1, m):
                raise ValueError(f"einsum: letter {c!r} has sizes {m} and {n}")
    return sizes


def _contract(
    x: Tensor, tx: str, y: Tensor, ty: str, keep: str, sizes: dict[str, int]
) -> tuple[Tensor, str]:
    """x (letters tx) times y (letters ty) as one (batched) matmul, summing the letters they
    share that ``keep`` does not name."""
    batch = [c for c in tx if c in ty and c in keep]
    summed = [c for c in tx if c in ty and c not in keep]
    left = [c for c in tx if c not in ty]
    right = [c for c in ty if c not in tx]
    nb, bshape, kshape = len(batch), [sizes[c] for c in batch], [sizes[c] for c in summed]
    x = _permute(x, [tx.index(c) for c in (*batch, *left, *summed)])
    y = _permute(y, [ty.index(c) for c in (*batch, *summed, *right)])
    lshape, rshape = x.shape[nb : nb + len(left)], y.shape[nb + len(summed) :]
    x = _expand(x, (*bshape, *lshape, *kshape))  # size-1 axes broadcast against the other
    y = _expand(y, (*bshape, *kshape, *rshape))
    nl, nk, nr = math.prod(lshape), math.prod(kshape), math.prod(rshape)
    z = _reshape(x, (*bshape, nl, nk)) @ _reshape(y, (*bshape, nk, nr))
    return _reshape(z, (*bshape, *lshape, *rshape)), "".join(batch + left + right)


# the steps below are skipped when they would change nothing (no node for a no-op)
def _expand(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    return x if x.shape == shape else x.broadcast_to(shape)


def _reshape(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    return x if x.shape == shape else x.reshape(shape)


def _permute(x: Tensor, perm: list[int]) -> Tensor:
    return x if perm == sorted(perm) else x.transpose(perm)


def einsum(subscripts: str, *operands: Tensor) -> Tensor:
    """``np.einsum`` with explicit ("ij,jk->ik") or implicit output, ``...`` broadcasting and
    repeated letters (diagonals, "ii->i", traces "ii"); the contractions run as matmuls."""
    xs = [_as_tensor(o) for o in operands]
    if not xs:
        raise ValueError("einsum: needs at least one operand")
    terms, out = _parse(subscripts, [x.shape for x in xs])
    pairs = [_take_diagonals(x, t) for x, t in zip(xs, terms)]
    xs, terms = [p[0] for p in pairs], [p[1] for p in pairs]
    sizes = _sizes(terms, xs)
    for i, (x, t) in enumerate(zip(xs, terms)):  # letters only this operand has, not kept
        others = out + "".join(terms[:i] + terms[i + 1 :])
        lone = tuple(j for j, c in enumerate(t) if c not in others)
        if lone:
            xs[i] = x.sum(axis=lone)
            terms[i] = "".join(c for c in t if c in others)
    x, t = xs[0], terms[0]
    for i in range(1, len(xs)):
        keep = out + "".join(terms[i + 1 :])
        x, t = _contract(x, t, xs[i], terms[i], keep, sizes)
    if set(t) - set(out):  # one operand only: letters not in the output are summed
        lone = tuple(j for j, c in enumerate(t) if c not in out)
        x, t = x.sum(axis=lone), "".join(c for c in t if c in out)
    x = _permute(x, [t.index(c) for c in out])
    return _expand(x, tuple(sizes[c] for c in out))
