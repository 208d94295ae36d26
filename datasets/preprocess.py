"""Preprocessing, each step explicit: scale to [0, 1], standardise, lay out, split train/validation.

Memory is the constraint that shapes this module: full MNIST is 47 MB of uint8 pixels and
188 MB as float32. `prepare` therefore builds exactly one float32 copy of the training images,
already in train-then-validation order (so both splits are views of it), converts in chunks,
and standardises in place with statistics accumulated chunk by chunk from the training split
only. Nothing here copies a whole array twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .dataset import Dataset
from .errors import DatasetError

LAYOUTS = ("flat", "image")
_CHUNK_ROWS = 4096  # rows converted at a time (16 MB of float32 MNIST)
_STATS_ROWS = 256  # rows measured at a time in float64 (1.6 MB of MNIST)


def scale(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`x` as float32 in [0, 1]: uint8 pixels are divided by 255, float data is only cast.

    Writes into `out` when given (it must be float32 of x's shape); otherwise allocates one array.
    """
    if out is None:
        out = np.empty(x.shape, dtype=np.float32)
    if x.dtype == np.uint8:
        np.divide(x, np.float32(255.0), out=out, dtype=np.float32)
    elif np.issubdtype(x.dtype, np.floating):
        out[...] = x
    else:
        raise DatasetError(f"cannot scale data of dtype {x.dtype} (expected uint8 pixels or floats)")
    return out


def to_layout(x: np.ndarray, layout: str, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """A view of image batch `x` as flat (N, C*H*W) or image (N, C, H, W) rows; no copy.

    Non-image data (`image_shape` None) has only the flat layout.
    """
    if layout not in LAYOUTS:
        raise DatasetError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if image_shape is None:
        if layout == "image":
            raise DatasetError("the image layout applies to image data sets only")
        return x
    shape = (math.prod(image_shape),) if layout == "flat" else tuple(image_shape)
    return x.reshape((len(x),) + shape)


@dataclass
class Standardizer:
    """Subtract a mean and divide by a standard deviation, both measured on training data only.

    The statistics are one scalar each (the usual choice for images: per-pixel deviation is zero
    at MNIST's blank borders) or one per feature. `to_dict` / `from_dict` carry them into a save.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, *, per_feature: bool = False, eps: float = 1e-6) -> Standardizer:
        """Measure `x` (training rows) chunk by chunk in float64, without a temporary of x's size."""
        if len(x) == 0:
            raise DatasetError("cannot standardise with statistics of an empty training split")
        rows = x.reshape(len(x), -1)
        total = np.zeros(rows.shape[1] if per_feature else (), dtype=np.float64)
        squares = np.zeros_like(total)
        for start in range(0, len(rows), _STATS_ROWS):
            chunk = rows[start:start + _STATS_ROWS].astype(np.float64)
            if per_feature:
                total += chunk.sum(axis=0)
                squares += np.einsum("ij,ij->j", chunk, chunk)
            else:
                flat = chunk.ravel()
                total += flat.sum()
                squares += flat @ flat
        count = len(rows) if per_feature else rows.size
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
        shape = x.shape[1:] if per_feature else ()
        return cls(mean.reshape(shape).astype(np.float32), np.maximum(std, eps).reshape(shape).astype(np.float32))

    def apply(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        """`(x - mean) / std`; with `inplace` (x must be float32) no new array is made."""
        if inplace:
            x -= self.mean
            x /= self.std
            return x
        return ((x - self.mean) / self.std).astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        """JSON-able statistics, for the metadata of a save."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> Standardizer:
        return cls(np.asarray(state["mean"], dtype=np.float32), np.asarray(state["std"], dtype=np.float32))


#: how `stratified_split` counts what it holds out of each class. "total": the fraction of the whole, rounded
#: once (0.1 of MNIST's 60,000 is 6,000), shared among the classes by their shares. "per-class": each class's
#: share rounded on its own (half to even), as splits were made before: the total could miss by up to half the
#: number of classes (54,001 / 5,999 for MNIST). Runs and saves record their rule (`PreparedData.normalisation`);
#: one made before the rule was recorded goes on with "per-class", so resuming it stays bit-identical.
SPLIT_RULES = ("total", "per-class")
SPLIT_RULE = SPLIT_RULES[0]
OLD_SPLIT_RULE = SPLIT_RULES[1]


def stratified_split(y: np.ndarray, fraction: float, seed: int = 0,
                     rule: str = SPLIT_RULE) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) that hold out `fraction` of each class, chosen from `seed`.

    Deterministic for a seed; every class keeps its proportion (each within one of its exact share;
    `rule` says how the counts are rounded: `SPLIT_RULES`). Regression targets (floats) have no classes
    and are split at random. Both index arrays are sorted.
    """
    if not 0.0 <= fraction < 1.0:
        raise DatasetError(f"the validation fraction must be in [0, 1), got {fraction}")
    if rule not in SPLIT_RULES:
        raise DatasetError(f"the split rule must be one of {', '.join(SPLIT_RULES)}, got {rule!r}")
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.floating):
        groups = [np.arange(len(y))]
    else:
        groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    sizes = [len(members) for members in groups]
    counts = _held_out(fraction, sizes) if rule == "total" else [int(round(fraction * n)) for n in sizes]
    train, val = [], []
    for members, held in zip(groups, counts):
        shuffled = rng.permutation(members)
        val.append(shuffled[:held])
        train.append(shuffled[held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _held_out(fraction: float, sizes: list[int]) -> list[int]:
    """How many of each class to hold out: `fraction` of the whole, rounded once, shared among the classes by
    their shares, each within one of its exact share (the largest remainders get the rest, the first class
    first among equals)."""
    exact = [fraction * size for size in sizes]
    held = [int(np.floor(share)) for share in exact]
    rest = int(round(fraction * sum(sizes))) - sum(held)
    for c in sorted(range(len(sizes)), key=lambda c: held[c] - exact[c])[:max(rest, 0)]:
        held[c] += 1
    return held


def train_val_split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int = 0):
    """(x_train, y_train, x_val, y_val): copies of the rows `stratified_split` picks. For small sets."""
    train, val = stratified_split(y, fraction, seed)
    return x[train], y[train], x[val], y[val]


@dataclass(eq=False)
class PreparedData:
    """Float32 arrays ready for training, and how they were made (to record in a save)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray  # rows of the data set's train split used for training
    val_index: np.ndarray  # rows held out for validation
    standardizer: Standardizer | None
    layout: str
    normalisation: dict  # JSON-able description of the preprocessing, for a save's metadata


def prepare(
    dataset: Dataset,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    standardize: bool = False,
    per_feature: bool = False,
    layout: str = "flat",
    train_size: int | None = None,
    split_rule: str = SPLIT_RULE,
    standardizer: Standardizer | None = None,
) -> PreparedData:
    """Scale, split (`stratified_split` by `split_rule`), optionally standardise and lay out `dataset` for training.

    Makes one float32 copy of the train images (train rows first, then validation rows: two
    views of it) and one of the test images; standardisation statistics come from the training
    rows only and are applied in place. `train_size` trains on only that many of the training
    rows, drawn from `seed` once the validation rows are held out (so the validation set is the
    same whatever the subset): a small subset overfits in seconds, which is the point of it.
    A given `standardizer` (a save's) is applied instead of statistics measured here, so a model meets
    its inputs scaled exactly as when it trained.
    """
    train_index, val_index = stratified_split(dataset.y_train, val_fraction, seed, split_rule) if val_fraction \
        else (np.arange(len(dataset.y_train)), np.arange(0))
    if train_size:
        if train_size > len(train_index):
            raise DatasetError(f"a training subset (train size) of {train_size:,} rows is more than the "
                               f"{len(train_index):,} training rows {dataset.name} has once {len(val_index):,} are "
                               f"held out for validation; ask for {len(train_index):,} or fewer")
        picked = np.random.default_rng([seed, len(train_index)]).permutation(len(train_index))[:train_size]
        train_index = np.sort(train_index[picked])
    order = np.concatenate([train_index, val_index])
    x = np.empty((len(order),) + dataset.x_train.shape[1:], dtype=np.float32)
    for start in range(0, len(order), _CHUNK_ROWS):
        rows = order[start:start + _CHUNK_ROWS]
        scale(dataset.x_train[rows], out=x[start:start + len(rows)])
    x_test = scale(dataset.x_test)
    n_train = len(train_index)
    if not standardize:
        standardizer = None
    elif standardizer is None:
        standardizer = Standardizer.fit(x[:n_train], per_feature=per_feature)
    if standardize:
        wanted = x.shape[1:] if per_feature else ()
        if standardizer.mean.shape not in (wanted, ()):
            raise DatasetError(f"the saved standardisation is for inputs of shape {standardizer.mean.shape}, but "
                               f"{dataset.name} has inputs of shape {x.shape[1:]}: was it imported again with other "
                               f"columns?")
        standardizer.apply(x, inplace=True)
        standardizer.apply(x_test, inplace=True)
    x = to_layout(x, layout, dataset.image_shape)
    x_test = to_layout(x_test, layout, dataset.image_shape)
    y = dataset.y_train[order]
    return PreparedData(
        x_train=x[:n_train], y_train=y[:n_train], x_val=x[n_train:], y_val=y[n_train:],
        x_test=x_test, y_test=dataset.y_test, train_index=train_index, val_index=val_index,
        standardizer=standardizer, layout=layout,
        normalisation={
            "scale": "x / 255" if dataset.x_train.dtype == np.uint8 else None,
            "standardize": standardizer.to_dict() if standardizer else None,
            "val_fraction": val_fraction, "seed": seed, "layout": layout, "split": split_rule,
        },
    )
