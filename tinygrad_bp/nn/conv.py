"""Convolution and pooling over NCHW images: ``conv2d``, ``max_pool2d``, ``avg_pool2d``,
``adaptive_avg_pool2d`` (PyTorch's definitions and argument names); the pooling ops are in
pooling.py, built on the window helpers here.

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

from tinygrad_bp.engine import Function
from tinygrad_bp.engine.tensor import Tensor

__all__ = [
    "Conv2d",
    "ConvTranspose2d",
    "ConvWeightGrad",
    "conv2d",
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
