"""Gradient norms: global clipping (`clip_grad_norm_`) and per-parameter norms for the UI's plot."""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np

from ..tensor import Tensor
from . import _checks


def _norm(g: np.ndarray, norm_type: float) -> float:
    """The p-norm of one gradient array, as a Python float."""
    if g.size == 0:
        return 0.0
    return float(np.linalg.norm(g.ravel(), ord=norm_type))


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together so their global norm is at most `max_norm`; return the norm before.

    The global norm is the norm of all gradients seen as one vector (parameters without a
    gradient are ignored); `norm_type` may be any p >= 1 or `inf` (the largest |g|). When it
    exceeds `max_norm`, every gradient is multiplied by max_norm / (norm + 1e-6), as in PyTorch.
    Gradients are replaced (`p.grad = p.grad * scale`), never scaled in place, because a
    caller may have assigned an array of its own (or a read-only one) to `.grad`. A NaN/inf norm is returned unclipped,
    so the caller can see the blow-up rather than have it hidden.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    max_norm = _checks.number("max_norm", max_norm, 0.0)
    norm_type = float(norm_type)
    if not (norm_type >= 1.0):
        raise ValueError(f"norm_type must be >= 1 or inf, got {norm_type!r}")
    with_grad = [p for p in params if p.grad is not None]
    norms = [_norm(p.grad, norm_type) for p in with_grad]
    if not norms:
        return 0.0
    # ||concat(g_i)||_p = ||(||g_i||_p)_i||_p, for every p including inf
    total = max(norms) if math.isinf(norm_type) else float(np.linalg.norm(np.array(norms), ord=norm_type))
    if total > max_norm:  # False for NaN: leave a broken gradient visible
        scale = max_norm / (total + 1e-6)
        for p in with_grad:
            p.grad = p.grad * scale
    return total


def grad_norms(named_parameters: Iterable[tuple[str, Tensor]] | Mapping[str, Tensor]) -> dict[str, float]:
    """Each parameter's gradient L2 norm by name (e.g. `grad_norms(model.named_parameters())`).

    Parameters without a gradient are left out rather than reported as 0, which would look
    like a vanishing gradient.
    """
    items = named_parameters.items() if isinstance(named_parameters, Mapping) else named_parameters
    return {name: _norm(p.grad, 2.0) for name, p in items if p.grad is not None}
