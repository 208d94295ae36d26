"""Prediction and evaluation: what a model outputs for a whole data set, and how good that is.

The one evaluation of the engine: the trainer validates with it each epoch, and the session's
test figures are built on it, so a validation and a test score are always the same measure.
Weights so large that the arithmetic overflows give infinite or NaN outputs and loss, quietly
(NumPy's warnings are silenced here): the caller judges the figures, and says so in its words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .metrics import confusion_matrix
from .nn.module import Module
from .tensor import Tensor, no_grad


@dataclass(frozen=True)
class Evaluation:
    """A model's figures on one data set; accuracy and confusion only for class targets."""

    loss: float
    accuracy: float | None          # None for regression / reconstruction
    confusion: np.ndarray | None    # classes x classes counts, row = true class, column = predicted


def _quiet():
    """NumPy's overflow and invalid-value warnings silenced (the figures show the problem)."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def predict(model: Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Model outputs for `x` in evaluation mode, without recording a graph (the mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        with no_grad(), _quiet():
            outputs = [model(Tensor(x[s:s + batch_size])).data for s in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outputs) if outputs else np.empty((0,))


def evaluate(model: Module, loss_fn: Callable, x: np.ndarray, y: np.ndarray, classes: int | None = None,
             batch_size: int = 1024) -> Evaluation:
    """Mean loss over a whole data set; with `classes` (y holds class indices) also accuracy and confusion.

    Without `classes`, `y` is what the outputs should be (regression targets, or the inputs
    themselves for a reconstruction) and the loss is the only figure.
    """
    outputs = predict(model, x, batch_size)
    with no_grad(), _quiet():
        loss = float(loss_fn(Tensor(outputs), y).item())
    if not classes:
        return Evaluation(loss, None, None)
    confusion = confusion_matrix(y, outputs.argmax(axis=1), classes)
    accuracy = float(np.trace(confusion) / max(confusion.sum(), 1))
    return Evaluation(loss, accuracy, confusion)
