"""Measurements of a model in training: per-layer norms, update ratios, confusion matrices."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .tensor import Tensor


def layer_name(parameter_name: str) -> str:
    """The layer a parameter belongs to: "2.weight" -> "2", "encoder.0.bias" -> "encoder.0"."""
    return parameter_name.rpartition(".")[0] or parameter_name


def layer_squares(named_arrays: Iterable[tuple[str, np.ndarray]]) -> dict[str, float]:
    """Sum of squares of each layer's arrays taken together (weight and bias of a layer count as one)."""
    squares: dict[str, float] = {}
    for name, array in named_arrays:
        layer = layer_name(name)
        flat = array.reshape(-1)
        squares[layer] = squares.get(layer, 0.0) + float(np.dot(flat, flat))
    return squares


def layer_norms(named_arrays: Iterable[tuple[str, np.ndarray]]) -> dict[str, float]:
    """L2 norm of each layer's arrays taken together (weight and bias of a layer count as one)."""
    return {layer: math.sqrt(total) for layer, total in layer_squares(named_arrays).items()}


def gradient_norms(named_parameters: Iterable[tuple[str, Tensor]]) -> dict[str, float]:
    """Per-layer gradient norms of the parameters that have a gradient."""
    return layer_norms((name, p.grad) for name, p in named_parameters if p.grad is not None)


def weight_norms(named_parameters: Iterable[tuple[str, Tensor]]) -> dict[str, float]:
    """Per-layer norms of the parameters themselves."""
    return layer_norms((name, p.data) for name, p in named_parameters)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """Counts (classes x classes): row = true class, column = predicted class."""
    return np.bincount(y_true * classes + y_pred, minlength=classes * classes).reshape(classes, classes)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from scores along the last axis (stable; a row with an infinite or NaN score gives
    NaN, without NumPy's warning: the caller judges the figures)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


class RunningMean:
    """Averages of per-layer figures over the batches sampled in an epoch."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
            self._counts[key] = self._counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        return {key: total / self._counts[key] for key, total in self._sums.items()}
