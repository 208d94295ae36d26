"""Convolution and max pooling on (N, C, H, W) batches: fused graph nodes and their layers.

Both ops compute in a channel-major memory layout, (C, H, W, N) with the batch innermost, and
return their results as (N, C, H, W)-shaped views of it (cuda-convnet's layout). There every
shifted window of an image is a long contiguous run (a row of pixels times the batch), so the
im2col copy, the col2im additions and the pooling maxima all run as fast vectorised loops,
and a convolution is one plain matrix product. Consecutive conv, ReLU and pool layers hand
each other arrays already in that layout (NumPy's elementwise ops keep it), so nothing is
transposed between them; an NCHW array is converted once, on entry.

`conv2d` is im2col plus one matrix product, (O, C*kh*kw + 1) @ (C*kh*kw + 1, OH*OW*N), the
bias riding along as a row of ones. Its backward reuses the column buffer for the weight
gradient and sends the column gradient back to the pixels (col2im) by adding one shifted
slice per kernel offset: kh*kw vectorised additions, not a scatter (`np.add.at` is an order
of magnitude slower).

`max_pool2d` makes one pass per kernel offset: the element that offset meets in every window
of the batch is one strided view, compared with the running maximum in a single vectorised
operation (fewer, larger passes than the row-then-column scheme it replaced). The running
winner keeps the first maximum in row-major order (as in PyTorch), so on ties exactly one
input receives the gradient; the backward is one masked write per kernel offset.
"""

from __future__ import annotations

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor
from .init import initialise
from .module import Module, Parameter, _positive_int


# ---------------------------------------------------------------------- argument checks
def _pair(value, name: str, layer: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as a checked (height, width) pair."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{layer}: {name} must be {kind}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_images(shape: tuple[int, ...], layer: str) -> None:
    if len(shape) != 4:
        raise ValueError(f"{layer} expects input of shape (N, C, H, W), got shape {shape}")


def _out_size(size: int, kernel: int, stride: int, pad: int, layer: str, axis: str) -> int:
    """Output length along one axis; an empty output is an error, never a silent zero-size array."""
    out = (size + 2 * pad - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"{layer}: input {axis} {size} with padding {pad} is smaller than the kernel {axis} "
                         f"{kernel}, so the output would be empty")
    return out


def _check_pool_padding(kernel: tuple[int, int], padding: tuple[int, int], layer: str) -> None:
    """Padding beyond half the kernel would make windows of padding only (PyTorch refuses it too)."""
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{layer}: padding {padding} must be at most half the kernel size {kernel}")


# ---------------------------------------------------------------------- layout helpers
def _channel_major(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> contiguous (C, H, W, N); no copy when x is a view made by `_batch_major`."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0))


def _batch_innermost(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (C, H, W, N) with the batch innermost in memory: a view if it already is
    (say, a cropped channel-major gradient), else a contiguous copy, for fast elementwise loops."""
    view = x.transpose(1, 2, 3, 0)
    return view if view.strides[3] == view.itemsize else np.ascontiguousarray(view)


def _batch_major(x: np.ndarray) -> np.ndarray:
    """(C, H, W, N) -> the (N, C, H, W) view of it that the rest of the engine sees."""
    return x.transpose(3, 0, 1, 2)


def _pad(x: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    """An (N, C, H, W) array as a contiguous (C, H + 2ph, W + 2pw, N) one, bordered by `value`.

    Without padding, an input that is already channel-major is returned as is.
    """
    if ph == 0 and pw == 0:
        return _channel_major(x)
    n, c, h, w = x.shape
    out = np.full((c, h + 2 * ph, w + 2 * pw, n), value, dtype=x.dtype)
    out[:, ph:ph + h, pw:pw + w] = x.transpose(1, 2, 3, 0)
    return out


def _unpad(xp: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """The inverse of `_pad` for gradients: drop the border and return the (N, C, H, W) view."""
    return _batch_major(xp[:, ph:xp.shape[1] - ph, pw:xp.shape[2] - pw])


def _span(offset: int, stride: int, count: int) -> slice:
    """The `count` positions along an axis that kernel offset `offset` meets, one per output position."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


# ---------------------------------------------------------------------- convolution
def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0) -> Tensor:
    """2-D cross-correlation of x (N, C, H, W) with weight (O, C, kh, kw), plus bias (O,), as in PyTorch."""
    w = weight.data
    _check_images(x.shape, "conv2d")
    if w.ndim != 4:
        raise ValueError(f"conv2d expects a weight of shape (out_channels, in_channels, kh, kw), got shape {w.shape}")
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    if c != w.shape[1]:
        raise ValueError(f"conv2d: input has {c} channels but the weight {w.shape} expects {w.shape[1]}")
    if bias is not None and bias.shape != (o,):
        raise ValueError(f"conv2d: bias must have shape ({o},), got {bias.shape}")
    sh, sw = _pair(stride, "stride", "conv2d")
    ph, pw = _pair(padding, "padding", "conv2d", minimum=0)
    oh = _out_size(h, kh, sh, ph, "conv2d", "height")
    ow = _out_size(wd, kw, sw, pw, "conv2d", "width")

    xp = _pad(x.data, ph, pw)  # (C, H+2ph, W+2pw, N)
    k = c * kh * kw
    # the bias rides along in the product: a row of ones under the columns, a bias column beside the weight
    cols = _im2col(xp, kh, kw, sh, sw, oh, ow, ones_row=bias is not None)  # (K [+1], OH*OW*N)
    w2 = w.reshape(o, k)
    wb = w2 if bias is None else np.concatenate([w2, bias.data[:, None]], axis=1)
    out = wb @ cols  # (O, OH*OW*N): channel-major, like the input

    def backward(g):
        g2 = _channel_major(g).reshape(o, oh * ow * n)
        gx = gw = gb = None
        if weight.requires_grad or (bias is not None and bias.requires_grad):
            gwb = _block_product_t(cols, g2, oh)  # (K [+1], O): the last row is the bias gradient
            gw = np.empty(w.shape, dtype=gwb.dtype)  # own arrays, so `.grad` keeps them without a copy
            gw.reshape(o, k)[...] = gwb[:k].T
            gb = gwb[k].copy() if bias is not None else None
        if x.requires_grad:
            gx = _batch_major(_col2im(w2.T @ g2, (c, h, wd, n), kh, kw, sh, sw, ph, pw, oh, ow))
        return gx, gw, gb

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._make(_batch_major(out.reshape(o, oh, ow, n)), parents, backward)


def _im2col(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int, ones_row: bool) -> np.ndarray:
    """Every kernel window as a column: (C*kh*kw, OH*OW*N), plus a row of ones if asked, in one copy.

    The window view (C, OH, OW, N, kh, kw) is reordered to (C, kh, kw, OH, OW, N), so the
    copy moves whole runs of OW*N contiguous numbers (for stride 1).
    """
    c, n = xp.shape[0], xp.shape[3]
    k, length = c * kh * kw, oh * ow * n
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    cols = np.empty((k + ones_row, length), dtype=xp.dtype)
    cols[:k].reshape(c, kh, kw, oh, ow, n)[...] = windows.transpose(0, 4, 5, 1, 2, 3)
    if ones_row:
        cols[k] = 1
    return cols


def _block_product_t(a: np.ndarray, b: np.ndarray, blocks: int) -> np.ndarray:
    """a @ b.T for a long shared axis, as the sum of `blocks` products of slices of it.

    OpenBLAS is slow when the shared axis is tens of thousands long and the result tiny
    (a weight gradient): a batch of block products plus a sum runs 1.3-3x faster.
    """
    m, n = a.shape[0], b.shape[0]
    parts = np.matmul(a.reshape(m, blocks, -1).transpose(1, 0, 2), b.reshape(n, blocks, -1).transpose(1, 2, 0))
    return parts.sum(axis=0)


def _col2im(gcols: np.ndarray, shape, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
            oh: int, ow: int) -> np.ndarray:
    """The adjoint of `_im2col`: add each kernel offset's column gradient onto the pixels it read.

    Writes straight into the unpadded (C, H, W, N) gradient; taps that read padding are dropped.
    """
    c, h, w, n = shape
    gcols = gcols.reshape(c, kh, kw, oh, ow, n)
    gx = np.zeros(shape, dtype=gcols.dtype)
    for i in range(kh):
        out_rows, in_rows = _inside(i, ph, sh, oh, h)
        for j in range(kw):
            out_cols, in_cols = _inside(j, pw, sw, ow, w)
            gx[:, in_rows, in_cols] += gcols[:, i, j, out_rows, out_cols]
    return gx


def _inside(offset: int, pad: int, stride: int, n_out: int, n_in: int) -> tuple[slice, slice]:
    """For one kernel offset along one axis: the output positions whose tap lands inside the
    unpadded input, and the input positions those taps land on."""
    first = max(0, -((offset - pad) // stride))  # ceil((pad - offset) / stride)
    last = min(n_out, (n_in - 1 + pad - offset) // stride + 1)
    return slice(first, last), _span(first * stride + offset - pad, stride, last - first)


# ---------------------------------------------------------------------- max pooling
def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Maximum over each kh x kw window of x (N, C, H, W); stride defaults to the kernel size.

    Padding counts as -inf, so it is never the maximum. Sizes round down (PyTorch's default).
    """
    _check_images(x.shape, "max_pool2d")
    kh, kw = _pair(kernel_size, "kernel_size", "max_pool2d")
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride", "max_pool2d")
    ph, pw = _pair(padding, "padding", "max_pool2d", minimum=0)
    _check_pool_padding((kh, kw), (ph, pw), "max_pool2d")
    oh = _out_size(x.shape[2], kh, sh, ph, "max_pool2d", "height")
    ow = _out_size(x.shape[3], kw, sw, pw, "max_pool2d", "width")

    xp = _pad(x.data, ph, pw, -np.inf)  # (C, H+2ph, W+2pw, N)
    out, winner = _max_taps(xp, kh, kw, sh, sw, oh, ow)  # (C, OH, OW, N) each
    padded_shape = xp.shape

    def backward(g):
        return (_unpad(_unpool(_batch_innermost(g), winner, padded_shape, kh, kw, sh, sw), ph, pw),)

    return Tensor._make(_batch_major(out), (x,), backward)


def _tap(x: np.ndarray, t: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> np.ndarray:
    """The element that kernel offset t = i*kw + j meets in every window: a (C, OH, OW, N) view."""
    return x[:, _span(t // kw, sh, oh), _span(t % kw, sw, ow)]


def _max_taps(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> tuple[np.ndarray, np.ndarray]:
    """Each window's maximum, and the offset t = i*kw + j of its first maximum in row-major order.

    One pass per kernel offset over the whole batch (batch-innermost views, so each pass is
    a vectorised loop). A later offset takes over only when strictly greater, so ties keep
    the first, as in PyTorch. Offsets are written in place, in the smallest unsigned type that
    holds count - 1, chosen explicitly: never left to type promotion, since NumPy 1.x keeps
    `uint8_array * scalar` in uint8 when the scalar fits, so offsets past 255 (a 16 x 16 kernel)
    would wrap around there.
    """
    count = kh * kw
    dtype = np.min_scalar_type(count - 1)
    first = _tap(xp, 0, kw, sh, sw, oh, ow)
    if count == 1:
        return first.copy(), np.zeros(first.shape, dtype=dtype)
    second = _tap(xp, 1, kw, sh, sw, oh, ow)
    out = np.maximum(first, second)
    winner = np.greater(second, first)  # offset 1 where the second is strictly greater, else 0
    winner = winner.view(np.uint8) if dtype == np.uint8 else winner.astype(dtype)
    hit = np.empty(out.shape, dtype=np.bool_)
    for t in range(2, count):
        tap = _tap(xp, t, kw, sh, sw, oh, ow)
        np.greater(tap, out, out=hit)
        np.maximum(out, tap, out=out)
        step = hit.view(np.uint8) if dtype == np.uint8 else hit.astype(dtype)
        step *= t  # in place: stays in the offsets' dtype, whatever the promotion rules
        np.maximum(winner, step, out=winner)  # t exceeds every earlier offset: where hit, it wins
    return out, winner


def _unpool(g: np.ndarray, winner: np.ndarray, padded_shape, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """The adjoint of max pooling: each window's gradient goes to its first maximum.

    One pass per kernel offset; non-overlapping windows write each input at most once,
    overlapping ones add up.
    """
    oh, ow = g.shape[1:3]
    overlapping = sh < kh or sw < kw
    covered = (sh, sw) == (kh, kw) and (kh * oh, kw * ow) == padded_shape[1:3]
    gx = np.empty(padded_shape, dtype=g.dtype) if covered else np.zeros(padded_shape, dtype=g.dtype)
    hit = np.empty(winner.shape, dtype=np.bool_)
    for t in range(kh * kw):
        tap = _tap(gx, t, kw, sh, sw, oh, ow)
        np.equal(winner, winner.dtype.type(t), out=hit)
        if overlapping:
            tap += g * hit
        else:
            np.multiply(g, hit, out=tap)
    return gx


# ---------------------------------------------------------------------- layers
class Conv2d(Module):
    """2-D convolution layer, weight (out_channels, in_channels, kh, kw) as in PyTorch.

    `init` names the weight initialiser ("kaiming", "xavier", "lecun", "zeros" or "auto", which
    lets `activation` choose, as for `Linear`); the bias starts at zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, init: str = "kaiming", activation: str | None = "relu",
                 dtype=DEFAULT_DTYPE) -> None:
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = _pair(stride, "stride", "Conv2d")
        self.padding = _pair(padding, "padding", "Conv2d", minimum=0)
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels, *self.kernel_size), dtype=dtype))
        initialise(self.weight, init, activation)
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expects input of shape (N, {self.in_channels}, H, W), got shape {x.shape}")
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """Max pooling layer; the stride defaults to the kernel size (non-overlapping windows)."""

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxPool2d")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", "MaxPool2d")
        self.padding = _pair(padding, "padding", "MaxPool2d", minimum=0)
        _check_pool_padding(self.kernel_size, self.padding, "MaxPool2d")

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"MaxPool2d expects input of shape (N, C, H, W), got shape {x.shape}")
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
