"""The data set object every loader returns: raw train/test arrays plus what a model needs to know."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TASKS = ("classification", "regression")


@dataclass(eq=False)
class Dataset:
    """Train and test arrays of one data set, as loaded (not scaled: see `preprocess`).

    Image sets keep their pixels as uint8 (the one original in memory); synthetic sets are
    float32. Classification labels are int64 class indices; regression targets are float32 (N, 1).
    `source` says where the data came from (a folder, "embedded" or "synthetic"); `notice` is
    set when the caller should be told something, e.g. that the embedded subset stands in for
    a data set that was not available.
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]
    source: str
    notice: str | None = None
    title: str = ""
    image_shape: tuple[int, ...] | None = None  # (channels, height, width) for image sets, else None
    #: "per-feature": always standardise each column with the training rows' statistics (an imported table,
    #: whose columns come in any units); None: as the run's data.standardize setting says
    standardize: str | None = None
    feature_names: tuple[str, ...] = ()   # the input columns' names (an imported table's header); else x1, x2, ...

    def feature_name(self, i: int) -> str:
        """The name of input column `i`: its header's, or x1, x2, ... where there is none."""
        return self.feature_names[i] if i < len(self.feature_names) else f"x{i + 1}"

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.class_names)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, {self.task}, train={self.x_train.shape} {self.x_train.dtype}, "
                f"test={self.x_test.shape}, classes={self.num_classes}, source={self.source!r})")
