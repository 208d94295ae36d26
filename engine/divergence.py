"""When a training run has diverged: the rules and their thresholds, in one place.

A run diverges, and the `Trainer` ends it with the last good weights put back, when

- a batch's loss is NaN or infinite;
- a batch's global gradient norm is not finite or exceeds MAX_GRAD_NORM;
- at an epoch's end, the validation loss or a weight is not finite;
- the training loss grows far past its best: more than LOSS_GROWTH times the best epoch's mean
  training loss AND above the chance-level loss (`chance_loss`), the loss of a model that has
  learnt nothing. Checked at each epoch's end on the epoch's mean, and during an epoch on its
  running mean once that covers RUNNING_MEAN_SAMPLES samples, so a blow-up ends the epoch early
  but one unlucky small batch does not.

The growth rule catches what the others miss: weights driven so far that every ReLU is dead
return a huge but finite loss through small gradients (a train loss from 0.12 to 30,000, weights
at 3e8). It needs both conditions: ten times alone would call a well fitted model whose tiny loss
wobbles (0.001 to 0.02) diverged; above chance alone would call a hard task's slow start diverged.
Before a run has a best epoch (its first epoch, unless it continues a save, whose history gives
its best), the loss is held to a looser ceiling instead: more than CHANCE_GROWTH times the
chance-level loss is divergence (a spirals run at lr 5 reached 14,000 against a chance level of
1.1 in its first epoch and was called finished). A fresh model starts near chance level, far below
that ceiling.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

#: a global gradient norm beyond this is treated as divergence
MAX_GRAD_NORM = 1e6
#: a training loss more than this many times the best epoch's (and above chance level) is divergence
LOSS_GROWTH = 10.0
#: before a run has a best epoch, a training loss more than this many times the chance level is divergence
CHANCE_GROWTH = 100.0
#: during an epoch, its running mean loss is held to the growth rule once it covers this many samples
RUNNING_MEAN_SAMPLES = 1000

#: rows of targets summed at a time when measuring their variance
_CHUNK_ROWS = 4096

DIVERGENCE_ADVICE = "Lower the learning rate, or turn on gradient clipping, and start again."
#: the same, for a run whose gradients were already clipped
CLIPPED_ADVICE = "Lower the learning rate (gradients were already clipped), and start again."


def advice(clipped: bool) -> str:
    """What to try after a divergence: clipping is no news to a run that had it on."""
    return CLIPPED_ADVICE if clipped else DIVERGENCE_ADVICE


def chance_loss(targets: np.ndarray | None = None, classes: int | None = None) -> float | None:
    """The loss of a model that has learnt nothing, the floor of the growth rule.

    For `classes` K (cross-entropy, with or without label smoothing): ln K, the loss of giving
    every class the same probability. Otherwise (mean squared error: regression, reconstruction):
    the loss of always predicting the targets' mean, their variance (averaged over the outputs).
    None when neither is given: the growth rule is then off.
    """
    if classes:
        return math.log(classes)
    if targets is None or len(targets) == 0:
        return None
    values = np.asarray(targets).reshape(len(targets), -1)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    sums = np.zeros(values.shape[1])
    squares = np.zeros(values.shape[1])
    for start in range(0, len(values), _CHUNK_ROWS):   # a few rows at a time, summed in float64: no copy of the whole
        chunk = values[start:start + _CHUNK_ROWS]
        sums += chunk.sum(axis=0, dtype=np.float64)
        squares += np.einsum("ij,ij->j", chunk, chunk)
    means = sums / len(values)
    return float(np.maximum(squares / len(values) - np.square(means), 0.0).mean())


def grew_too_far(loss: float, best: float | None, chance: float | None) -> bool:
    """Whether a training loss breaks the growth rule: more than LOSS_GROWTH x `best` and above `chance`;
    without a best yet, more than CHANCE_GROWTH x `chance`."""
    if chance is None:
        return False
    if best is None:
        return loss > CHANCE_GROWTH * chance
    return loss > LOSS_GROWTH * best and loss > chance


def loss_growth(loss: float, best: float | None, chance: float | None) -> str | None:
    """What went wrong, in the user's words, if `loss` breaks the growth rule; None if it does not."""
    if not grew_too_far(loss, best, chance):
        return None
    if best is None:
        return (f"the training loss grew to {loss:.4g}, more than {CHANCE_GROWTH:g} times the chance level "
                f"({chance:.4g}: the loss of a model that has learnt nothing)")
    return (f"the training loss grew to {loss:.4g}, more than {LOSS_GROWTH:g} times its best ({best:.4g}) "
            f"and above the chance level ({chance:.4g})")


def best_loss(losses: Iterable) -> float | None:
    """The smallest training loss among recorded ones (a save's history), skipping missing and non-finite ones."""
    finite = [float(value) for value in losses
              if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
              and value >= 0]
    return min(finite) if finite else None
