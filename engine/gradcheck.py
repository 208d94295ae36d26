"""Finite-difference gradient checking in float64: the reference every op and layer is tested against."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .tensor import Tensor, no_grad


def _as_leaf(value) -> Tensor:
    if isinstance(value, Tensor):
        if value.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 tensors, got {value.dtype}")
        value.requires_grad = True
        return value
    return Tensor(np.array(value, dtype=np.float64), requires_grad=True)


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence, params: Sequence[Tensor] = (),
              eps: float = 1e-5, tol: float = 1e-6, floor: float = 1e-3, seed: int = 0) -> float:
    """Compare `fn`'s backward with central differences; return the largest relative error.

    `fn(*inputs)` returns a tensor of any shape; it is reduced to a scalar by a fixed random
    projection so that every output element contributes. Gradients are checked with respect
    to every input and every tensor in `params` (a layer's parameters, say), all float64.
    The error of one element is |analytic - numeric| / max(|analytic|, |numeric|, floor).
    Raises AssertionError, naming the tensor and element, when the error exceeds `tol`.
    """
    leaves = [_as_leaf(x) for x in inputs]
    targets = leaves + [_as_leaf(p) for p in params]
    out = fn(*leaves)
    projection = np.random.default_rng(seed).standard_normal(out.shape)
    for t in targets:
        t.grad = None
    out.backward(projection)
    analytic = [np.zeros_like(t.data) if t.grad is None else np.array(t.grad, dtype=np.float64) for t in targets]

    def objective() -> float:
        with no_grad():
            return float((fn(*leaves).data * projection).sum())

    worst = 0.0
    for k, (t, grad) in enumerate(zip(targets, analytic)):
        flat = t.data.reshape(-1)  # a view: perturbing it perturbs the tensor
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = objective()
            flat[i] = original - eps
            minus = objective()
            flat[i] = original
            numeric = (plus - minus) / (2 * eps)
            a = grad.reshape(-1)[i]
            error = abs(a - numeric) / max(abs(a), abs(numeric), floor)
            if error > tol:
                where = f"input {k}" if k < len(leaves) else f"parameter {k - len(leaves)}"
                raise AssertionError(
                    f"gradient mismatch at {where}, element {np.unravel_index(i, t.shape)}: "
                    f"analytic {a:.10g}, numeric {numeric:.10g}, relative error {error:.3g} > {tol:g}")
            worst = max(worst, error)
    return worst
