"""Batch normalisation: one fused graph node per call, PyTorch's semantics exactly.

Every axis but the channel axis 1 is a sample of that channel's statistics: (N, C), (N, C, L)
and (N, C, H, W) inputs share one implementation. Training normalises with the batch's mean
and biased variance, and folds the batch into the running statistics with the *unbiased*
variance; evaluation uses the running statistics. The backward pass is the closed form

    dx = weight / sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat))

so the whole layer is one node instead of a dozen elementwise ones.
"""

from __future__ import annotations

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor
from .module import Module, Parameter, _positive_int


def batch_norm(x: Tensor, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise x (N, C, ...) per channel, as PyTorch's `F.batch_norm`.

    In training the running statistics, when given, are updated in place:
    running = (1 - momentum) * running + momentum * batch statistic.
    """
    return _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, "batch_norm")


def _batch_norm(x: Tensor, running_mean, running_var, weight, bias, training: bool,
                momentum: float, eps: float, layer: str) -> Tensor:
    xd = x.data
    c, count = _check(xd.shape, training, layer)
    axes = (0,) + tuple(range(2, xd.ndim))  # every axis but the channels
    shape = (1, c) + (1,) * (xd.ndim - 2)  # a per-channel vector, broadcastable against x
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"{layer}: {name} must have shape ({c},) for input of shape {xd.shape}, got {t.shape}")

    if training:
        mean = xd.mean(axis=axes, keepdims=True)
        xhat = xd - mean
        var = np.square(xhat).mean(axis=axes, keepdims=True)  # biased: what the normalisation uses
        invstd = 1.0 / np.sqrt(var + eps)
        xhat *= invstd
        if running_mean is not None:
            _update_running(running_mean, running_var, mean, var, count, momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{layer}: evaluation needs running_mean and running_var")
        invstd = 1.0 / np.sqrt(running_var.astype(xd.dtype, copy=False).reshape(shape) + eps)
        xhat = (xd - running_mean.astype(xd.dtype, copy=False).reshape(shape)) * invstd
    w = None if weight is None else weight.data.reshape(shape)
    out = xhat.copy() if w is None else xhat * w  # xhat itself is kept for the backward pass
    if bias is not None:
        out += bias.data.reshape(shape)

    def backward(g):
        scale = invstd if w is None else invstd * w
        gb = g.sum(axis=axes) if training or bias is not None else None
        gw = (g * xhat).sum(axis=axes) if training or weight is not None else None
        gx = None
        if x.requires_grad and training:  # the batch statistics depend on x too
            gx = xhat * (gw.reshape(shape) / count)
            gx += gb.reshape(shape) / count
            np.subtract(g, gx, out=gx)
            gx *= scale
        elif x.requires_grad:
            gx = g * scale
        grads = [gx]
        if weight is not None:
            grads.append(gw if weight.requires_grad else None)
        if bias is not None:
            grads.append(gb if bias.requires_grad else None)
        return tuple(grads)

    parents = (x,) + tuple(t for t in (weight, bias) if t is not None)
    return Tensor._make(out, parents, backward)


def _check(shape: tuple[int, ...], training: bool, layer: str) -> tuple[int, int]:
    """(channels, values per channel) of an (N, C, ...) input; training needs two values per channel."""
    if len(shape) < 2:
        raise ValueError(f"{layer} expects input of shape (N, C, ...), got shape {shape}")
    c = shape[1]
    count = int(np.prod(shape)) // c if c else 0
    if training and count < 2:
        raise ValueError(f"{layer}: expected more than 1 value per channel when training, got input of shape {shape}")
    return c, count


def _update_running(running_mean: np.ndarray, running_var: np.ndarray, mean: np.ndarray, var: np.ndarray,
                    count: int, momentum: float) -> None:
    """Blend the batch statistics into the running ones in place; the variance is the unbiased estimate."""
    unbiased = var.reshape(-1) * (count / (count - 1))
    running_mean *= 1 - momentum
    running_mean += momentum * mean.reshape(-1)
    running_var *= 1 - momentum
    running_var += momentum * unbiased


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept."""

    ranks: tuple[int, ...] = ()
    expected = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, dtype=DEFAULT_DTYPE) -> None:
        super().__init__()
        name = type(self).__name__
        num_features = _positive_int(num_features, "num_features", name)
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
        self.num_features, self.eps, self.momentum, self.affine = int(num_features), float(eps), momentum, bool(affine)
        self.weight = Parameter(np.ones(self.num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype=dtype)) if affine else None
        self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}) expects input of shape "
                             f"{self.expected.format(c=self.num_features)}, got shape {x.shape}")
        momentum = self.momentum
        if self.training:
            _check(x.shape, True, name)  # before touching the counter, so a refused batch leaves no trace
            self.num_batches_tracked[...] += 1  # in place: no new array per batch
            if momentum is None:  # PyTorch's cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked)
        return _batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                           self.training, momentum, self.eps, name)

    def reset_running_stats(self) -> None:
        """Forget what the running statistics have seen."""
        self.running_mean[...] = 0
        self.running_var[...] = 1
        self.num_batches_tracked[...] = 0

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences, per channel C."""

    ranks = (2, 3)
    expected = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C."""

    ranks = (4,)
    expected = "(N, {c}, H, W)"
