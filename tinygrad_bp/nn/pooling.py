"""Pooling over NCHW images: ``max_pool2d`` (ties: the first maximum in the window gets the
gradient, as in PyTorch), ``avg_pool2d`` (a depthwise convolution) and
``adaptive_avg_pool2d``, on the window geometry of conv.py.

Max pooling's backward scatters the gradient to the window maxima, a linear map whose
backward is the matching gather (and the other way round), so it is twice differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_bp.engine import Function
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.nn.conv import (
    Conv2d,
    Geometry,
    Pair,
    _col2im,
    _conv,
    _geometry,
    _image,
    _pair,
    _windows,
)

__all__ = [
    "MaxPool2d",
    "WindowGather",
    "WindowScatter",
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "max_pool2d",
]


def _offsets(geo: Geometry) -> list[tuple[int, int]]:
    kh, kw = geo.kernel
    return [(i, j) for i in range(kh) for j in range(kw)]


def _window_max(x: np.ndarray, geo: Geometry) -> np.ndarray:
    """The maximum of each window (padding counts as -inf, a NaN propagates), one
    ``np.maximum`` per kernel offset."""
    v = _windows(x, geo, value=-np.inf)
    best = v[..., 0, 0].copy()
    for i, j in _offsets(geo)[1:]:
        np.maximum(best, v[..., i, j], out=best)
    return best


def _first_max(x: np.ndarray, best: np.ndarray, geo: Geometry) -> np.ndarray:
    """Where each window's maximum is, as one-hot masks (KH*KW, N, C, OH, OW): the first
    position (row-major) holding ``best`` (a NaN if ``best`` is NaN), as PyTorch picks it."""
    v = _windows(x, geo, value=-np.inf)
    sel = np.empty((geo.kernel[0] * geo.kernel[1], *best.shape), dtype=bool)
    free = np.ones(best.shape, dtype=bool)
    nan = np.isnan(best) if np.isnan(best).any() else None
    for k, (i, j) in enumerate(_offsets(geo)):
        m = np.equal(v[..., i, j], best, out=sel[k])
        if nan is not None:
            m |= nan & np.isnan(v[..., i, j])
        m &= free
        free ^= m
    return sel


def _tiles(a: np.ndarray, geo: Geometry) -> np.ndarray | None:
    """For windows that tile the image (stride = kernel, no padding or dilation): a view
    (N, C, OH, KH, OW, KW) of ``a``; else None."""
    (kh, kw), (oh, ow) = geo.kernel, geo.out
    if geo.stride != geo.kernel or any(geo.pads) or geo.dilation != (1, 1):
        return None
    return a[..., : oh * kh, : ow * kw].reshape(*a.shape[:2], oh, kh, ow, kw)


def _gather(x: np.ndarray, sel: np.ndarray, geo: Geometry) -> np.ndarray:
    """The input's value at the position ``sel`` (one-hot masks over the window) of each window."""
    v = _windows(x, geo)
    out = np.zeros(sel.shape[1:], dtype=x.dtype)
    for k, (i, j) in enumerate(_offsets(geo)):
        np.copyto(out, v[..., i, j], where=sel[k])
    return out


def _scatter(g: np.ndarray, sel: np.ndarray, shape: tuple[int, ...], geo: Geometry) -> np.ndarray:
    """The adjoint of ``_gather``: each g added at its window's position ``sel``."""
    kh, kw = geo.kernel
    dx = np.zeros(shape, dtype=g.dtype)
    tiles = _tiles(dx, geo)
    if tiles is not None:  # each input element is in one window at most: write directly
        for k, (i, j) in enumerate(_offsets(geo)):
            np.multiply(g, sel[k], out=tiles[:, :, :, i, :, j])
        return dx
    dc = np.multiply(g, sel)  # (KH*KW, N, C, OH, OW)
    return _col2im(dc.reshape(kh, kw, *g.shape), shape, geo)


class MaxPool2d(Function):
    """y = the maximum of each window;  dx = g scattered to the position of each maximum"""

    save_inputs = True
    save_output = True
    grads_are_new = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, geo: Geometry) -> np.ndarray:
        return _window_max(x, geo)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        geo = ctx.kwargs["geo"]
        x, out = ctx.inputs[0], ctx.out
        x, out = getattr(x, "data", x), getattr(out, "data", out)  # arrays also under create_graph
        sel = _first_max(x, out, geo)
        if type(g) is np.ndarray:
            return _scatter(g, sel, x.shape, geo)
        return WindowScatter.apply(g, sel=sel, shape=x.shape, geo=geo)


class WindowGather(Function):
    """y[n, c, i, j] = x at the position ``sel`` marks in window (i, j);  dx = the scatter
    of g to those positions"""

    grads_are_new = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, sel: np.ndarray, geo: Geometry) -> np.ndarray:
        ctx.shape = x.shape
        return _gather(x, sel, geo)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        kw = ctx.kwargs
        if type(g) is np.ndarray:
            return _scatter(g, kw["sel"], ctx.shape, kw["geo"])
        return WindowScatter.apply(g, sel=kw["sel"], shape=ctx.shape, geo=kw["geo"])


class WindowScatter(Function):
    """z = g added at the position ``sel`` marks in each window of a zero image of ``shape``
    (the gradient of max pooling);  dg = the gather of the upstream gradient there"""

    grads_are_new = True

    @staticmethod
    def forward(
        ctx: Any, g: np.ndarray, sel: np.ndarray, shape: tuple[int, ...], geo: Geometry
    ) -> np.ndarray:
        return _scatter(g, sel, shape, geo)

    @staticmethod
    def backward(ctx: Any, gz: Any) -> Any:
        kw = ctx.kwargs
        if type(gz) is np.ndarray:
            return _gather(gz, kw["sel"], kw["geo"])
        return WindowGather.apply(gz, sel=kw["sel"], geo=kw["geo"])


# --------------------------------------------------------------------------- argument checks


def _pool_args(
    fn: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1
) -> Geometry:
    k = _pair(kernel_size, fn, "kernel_size", 1)
    s = k if stride is None else _pair(stride, fn, "stride", 1)
    p = _pair(padding, fn, "padding", 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"{fn}: padding {p} must be at most half the kernel size {k} (as in PyTorch)"
        )
    return _geometry(fn, x.shape, k, s, p, _pair(dilation, fn, "dilation", 1))


def max_pool2d(
    x: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> Tensor:
    """The maximum of each window (stride defaults to the kernel size; padding counts as
    -inf). On ties the gradient goes to the first maximum in the window, as PyTorch's does;
    a NaN counts as the maximum."""
    x = _image(x, "max_pool2d")
    geo = _pool_args("max_pool2d", x, kernel_size, stride, padding, dilation)
    return MaxPool2d.apply(x, geo=geo)


def avg_pool2d(
    x: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window (stride defaults to the kernel size); the zero padding counts
    in the divisor unless ``count_include_pad=False`` (PyTorch's default and option)."""
    x = _image(x, "avg_pool2d")
    geo = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    c = x.shape[1]
    kh, kw = geo.kernel
    w = Tensor(np.full((c, 1, kh, kw), 1.0 / (kh * kw), dtype=x.dtype))
    y = Conv2d.apply(x, w, None, geo=geo._replace(groups=c))  # a depthwise convolution
    if count_include_pad or not any(geo.pads):
        return y
    ones = np.ones((1, 1, *geo.size), dtype=x.dtype)
    counts = _conv(ones, np.ones((1, 1, kh, kw), dtype=x.dtype), geo._replace(groups=1))[0]
    return y * (kh * kw / counts).astype(x.dtype)


def _adaptive_matrix(n_in: int, n_out: int, dtype: Any) -> np.ndarray:
    """(n_out, n_in): row i averages PyTorch's adaptive window [floor(i*n/o), ceil((i+1)*n/o))."""
    m = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def adaptive_avg_pool2d(x: Any, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to ``output_size`` (an int, or a pair where None keeps that size) with
    PyTorch's windows; computed as two small matmuls ``A_h @ x @ A_w^T``."""
    fn = "adaptive_avg_pool2d"
    x = _image(x, fn)
    h, w = x.shape[2:]
    sizes = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2:
        raise ValueError(f"{fn}: output_size must be an int or a pair, got {output_size!r}")
    oh, ow = (h if sizes[0] is None else sizes[0]), (w if sizes[1] is None else sizes[1])
    if not all(isinstance(s, (int, np.integer)) and s >= 1 for s in (oh, ow)):
        raise ValueError(f"{fn}: output sizes must be positive ints, got {output_size!r}")
    y = x if oh == h else Tensor(_adaptive_matrix(h, oh, x.dtype)) @ x
    return y if ow == w else y @ Tensor(_adaptive_matrix(w, ow, x.dtype).T)
