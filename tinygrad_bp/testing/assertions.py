"""Assertions for tests of ops and models: gradients against finite differences (first and
second order) and values against a numpy reference. Each raises an AssertionError with a
readable message, so hypothesis can shrink a failing example and pytest can show it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_bp.engine import Tensor, from_numpy, grad
from tinygrad_bp.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["assert_gradients_match", "assert_matches_numpy", "assert_second_order_match"]


def _grad_inputs(inputs: tuple[Any, ...]) -> list[Any]:
    """Float ndarrays become float64 Tensors that require grad; everything else passes."""
    out: list[Any] = []
    for x in inputs:
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            out.append(Tensor(np.array(x, dtype=np.float64), requires_grad=True))
        else:
            out.append(x)
    return out


def _describe(inputs: tuple[Any, ...]) -> str:
    parts = []
    for i, x in enumerate(inputs):
        a = x.data if isinstance(x, Tensor) else x
        if isinstance(a, np.ndarray):
            body = np.array2string(a, precision=6, separator=", ", threshold=20)
            parts.append(f"  input {i}: shape {a.shape} {a.dtype} = {' '.join(body.split())}")
        else:
            parts.append(f"  input {i}: {a!r:.200}")
    return "\n".join(parts)


def _named(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``MyOp.apply`` is a bound classmethod named ``Function.apply``: give it its class's name."""
    owner = getattr(fn, "__self__", None)
    if inspect.ismethod(fn) and isinstance(owner, type):
        name = f"{owner.__name__}.{fn.__name__}"

        def call(*args: Any) -> Any:
            return fn(*args)

        call.__qualname__ = call.__name__ = name
        return call
    return fn


def _outputs(out: Any) -> tuple[Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _check_graph_values(fn: Callable[..., Any], xs: list[Any], atol: float, rtol: float) -> None:
    """create_graph=True runs the backward formulas on Tensors: their first derivatives must be
    the ones the fast ndarray path gives (gradgradcheck only differentiates them)."""
    ins = [
        Tensor(np.array(x.data, dtype=np.float64), requires_grad=True)
        if isinstance(x, Tensor) and x.requires_grad
        else x
        for x in xs
    ]
    wrt = [x for x in ins if isinstance(x, Tensor) and x.requires_grad]
    outs = [o for o in _outputs(fn(*ins)) if o.requires_grad]
    if not wrt or not outs:
        return
    rng = np.random.default_rng(0)
    vs = [rng.standard_normal(o.shape) for o in outs]
    plain = grad(outs, wrt, grad_outputs=vs, retain_graph=True, allow_unused=True)
    graphed = grad(outs, wrt, grad_outputs=vs, create_graph=True, allow_unused=True)
    for i, (p, q) in enumerate(zip(plain, graphed)):
        a = np.zeros(wrt[i].shape) if p is None else p.data
        b = np.zeros(wrt[i].shape) if q is None else q.data
        if a.shape != b.shape or not np.allclose(a, b, rtol=rtol * 1e-3, atol=atol * 1e-3):
            diff = np.max(np.abs(a - b)) if a.shape == b.shape else f"shapes {a.shape} vs {b.shape}"
            raise GradcheckError(
                f"{getattr(fn, '__qualname__', fn)}: the gradient of input {i} differs between "
                f"create_graph=False and create_graph=True (max abs difference {diff}): the "
                "backward's Tensor path and its ndarray path disagree"
            )


def _check(
    check: Callable[..., bool],
    fn: Callable[..., Any],
    inputs: tuple[Any, ...],
    eps: float,
    atol: float,
    rtol: float,
    max_elements: int | None,
) -> None:
    xs = _grad_inputs(inputs)
    fn = _named(fn)
    try:
        if check is gradgradcheck:
            _check_graph_values(fn, xs, atol, rtol)
        check(fn, xs, eps=eps, atol=atol, rtol=rtol, max_elements=max_elements)
    except GradcheckError as e:
        raise GradcheckError(f"{e}\n{_describe(inputs)}") from None


def assert_gradients_match(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int | None = None,
) -> None:
    """Assert that ``fn``'s backward agrees with central finite differences (``tg.gradcheck``).

    Args:
        fn: takes the inputs, returns a Tensor (or a tuple of Tensors) computed in float64.
        inputs: Tensors (differentiated when ``requires_grad``), float ndarrays (turned into
            float64 Tensors that require grad) or constants (passed through).
        eps, atol, rtol, max_elements: as in ``tg.gradcheck``.

    Raises:
        tg.GradcheckError (an AssertionError): names the output, input and worst element,
        with the numerical and analytical values, followed by the inputs.
    """
    _check(gradcheck, fn, inputs, eps, atol, rtol, max_elements)


def assert_second_order_match(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int | None = None,
) -> None:
    """Assert that second derivatives agree with finite differences of the gradient
    (``tg.gradgradcheck``: the vector-Jacobian product ``grad(fn(x), x, v)`` with
    ``create_graph=True`` for a fixed random ``v`` is checked like a function), after checking
    that ``create_graph=True`` gives the same first derivatives as the plain backward (a
    backward's Tensor branch can differ from its ndarray branch). Same arguments and errors as
    ``assert_gradients_match``."""
    _check(gradgradcheck, fn, inputs, eps, atol, rtol, max_elements)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a)  # our own copy: the caller's array keeps its flags
    a.flags.writeable = False
    return a


def assert_matches_numpy(
    fn: Callable[..., Any],
    np_fn: Callable[..., Any],
    *inputs: Any,
    rtol: float = 1e-7,
    atol: float = 0.0,
    check_dtype: bool = True,
) -> None:
    """Assert that ``fn`` on Tensors gives what ``np_fn`` gives on the arrays: same shape,
    same dtype (unless ``check_dtype=False``) and close values.

    Every ndarray (or Tensor) input is copied into a read-only array, so an op that writes
    into its input fails loudly; ``fn`` receives Tensors of them, ``np_fn`` the arrays. Other
    inputs (numbers, index tuples, ...) pass through to both. Outputs may be tuples.
    """
    arrays = [
        _readonly(x.data if isinstance(x, Tensor) else x)
        if isinstance(x, (Tensor, np.ndarray))
        else x
        for x in inputs
    ]
    tensors = [from_numpy(a) if isinstance(a, np.ndarray) else a for a in arrays]  # read-only
    got = fn(*tensors)
    want = np_fn(*arrays)
    got_t = got if isinstance(got, (tuple, list)) else (got,)
    want_t = want if isinstance(want, (tuple, list)) else (want,)
    if len(got_t) != len(want_t):
        raise AssertionError(f"{len(got_t)} outputs, but numpy gives {len(want_t)}")
    for k, (g, w) in enumerate(zip(got_t, want_t)):
        if not isinstance(g, Tensor):
            raise AssertionError(f"output {k} is a {type(g).__name__}, expected a Tensor")
        w = np.asarray(w)
        where = f"output {k}" if len(got_t) > 1 else "output"
        if g.shape != w.shape:
            raise AssertionError(
                f"{where} has shape {g.shape}, numpy gives {w.shape}\n{_describe(tuple(arrays))}"
            )
        if check_dtype and g.dtype != w.dtype:
            raise AssertionError(
                f"{where} has dtype {g.dtype}, numpy gives {w.dtype}\n{_describe(tuple(arrays))}"
            )
        try:
            if w.dtype.kind in "biu" or g.dtype.kind in "biu":
                np.testing.assert_array_equal(g.data, w)
            else:
                np.testing.assert_allclose(g.data, w, rtol=rtol, atol=atol, equal_nan=True)
        except AssertionError as e:
            raise AssertionError(
                f"{where} differs from numpy:{e}\n{_describe(tuple(arrays))}"
            ) from None
