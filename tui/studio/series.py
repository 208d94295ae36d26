"""The per-batch loss as the monitor keeps and draws it: raw, placed in epochs and in examples seen, binned to
the plot's width and smoothed only when drawn (so the smoothing can change, and runs compare alike).

    trace = BatchTrace(); trace.add(1.5, 96_000, 0.31)         # x in epochs, examples seen, loss
    xs, ys = smoothed(trace.xs, trace.losses, bins=70, smoothing=0.9)   # = ema(binned(xs, ys, 70), 0.9)

Drawing 10 runs of 40,000 batches each takes a few milliseconds: the batches are summed into bins
(`np.bincount`, one pass) and the exponential moving average runs over the bins, each bin weighing
as the batches it holds (`smoothing ** count`), which is the batch-by-batch average exactly when the
loss is even within a bin and indistinguishable at the plot's resolution otherwise.
"""

from __future__ import annotations

import math

import numpy as np

#: the smoothing steps of the per-batch loss, cycled by a key: the weight of the past in an exponential moving
#: average (TensorBoard's "smoothing"), 0 for none
SMOOTHINGS = (0.0, 0.6, 0.9, 0.97, 0.99)
DEFAULT_SMOOTHING = 0.9
#: batches kept; beyond this, neighbours are averaged in pairs (a plot shows a few hundred points anyway)
MAX_TRACE = 1 << 17
#: batches added one by one before they join the arrays
PENDING = 4096


class BatchTrace:
    """The current run's per-batch losses, raw, each with where it fell: in epochs and in examples seen (NaN when
    not known). Appended to from the app's poll; turned into arrays when drawn."""

    def __init__(self) -> None:
        self._arrays = np.zeros((3, 0))
        self._pending: list[tuple[float, float, float]] = []

    def add(self, x: float, n: float, loss: float) -> None:
        """A batch at `x` epochs and `n` examples; a loss that is not finite (a diverging batch) is left out."""
        if math.isfinite(loss):
            self._pending.append((x, n, loss))
            if len(self._pending) >= PENDING:
                self._take()

    def extend(self, xs: np.ndarray, ns: np.ndarray, losses: np.ndarray) -> None:
        """Many batches at once (an opened run's history)."""
        self._take()
        block = np.vstack([np.asarray(xs, float), np.asarray(ns, float), np.asarray(losses, float)])
        self._arrays = np.hstack([self._arrays, block[:, np.isfinite(block[2])]])
        self._bound()

    def _take(self) -> None:
        if self._pending:
            self._arrays = np.hstack([self._arrays, np.array(self._pending, float).T])
            self._pending = []
            self._bound()

    def _bound(self) -> None:
        while self._arrays.shape[1] > MAX_TRACE:
            even = self._arrays.shape[1] // 2 * 2
            self._arrays = np.hstack([(self._arrays[:, 0:even:2] + self._arrays[:, 1:even:2]) / 2,
                                      self._arrays[:, even:]])

    @property
    def xs(self) -> np.ndarray:
        self._take()
        return self._arrays[0]

    @property
    def ns(self) -> np.ndarray:
        self._take()
        return self._arrays[1]

    @property
    def losses(self) -> np.ndarray:
        self._take()
        return self._arrays[2]

    def __len__(self) -> int:
        self._take()
        return self._arrays.shape[1]


def smoothed(xs: np.ndarray, ys: np.ndarray, bins: int, smoothing: float) -> tuple[list[float], list[float]]:
    """At most `bins` points of a series in time order: the mean of each of `bins` equal spans of x (empty ones
    dropped), then an exponential moving average over them with the past weighing `smoothing` per point
    (`smoothing ** count` per bin). Points that are not finite are left out."""
    return ema(binned(xs, ys, bins), smoothing)


def binned(xs: np.ndarray, ys: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The means of x and y in each of `bins` equal spans of x (empty ones dropped) and how many points each
    holds; every point its own bin when there are no more than `bins`. Points that are not finite are left
    out. (The costly half of `smoothed`: a run that does not change is binned once, smoothed at will.)"""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    bins = max(int(bins), 2)
    if len(xs) <= bins:
        return xs, ys, np.ones(len(xs))
    low, high = float(xs.min()), float(xs.max())
    index = np.minimum(((xs - low) / ((high - low) or 1.0) * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins).astype(float)
    full = counts > 0
    x = np.bincount(index, weights=xs, minlength=bins)[full] / counts[full]
    y = np.bincount(index, weights=ys, minlength=bins)[full] / counts[full]
    return x, y, counts[full]


def ema(bins: tuple[np.ndarray, np.ndarray, np.ndarray], smoothing: float) -> tuple[list[float], list[float]]:
    """Binned points (`binned`) smoothed by an exponential moving average whose past weighs `smoothing` per point
    (`smoothing ** count` per bin); 0: as they are."""
    x, y, counts = bins
    if smoothing <= 0:
        return x.tolist(), y.tolist()
    weights = (smoothing ** counts).tolist()
    out, level = [], None
    for value, weight in zip(y.tolist(), weights):
        level = value if level is None else weight * level + (1 - weight) * value
        out.append(level)
    return x.tolist(), out
