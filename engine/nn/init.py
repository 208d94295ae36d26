"""Weight initialisers: He/Kaiming, Xavier/Glorot and LeCun, and which one suits an activation.

Each keeps the variance of activations (forward) or gradients roughly constant from layer to
layer for its family of activations: He for ReLU-like units, Xavier for tanh/sigmoid, LeCun
for SELU and linear outputs. All draw from the engine's seeded generator and fill in place.
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as engine_random
from ..tensor import Tensor

_GAINS = {
    "linear": 1.0, "identity": 1.0, "conv2d": 1.0, "sigmoid": 1.0,
    "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 0.75,
}

#: the initialiser that suits each activation (used when a layer's `init` is "auto")
SCHEME_FOR_ACTIVATION = {
    "relu": "kaiming", "leaky_relu": "kaiming", "gelu": "kaiming", "silu": "kaiming",
    "tanh": "xavier", "sigmoid": "xavier", "softmax": "xavier", "log_softmax": "xavier",
    "selu": "lecun", None: "lecun",
}

SCHEMES = ("kaiming", "xavier", "lecun", "zeros")
ALIASES = {"he": "kaiming", "glorot": "xavier"}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale for an activation, as in PyTorch."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; known: {', '.join(sorted(_GAINS))}, leaky_relu")
    return _GAINS[nonlinearity]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight in PyTorch layout: (out, in) or (out, in, kh, kw)."""
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values
    return tensor


def _rng():
    return engine_random.generator()


def kaiming_normal_(tensor: Tensor, nonlinearity: str = "relu", a: float = 0.0) -> Tensor:
    """He normal: std = gain / sqrt(fan_in)."""
    fan_in, _ = fans(tensor.shape)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan_in)
    return _fill(tensor, _rng().normal(0.0, std, tensor.shape))


def kaiming_uniform_(tensor: Tensor, nonlinearity: str = "relu", a: float = 0.0) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan_in)."""
    fan_in, _ = fans(tensor.shape)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan_in)
    return _fill(tensor, _rng().uniform(-bound, bound, tensor.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(tensor.shape)
    return _fill(tensor, _rng().normal(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(tensor, _rng().uniform(-bound, bound, tensor.shape))


def lecun_normal_(tensor: Tensor) -> Tensor:
    """LeCun normal: std = 1 / sqrt(fan_in)."""
    fan_in, _ = fans(tensor.shape)
    return _fill(tensor, _rng().normal(0.0, 1.0 / math.sqrt(fan_in), tensor.shape))


def uniform_(tensor: Tensor, low: float = 0.0, high: float = 1.0) -> Tensor:
    return _fill(tensor, _rng().uniform(low, high, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return _fill(tensor, _rng().normal(mean, std, tensor.shape))


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1.0)


def initialise(weight: Tensor, scheme: str, activation: str | None = None) -> Tensor:
    """Fill a weight by scheme name ("kaiming"/"he", "xavier"/"glorot", "lecun", "zeros" or "auto").

    "auto" picks the scheme that suits `activation` (the layer that follows the weight).
    """
    scheme = ALIASES.get(scheme, scheme)
    if scheme == "auto":
        scheme = SCHEME_FOR_ACTIVATION.get(activation, "lecun")
    if scheme == "kaiming":
        if activation == "leaky_relu":
            return kaiming_normal_(weight, "leaky_relu")
        return kaiming_normal_(weight, "relu")
    if scheme == "xavier":
        gain = calculate_gain(activation) if activation in ("tanh", "sigmoid") else 1.0
        return xavier_uniform_(weight, gain)
    if scheme == "lecun":
        return lecun_normal_(weight)
    if scheme == "zeros":
        return zeros_(weight)
    raise ValueError(f"unknown initialisation {scheme!r}; choose one of: auto, {', '.join(SCHEMES)}")
