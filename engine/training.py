"""The bare training loop: epochs of shuffled mini-batches over in-memory arrays.

It knows nothing of files, data sets or user interfaces: it takes a model, an optimizer,
a loss and arrays, and reports through optional callbacks. Richer sessions (events,
pause/resume, checkpoints) are built on top of these functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .nn.module import Module
from .tensor import Tensor, no_grad


@dataclass(frozen=True)
class EpochResult:
    """What one pass over the training data achieved."""

    loss: float
    accuracy: float | None  # None for regression / reconstruction
    samples: int
    seconds: float

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


def minibatch_indices(n: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Index arrays of each mini-batch: a fresh permutation per call (none without rng); the last batch may be short."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def _is_classification(y: np.ndarray) -> bool:
    return y.dtype.kind in "iu" and y.ndim == 1


def train_epoch(model: Module, optimizer, loss_fn: Callable, x: np.ndarray, y: np.ndarray,
                batch_size: int = 64, rng: np.random.Generator | None = None,
                on_batch: Callable[[int, float], None] | None = None) -> EpochResult:
    """One epoch: for each mini-batch, forward, loss, backward and an optimizer step.

    `y` holds integer classes (accuracy is tracked) or regression/reconstruction targets.
    `on_batch(batch_index, loss)` is called after every step.
    """
    if len(x) != len(y):
        raise ValueError(f"inputs and targets differ in length: {len(x)} and {len(y)}")
    model.train()
    classify = _is_classification(y)
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for i, idx in enumerate(minibatch_indices(len(x), batch_size, rng)):
        target = y[idx]
        out = model(Tensor(x[idx]))
        loss = loss_fn(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.item()
        total_loss += value * len(idx)
        if classify:
            correct += int(np.count_nonzero(out.data.argmax(axis=1) == target))
        seen += len(idx)
        if on_batch is not None:
            on_batch(i, value)
    seconds = time.perf_counter() - start
    return EpochResult(total_loss / max(seen, 1), correct / seen if classify and seen else None, seen, seconds)


def predict(model: Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Model outputs for `x` in evaluation mode, without recording a graph (the mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outputs = [model(Tensor(x[s:s + batch_size])).data for s in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outputs) if outputs else np.empty((0,))


def evaluate(model: Module, loss_fn: Callable, x: np.ndarray, y: np.ndarray,
             batch_size: int = 1024) -> tuple[float, float | None]:
    """Mean loss and (for class targets) accuracy over a whole data set."""
    out = predict(model, x, batch_size)
    with no_grad():
        loss = float(loss_fn(Tensor(out), y).item())
    accuracy = float((out.argmax(axis=1) == y).mean()) if _is_classification(y) else None
    return loss, accuracy
