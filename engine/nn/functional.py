"""Fused operations: each is one graph node with a hand-derived backward, for speed and stability.

Composing these from elementary `Tensor` ops would give the same gradients, but with more
nodes, more temporaries and (for softmax and cross-entropy) overflow. Here the forward
and the backward of each sit together so they can be read against each other.
"""

from __future__ import annotations

import numpy as np

from .. import random as engine_random
from ..tensor import Tensor, stable_sigmoid


def _class_targets(target, n: int, c: int) -> np.ndarray:
    """Integer class indices in [0, c) as an int array of length n.

    Checked, because NumPy indexing would quietly read -1 as the last class and turn c into
    a bare IndexError far from the mistake.
    """
    y = _targets(target, n)
    if n and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"class targets must lie in [0, {c}), got values from {y.min()} to {y.max()}")
    return y


def _targets(target, n: int) -> np.ndarray:
    """Integer class indices as an int array of length n."""
    y = target.data if isinstance(target, Tensor) else np.asarray(target)
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"class targets must be integers, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"expected {n} class targets of shape ({n},), got shape {y.shape}")
    return y


def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(losses.mean(), dtype=losses.dtype)
    if reduction == "sum":
        return np.asarray(losses.sum(), dtype=losses.dtype)
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _scale_for(reduction: str, g: np.ndarray, n: int) -> np.ndarray:
    """The upstream gradient for each element of the unreduced loss."""
    return g / n if reduction == "mean" else g


# ---------------------------------------------------------------------- layers
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, with weight in PyTorch's (out, in) layout."""
    xd, w = x.data, weight.data
    out = xd @ w.T
    if bias is not None:
        out += bias.data

    def backward(g):
        g2 = g.reshape(-1, g.shape[-1])
        gx = (g @ w) if x.requires_grad else None
        gw = (g2.T @ xd.reshape(-1, xd.shape[-1])) if weight.requires_grad else None
        gb = g2.sum(axis=0) if bias is not None and bias.requires_grad else None
        return gx, gw, gb

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._make(out, parents, backward)


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout: zero each unit with probability p, scale the rest by 1/(1-p)."""
    if not training or p == 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    keep = engine_random.generator().random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype) * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return Tensor._make(x.data * mask, (x,), lambda g: (g * mask,))


# ---------------------------------------------------------------------- softmax family
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) by the log-sum-exp trick: never overflows."""
    z = x.data
    shifted = z - z.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)

    return Tensor._make(out, (x,), backward)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, shifted by the maximum for stability."""
    z = x.data
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    out = e / e.sum(axis=axis, keepdims=True)

    def backward(g):
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)

    return Tensor._make(out, (x,), backward)


# ---------------------------------------------------------------------- losses
def cross_entropy(logits: Tensor, target, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax + negative log-likelihood in one node, from raw scores (N, C) and class indices (N,).

    With label smoothing s the target distribution is (1 - s) on the true class plus s/C
    on every class. The gradient is simply softmax(logits) - target distribution.
    """
    z = logits.data
    if z.ndim != 2:
        raise ValueError(f"cross_entropy expects logits of shape (N, C), got {z.shape}")
    n, c = z.shape
    y = _class_targets(target, n, c)
    rows = np.arange(n)
    shifted = z - z.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(sum_exp)
    losses = -log_probs[rows, y]
    if label_smoothing:
        losses = (1 - label_smoothing) * losses - label_smoothing * log_probs.mean(axis=1)

    def backward(g):
        grad = exp / sum_exp
        grad[rows, y] -= 1.0 - label_smoothing
        if label_smoothing:
            grad -= label_smoothing / c
        scale = _scale_for(reduction, g, n)
        return (grad * (scale[:, None] if reduction == "none" else scale),)

    return Tensor._make(_reduce(losses, reduction), (logits,), backward)


def nll_loss(log_probs: Tensor, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices under log-probabilities (N, C)."""
    lp = log_probs.data
    if lp.ndim != 2:
        raise ValueError(f"nll_loss expects log-probabilities of shape (N, C), got {lp.shape}")
    n, c = lp.shape
    y = _class_targets(target, n, c)
    rows = np.arange(n)

    def backward(g):
        grad = np.zeros_like(lp)
        scale = _scale_for(reduction, g, n)
        grad[rows, y] = -scale
        return (grad,)

    return Tensor._make(_reduce(-lp[rows, y], reduction), (log_probs,), backward)


def _dense_target(target, like: np.ndarray) -> np.ndarray:
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    t = t.astype(like.dtype, copy=False)
    if t.shape != like.shape:
        raise ValueError(f"target shape {t.shape} does not match input shape {like.shape}")
    return t


def mse_loss(pred: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error."""
    p = pred.data
    diff = p - _dense_target(target, p)
    n = diff.size

    def backward(g):
        return (2 * diff * _scale_for(reduction, g, n),)

    return Tensor._make(_reduce(diff * diff, reduction), (pred,), backward)


def binary_cross_entropy(prob: Tensor, target, reduction: str = "mean") -> Tensor:
    """BCE on probabilities; log terms are clamped at -100 as in PyTorch, so p = 0 or 1 stays finite.

    Inputs outside [0, 1] are refused, as in PyTorch: they are scores, not probabilities
    (BCEWithLogitsLoss takes those), and would give a negative or NaN loss. NaN passes through,
    so a diverging run reaches the trainer's NaN guard instead of dying here.
    """
    p = prob.data
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"binary_cross_entropy expects probabilities in [0, 1], got values from "
                         f"{np.nanmin(p):.4g} to {np.nanmax(p):.4g} (for raw scores use BCEWithLogitsLoss)")
    t = _dense_target(target, p)
    log_p = np.maximum(np.log(np.maximum(p, 1e-45)), -100.0)
    log_1p = np.maximum(np.log(np.maximum(1 - p, 1e-45)), -100.0)
    losses = -(t * log_p + (1 - t) * log_1p)
    n = p.size
    eps = np.finfo(p.dtype).tiny

    def backward(g):
        denom = np.maximum(p * (1 - p), eps)
        return ((p - t) / denom * _scale_for(reduction, g, n),)

    return Tensor._make(_reduce(losses.astype(p.dtype, copy=False), reduction), (prob,), backward)


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """BCE on raw scores: max(z, 0) - z*t + log(1 + e^-|z|), exact in both tails."""
    z = logits.data
    t = _dense_target(target, z)
    losses = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    n = z.size

    def backward(g):
        return ((stable_sigmoid(z) - t) * _scale_for(reduction, g, n),)

    return Tensor._make(_reduce(losses, reduction), (logits,), backward)


# convolution, pooling and normalisation live in their own modules; re-exported here as in torch.nn.functional
from .conv import conv2d, max_pool2d  # noqa: E402, F401
from .norm import batch_norm  # noqa: E402, F401
