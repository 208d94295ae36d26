"""Mini-batches for training: a fresh shuffle each epoch from a seeded generator, resumable.

Each batch is gathered with fancy indexing (a copy of that batch only), so an epoch never copies
the whole array. The order comes from the iterator's own `numpy.random.Generator`; its state,
with the position inside the current epoch, is captured by `get_state` and restored by
`set_state`, so a run resumed from a checkpoint sees exactly the batches it would have seen.
"""

from __future__ import annotations

import copy

import numpy as np

from .errors import DatasetError


class BatchIterator:
    """`for xb, yb in batches:` runs one epoch; iterate again for the next one.

    `indices` restricts the epoch to those rows (e.g. the training rows of a split). The last
    batch of an epoch is kept even when short, unless `drop_last`. `batch_size` may be changed
    between batches; it takes effect at the next batch. An epoch left unfinished (a `break`) is
    continued, not restarted, by the next iteration: an epoch ends once all its rows are handed out.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool = True,
                 seed: int = 0, indices: np.ndarray | None = None, drop_last: bool = False) -> None:
        if len(x) != len(y):
            raise DatasetError(f"inputs and targets differ in length ({len(x)} vs {len(y)})")
        self.x, self.y = x, y
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.batch_size = batch_size
        self.epoch = 0  # completed epochs
        self._rng = np.random.default_rng(seed)
        self._in_epoch = False
        self._epoch_start_state: dict | None = None  # generator state before this epoch's order was drawn
        self._order: np.ndarray | None = None  # rows of this epoch in order (None: sequential)
        self._position = 0  # rows of this epoch already handed out

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if int(value) < 1:
            raise DatasetError(f"batch size must be at least 1, got {value}")
        self._batch_size = int(value)

    @property
    def num_samples(self) -> int:
        """Rows in one epoch."""
        return len(self.x) if self.indices is None else len(self.indices)

    def __len__(self) -> int:
        """Batches in one full epoch at the current batch size."""
        full, rest = divmod(self.num_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self):
        if not self._in_epoch:
            self._start_epoch()
        n = self.num_samples
        while self._position < n:
            start = self._position
            stop = min(start + self.batch_size, n)
            if self.drop_last and stop - start < self.batch_size:
                break
            rows = self._rows(start, stop)
            self._position = stop
            yield self.x[rows], self.y[rows]
        self._in_epoch = False
        self._order = None
        self._position = 0
        self.epoch += 1

    def _start_epoch(self) -> None:
        self._epoch_start_state = copy.deepcopy(self._rng.bit_generator.state)
        self._order = self._draw_order()
        self._position = 0
        self._in_epoch = True

    def _draw_order(self) -> np.ndarray | None:
        if not self.shuffle:
            return None
        permutation = self._rng.permutation(self.num_samples)
        return permutation if self.indices is None else self.indices[permutation]

    def _rows(self, start: int, stop: int):
        if self._order is not None:
            return self._order[start:stop]
        if self.indices is not None:
            return self.indices[start:stop]
        return slice(start, stop)  # sequential over the whole array: views, no copy at all

    def get_state(self) -> dict:
        """A JSON-able snapshot: the epoch count, the position in the current epoch and the generator."""
        rng_state = self._epoch_start_state if self._in_epoch else self._rng.bit_generator.state
        return {"epoch": self.epoch, "position": self._position if self._in_epoch else 0,
                "rng": copy.deepcopy(rng_state)}

    def set_state(self, state: dict) -> None:
        """Continue from a snapshot of `get_state` (of an iterator over the same rows)."""
        try:
            bit_generator = getattr(np.random, state["rng"]["bit_generator"])()
            bit_generator.state = state["rng"]
            epoch, position = int(state["epoch"]), int(state["position"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DatasetError(f"not a batch iterator state ({error})") from None
        if not 0 <= position <= self.num_samples:
            raise DatasetError(f"batch iterator state is at row {position} of an epoch of {self.num_samples}")
        self._rng = np.random.Generator(bit_generator)
        self.epoch = epoch
        self._in_epoch = False
        self._order = None
        self._position = 0
        if position:
            self._start_epoch()  # redraws the same order from the restored generator
            self._position = position
