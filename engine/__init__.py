"""nnstudio's engine: a from-scratch NumPy deep-learning library with a PyTorch-like API.

    from nnstudio.engine import Tensor, nn, optim
    loss = loss_fn(model(Tensor(x)), y); opt.zero_grad(); loss.backward(); opt.step()
"""

from . import nn
from .random import get_rng_state, manual_seed, set_rng_state
from .spec import SpecError, build_model, summarize, validate_spec
from .tensor import Tensor, cat, is_grad_enabled, no_grad, stack, tensor

__all__ = [
    "Tensor", "tensor", "cat", "stack", "no_grad", "is_grad_enabled",
    "manual_seed", "get_rng_state", "set_rng_state", "nn",
    "SpecError", "build_model", "summarize", "validate_spec",
]
