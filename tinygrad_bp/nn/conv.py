"""Convolution and pooling over NCHW images: ``conv2d``, ``max_pool2d``, ``avg_pool2d``,
``adaptive_avg_pool2d`` (PyTorch's definitions and argument names).

Convolution is im2col + one BLAS matmul per call: the (padded) input is viewed as windows with
``np.lib.stride_tricks.sliding_window_view`` (strides and dilation by slicing the view, no
copy), the windows are copied once into a ``(groups, C/groups*KH*KW, N*OH*OW)`` matrix
``cols`` and multiplied by the weights. The backward is two more matmuls: the weight gradient
is ``g @ cols^T``; the input gradient is ``w^T @ g`` scattered back onto the image by col2im,
one strided add per kernel offset (KH*KW adds of whole arrays, no loop over pixels).

The three maps are one bilinear form ``B(x, w, g) = <conv(x, w), g>``: the gradient of conv
is (``conv_transpose(g, w)``, ``conv_weight_grad(x, g)``), and the gradients of those two are
again the three maps. So each is a ``Function`` whose backward applies the others: with
arrays it calls the numpy kernels, under ``create_graph=True`` it applies the Functions, and
convolution is differentiable to any order. Max pooling's backward scatters the gradient to
the window maxima, a linear map whose backward is the matching gather (and the other way
round), so it is twice differentiable as well; average pooling is a depthwise convolution.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_bp.autograd import Function
from tinygrad_bp.tensor import Tensor

__all__ = [
    "Conv2d",
    "ConvTranspose2d",
    "ConvWeightGrad",
    "MaxPool2d",
    "WindowGather",
    "WindowScatter",
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "conv2d",
    "max_pool2d",
]

Pair = tuple[int, int]


class Geometry(NamedTuple):
    """Where the windows are: kernel size, stride, (top, bottom, left, right) zero padding,
    dilation and groups; the input's spatial size; the output's spatial size."""

    kernel: Pair
    stride: Pair
    pads: tuple[int, int, int, int]
    dilation: Pair
    groups: int
    size: Pair  # input H, W
    out: Pair  # output OH, OW

    def __repr__(self) -> str:  # short, for graph drawings and error messages
        return f"k={self.kernel} s={self.stride} p={self.pads} d={self.dilation} g={self.groups}"


# --------------------------------------------------------------------------- numpy kernels
def _pad(x: np.ndarray, geo: Geometry, value: float = 0.0) -> np.ndarray:
    t, b, left, r = geo.pads
    if not (t or b or left or r):
        return x
    return np.pad(x, ((0, 0), (0, 0), (t, b), (left, r)), constant_values=value)


def _windows(x: np.ndarray, geo: Geometry, value: float = 0.0) -> np.ndarray:
    """A read-only view (N, C, OH, OW, KH, KW) of the padded input's windows."""
    (kh, kw), (sh, sw), (dh, dw) = geo.kernel, geo.stride, geo.dilation
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    v = sliding_window_view(_pad(x, geo, value), span, axis=(2, 3))
    return v[:, :, ::sh, ::sw, ::dh, ::dw]


def _col2im(dc: np.ndarray, shape: tuple[int, ...], geo: Geometry) -> np.ndarray:
    """The adjoint of ``_windows``: add ``dc`` (KH, KW, ..., OH, OW) onto a zero image of
    ``shape`` (..., H, W), one strided add per kernel offset, and crop the padding."""
    (kh, kw), (sh, sw), (dh, dw) = geo.kernel, geo.stride, geo.dilation
    t, b, left, r = geo.pads
    oh, ow = geo.out
    h, w = shape[-2:]
    dxp = np.zeros((*shape[:-2], h + t + b, w + left + r), dtype=dc.dtype)
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            dxp[..., rows, cols] += dc[i, j]
    return dxp[..., t : t + h, left : left + w] if (t or b or left or r) else dxp


# The column matrix is K-major, (groups, C/groups*KH*KW, N*OH*OW): copying the windows into it
# reads rows of the image (OW is the fastest axis on both sides), and each kernel offset's
# slab of the input gradient is contiguous for col2im.
def _im2col(x: np.ndarray, geo: Geometry) -> np.ndarray:
    """The windows copied into a (groups, C/groups*KH*KW, N*OH*OW) matrix."""
    n, c = x.shape[:2]
    g = geo.groups
    v = _windows(x, geo)  # (N, C, OH, OW, KH, KW)
    oh, ow, kh, kw = v.shape[2:]
    v = v.reshape(n, g, c // g, oh, ow, kh, kw).transpose(1, 2, 5, 6, 0, 3, 4)
    return v.reshape(g, (c // g) * kh * kw, n * oh * ow)


def _g_cols(g: np.ndarray, groups: int) -> np.ndarray:
    """(N, O, OH, OW) -> (groups, O/groups, N*OH*OW)."""
    n, o, oh, ow = g.shape
    return (
        g.reshape(n, groups, o // groups, oh, ow)
        .transpose(1, 2, 0, 3, 4)
        .reshape(groups, o // groups, n * oh * ow)
    )


def _conv(x: np.ndarray, w: np.ndarray, geo: Geometry, cols: np.ndarray | None = None) -> Any:
    """conv2d without bias; returns (out, cols)."""
    if cols is None:
        cols = _im2col(x, geo)
    n, o, gr = x.shape[0], w.shape[0], geo.groups
    oh, ow = geo.out
    y = np.matmul(w.reshape(gr, o // gr, -1), cols)  # (G, O/G, M)
    y = y.reshape(gr, o // gr, n, oh, ow).transpose(2, 0, 1, 3, 4).reshape(n, o, oh, ow)
    return y, cols


def _conv_transpose(g: np.ndarray, w: np.ndarray, geo: Geometry) -> np.ndarray:
    """The input gradient of conv2d: (w^T @ g) scattered back by col2im."""
    gr = geo.groups
    n, _, oh, ow = g.shape
    cg, kh, kw = w.shape[1:]
    wt = w.reshape(gr, w.shape[0] // gr, -1).transpose(0, 2, 1)
    dcols = np.matmul(wt, _g_cols(g, gr))  # (G, K, M)
    dc = dcols.reshape(gr, cg, kh, kw, n, oh, ow).transpose(2, 3, 4, 0, 1, 5, 6)
    return _col2im(dc, (n, gr, cg, *geo.size), geo).reshape(n, gr * cg, *geo.size)


def _weight_grad(
    x: np.ndarray | None, g: np.ndarray, wshape: tuple[int, ...], geo: Geometry, cols: Any = None
) -> np.ndarray:
    """The weight gradient of conv2d: g @ cols^T."""
    if cols is None:
        cols = _im2col(x, geo)  # type: ignore[arg-type]
    return np.matmul(_g_cols(g, geo.groups), cols.transpose(0, 2, 1)).reshape(wshape)


def _bias_grad(g: Any) -> Any:
    return g.sum(axis=(0, 2, 3))


# --------------------------------------------------------------------------- Functions
class Conv2d(Function):
    """y = conv(x, w) + b  (cross-correlation, NCHW; w: (O, C/groups, KH, KW));
    dx = conv_transpose(g, w),  dw = conv_weight_grad(x, g),  db = g summed over N, H, W"""

    save_inputs = True
    saved_attrs = ("cols",)
    grads_are_new = True

    @staticmethod
    def forward(
        ctx: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geo: Geometry
    ) -> np.ndarray:
        y, ctx.cols = _conv(x, w, geo)
        if b is not None:
            y += b.reshape(-1, 1, 1)  # y is fresh
        return y  # type: ignore[no-any-return]

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, w, _ = ctx.inputs
        nx, nw, nb = ctx.needs_input_grad
        geo = ctx.kwargs["geo"]
        if type(g) is np.ndarray:
            return (
                _conv_transpose(g, w, geo) if nx else None,
                _weight_grad(None, g, w.shape, geo, ctx.cols) if nw else None,
                _bias_grad(g) if nb else None,
            )
        return (
            ConvTranspose2d.apply(g, w, geo=geo) if nx else None,
            ConvWeightGrad.apply(x, g, wshape=w.shape, geo=geo) if nw else None,
            _bias_grad(g) if nb else None,
        )


class ConvTranspose2d(Function):
    """z = conv_transpose(g, w), the input gradient of conv2d (linear in g and in w);
    with upstream G: dg = conv(G, w),  dw = conv_weight_grad(G, g)"""

    save_inputs = True
    grads_are_new = True

    @staticmethod
    def forward(ctx: Any, g: np.ndarray, w: np.ndarray, geo: Geometry) -> np.ndarray:
        return _conv_transpose(g, w, geo)

    @staticmethod
    def backward(ctx: Any, gz: Any) -> Any:
        g, w = ctx.inputs
        ng, nw = ctx.needs_input_grad
        geo = ctx.kwargs["geo"]
        if type(gz) is np.ndarray:
            return (
                _conv(gz, w, geo)[0] if ng else None,
                _weight_grad(gz, g, w.shape, geo) if nw else None,
            )
        return (
            Conv2d.apply(gz, w, None, geo=geo) if ng else None,
            ConvWeightGrad.apply(gz, g, wshape=w.shape, geo=geo) if nw else None,
        )


class ConvWeightGrad(Function):
    """u = conv_weight_grad(x, g), the weight gradient of conv2d (linear in x and in g);
    with upstream W: dx = conv_transpose(g, W),  dg = conv(x, W)"""

    save_inputs = True
    grads_are_new = True

    @staticmethod
    def forward(
        ctx: Any, x: np.ndarray, g: np.ndarray, wshape: tuple[int, ...], geo: Geometry
    ) -> np.ndarray:
        return _weight_grad(x, g, wshape, geo)

    @staticmethod
    def backward(ctx: Any, gu: Any) -> Any:
        x, g = ctx.inputs
        nx, ng = ctx.needs_input_grad
        geo = ctx.kwargs["geo"]
        if type(gu) is np.ndarray:
            return (
                _conv_transpose(g, gu, geo) if nx else None,
                _conv(x, gu, geo)[0] if ng else None,
            )
        return (
            ConvTranspose2d.apply(g, gu, geo=geo) if nx else None,
            Conv2d.apply(x, gu, None, geo=geo) if ng else None,
        )


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
def _pair(v: Any, fn: str, what: str, minimum: int) -> Pair:
    t = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != 2 or not all(isinstance(a, (int, np.integer)) and a >= minimum for a in t):
        raise ValueError(f"{fn}: {what} must be an int >= {minimum} or a pair of them, got {v!r}")
    return int(t[0]), int(t[1])


def _image(x: Any, fn: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim != 4:
        raise ValueError(
            f"{fn}: input must be a 4-D batch of images (N, C, H, W), got shape {x.shape}; "
            "for one image use x.reshape(1, *x.shape)"
        )
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be floating point, got {x.dtype}")
    return x


def _geometry(
    fn: str,
    xshape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Any,
    dilation: Pair,
    groups: int = 1,
) -> Geometry:
    h, w = xshape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{fn}: padding='same' needs stride 1, got stride {stride}")
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)  # PyTorch: extra at the end
        else:
            raise ValueError(
                f"{fn}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
            )
    else:
        ph, pw = _pair(padding, fn, "padding", 0)
        pads = (ph, ph, pw, pw)
    span_h = dilation[0] * (kernel[0] - 1) + 1
    span_w = dilation[1] * (kernel[1] - 1) + 1
    hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
    if span_h > hp or span_w > wp:
        raise ValueError(
            f"{fn}: the kernel {kernel} (dilated span {(span_h, span_w)}) is larger than the "
            f"padded input {(hp, wp)} of input shape {xshape}; use a smaller kernel or more padding"
        )
    out = ((hp - span_h) // stride[0] + 1, (wp - span_w) // stride[1] + 1)
    return Geometry(kernel, stride, pads, dilation, groups, (h, w), out)


# --------------------------------------------------------------------------- functional API
def conv2d(
    x: Any,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: int | Pair | str = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation like ``torch.nn.functional.conv2d``: x (N, C, H, W), weight
    (O, C/groups, KH, KW), bias (O,) -> (N, O, OH, OW); padding an int, a pair, 'same'
    (stride 1 only) or 'valid'."""
    fn = "conv2d"
    x = _image(x, fn)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(
            f"{fn}: weight must be a 4-D Tensor (out_channels, in_channels/groups, KH, KW), "
            f"got {getattr(weight, 'shape', type(weight).__name__)}"
        )
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    c = x.shape[1]
    o, cg = weight.shape[:2]
    if c % groups or o % groups:
        raise ValueError(
            f"{fn}: in_channels {c} (input {x.shape}) and out_channels {o} (weight "
            f"{weight.shape}) must both be divisible by groups={groups}"
        )
    if cg * groups != c:
        raise ValueError(
            f"{fn}: input {x.shape} has {c} channels but weight {weight.shape} expects "
            f"{cg} x groups={groups} = {cg * groups}"
        )
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (o,)):
        raise ValueError(
            f"{fn}: bias must be a Tensor of shape ({o},) for weight {weight.shape}, "
            f"got {getattr(bias, 'shape', type(bias).__name__)}"
        )
    if x.dtype != weight.dtype:
        raise TypeError(
            f"{fn}: input {x.shape} is {x.dtype} but weight {weight.shape} is {weight.dtype}; "
            f"convert one (x.astype(np.{weight.dtype}))"
        )
    geo = _geometry(
        fn,
        x.shape,
        (int(weight.shape[2]), int(weight.shape[3])),
        _pair(stride, fn, "stride", 1),
        padding,
        _pair(dilation, fn, "dilation", 1),
        int(groups),
    )
    return Conv2d.apply(x, weight, bias, geo=geo)


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
