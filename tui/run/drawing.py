"""A digit drawn, or read from a file, as a session's model reads it: the one way from a picture to an answer,
for the studio's Draw pane and `nnstudio predict --image` alike.

    reader = DigitReader.of_session(session, session.model_copy())   # NotDrawable: what the model would need
    reading = reader.read(picture)          # any 2-D picture, bright ink on a dark ground
    reading.probabilities, reading.reconstruction, reading.seen

The picture is first made the way MNIST's digits were (`datasets.digit_style.mnist_style`: cropped,
scaled to 20 pixels, centred by its centre of mass), then put in the data set's own units, scaled
and standardised with the training split's statistics and laid out (flat or image) exactly as the
session prepared its training data, so the model gets a drawing as it got its training digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnstudio.datasets.digit_style import FIELD, mnist_style
from nnstudio.datasets.preprocess import Standardizer, to_layout
from nnstudio.engine.evaluation import predict
from nnstudio.engine.metrics import softmax
from nnstudio.engine.nn import Module

#: the pictures a drawing can stand for: one grey channel of 28x28 pixels, as MNIST's
IMAGE_SHAPE = (1, FIELD, FIELD)
#: rows of a float image set looked at for the values its ink spans (uint8 sets span 0..255)
_RANGE_ROWS = 2048


class NotDrawable(ValueError):
    """A model that cannot read a drawing; the message says, in one line, what it would need (the caller adds
    how to get it: its keys or its command)."""


@dataclass(frozen=True)
class Reading:
    """What the model made of one picture."""

    picture: np.ndarray                 # 28x28 in [0, 1]: the picture made as MNIST made its digits
    seen: np.ndarray                    # 28x28: the model's input as it gets it (scaled, standardised)
    class_names: tuple[str, ...] = ()
    probabilities: np.ndarray | None = None   # one per class (a classifier), None for an empty picture
    reconstruction: np.ndarray | None = None  # 28x28 in [0, 1] (an autoencoder), None for an empty picture

    @property
    def empty(self) -> bool:
        """No ink: nothing was asked of the model."""
        return not self.picture.any()

    @property
    def reconstruction_error(self) -> float | None:
        """An autoencoder's mean squared error between the picture and what it made of it (None otherwise)."""
        if self.reconstruction is None:
            return None
        return float(np.mean((self.reconstruction - self.picture) ** 2))

    @property
    def best(self) -> tuple[str, float] | None:
        """The most likely class and its probability (None without probabilities)."""
        if self.probabilities is None:
            return None
        k = int(np.argmax(self.probabilities))
        return self.class_names[k], float(self.probabilities[k])


@dataclass(frozen=True, eq=False)
class DigitReader:
    """A model (a copy, or a command's own) and how its session turned pixels into its inputs."""

    model: Module
    task: str                           # "classification" or "reconstruction"
    class_names: tuple[str, ...]
    dataset: str
    layout: str                         # "flat" or "image", as the model takes its inputs
    standardizer: Standardizer | None
    ink_range: tuple[float, float]      # the data set's values for no ink and full ink, once scaled
    epochs: int = 0                     # epochs the model has trained (0: its initial weights)

    @classmethod
    def of_session(cls, session, model: Module | None = None, epochs: int | None = None) -> "DigitReader":
        """The reader of a prepared session's model (or a copy of it); NotDrawable if it does not read 28x28
        images (its message names what the model learns instead)."""
        problem = drawing_problem(session)
        if problem is not None:
            raise NotDrawable(problem)
        data, dataset = session.data, session.dataset
        return cls(model=model if model is not None else session.model, task=session.task,
                   class_names=tuple(dataset.class_names) if session.task == "classification" else (),
                   dataset=dataset.name, layout=data.layout, standardizer=data.standardizer,
                   ink_range=ink_range(dataset), epochs=session.epochs_done if epochs is None else epochs)

    def model_input(self, picture: np.ndarray) -> np.ndarray:
        """A 28x28 picture in [0, 1] as one row of the model's inputs: (1, 784) or (1, 1, 28, 28)."""
        low, high = self.ink_range
        x = (low + np.asarray(picture, np.float32) * np.float32(high - low)).reshape(1, -1).astype(np.float32)
        if self.standardizer is not None:
            x = self.standardizer.apply(x)
        return to_layout(x, self.layout, IMAGE_SHAPE)

    def read(self, picture: np.ndarray) -> Reading:
        """What the model makes of `picture` (2-D, any size, bright ink on dark: `digit_style.as_ink`)."""
        styled = mnist_style(picture)
        x = self.model_input(styled)
        reading = dict(picture=styled, seen=x.reshape(FIELD, FIELD), class_names=self.class_names)
        if not styled.any():
            return Reading(**reading)
        out = predict(self.model, x)
        if self.task == "classification":
            return Reading(**reading, probabilities=softmax(out.astype(np.float64))[0])
        return Reading(**reading, reconstruction=self._picture_of(out))

    def _picture_of(self, out: np.ndarray) -> np.ndarray:
        """An autoencoder's output back in [0, 1] (its standardisation and the data's units undone)."""
        values = np.asarray(out, np.float32).reshape(1, -1)
        if self.standardizer is not None:
            values = values * self.standardizer.std + self.standardizer.mean
        low, high = self.ink_range
        return np.clip((values - low) / (high - low or 1.0), 0.0, 1.0).reshape(FIELD, FIELD)


def drawing_problem(session) -> str | None:
    """Why a prepared session's model cannot read a drawn digit (one line: what it would need), or None."""
    dataset = session.dataset
    shape = tuple(dataset.image_shape) if dataset.image_shape is not None else None
    if shape != IMAGE_SHAPE:
        what = (f"{shape[1]}x{shape[2]} images with {shape[0]} channel(s)" if shape is not None
                else f"{int(np.prod(dataset.input_shape))} numbers per example")
        return (f"reading a drawing needs a model of 28x28 grey images (MNIST, Fashion-MNIST, an imported image set); "
                f"this one learns {dataset.name} ({what})")
    if session.task not in ("classification", "reconstruction"):
        return (f"reading a drawing needs a classifier or an autoencoder; this model of {dataset.name} is a "
                f"{session.task}")
    return None


def ink_range(dataset) -> tuple[float, float]:
    """The values for no ink and full ink of an image set as its session scales them: 0 and 1 for uint8 pixels
    (divided by 255), else the range of its first rows (an imported set kept in its own units)."""
    x = dataset.x_train
    if x.dtype == np.uint8 or not len(x):
        return 0.0, 1.0
    sample = np.asarray(x[:_RANGE_ROWS], np.float32)
    low, high = float(np.nanmin(sample)), float(np.nanmax(sample))
    return (low, high) if high > low else (0.0, 1.0)
