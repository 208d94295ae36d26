"""Looking inside a network: each weight layer's output on a batch, and the figures that tell its health.

    trace(model, x)            -> one `LayerTrace` per weight layer (linear, conv2d), in the order they run:
                                  what the layer outputs, and what the activation after it makes of that
    quantiles(values)          -> the nine percentiles TensorBoard's distributions draw as bands
    dead_fraction(trace)       -> the share of a ReLU layer's units that are never active on the batch
    saturated_fraction(trace)  -> the share of a tanh/sigmoid layer's units stuck in a flat tail
    layer_distributions(...)   -> all of these for every weight layer, JSON-able: one epoch's record

A unit is one output feature of a linear layer, one channel of a convolution. Everything here is
read-only and runs without recording a graph, in evaluation mode (dropout off), the mode restored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .nn.module import Module
from .tensor import Tensor, no_grad

#: the layer types whose units have weights of their own (what "a layer" means in these views)
WEIGHT_LAYERS = ("Linear", "Conv2d")
#: activation modules, by class name, as the spec names them
ACTIVATIONS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "GELU": "gelu", "Tanh": "tanh", "Sigmoid": "sigmoid",
               "SiLU": "silu", "Softmax": "softmax", "LogSoftmax": "log_softmax"}
#: TensorBoard's distribution bands, in percent: min, ±1.5σ, ±1σ, ±0.5σ, median, ... max of a normal
QUANTILES = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
#: an output of tanh beyond ±SATURATED (sigmoid: within 1 - SATURATED of 0 or 1) has almost no slope left
SATURATED = 0.99
#: a unit counts as saturated when this share of the batch finds it in a flat tail
SATURATED_SHARE = 0.9


@dataclass(frozen=True)
class LayerTrace:
    """One weight layer on one batch."""

    name: str                  # as in `named_parameters()`: "2", "encoder.0"
    kind: str                  # "linear" or "conv2d"
    module: Module
    output: np.ndarray         # the layer's own output (before any activation)
    activation: str | None     # the activation that follows it before the next weight layer, if any
    activated: np.ndarray      # what that activation makes of the output (the output itself when none)

    @property
    def units(self) -> int:
        return int(self.output.shape[1])


def leaves(model: Module) -> Iterator[tuple[str, Module]]:
    """The modules that compute, with their parameter prefixes, in the order the model runs them."""
    children = list(model._modules.items())
    if not children:
        yield "", model
        return
    for name, child in children:
        for inner, leaf in leaves(child):
            yield (f"{name}.{inner}" if inner else name), leaf


def weight_layers(model: Module) -> list[tuple[str, Module]]:
    """The model's linear and convolution layers, in order, with their names."""
    return [(name, module) for name, module in leaves(model) if type(module).__name__ in WEIGHT_LAYERS]


def trace(model: Module, x: np.ndarray) -> list[LayerTrace]:
    """Run `x` through the model module by module, keeping each weight layer's output and activation."""
    was_training = model.training
    model.eval()
    found: list[LayerTrace] = []
    current: dict | None = None   # the weight layer whose activation is still to come
    try:
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            h = Tensor(x)
            for name, module in leaves(model):
                h = module(h)
                kind = type(module).__name__
                if kind in WEIGHT_LAYERS:
                    if current is not None:
                        found.append(LayerTrace(**current))
                    current = dict(name=name, kind=kind.lower(), module=module, output=h.data,
                                   activation=None, activated=h.data)
                elif current is not None and current["activation"] is None and kind in ACTIVATIONS:
                    current.update(activation=ACTIVATIONS[kind], activated=h.data)
            if current is not None:
                found.append(LayerTrace(**current))
    finally:
        model.train(was_training)
    return found


def _per_unit(values: np.ndarray) -> np.ndarray:
    """(N, units, ...) -> (units, N * ...): each unit's values over the batch (and positions)."""
    return np.moveaxis(values, 1, 0).reshape(values.shape[1], -1)


def dead_fraction(layer: LayerTrace) -> float | None:
    """Share of units a ReLU never lets through on this batch (None when no ReLU follows the layer)."""
    if layer.activation != "relu":
        return None
    return float(np.mean(~(_per_unit(layer.activated) > 0).any(axis=1)))


def saturated_fraction(layer: LayerTrace) -> float | None:
    """Share of units of a tanh or sigmoid layer that sit in a flat tail for most of the batch (None otherwise)."""
    if layer.activation == "tanh":
        flat = np.abs(layer.activated) > SATURATED
    elif layer.activation == "sigmoid":
        flat = np.abs(layer.activated - 0.5) > SATURATED - 0.5
    else:
        return None
    return float(np.mean(_per_unit(flat).mean(axis=1) >= SATURATED_SHARE))


def quantiles(values: np.ndarray) -> list[float]:
    """The QUANTILES percentiles of `values`, interpolated as NumPy's default (empty when none are finite).

    By hand on one sort rather than `np.percentile`, which costs ten times more on the small arrays
    of a 2-D data set's layers, where this runs every epoch."""
    flat = np.sort(np.asarray(values).reshape(-1))
    if flat.size and not (np.isfinite(flat[0]) and np.isfinite(flat[-1])):
        flat = flat[np.isfinite(flat)]
    if not flat.size:
        return []
    position = np.asarray(QUANTILES) / 100.0 * (flat.size - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, flat.size - 1)
    share = position - below
    low, high = flat[below].astype(np.float64), flat[above].astype(np.float64)
    return (low + (high - low) * share).tolist()


def _splittable(low: float, high: float, bins: int) -> bool:
    """Whether `bins` equal bins over [low, high] have distinct finite edges: NumPy's own test, failed
    (with an error) by a range too narrow for the numbers' precision, e.g. one value of 1e15 +- 0.5."""
    edges = np.linspace(low, high, bins + 1)
    return bool(np.isfinite(edges).all() and (edges[1:] > edges[:-1]).all())


def histogram(values: np.ndarray, bins: int = 20, span: tuple[float, float] | None = None) -> dict:
    """Counts of `values` in `bins` equal bins over `span` (their own range by default), JSON-able."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    flat = flat[np.isfinite(flat)]
    if span is None:
        span = (float(flat.min()), float(flat.max())) if flat.size else (0.0, 1.0)
    low, high = span
    if not _splittable(low, high, bins):   # one value, or values a few digits apart: widened
        pad = max(0.5, 1e-6 * max(abs(low), abs(high)))
        low, high = low - pad, high + pad
    counts, edges = np.histogram(flat, bins=bins, range=(low, high))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def layer_values(layer: LayerTrace) -> dict[str, np.ndarray | None]:
    """A traced layer's four kinds of numbers: weights, biases, activations, and the last gradient of its weights."""
    weight = layer.module.weight
    bias = getattr(layer.module, "bias", None)
    return {"weight": weight.data, "bias": None if bias is None else bias.data, "activation": layer.activated,
            "gradient": weight.grad}


def _rounded(values: list[float]) -> list[float]:
    return [float(f"{v:.4g}") for v in values]


def layer_distributions(model: Module, x: np.ndarray) -> dict[str, dict]:
    """Per weight layer, the quantiles of its weights, biases, activations (on `x`) and gradients (the
    last ones computed, if any), and its dead and saturated fractions: one epoch's record of a run."""
    record: dict[str, dict] = {}
    for layer in trace(model, x):
        entry: dict = {kind: _rounded(quantiles(values)) for kind, values in layer_values(layer).items()
                       if values is not None}
        entry["dead"] = dead_fraction(layer)
        entry["saturated"] = saturated_fraction(layer)
        record[layer.name] = entry
    return record
