"""Gradient checking: analytical gradients against central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_bp.engine import grad
from tinygrad_bp.engine.tensor import Tensor, _make

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(AssertionError):
    """Analytical and numerical gradients disagree (or the backward misbehaves)."""


def _name(fn: Callable[..., Any]) -> str:
    owner = getattr(fn, "__self__", None)  # MyOp.apply: a classmethod bound to MyOp
    if isinstance(owner, type):
        return f"{owner.__name__}.{fn.__name__}"
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _as_tuple(out: Any) -> tuple[Tensor, ...]:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {k} is a {type(o).__name__}, expected a Tensor")
    return tuple(outs)


def _copies(inputs: Sequence[Any]) -> list[Any]:
    """float64 leaf copies of the inputs (others pass through unchanged)."""
    xs: list[Any] = []
    for x in inputs:
        if isinstance(x, Tensor):
            if x.dtype.kind == "f":
                # C order, so that .reshape(-1) is a view the perturbation reaches
                data = np.array(x.data, dtype=np.float64, order="C")
                xs.append(Tensor(data, requires_grad=x.requires_grad))
            else:
                xs.append(Tensor(np.array(x.data)))
        else:
            xs.append(x)
    return xs


def _elements(size: int, max_elements: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_elements is None or size <= max_elements:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_elements, replace=False))


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    max_elements: int | None = None,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s gradients against central finite differences, in float64.

    Every input Tensor with ``requires_grad`` is copied to float64; ``fn(*copies)`` must
    return a Tensor or a tuple of Tensors computed in float64. For every output and input the
    full Jacobian is compared both ways: rows by backward passes, columns by central
    differences ``(f(x + eps) - f(x - eps)) / (2 eps)``. Also checked: gradient shapes, that a
    zero upstream gradient gives zero gradients, and that two backward passes agree.

    Args:
        fn: the function under test.
        inputs: its arguments; Tensors with ``requires_grad=True`` are differentiated.
        eps, atol, rtol: step and tolerances; an element passes when
            ``|analytical - numerical| <= atol + rtol * |numerical|``.
        max_elements: check at most this many elements of each input (sampled with ``seed``);
            for very large inputs where every element would take too long. None: all.
        seed: seeds the sampling and the random upstream gradient.
        raise_exception: raise ``GradcheckError`` on failure (else return False).

    Returns:
        True when every check passes.
    """
    try:
        _gradcheck(fn, inputs, eps, atol, rtol, max_elements, seed)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float,
    atol: float,
    rtol: float,
    max_elements: int | None,
    seed: int,
) -> None:
    name = _name(fn)
    xs = _copies(inputs)
    wrt = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError(f"gradcheck({name}): no input Tensor has requires_grad=True")
    outs = _as_tuple(fn(*xs))
    for k, o in enumerate(outs):
        if o.dtype != np.float64:
            raise ValueError(
                f"gradcheck({name}): output {k} has dtype {o.dtype}; finite differences need "
                "float64 end to end. Compute in float64 (cast parameters with .astype('float64'))."
            )
    rng = np.random.default_rng(seed)
    diff = [k for k, o in enumerate(outs) if o.requires_grad]
    wrt_t = [xs[i] for i in wrt]

    # analytical Jacobians, one backward pass per output element
    analytic = {(k, i): np.zeros((outs[k].size, xs[i].size)) for k in range(len(outs)) for i in wrt}
    for k in diff:
        o = outs[k]
        for r in range(o.size):
            onehot = np.zeros(o.size)
            onehot[r] = 1.0
            gs = grad(
                o, wrt_t, grad_outputs=onehot.reshape(o.shape), retain_graph=True, allow_unused=True
            )
            for i, gi in zip(wrt, gs):
                if gi is None:
                    continue
                if gi.shape != xs[i].shape:
                    raise GradcheckError(
                        f"gradcheck({name}): output {k}, input {i}: gradient of shape {gi.shape} "
                        f"for an input of shape {xs[i].shape}"
                    )
                analytic[k, i][r] = gi.data.reshape(-1)

    # numerical Jacobians, two forward passes per input element
    # (grad mode stays on: gradgradcheck's function itself calls grad)
    numeric = {key: np.zeros_like(a) for key, a in analytic.items()}
    for i in wrt:
        flat = xs[i].data.reshape(-1)  # a view: perturbing it perturbs the input
        cols = _elements(flat.size, max_elements, np.random.default_rng(seed + i))
        for j in cols:
            orig = flat[j]
            flat[j] = orig + eps
            plus = [o.data.astype(np.float64).reshape(-1) for o in _as_tuple(fn(*xs))]
            flat[j] = orig - eps
            minus = [o.data.astype(np.float64).reshape(-1) for o in _as_tuple(fn(*xs))]
            flat[j] = orig
            for k in range(len(outs)):
                numeric[k, i][:, j] = (plus[k] - minus[k]) / (2 * eps)
        if max_elements is not None:
            for k in range(len(outs)):  # compare only the sampled columns
                mask = np.ones(flat.size, bool)
                mask[cols] = False
                analytic[k, i][:, mask] = 0.0
                numeric[k, i][:, mask] = 0.0

    for (k, i), a in analytic.items():
        n = numeric[k, i]
        err = np.abs(a - n)
        excess = err - (atol + rtol * np.abs(n))
        if a.size and (excess.max() > 0 or not np.isfinite(a).all()):
            bad = np.where(np.isfinite(a), excess, np.inf)
            r, j = (int(v) for v in np.unravel_index(int(np.argmax(bad)), a.shape))
            rel = err / np.maximum(np.abs(n), atol)
            in_idx = np.unravel_index(j, xs[i].shape) if xs[i].ndim else ()
            out_idx = np.unravel_index(r, outs[k].shape) if outs[k].ndim else ()
            raise GradcheckError(
                f"gradcheck({name}) failed: output {k} {outs[k].shape}, input {i} {xs[i].shape}: "
                f"worst at input element {tuple(int(v) for v in in_idx)} / output element "
                f"{tuple(int(v) for v in out_idx)}: numerical {n[r, j]:.8g} vs analytical "
                f"{a[r, j]:.8g}; max abs error {err.max():.3g}, max rel error "
                f"{rel.max():.3g} (atol={atol}, rtol={rtol})"
            )

    # a zero upstream gradient gives zero gradients, and two backward passes agree
    if diff:
        douts = [outs[k] for k in diff]
        zeros = [np.zeros(o.shape) for o in douts]
        for i, gi in zip(
            wrt, grad(douts, wrt_t, grad_outputs=zeros, retain_graph=True, allow_unused=True)
        ):
            if gi is not None and np.any(gi.data != 0):
                raise GradcheckError(
                    f"gradcheck({name}): input {i} got a nonzero gradient from a zero "
                    "upstream gradient"
                )
        vs = [rng.standard_normal(o.shape) for o in douts]
        first = grad(douts, wrt_t, grad_outputs=vs, retain_graph=True, allow_unused=True)
        second = grad(douts, wrt_t, grad_outputs=vs, retain_graph=True, allow_unused=True)
        for i, g1, g2 in zip(wrt, first, second):
            same = (g1 is None and g2 is None) or (
                g1 is not None and g2 is not None and np.array_equal(g1.data, g2.data)
            )
            if not same:
                raise GradcheckError(
                    f"gradcheck({name}): two backward passes gave different gradients for input {i}"
                )


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    max_elements: int | None = None,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: ``gradcheck`` of ``x -> grad(fn(x), x, v, create_graph=True)``
    for a fixed random upstream gradient ``v`` (same arguments as ``gradcheck``)."""
    xs = _copies(inputs)
    outs = _as_tuple(fn(*xs))
    rng = np.random.default_rng(seed + 1)
    vs = [rng.standard_normal(o.shape) for o in outs]

    def grad_of(*args: Any) -> tuple[Tensor, ...]:
        out = _as_tuple(fn(*args))
        wrt = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        keep = [(o, v) for o, v in zip(out, vs) if o.requires_grad]
        if not keep:
            return tuple(_make(np.zeros(a.shape), False) for a in wrt)
        gs = grad(
            [o for o, _ in keep],
            wrt,
            grad_outputs=[v for _, v in keep],
            create_graph=True,
            allow_unused=True,
        )
        return tuple(
            g if g is not None else _make(np.zeros(a.shape), False) for g, a in zip(gs, wrt)
        )

    grad_of.__qualname__ = f"grad of {_name(fn)}"
    return gradcheck(
        grad_of,
        xs,
        eps,
        atol,
        rtol,
        max_elements=max_elements,
        seed=seed,
        raise_exception=raise_exception,
    )
