"""Kernel ridge regression: fits known functions, classifies simple patterns, matches the formula."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine import kernel_ridge
from nnstudio.engine.kernel_ridge import KernelRidge, NotFittedError, squared_distances


def test_squared_distances_match_the_definition(rng):
    A, B = rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
    expected = ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=-1)
    np.testing.assert_allclose(squared_distances(A, B), expected, atol=1e-12)
    assert np.all(squared_distances(A, A) >= 0)


def test_fits_sine_regression(rng):
    X = np.sort(rng.uniform(0, 2 * np.pi, (200, 1)), axis=0)
    model = KernelRidge(alpha=1e-4).fit(X, np.sin(X[:, 0]))
    X_test = np.linspace(0.1, 2 * np.pi - 0.1, 97)[:, None]
    prediction = model.predict(X_test)
    assert prediction.shape == (97,) and prediction.dtype == np.float64
    assert np.max(np.abs(prediction - np.sin(X_test[:, 0]))) < 0.01
    assert model.score(X_test, np.sin(X_test[:, 0])) > 0.999


def test_classifies_two_gaussian_blobs(rng):
    def blobs(n):
        y = rng.integers(0, 2, n)
        return rng.standard_normal((n, 2)) + np.where(y[:, None] == 1, 2.0, -2.0), y

    X, y = blobs(300)
    X_test, y_test = blobs(300)
    model = KernelRidge(alpha=1e-2).fit(X, y)
    assert model.decision_function(X_test).shape == (300, 2)
    assert model.score(X_test, y_test) > 0.95


def test_classifies_an_xor_pattern_that_no_linear_model_can(rng):
    def xor(n):
        X = rng.uniform(-1, 1, (n, 2))
        return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)

    X, y = xor(400)
    X_test, y_test = xor(400)
    assert KernelRidge(alpha=1e-2).fit(X, y).score(X_test, y_test) > 0.9


def test_matches_the_closed_form_formula(rng):
    X, X_test = rng.standard_normal((30, 4)), rng.standard_normal((9, 4))
    y = rng.standard_normal(30)
    alpha, gamma = 0.1, 0.3
    kernel = lambda A, B: np.exp(-gamma * ((A[:, None] - B[None]) ** 2).sum(-1))  # noqa: E731
    dual = np.linalg.inv(kernel(X, X) + alpha * np.eye(30)) @ y
    model = KernelRidge(alpha=alpha, gamma=gamma).fit(X, y)
    np.testing.assert_allclose(model.dual_coef_, dual, rtol=1e-8)
    np.testing.assert_allclose(model.predict(X_test), kernel(X_test, X) @ dual, rtol=1e-8)


def test_classification_regresses_one_hot_targets_and_keeps_the_labels(rng):
    X = rng.standard_normal((40, 3))
    y = rng.choice([3, 7, 9], 40)
    model = KernelRidge(alpha=0.5, gamma=0.2).fit(X, y)
    one_hot = (y[:, None] == np.array([3, 7, 9])).astype(float)
    reference = KernelRidge(alpha=0.5, gamma=0.2).fit(X, one_hot)  # float targets: plain regression
    np.testing.assert_allclose(model.decision_function(X), reference.predict(X), rtol=1e-10)
    assert set(model.predict(X)) <= {3, 7, 9} and model.predict(X).dtype == y.dtype
    np.testing.assert_array_equal(model.classes_, [3, 7, 9])


def test_gamma_defaults_to_the_scale_rule_and_images_are_flattened(rng):
    X = rng.random((25, 4, 4)).astype(np.float32)
    model = KernelRidge().fit(X, rng.integers(0, 2, 25))
    assert model.gamma_ == pytest.approx(1 / (16 * X.astype(np.float64).var()))
    assert model.predict(X).shape == (25,)
    assert KernelRidge().fit(np.ones((5, 2)), np.arange(5.0)).gamma_ == 1.0  # constant X: no division by zero


def test_prediction_in_blocks_equals_one_pass(rng, monkeypatch):
    X, y = rng.standard_normal((50, 3)), rng.standard_normal((50, 2))
    model = KernelRidge().fit(X, y)
    whole = model.predict(X)
    monkeypatch.setattr(kernel_ridge, "_BLOCK_VALUES", 120)  # 2 rows per block
    np.testing.assert_allclose(model.predict(X), whole, rtol=1e-9, atol=1e-10)
    assert whole.shape == (50, 2)


def test_zero_alpha_falls_back_when_the_kernel_is_singular():
    X = np.array([[0.0], [0.0], [1.0]])  # a repeated sample makes K singular
    with pytest.raises(ValueError, match="singular"):
        KernelRidge(alpha=0.0, gamma=1.0).fit(X, np.array([1.0, 1.0, 2.0]))
    model = KernelRidge(alpha=0.0, gamma=1.0).fit(np.array([[0.0], [1.0]]), np.array([1.0, 2.0]))
    np.testing.assert_allclose(model.predict(np.array([[0.0], [1.0]])), [1.0, 2.0], atol=1e-8)


@pytest.mark.parametrize("make, message", [
    (lambda: KernelRidge(alpha=-1), "alpha must be a number >= 0, got -1"),
    (lambda: KernelRidge(alpha=float("nan")), "alpha must be"),
    (lambda: KernelRidge(alpha="big"), "alpha must be"),
    (lambda: KernelRidge(gamma=0), "gamma must be a number > 0 or null, got 0"),
    (lambda: KernelRidge().fit(np.arange(10.0), np.arange(10.0)), r"2-D .* X.reshape\(-1, 1\)"),
    (lambda: KernelRidge().fit(np.ones((10, 2)), np.ones(9)), "X has 10 samples but y has shape"),
    (lambda: KernelRidge().fit(np.full((3, 2), np.nan), np.ones(3)), "NaN"),
    (lambda: KernelRidge().fit(np.ones((3, 2)), np.array([1.0, np.inf, 0.0])), "NaN or infinite"),
    (lambda: KernelRidge().fit(np.ones((3, 2)), np.array([2, 2, 2])), "at least 2 classes"),
    (lambda: KernelRidge().fit(np.ones((3, 2)), np.array(["a", "b", "c"])), "integer class labels or float"),
    (lambda: KernelRidge().fit(np.empty((0, 2)), np.empty(0)), "no samples"),
    (lambda: KernelRidge(max_samples=50).fit(np.ones((51, 2)), np.ones(51)), r"n x n kernel matrix.*at most 50"),
    (lambda: KernelRidge().fit(np.eye(4), np.arange(4.0)).predict(np.eye(3)), "3 features per sample.*fitted on 4"),
])
def test_errors_explain_what_is_wrong(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_using_an_unfitted_model_is_an_error():
    with pytest.raises(NotFittedError, match=r"call fit\(X, y\) first"):
        KernelRidge().predict(np.ones((2, 2)))


def test_the_default_sample_limit_mentions_memory():
    with pytest.raises(ValueError, match=r"20,001 samples would need 3\.2 GB"):
        KernelRidge().fit(np.broadcast_to(np.float64(1.0), (20_001, 1)), np.zeros(20_001))
