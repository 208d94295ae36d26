"""What a data set asks of a model, known from its name alone: sample shape, image layout, task, classes.

    data_shape("spirals", classes=4)  ->  DataShape("spirals", features=(2,), image_shape=None,
                                                    task="classification", classes=4)

Nothing is loaded or downloaded, so the model builder can fit a model to a data set the moment
it is chosen (MNIST may still be on a server), and a loaded `Dataset` gives the same answer
through `DataShape.of`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .dataset import Dataset
from .embedded import EMBEDDED_NAME
from .errors import DatasetError
from .mnist_family import IDX_DATASETS
from .synthetic import SYNTHETIC


@dataclass(frozen=True)
class DataShape:
    """One sample's features (flat), its image layout if it is an image, the task and the number of classes."""

    name: str
    features: tuple[int, ...]
    image_shape: tuple[int, ...] | None
    task: str
    classes: int  # 0 for regression

    @property
    def layouts(self) -> tuple[tuple[int, ...], ...]:
        """The input shapes a model may take: flat, and (channels, height, width) for images."""
        return (self.features,) + ((self.image_shape,) if self.image_shape else ())

    @property
    def targets(self) -> int:
        """How many numbers a supervised model outputs per sample: a score per class, or one value."""
        return self.classes if self.task == "classification" else 1

    def describe(self) -> str:
        """ "images 1x28x28, 10 classes" / "2 features, 3 classes" / "1 feature, regression"."""
        if self.image_shape:
            inputs = "images " + "x".join(str(d) for d in self.image_shape)
        else:
            inputs = f"{self.features[0]} feature{'s' if self.features[0] != 1 else ''}"
        return f"{inputs}, {f'{self.classes} classes' if self.task == 'classification' else 'regression'}"

    @classmethod
    def of(cls, dataset: Dataset) -> DataShape:
        """The shape of a loaded data set (whichever layout it was loaded in)."""
        return cls(dataset.name, (math.prod(dataset.input_shape),), dataset.image_shape, dataset.task,
                   dataset.num_classes)


def data_shape(name: str, **options) -> DataShape:
    """The shape of data set `name` with these loading options (only `classes` matters, for spirals and
    blobs); DatasetError for a name no loader knows."""
    if name in IDX_DATASETS or name == EMBEDDED_NAME:
        spec = IDX_DATASETS.get(name) or IDX_DATASETS["mnist"]
        image = (1, *spec.image_shape)
        return DataShape(name, (math.prod(image),), image, "classification", len(spec.class_names))
    if name in SYNTHETIC:
        spec = SYNTHETIC[name]
        known = {key: value for key, value in options.items() if key in spec.options}
        return DataShape(name, (spec.input_dim,), None, spec.task, spec.num_classes(known))
    known = ", ".join([*IDX_DATASETS, EMBEDDED_NAME, *SYNTHETIC])
    raise DatasetError(f"unknown data set {name!r} (known: {known})")
