"""Synthetic sets: deterministic for a seed, the promised shapes, exact class balance, the right geometry."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.datasets import SYNTHETIC, DatasetError, load_dataset
from nnstudio.datasets.synthetic import generate

CLASSIFICATION = [name for name, spec in SYNTHETIC.items() if spec.task == "classification"]
REGRESSION = [name for name, spec in SYNTHETIC.items() if spec.task == "regression"]


def test_the_promised_sets_exist():
    assert set(CLASSIFICATION) == {"spirals", "moons", "circles", "blobs", "xor", "checkerboard"}
    assert set(REGRESSION) == {"sine", "sine2d"}


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_shapes_and_balance(name):
    data = load_dataset(name, size=301, test_size=77, seed=3)
    k = data.num_classes
    assert data.task == "classification" and data.source == "synthetic" and data.input_shape == (2,)
    assert data.x_train.shape == (301, 2) and data.x_train.dtype == np.float32
    assert data.y_train.shape == (301,) and data.y_train.dtype == np.int64
    assert data.x_test.shape == (77, 2) and data.y_test.shape == (77,)
    for y, n in ((data.y_train, 301), (data.y_test, 77)):
        counts = np.bincount(y, minlength=k)
        assert len(counts) == k and counts.sum() == n and counts.max() - counts.min() <= 1
    assert np.isfinite(data.x_train).all()
    assert not np.all(np.diff(data.y_train) >= 0), "labels must come shuffled, not sorted by class"


@pytest.mark.parametrize("name", CLASSIFICATION + REGRESSION)
def test_deterministic_for_a_seed(name):
    a, b, c = (load_dataset(name, size=100, seed=s) for s in (7, 7, 8))
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.x_train, c.x_train)


def test_test_set_does_not_depend_on_train_size():
    small, large = load_dataset("moons", size=100, test_size=50), load_dataset("moons", size=400, test_size=50)
    np.testing.assert_array_equal(small.x_test, large.x_test)


@pytest.mark.parametrize("name, k", [("spirals", 5), ("blobs", 4), ("spirals", 2)])
def test_class_count_option(name, k):
    data = load_dataset(name, size=200, classes=k)
    assert data.num_classes == k and data.class_names == tuple(str(c) for c in range(k))
    assert np.bincount(data.y_train).tolist() == [200 // k + (1 if c < 200 % k else 0) for c in range(k)]


def test_noise_free_geometry():
    xor = load_dataset("xor", size=400, noise=0.0)
    np.testing.assert_array_equal(xor.y_train, (xor.x_train[:, 0] * xor.x_train[:, 1] < 0).astype(np.int64))

    board = load_dataset("checkerboard", size=400, noise=0.0, cells=4)
    cell = np.floor((board.x_train + 1) / 0.5).clip(0, 3).astype(int)
    np.testing.assert_array_equal(board.y_train, (cell[:, 0] + cell[:, 1]) % 2)

    circles = load_dataset("circles", size=200, noise=0.0)
    radius = np.linalg.norm(circles.x_train, axis=1)
    np.testing.assert_allclose(radius, np.where(circles.y_train == 0, 1.0, 0.5), atol=1e-6)

    sine2d = load_dataset("sine2d", size=100, noise=0.0)
    x = sine2d.x_train.astype(np.float64)
    np.testing.assert_allclose(sine2d.y_train[:, 0], np.sin(np.pi * x[:, 0]) + x[:, 1] ** 2, atol=1e-5)


def test_noise_moves_points():
    calm, noisy = load_dataset("circles", size=200, noise=0.0), load_dataset("circles", size=200, noise=0.1)
    assert np.abs(np.linalg.norm(noisy.x_train, axis=1) - np.where(noisy.y_train == 0, 1, .5)).max() > 0.05
    np.testing.assert_array_equal(np.bincount(calm.y_train), np.bincount(noisy.y_train))


@pytest.mark.parametrize("name, dim", [("sine", 1), ("sine2d", 2)])
def test_regression_shapes(name, dim):
    data = load_dataset(name, size=120, test_size=30)
    assert data.task == "regression" and data.num_classes == 0 and data.input_shape == (dim,)
    assert data.x_train.shape == (120, dim) and data.y_train.shape == (120, 1)
    assert data.x_train.dtype == data.y_train.dtype == np.float32
    assert data.x_test.shape == (30, dim) and data.y_test.shape == (30, 1)
    assert np.abs(data.x_train).max() <= 1.0


@pytest.mark.parametrize("kwargs, fault", [
    ({"name": "moons", "classes": 3}, "moons has no option classes"),
    ({"name": "spirals", "classes": 1}, "at least 2 classes"),
    ({"name": "checkerboard", "cells": 1}, "at least 2 cells"),
    ({"name": "sine", "size": 0}, "sizes must be positive"),
    ({"name": "xor", "noise": -1.0}, "noise must be >= 0"),
    ({"name": "xor", "layout": "image"}, "only the flat layout"),
    ({"name": "nope"}, "unknown data set 'nope'"),
])
def test_bad_options(kwargs, fault):
    with pytest.raises(DatasetError, match=fault):
        load_dataset(**kwargs)


@pytest.mark.parametrize("name", [*SYNTHETIC, "mnist-embedded"])
def test_a_data_sets_shape_is_known_without_loading_it(name):
    from nnstudio.datasets import DataShape, data_shape
    options = {"classes": 5} if "classes" in SYNTHETIC.get(name, SYNTHETIC["moons"]).options else {}
    assert data_shape(name, **options) == DataShape.of(load_dataset(name, **options))


def test_the_defaults_a_synthetic_set_is_generated_with():
    spirals = SYNTHETIC["spirals"].defaults()
    assert spirals == {"size": 1000, "noise": 0.05, "classes": 3, "turns": 0.75}
    x_train, *_ = generate("spirals")[1]
    assert len(x_train) == spirals["size"]
