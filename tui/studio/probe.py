"""The probe set: the fixed test examples whose outputs the predictions pane shows, and what those outputs mean.

A classifier's outputs are class probabilities: each example is right or wrong. A regression's
and an autoencoder's are values: each example has an error (the squared error averaged over
its outputs, the measure the run's loss uses, so their mean is comparable with the loss plot),
and the worst are those with the highest error. An autoencoder's outputs are images, drawn
beside its inputs on the inputs' own grey scale.

No widgets and no threads here: the pane draws what these functions compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: what a model does with an input (`Session.task`)
TASKS = ("classification", "regression", "reconstruction")


@dataclass(frozen=True)
class ProbeSet:
    """The probe test examples of a session, as the pane draws them (raw pixels, not the scaled inputs)."""

    labels: np.ndarray                 # (N,) class indices, or (N, 1) targets for regression
    class_names: tuple[str, ...]       # the data set's class names (empty for regression)
    images: np.ndarray | None = None   # (N, H, W) grey images, for image data sets
    inputs: np.ndarray | None = None   # (N, D) feature rows, for everything else
    task: str = "classification"       # one of TASKS
    targets: np.ndarray | None = None  # (N, D) what an autoencoder should output: its inputs, scaled as it sees them
    feature_names: tuple[str, ...] = ()  # the inputs' column names, where the data set has them
    test_evaluation: Callable[[], Callable[[], dict[str, Any]]] | None = field(default=None, compare=False,
                                                                                 repr=False)
    """Called on the interface thread while the weights are still: returns the whole test split's evaluation
    of the weights as they are then, to run in a thread (`Session.test_evaluation`)."""

    @classmethod
    def from_session(cls, session) -> ProbeSet:
        """The probe set of a prepared session (its data set's raw test rows at `probe_index`)."""
        dataset, index, task = session.dataset, session.probe_index, session.task
        names = tuple(dataset.class_names) if dataset.task == "classification" else ()
        targets = session.data.x_test[index].reshape(len(index), -1) if task == "reconstruction" else None
        common = dict(task=task, targets=targets, test_evaluation=session.test_evaluation)
        if dataset.image_shape is not None:
            channels, height, width = dataset.image_shape
            images = dataset.x_test[index].reshape(len(index), channels, height, width)
            images = images[:, 0] if channels == 1 else images.mean(axis=1)
            return cls(dataset.y_test[index], names, images=images, **common)
        inputs = dataset.x_test[index].reshape(len(index), -1)
        return cls(dataset.y_test[index], names, inputs=inputs, feature_names=tuple(dataset.feature_names), **common)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def classifies(self) -> bool:
        return self.task == "classification" and bool(self.class_names)

    def label_name(self, i: int) -> str:
        """Example i's label as people read it: its class name, or its target value."""
        label = np.asarray(self.labels[i]).reshape(-1)
        if self.class_names and label.size == 1 and 0 <= int(label[0]) < len(self.class_names):
            return self.class_names[int(label[0])]
        return f"{float(label[0]):.3f}" if label.size == 1 else str(label.tolist())

    def fits(self, outputs: np.ndarray | None) -> bool:
        """Whether `outputs` are this model's for these examples (one row each, as many columns as it should give)."""
        if outputs is None or np.ndim(outputs) != 2 or len(outputs) != len(self):
            return False
        if self.classifies:
            return np.shape(outputs)[1] == len(self.class_names)
        if self.task == "reconstruction":
            return self.targets is not None and np.shape(outputs)[1] == self.targets.shape[1]
        return True

    def errors(self, outputs: np.ndarray) -> np.ndarray | None:
        """Each example's mean squared error (regression, reconstruction); None for a classifier."""
        if self.classifies:
            return None
        wanted = self.targets if self.task == "reconstruction" else \
            np.asarray(self.labels, dtype=np.float64).reshape(len(self), -1)
        out = np.asarray(outputs, dtype=np.float64).reshape(len(self), -1)
        return ((out - wanted) ** 2).mean(axis=1)

    def reconstruction_image(self, i: int, outputs: np.ndarray) -> np.ndarray:
        """Example i's reconstruction as a grey image in [0, 1], on the same scale as its input is drawn:
        as is for inputs scaled to [0, 1]; for standardised ones, mapped as the input's own range."""
        target = self.targets[i]
        out = np.asarray(outputs[i], dtype=np.float32)
        low, high = float(target.min()), float(target.max())
        if low < 0.0 or high > 1.0:
            out = (out - low) / (high - low) if high > low else np.zeros_like(out)
        return np.clip(out, 0.0, 1.0).reshape(self.images.shape[1:])


def worst_first(errors: np.ndarray) -> np.ndarray:
    """Indices of the examples from the highest error to the lowest (ties in probe order)."""
    return np.argsort(-np.asarray(errors), kind="stable")
