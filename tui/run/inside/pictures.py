"""Views drawn as small pictures: the first layer's weights as images, an autoencoder's latent space and a
walk across it, and the test examples behind one cell of the confusion matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnstudio.engine.evaluation import predict
from nnstudio.engine.metrics import confusion_matrix, softmax

from .jsonable import numbers
from .subject import Layer, NotApplicable, Subject

#: test examples encoded for the latent scatter (all of them when fewer)
LATENT_POINTS = 2000
#: the latent walk spans the codes between these percentiles (the outermost codes are few and far between)
WALK_PERCENTILES = (5.0, 95.0)
#: examples of one confusion cell kept for drawing
CELL_EXAMPLES = 48


@dataclass(frozen=True, eq=False)
class Weights:
    """Each unit of the first weight layer as a picture: a linear unit's weights over the image, or a filter."""

    layer: Layer
    images: np.ndarray             # (units, height, width): signed weights, channels averaged
    filters: bool                  # True for a convolution's filters, False for a linear layer over the pixels

    view = "weights"

    def to_json(self) -> dict:
        return {"view": self.view, "layer": self.layer.number, "layer_kind": self.layer.shape_text,
                "filters": self.filters, "units": int(len(self.images)),
                "height": int(self.images.shape[1]), "width": int(self.images.shape[2]),
                "norms": numbers(np.sqrt((self.images.astype(np.float64) ** 2).sum(axis=(1, 2))), 5),
                "images": numbers(self.images, 4)}


def weights(subject: Subject) -> Weights:
    """The first weight layer's units as images (image inputs only)."""
    if subject.image_shape is None:
        raise NotApplicable(f"weights as images need image inputs (mnist, fashion-mnist); {subject.dataset} has "
                            f"{subject.input_size} feature{'s' if subject.input_size != 1 else ''}")
    first = subject.layer(1)
    w = first.module.weight.data
    channels, height, width = subject.image_shape
    if first.kind == "conv2d":
        return Weights(first, w.mean(axis=1), filters=True)
    if w.shape[1] != channels * height * width:
        raise NotApplicable(f"the first weight layer ({first.shape_text}) does not take the image's "
                            f"{channels * height * width} pixels")
    return Weights(first, w.reshape(len(w), channels, height, width).mean(axis=1), filters=False)


# ====================================================================== an autoencoder's latent space
@dataclass(frozen=True, eq=False)
class Latent:
    """Test examples placed by their 2-D code, and pictures decoded from a grid of codes."""

    codes: np.ndarray              # (n, 2)
    labels: np.ndarray             # (n,) class indices, or empty when the data set has none
    class_names: tuple[str, ...]
    walk_box: tuple[float, float, float, float]  # the codes the walk spans: x low, x high, y low, y high
    walk: np.ndarray               # (steps, steps, height, width): decoded pictures, top row = highest y
    image_shape: tuple[int, ...] | None

    view = "latent"

    def to_json(self) -> dict:
        return {"view": self.view, "points": int(len(self.codes)), "codes": numbers(self.codes, 4),
                "labels": self.labels.tolist(), "class_names": list(self.class_names),
                "walk_box": numbers(self.walk_box), "walk_steps": int(self.walk.shape[0]),
                "walk": numbers(self.walk, 4)}


def _encoder_decoder(subject: Subject):
    model = subject.model
    if subject.task != "reconstruction" or not hasattr(model, "encode"):
        raise NotApplicable("the latent view needs an autoencoder (the autoencoder preset, or a model with an "
                            "encoder and a decoder)")
    return model.encoder, model.decoder


def latent(subject: Subject, steps: int = 7) -> Latent:
    """The 2-D codes of test examples and a steps x steps walk decoded across them."""
    encoder, decoder = _encoder_decoder(subject)
    _needs_test_examples(subject, "the latent view")
    count = min(len(subject.x_test), LATENT_POINTS)
    pick = np.sort(np.random.default_rng(0).permutation(len(subject.x_test))[:count])
    codes = predict(encoder, subject.x_test[pick])
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise NotApplicable(f"the latent view needs a 2-D bottleneck; this autoencoder's code has "
                            f"{int(np.prod(codes.shape[1:]))} dimensions (set its last encoder layer's size to 2)")
    low, high = np.percentile(codes, WALK_PERCENTILES, axis=0)
    box = (float(low[0]), float(high[0]), float(low[1]), float(high[1]))
    xs, ys = np.linspace(low[0], high[0], steps), np.linspace(high[1], low[1], steps)
    gx, gy = np.meshgrid(xs, ys)
    decoded = predict(decoder, np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32))
    shape = subject.image_shape
    if shape is not None:
        pictures = decoded.reshape(steps, steps, *shape).mean(axis=2)
    else:
        pictures = decoded.reshape(steps, steps, 1, -1)
    labels = subject.y_test[pick] if subject.class_names or subject.y_test.ndim == 1 else np.zeros(0, int)
    names = subject.class_names or _label_names(labels)
    return Latent(codes, np.asarray(labels).reshape(-1).astype(int) if len(labels) else labels, names, box,
                  pictures, shape)


def _needs_test_examples(subject: Subject, view: str) -> None:
    if not len(subject.x_test):
        raise NotApplicable(f"{view} needs test examples; {subject.dataset} has none")


def _label_names(labels: np.ndarray) -> tuple[str, ...]:
    """Names for an autoencoder's labels: its data set's class names are not kept, so the numbers themselves."""
    return tuple(str(n) for n in range(int(labels.max()) + 1)) if len(labels) and labels.dtype.kind in "iu" else ()


# ====================================================================== confusion drill-down
@dataclass(frozen=True, eq=False)
class Confusion:
    """The test split's confusion matrix and the examples behind one cell (true row, predicted column)."""

    matrix: np.ndarray             # (classes, classes), rows = truth
    class_names: tuple[str, ...]
    cell: tuple[int, int]
    examples: np.ndarray           # test indices in that cell (the first CELL_EXAMPLES)
    confidence: np.ndarray         # the model's probability of the predicted class, for each example
    pictures: np.ndarray | None    # (k, height, width) for image data sets
    rows: np.ndarray | None        # (k, features) otherwise

    view = "confusion"

    @property
    def accuracy(self) -> float:
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else float("nan")

    def to_json(self) -> dict:
        return {"view": self.view, "class_names": list(self.class_names), "matrix": self.matrix.tolist(),
                "cell": list(self.cell), "count": int(self.matrix[self.cell]),
                "examples": self.examples.tolist(), "confidence": numbers(self.confidence, 4)}


def worst_cell(matrix: np.ndarray) -> tuple[int, int]:
    """The most frequent mistake (off the diagonal); (0, 0) when there is none."""
    off = matrix.copy()
    np.fill_diagonal(off, -1)
    true, predicted = np.unravel_index(int(off.argmax()), off.shape)
    return (int(true), int(predicted)) if off[true, predicted] > 0 else (0, 0)


def confusion(subject: Subject, cell: tuple[int, int] | None = None) -> Confusion:
    """The test split's confusion matrix, and the examples of `cell` (default: the most frequent mistake)."""
    if not subject.classifies:
        raise NotApplicable(f"the confusion matrix needs a classifier; this model does {subject.task}")
    _needs_test_examples(subject, "the confusion matrix")
    probabilities = softmax(predict(subject.model, subject.x_test))
    predicted = probabilities.argmax(axis=1)
    classes = len(subject.class_names)
    matrix = confusion_matrix(subject.y_test.astype(np.int64), predicted, classes)
    if cell is None:
        cell = worst_cell(matrix)
    true, guess = cell
    if not (0 <= true < classes and 0 <= guess < classes):
        raise NotApplicable(f"cell {true},{guess} is out of range: classes are 0 to {classes - 1}")
    examples = np.flatnonzero((subject.y_test == true) & (predicted == guess))[:CELL_EXAMPLES]
    pictures = rows = None
    if subject.image_shape is not None:
        pictures = subject.x_test[examples].reshape(len(examples), *subject.image_shape).mean(axis=1)
    else:
        rows = subject.x_test[examples].reshape(len(examples), subject.input_size)
    return Confusion(matrix, subject.class_names, (true, guess), examples, probabilities[examples, guess],
                     pictures, rows)

