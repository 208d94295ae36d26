"""Views of a model on the plane of its two input features: the decision boundary and each hidden unit's map.

The plane is the box around the training points (with a margin), cut into a grid of cells; the
model sees every cell's centre in one batched forward pass. For regression, a one-feature model's
fitted curve over its data, or a two-feature model's fitted surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnstudio.engine.evaluation import predict
from nnstudio.engine.inside import trace
from nnstudio.engine.metrics import softmax

from .jsonable import numbers
from .subject import Layer, NotApplicable, Subject

#: share of the points' span added on each side of the plane
MARGIN = 0.1
#: at most this many points are drawn (a random sample of them, the same on every redraw)
MAX_POINTS = 600


#: the built-in data sets each view of the plane applies to
PLANE_SETS = "spirals, moons, circles, blobs, xor, checkerboard, sine2d"
CURVE_SETS = "sine, sine2d"


def _needs_plane(subject: Subject, view: str, features: tuple[int, ...] = (2,), examples: str = PLANE_SETS) -> None:
    if subject.image_shape is not None or subject.input_size not in features:
        wanted = " or ".join(str(f) for f in features)
        raise NotApplicable(f"{view} needs a data set of {wanted} input features ({examples}); "
                            f"{subject.dataset} has {subject.input_size}")


def extent(points: np.ndarray) -> tuple[float, float, float, float]:
    """(x_low, x_high, y_low, y_high): the points' box widened by MARGIN on each side."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.maximum(high - low, 1e-6)
    low, high = low - MARGIN * span, high + MARGIN * span
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def grid(box: tuple[float, float, float, float], cols: int, rows: int) -> np.ndarray:
    """The centres of a cols x rows grid over `box`, row by row from the top (highest y) down: (rows*cols, 2)."""
    x_low, x_high, y_low, y_high = box
    xs = x_low + (np.arange(cols) + 0.5) * (x_high - x_low) / cols
    ys = y_high - (np.arange(rows) + 0.5) * (y_high - y_low) / rows
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def _sample(count: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Which of `count` points to draw: all, or a fixed random `limit` of them."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).permutation(count)[:limit])


@dataclass(frozen=True, eq=False)
class Boundary:
    """A classifier over the plane: each cell's class probabilities, and the points."""

    box: tuple[float, float, float, float]
    probabilities: np.ndarray      # (rows, cols, classes)
    class_names: tuple[str, ...]
    train: tuple[np.ndarray, np.ndarray]   # (points (n, 2), labels (n,))
    test: tuple[np.ndarray, np.ndarray]
    train_accuracy: float
    test_accuracy: float

    view = "boundary"

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=-1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=-1)

    def to_json(self) -> dict:
        rows, cols, _ = self.probabilities.shape
        return {"view": self.view, "box": numbers(self.box), "rows": rows, "cols": cols,
                "class_names": list(self.class_names), "predicted": self.predicted.tolist(),
                "confidence": numbers(self.confidence, 4),
                "train_accuracy": numbers(self.train_accuracy), "test_accuracy": numbers(self.test_accuracy)}


@dataclass(frozen=True, eq=False)
class Fit:
    """A regression over its inputs: a curve (one feature) or a surface (two)."""

    box: tuple[float, float, float, float]
    values: np.ndarray             # (cols,) for a curve: the fit at each column; (rows, cols) for a surface
    train: tuple[np.ndarray, np.ndarray]   # (inputs (n, d), targets (n,))
    test: tuple[np.ndarray, np.ndarray]
    test_mse: float

    view = "boundary"

    @property
    def surface(self) -> bool:
        return self.values.ndim == 2

    def to_json(self) -> dict:
        return {"view": self.view, "kind": "surface" if self.surface else "curve", "box": numbers(self.box),
                "values": numbers(self.values, 5), "test_mse": numbers(self.test_mse)}


def boundary(subject: Subject, cols: int, rows: int) -> Boundary | Fit:
    """The decision boundary of a 2-feature classifier, or the fit of a 1- or 2-feature regression."""
    if subject.task == "regression":
        return _fit(subject, cols, rows)
    if subject.task != "classification":
        raise NotApplicable("a decision boundary needs a classifier or a regression; this model is an autoencoder "
                            "(the latent view shows its codes)")
    _needs_plane(subject, "a decision boundary")
    box = extent(subject.x_train)
    probabilities = softmax(predict(subject.model, grid(box, cols, rows))).reshape(rows, cols, -1)
    pick_train, pick_test = _sample(len(subject.x_train)), _sample(len(subject.x_test))
    return Boundary(box, probabilities, subject.class_names,
                    (subject.x_train[pick_train], subject.y_train[pick_train]),
                    (subject.x_test[pick_test], subject.y_test[pick_test]),
                    _accuracy(subject, subject.x_train, subject.y_train),
                    _accuracy(subject, subject.x_test, subject.y_test))


def _accuracy(subject: Subject, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(subject.model, x).argmax(axis=1) == y)) if len(x) else float("nan")


def _fit(subject: Subject, cols: int, rows: int) -> Fit:
    _needs_plane(subject, "a fitted curve or surface", (1, 2), CURVE_SETS)
    x_train, x_test = _rows(subject.x_train), _rows(subject.x_test)
    y_train, y_test = _rows(subject.y_train)[:, 0], _rows(subject.y_test)[:, 0]
    if x_train.shape[1] == 1:
        points = np.stack([x_train[:, 0], y_train], axis=1)
        box = extent(points)
        xs = box[0] + (np.arange(cols) + 0.5) * (box[1] - box[0]) / cols
        values = predict(subject.model, xs.reshape(-1, 1).astype(np.float32))[:, 0]
    else:
        box = extent(x_train)
        values = predict(subject.model, grid(box, cols, rows))[:, 0].reshape(rows, cols)
    mse = float(np.mean((predict(subject.model, x_test)[:, 0] - y_test) ** 2)) if len(x_test) else float("nan")
    pick_train, pick_test = _sample(len(x_train)), _sample(len(x_test))
    return Fit(box, values, (x_train[pick_train], y_train[pick_train]), (x_test[pick_test], y_test[pick_test]), mse)


def _rows(values: np.ndarray) -> np.ndarray:
    """(n, ...) -> (n, features), also for n = 0 (a split without examples), where reshape(0, -1) cannot guess."""
    return values.reshape(len(values), int(np.prod(values.shape[1:])))


@dataclass(frozen=True, eq=False)
class Neurons:
    """What each unit of one layer responds to over the plane (the Playground's thumbnails)."""

    layer: Layer
    layers: int                    # how many weight layers the model has
    box: tuple[float, float, float, float]
    maps: np.ndarray               # (units, rows, cols): each unit's activation at each cell
    activation: str | None         # what the maps show: the layer's output after this activation
    span: tuple[float, float]      # the lowest and highest value over all the maps

    view = "neurons"

    def to_json(self) -> dict:
        return {"view": self.view, "layer": self.layer.number, "layer_name": self.layer.name,
                "layer_kind": self.layer.shape_text, "activation": self.activation, "box": numbers(self.box),
                "units": int(self.maps.shape[0]), "rows": int(self.maps.shape[1]), "cols": int(self.maps.shape[2]),
                "span": numbers(self.span), "maps": numbers(self.maps, 4)}


def neurons(subject: Subject, layer: int | None, cols: int, rows: int) -> Neurons:
    """Each unit of weight layer `layer` (from 1) over a cols x rows grid of the plane."""
    _needs_plane(subject, "the neurons view")
    chosen = subject.layer(layer)
    box = extent(subject.x_train)
    traced = trace(subject.model, grid(box, cols, rows))[chosen.number - 1]
    maps = np.moveaxis(traced.activated.reshape(rows, cols, -1), -1, 0)
    finite = maps[np.isfinite(maps)]
    span = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    return Neurons(chosen, len(subject.layers()), box, maps, traced.activation, span)
