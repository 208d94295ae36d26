"""Finite-difference gradient checking in float64: the reference every op and layer is tested against."""

from __future__ import annotations

from contextlib import contextmanager
from copy import deepcopy
from typing import Callable, Iterator, Sequence

import numpy as np

from .metrics import layer_name
from .nn.module import Module
from .tensor import Tensor, no_grad


def _as_leaf(value) -> Tensor:
    """A float64 tensor to differentiate: the caller's own tensor (flags restored afterwards) or a new one."""
    if isinstance(value, Tensor):
        if value.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 tensors, got {value.dtype}")
        return value
    return Tensor(np.array(value, dtype=np.float64))


@contextmanager
def _differentiating(tensors: Sequence[Tensor]) -> Iterator[None]:
    """Make every tensor require a gradient for the check, then give back its flag and `.grad`.

    A check is an observation: afterwards the caller's tensors are as they were, so a
    constant input does not start collecting gradients in the caller's own graphs.
    """
    saved = [(t, t.requires_grad, t.grad) for t in tensors]
    for t in tensors:
        t.requires_grad = True
    try:
        yield
    finally:
        for t, requires_grad, grad in saved:
            t.requires_grad, t.grad = requires_grad, grad


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
    with _differentiating(targets):
        return _check(fn, leaves, targets, eps, tol, floor, seed)


def _check(fn, leaves: list[Tensor], targets: list[Tensor], eps: float, tol: float, floor: float, seed: int) -> float:
    """The comparison itself, on tensors that all require a gradient."""
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
            plus, minus = _nudged(flat, i, eps, objective)
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


#: a model's check passes when no checked element's relative error exceeds this (float64, central differences;
#: a ReLU's kink near a checked weight can cost 1e-4, a wrong backward costs 1e-2 and more)
MODEL_TOLERANCE = 1e-3


def check_model(model: Module, loss_fn: Callable, x: np.ndarray, y: np.ndarray, *, per_tensor: int = 12,
                eps: float = 1e-6, floor: float = 1e-5, seed: int = 0) -> dict[str, float]:
    """Each parameter's largest relative error between the model's backward pass and central differences.

    For a whole trained model, where checking every weight would take a forward pass per weight:
    `per_tensor` elements of each parameter are drawn at random (all of a smaller one). The model is
    checked as a float64 copy in evaluation mode (dropout off, batch norm on its running statistics,
    so the loss is a fixed function of the weights); the caller's model is not touched.

    At a kink, central differences average two slopes that the backward pass rightly does not: a
    fresh CNN on digits has zero biases, so on the blank background its ReLUs sit exactly at 0, and
    a bias nudged up opens them all while one nudged down leaves them shut. So an element passes
    when the backward pass agrees with the central difference or with the slope on either side.
    Returns {parameter name: largest error}; `layer_errors` groups them by layer.
    """
    checked = deepcopy(model).to(np.float64)
    checked.eval()
    inputs, rng = np.asarray(x, dtype=np.float64), np.random.default_rng(seed)
    target = np.asarray(y, dtype=np.float64) if np.asarray(y).dtype.kind == "f" else np.asarray(y)
    named = list(checked.named_parameters())
    for _, p in named:
        p.grad = None
    loss_fn(checked(Tensor(inputs)), target).backward()
    analytic = {name: np.zeros_like(p.data) if p.grad is None else np.array(p.grad, dtype=np.float64)
                for name, p in named}

    def loss() -> float:
        with no_grad(), np.errstate(all="ignore"):
            return float(loss_fn(checked(Tensor(inputs)), target).data)

    at = loss()
    errors: dict[str, float] = {}
    for name, p in named:
        flat, grad = p.data.reshape(-1), analytic[name].reshape(-1)
        picks = rng.choice(flat.size, size=min(per_tensor, flat.size), replace=False)
        worst = 0.0
        for i in picks:
            plus, minus = _nudged(flat, i, eps, loss)
            error = min(_relative(grad[i], numeric, floor)
                        for numeric in ((plus - minus) / (2 * eps), (plus - at) / eps, (at - minus) / eps))
            worst = max(worst, float(error)) if np.isfinite(error) else float("inf")
        errors[name] = worst
    return errors


def _nudged(flat: np.ndarray, i: int, eps: float, objective: Callable[[], float]) -> tuple[float, float]:
    """`objective()` with element i of `flat` (a view of a tensor) raised by eps, then lowered by eps; the
    element is put back as it was, whatever happens."""
    original = flat[i]
    try:
        flat[i] = original + eps
        plus = objective()
        flat[i] = original - eps
        minus = objective()
    finally:
        flat[i] = original
    return plus, minus


def _relative(analytic: float, numeric: float, floor: float) -> float:
    return abs(analytic - numeric) / max(abs(analytic), abs(numeric), floor)


def layer_errors(errors: dict[str, float]) -> dict[str, float]:
    """`check_model`'s errors per layer: the largest of each layer's parameters ("2.weight", "2.bias" -> "2")."""
    grouped: dict[str, float] = {}
    for name, error in errors.items():
        layer = layer_name(name)
        grouped[layer] = max(grouped.get(layer, 0.0), error)
    return grouped
