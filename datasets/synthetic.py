"""Small synthetic data sets: 2-D classification toys and 1-D / 2-D regression curves.

They train in seconds and show what a model can and cannot separate. Every generator takes the
number of points, a noise level and a `numpy.random.Generator`, so a seed fixes the data exactly.
Classification sets are exactly class-balanced (class sizes differ by at most one) because
points are drawn per class, never labelled after the fact; noise is Gaussian jitter of the
coordinates, so it blurs the boundary without changing the balance.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import DatasetError

#: training points generated when no size is given (test points: a quarter of it)
DEFAULT_SIZE = 1000


def class_sizes(n: int, num_classes: int) -> np.ndarray:
    """`n` split into `num_classes` sizes that differ by at most one (the first ones larger)."""
    sizes = np.full(num_classes, n // num_classes, dtype=np.int64)
    sizes[: n % num_classes] += 1
    return sizes


def _finish(rng: np.random.Generator, points: list[np.ndarray], noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-class point arrays, add jitter, shuffle, and return float32 inputs and int64 labels."""
    x = np.concatenate(points).astype(np.float64)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(points)])
    if noise:
        x += rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order]


def spirals(n: int, rng: np.random.Generator, noise: float = 0.05, classes: int = 3, turns: float = 0.75):
    """`classes` interleaved spiral arms from the centre outwards, each turning `turns` times."""
    points = []
    for c, size in enumerate(class_sizes(n, classes)):
        r = rng.uniform(0.05, 1.0, size)
        theta = 2 * np.pi * (c / classes + turns * r)
        points.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
    return _finish(rng, points, noise)


def moons(n: int, rng: np.random.Generator, noise: float = 0.1):
    """Two interleaving half circles (centred on the origin)."""
    top, bottom = class_sizes(n, 2)
    t0, t1 = rng.uniform(0, np.pi, top), rng.uniform(0, np.pi, bottom)
    upper = np.stack([np.cos(t0) - 0.5, np.sin(t0) - 0.25], axis=1)
    lower = np.stack([0.5 - np.cos(t1), 0.25 - np.sin(t1)], axis=1)
    return _finish(rng, [upper, lower], noise)


def circles(n: int, rng: np.random.Generator, noise: float = 0.05, factor: float = 0.5):
    """A circle of radius 1 (class 0) around one of radius `factor` (class 1)."""
    points = []
    for radius, size in zip((1.0, factor), class_sizes(n, 2)):
        t = rng.uniform(0, 2 * np.pi, size)
        points.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1))
    return _finish(rng, points, noise)


def blobs(n: int, rng: np.random.Generator, noise: float = 0.2, classes: int = 3):
    """Gaussian blobs of standard deviation `noise`, centred evenly on the unit circle."""
    points = []
    for c, size in enumerate(class_sizes(n, classes)):
        angle = 2 * np.pi * c / classes
        points.append(np.tile([np.cos(angle), np.sin(angle)], (size, 1)))
    return _finish(rng, points, noise)


def xor(n: int, rng: np.random.Generator, noise: float = 0.0):
    """Points in [-1, 1]^2; class 1 where the coordinates have opposite signs."""
    points = []
    for c, size in enumerate(class_sizes(n, 2)):
        p = rng.uniform(0, 1, (size, 2))
        signs = rng.choice([-1.0, 1.0], size)  # which of the class's two quadrants
        p[:, 0] *= signs
        p[:, 1] *= signs * (1 if c == 0 else -1)
        points.append(p)
    return _finish(rng, points, noise)


def checkerboard(n: int, rng: np.random.Generator, noise: float = 0.0, cells: int = 4):
    """A `cells` x `cells` board on [-1, 1]^2; a point's class is the colour of its square."""
    squares = [(i, j) for i in range(cells) for j in range(cells)]
    points = []
    for c, size in enumerate(class_sizes(n, 2)):
        own = np.array([s for s in squares if (s[0] + s[1]) % 2 == c], dtype=np.float64)
        chosen = own[rng.integers(0, len(own), size)]
        p = (chosen + rng.uniform(0, 1, (size, 2))) * (2.0 / cells) - 1.0
        points.append(p)
    return _finish(rng, points, noise)


def sine(n: int, rng: np.random.Generator, noise: float = 0.1):
    """y = sin(pi * x) + noise, x uniform in [-1, 1]: one input, one target."""
    x = rng.uniform(-1, 1, (n, 1))
    y = np.sin(np.pi * x) + rng.normal(0, noise, (n, 1)) if noise else np.sin(np.pi * x)
    return x.astype(np.float32), y.astype(np.float32)


def sine2d(n: int, rng: np.random.Generator, noise: float = 0.05):
    """y = sin(pi * x1) + x2^2 + noise, x uniform in [-1, 1]^2: two inputs, one target."""
    x = rng.uniform(-1, 1, (n, 2))
    y = (np.sin(np.pi * x[:, 0]) + x[:, 1] ** 2)[:, None]
    if noise:
        y = y + rng.normal(0, noise, y.shape)
    return x.astype(np.float32), y.astype(np.float32)


@dataclass(frozen=True)
class SyntheticSpec:
    """A synthetic data set by name: its generator, task and options."""

    name: str
    title: str
    task: str  # "classification" or "regression"
    make: Callable
    input_dim: int
    classes: int = 0  # number of classes (the default when `classes` is an option); 0 for regression
    options: tuple[str, ...] = ()  # generator-specific keyword options

    def num_classes(self, options: dict) -> int:
        """The number of classes with these options."""
        return int(options.get("classes", self.classes)) if "classes" in self.options else self.classes

    def defaults(self) -> dict[str, Any]:
        """What `generate` uses when an option is not given: {"size": 1000, "noise": 0.05, "classes": 3, ...}."""
        parameters = inspect.signature(self.make).parameters
        return {"size": DEFAULT_SIZE, "noise": parameters["noise"].default,
                **{name: parameters[name].default for name in self.options}}


SYNTHETIC: dict[str, SyntheticSpec] = {spec.name: spec for spec in (
    SyntheticSpec("spirals", "interleaved spirals (K classes)", "classification", spirals, 2, 3, ("classes", "turns")),
    SyntheticSpec("moons", "two interleaving half moons", "classification", moons, 2, 2),
    SyntheticSpec("circles", "a circle inside a circle", "classification", circles, 2, 2, ("factor",)),
    SyntheticSpec("blobs", "Gaussian blobs (K classes)", "classification", blobs, 2, 3, ("classes",)),
    SyntheticSpec("xor", "XOR of the coordinates' signs", "classification", xor, 2, 2),
    SyntheticSpec("checkerboard", "a checkerboard of two classes", "classification", checkerboard, 2, 2, ("cells",)),
    SyntheticSpec("sine", "y = sin(pi x)", "regression", sine, 1, 0),
    SyntheticSpec("sine2d", "y = sin(pi x1) + x2^2", "regression", sine2d, 2),
)}


def generate(name: str, *, size: int = DEFAULT_SIZE, test_size: int | None = None, noise: float | None = None,
             seed: int = 0, **options) -> tuple[SyntheticSpec, tuple[np.ndarray, ...]]:
    """Train and test arrays (x_train, y_train, x_test, y_test) of synthetic set `name`.

    Train and test come from two independent streams derived from `seed`, so changing `size`
    leaves the test set as it was. `test_size` defaults to a quarter of `size`.
    """
    spec = SYNTHETIC.get(name)
    if spec is None:
        raise DatasetError(f"unknown synthetic data set {name!r} (known: {', '.join(SYNTHETIC)})")
    unknown = set(options) - set(spec.options)
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise DatasetError(f"{name} has no option {', '.join(sorted(unknown))} (its options: {allowed})")
    test_size = max(1, size // 4) if test_size is None else test_size
    if size < 1 or test_size < 1:
        raise DatasetError(f"{name}: sizes must be positive (size={size}, test_size={test_size})")
    if noise is not None and noise < 0:
        raise DatasetError(f"{name}: noise must be >= 0, got {noise}")
    classes = spec.num_classes(options)
    if spec.task == "classification" and classes < 2:
        raise DatasetError(f"{name}: needs at least 2 classes, got {classes}")
    if "cells" in options and int(options["cells"]) < 2:
        raise DatasetError(f"{name}: needs at least 2 cells per side, got {options['cells']}")
    kwargs = dict(options) if noise is None else {**options, "noise": noise}
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    x_train, y_train = spec.make(size, train_rng, **kwargs)
    x_test, y_test = spec.make(test_size, test_rng, **kwargs)
    return spec, (x_train, y_train, x_test, y_test)
