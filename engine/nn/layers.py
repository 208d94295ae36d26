"""Dense layers and shape helpers: `Linear`, `Flatten`, `Dropout`, `Identity`."""

from __future__ import annotations

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor
from . import functional as F
from .init import initialise
from .module import Module, Parameter, _positive_int


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch.

    `init` names the weight initialiser ("kaiming", "xavier", "lecun", "zeros"); with "auto",
    `activation` (the layer that follows) chooses it. Biases start at zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str = "kaiming", activation: str | None = "relu", dtype=DEFAULT_DTYPE) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        initialise(self.weight, init, activation)
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Collapse all dimensions after the first (batch) one: (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1) -> None:
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim)


class Dropout(Module):
    """Zero a random fraction p of units while training; the identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Identity(Module):
    """Returns its input: a placeholder layer."""

    def forward(self, x: Tensor) -> Tensor:
        return x
